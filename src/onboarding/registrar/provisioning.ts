/**
 * What enrollment success means for the registry (issue 6, "On enrollment"): the device is
 * created with its LDevID bound as x509 credential (one transaction), its LwM2M bootstrap
 * configuration is set (certificate mode with the LDevID), and its ownership moves
 * RESET → RFOTM → RFPRO. Each step is audited. If any step fails, the steps already done are
 * undone (bootstrap configuration and device deleted) so nothing half-created stays; revoking
 * the certificate that was signed is the caller's part, since it owns the CA.
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
    let created = false;
    let configured = false;
    let step = 'device.create';
    try {
      await devices.createWithCredentials(
        {
          endpoint,
          model: pledge.model,
          ownershipState: 'RESET',
          attributes: {
            serialNumber: pledge.serial,
            manufacturer: pledge.manufacturer,
            idevidFingerprint: pledge.idevidFingerprint,
            ldevidSerial: ldevid.serialNumber,
            onboarding: 'brski',
            ...(ctx.domainId !== undefined ? { domainId: ctx.domainId } : {}),
          },
        },
        // The LwM2M server finds x509 devices by the certificate's CN (store types: lookup), which
        // the registrar sets to the endpoint.
        [{ kind: 'x509', lookup: endpoint, material: ldevid.der }],
      );
      created = true;
      await audit.append({ actor, action: 'registrar.device.create', subject: endpoint, outcome: 'success', details: { serial: pledge.serial, model: pledge.model, ldevidSerial: ldevid.serialNumber, fingerprint: ldevid.certificate.fingerprint256 } });
      step = 'bootstrap-config.set';
      await bootstrapConfigs.set(endpoint, options.bootstrapConfig(ctx));
      configured = true;
      await audit.append({ actor, action: 'registrar.bootstrap-config.set', subject: endpoint, outcome: 'success', details: { securityMode: 'x509' } });
      step = 'ownership';
      // OCF: RESET →begin-transfer→ RFOTM (the voucher made this domain the owner) →owner-established→ RFPRO.
      await ownership.transition(endpoint, 'begin-transfer', { actor, expectedState: 'RESET', details: { method: 'brski' } });
      await ownership.transition(endpoint, 'owner-established', { actor, expectedState: 'RFOTM', details: { method: 'brski' } });
    } catch (err) {
      const undone: string[] = [];
      if (configured && (await bootstrapConfigs.delete(endpoint).catch(() => false))) undone.push('bootstrap-config');
      if (created && (await devices.delete(endpoint).catch(() => false))) undone.push('device');
      const reason = err instanceof Error ? err.message : String(err);
      await audit.append({ actor, action: 'registrar.provision', subject: endpoint, outcome: 'failure', details: { step, reason: reason.slice(0, 300), undone, code: (err as { code?: unknown })?.code ?? null } });
      throw new ProvisioningFailedError(`provisioning ${endpoint} failed at ${step}: ${reason}`, { cause: err });
    }
  };
}
