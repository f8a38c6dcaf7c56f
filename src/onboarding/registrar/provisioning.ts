/**
 * What enrollment success means for the registry (issue 6, "On enrollment"): the device is
 * created with its LDevID bound as x509 credential (one transaction), its LwM2M bootstrap
 * configuration is set (certificate mode with the LDevID), and its ownership moves
 * RESET → RFOTM → RFPRO. A device already in the registry is onboarded again only from RESET
 * (after a hard reset): its x509 credential is replaced. Each step is audited. If any step
 * fails, the steps already done are undone in reverse (device deleted, or credential, attributes,
 * bootstrap configuration and state restored) so nothing half-created stays; revoking the
 * certificate that was signed is the caller's part, since it owns the CA.
 */
import { InvalidArgumentError } from '../../errors.js';
import { parseCertificate, type CertificateInput, type IssuedCertificate, type ParsedCertificate } from '../../pki/index.js';
import type { AuditLog, BootstrapConfigRepository, DeviceRepository } from '../../store/types.js';
import type { OwnershipService } from '../ownership-service.js';
import { ProvisioningFailedError } from './errors.js';
import type { PledgeIdentity } from './policy.js';

/** The LwM2M server a freshly onboarded device is bootstrapped towards. */
export interface Lwm2mServerTarget {
  /** coaps://host:port of the management server. */
  uri: string;
  /** The server's certificate (the device checks it in DTLS), DER/PEM/parsed. */
  serverCertificate: CertificateInput;
  /** Default 1. */
  shortServerId?: number;
  /** Registration lifetime in seconds (default 86400). */
  lifetime?: number;
  /** Default 'U'. */
  binding?: string;
}

export interface ProvisionContext {
  endpoint: string;
  pledge: PledgeIdentity;
  ldevid: IssuedCertificate;
  /** The voucher's domainID (RFC 8995 §5.8.2), for the device's attributes. */
  domainId?: string;
}

export type BootstrapConfigBuilder = (context: ProvisionContext) => Record<string, unknown>;

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/**
 * The default configuration: one x509 account with the LDevID as the device's certificate. The
 * LDevID's private key never left the pledge (it made its own CSR, RFC 7030 §4.2), so the
 * account carries no `clientPrivateKey`: the device already holds it.
 */
export function x509BootstrapConfig(target: Lwm2mServerTarget): BootstrapConfigBuilder {
  if (target === null || typeof target !== 'object' || typeof target.uri !== 'string' || !target.uri.startsWith('coaps://')) {
    throw new InvalidArgumentError('lwm2m.uri', 'expected the coaps:// URI of the LwM2M server');
  }
  const server: ParsedCertificate =
    typeof target.serverCertificate === 'object' && target.serverCertificate !== null && 'der' in target.serverCertificate
      ? (target.serverCertificate as ParsedCertificate)
      : parseCertificate(target.serverCertificate as Uint8Array | string);
  return (ctx) => ({
    delete: ['/0', '/1'],
    servers: [
      {
        shortServerId: target.shortServerId ?? 1,
        uri: target.uri,
        securityMode: 'x509',
        clientPublicKey: hex(ctx.ldevid.der),
        serverPublicKey: hex(server.der),
        lifetime: target.lifetime ?? 86400,
        binding: target.binding ?? 'U',
      },
    ],
  });
}

export interface ProvisionerOptions {
  devices: DeviceRepository;
  bootstrapConfigs: BootstrapConfigRepository;
  ownership: OwnershipService;
  audit: AuditLog;
  bootstrapConfig: BootstrapConfigBuilder;
}

export type Provisioner = (context: ProvisionContext) => Promise<void>;

export function createProvisioner(options: ProvisionerOptions): Provisioner {
  const { devices, bootstrapConfigs, ownership, audit } = options;
  return async (ctx) => {
    const { endpoint, pledge, ldevid } = ctx;
    const actor = `registrar:${pledge.serial}`;
    const attributes = {
      serialNumber: pledge.serial,
      manufacturer: pledge.manufacturer,
      idevidFingerprint: pledge.idevidFingerprint,
      ldevidSerial: ldevid.serialNumber,
      onboarding: 'brski',
      ...(ctx.domainId !== undefined ? { domainId: ctx.domainId } : {}),
    };
    // The LwM2M server finds x509 devices by the certificate's CN (store types: lookup), which
    // the registrar sets to the endpoint.
    const credential = { kind: 'x509' as const, lookup: endpoint, material: ldevid.der };
    // What to undo, in reverse order, if a later step fails.
    const undo: Array<{ what: string; run: () => Promise<unknown> }> = [];
    let step = 'device';
    try {
      const existing = await devices.get(endpoint);
      if (existing === undefined) {
        await devices.createWithCredentials({ endpoint, model: pledge.model, ownershipState: 'RESET', attributes }, [credential]);
        undo.push({ what: 'device', run: () => devices.delete(endpoint) });
        await audit.append({ actor, action: 'registrar.device.create', subject: endpoint, outcome: 'success', details: { serial: pledge.serial, model: pledge.model, ldevidSerial: ldevid.serialNumber, fingerprint: ldevid.certificate.fingerprint256 } });
      } else {
        // Onboarding again (issue 6: a reset device "can then be onboarded" anew): only from
        // RESET, i.e. after a hard reset, and only the same physical device (same serial).
        if (existing.ownershipState !== 'RESET') throw new ProvisioningFailedError(`device ${endpoint} exists in state ${existing.ownershipState}; only a device in RESET is onboarded again`);
        // A record someone added by hand under the same name is not taken over.
        if (existing.attributes.onboarding !== 'brski' || existing.attributes.serialNumber !== pledge.serial) throw new ProvisioningFailedError(`endpoint ${endpoint} is not a device this registrar onboarded for serial ${pledge.serial}`);
        step = 'credential';
        const previous = (await devices.credentials(endpoint)).filter((c) => c.kind === 'x509');
        for (const c of previous) {
          await devices.removeCredential('x509', c.lookup);
          undo.push({ what: 'credential-restored', run: () => devices.addCredential({ endpoint, kind: 'x509', lookup: c.lookup, material: c.material }) });
        }
        await devices.addCredential({ endpoint, ...credential });
        undo.push({ what: 'credential', run: () => devices.removeCredential('x509', endpoint) });
        step = 'device.update';
        await devices.update(endpoint, { model: pledge.model, attributes: { ...existing.attributes, ...attributes } });
        undo.push({ what: 'attributes', run: () => devices.update(endpoint, { model: existing.model, attributes: existing.attributes }) });
        await audit.append({ actor, action: 'registrar.device.reonboard', subject: endpoint, outcome: 'success', details: { serial: pledge.serial, replacedCredentials: previous.length, ldevidSerial: ldevid.serialNumber, fingerprint: ldevid.certificate.fingerprint256 } });
      }
      step = 'bootstrap-config.set';
      const before = await bootstrapConfigs.get(endpoint);
      await bootstrapConfigs.set(endpoint, options.bootstrapConfig(ctx));
      undo.push({ what: 'bootstrap-config', run: () => (before === undefined ? bootstrapConfigs.delete(endpoint) : bootstrapConfigs.set(endpoint, before.config)) });
      await audit.append({ actor, action: 'registrar.bootstrap-config.set', subject: endpoint, outcome: 'success', details: { securityMode: 'x509' } });
      step = 'ownership';
      // OCF: RESET →begin-transfer→ RFOTM (the voucher made this domain the owner) →owner-established→ RFPRO.
      await ownership.transition(endpoint, 'begin-transfer', { actor, expectedState: 'RESET', details: { method: 'brski' } });
      undo.push({ what: 'ownership', run: () => ownership.transition(endpoint, 'abort-transfer', { actor, expectedState: 'RFOTM', details: { method: 'brski', compensation: true } }) });
      await ownership.transition(endpoint, 'owner-established', { actor, expectedState: 'RFOTM', details: { method: 'brski' } });
    } catch (err) {
      const undone: string[] = [];
      const failed: string[] = [];
      for (const u of undo.reverse()) {
        try {
          await u.run();
          undone.push(u.what);
        } catch {
          failed.push(u.what);
        }
      }
      const reason = err instanceof Error ? err.message : String(err);
      await audit.append({ actor, action: 'registrar.provision', subject: endpoint, outcome: 'failure', details: { step, reason: reason.slice(0, 300), undone, ...(failed.length > 0 ? { undoFailed: failed } : {}), code: (err as { code?: unknown })?.code ?? null } });
      throw new ProvisioningFailedError(`provisioning ${endpoint} failed at ${step}: ${reason}`, { cause: err });
    }
  };
}

export interface RotateContext {
  endpoint: string;
  ldevid: IssuedCertificate;
}

export type CredentialRotator = (context: RotateContext) => Promise<void>;

/**
 * Re-enrollment (RFC 7030 §4.2.2) in the registry: the LwM2M server compares a device's
 * certificate with the bound x509 material byte for byte, so a renewed or rekeyed LDevID must
 * replace it (and the bootstrap configuration's copy). The store has no credential update, so
 * this is remove + add, with the old binding restored if anything fails.
 */
export function createCredentialRotator(options: ProvisionerOptions): CredentialRotator {
  const { devices, bootstrapConfigs, audit } = options;
  return async ({ endpoint, ldevid }) => {
    const actor = `device:${endpoint}`;
    const undo: Array<{ what: string; run: () => Promise<unknown> }> = [];
    try {
      const device = await devices.get(endpoint);
      const bound = await devices.findCredential('x509', endpoint);
      if (device === undefined || bound === undefined || bound.endpoint !== endpoint) throw new ProvisioningFailedError(`no device ${endpoint} with an x509 credential`);
      const previous = bound.material;
      await devices.removeCredential('x509', endpoint);
      undo.push({ what: 'credential-restored', run: () => devices.addCredential({ endpoint, kind: 'x509', lookup: endpoint, material: previous }) });
      await devices.addCredential({ endpoint, kind: 'x509', lookup: endpoint, material: ldevid.der });
      undo.push({ what: 'credential', run: () => devices.removeCredential('x509', endpoint) });
      // The replaced certificate may still re-enroll once more: if this answer never reaches the
      // device, it would otherwise be locked out with a certificate nobody accepts.
      await devices.update(endpoint, { attributes: { ...device.attributes, ldevidSerial: ldevid.serialNumber, previousLdevidSerial: device.attributes.ldevidSerial ?? null } });
      undo.push({ what: 'attributes', run: () => devices.update(endpoint, { attributes: device.attributes }) });
      const config = await bootstrapConfigs.get(endpoint);
      const pledge = { serial: String(device.attributes.serialNumber ?? ''), model: device.model ?? '', manufacturer: String(device.attributes.manufacturer ?? ''), idevidFingerprint: String(device.attributes.idevidFingerprint ?? '') };
      if (config !== undefined) {
        await bootstrapConfigs.set(endpoint, options.bootstrapConfig({ endpoint, pledge, ldevid }));
        undo.push({ what: 'bootstrap-config', run: () => bootstrapConfigs.set(endpoint, config.config) });
      }
      await audit.append({ actor, action: 'registrar.credential.rotate', subject: endpoint, outcome: 'success', details: { ldevidSerial: ldevid.serialNumber, fingerprint: ldevid.certificate.fingerprint256 } });
    } catch (err) {
      const undone: string[] = [];
      for (const u of undo.reverse()) {
        try {
          await u.run();
          undone.push(u.what);
        } catch {
          // reported below through `undone`
        }
      }
      const reason = err instanceof Error ? err.message : String(err);
      await audit.append({ actor, action: 'registrar.credential.rotate', subject: endpoint, outcome: 'failure', details: { reason: reason.slice(0, 300), undone } });
      throw new ProvisioningFailedError(`rotating the credential of ${endpoint} failed: ${reason}`, { cause: err });
    }
  };
}
