/**
 * One-step decommission of an onboarded device: every credential the domain gave it stops
 * working, every account it had is deleted, its manufacturer claim is released and its
 * ownership state becomes DECOMMISSIONED, so that it can be onboarded to another domain.
 *
 * Order (each step audited as `onboarding.decommission.<step>`):
 *   1. the lifecycle must allow `decommission` now (checked before anything changes);
 *   2. revoke its LDevIDs at the domain CA (`cessationOfOperation`), persist the CA state, sign
 *      and publish a new CRL;
 *   3. delete its LwM2M registration, bootstrap configuration and credentials;
 *   4. release the MASA claim with a voucher request signed by this registrar (RFC 8995 §5.5
 *      format; the MASA checks that the signer's domain is the owner) — or, when no MASA is
 *      reachable from here, record that the owner must release it at the manufacturer;
 *   5. ownership `decommission` → DECOMMISSIONED through the ownership service.
 *
 * Access is withdrawn first (revocation cannot be undone, and a device cut off but still
 * claimed is the safe half-state). Every step is idempotent and progress is kept in the device's
 * `attributes.decommission`, so after a failure (audited `onboarding.decommission`/failure with
 * the step) the same call finishes the job instead of leaving a half-decommissioned device.
 */
import { InvalidArgumentError, isRootlineError, RootlineError } from '../errors.js';
import type { Signer } from '../crypto/keystore/types.js';
import { parseCertificate, type CaState, type CertificateAuthority, type CertificateInput } from '../pki/index.js';
import type { AuditLog, BootstrapConfigRepository, DeviceRecord, DeviceRepository, RegistrationRepository } from '../store/types.js';
import { UnknownDeviceError } from './errors.js';
import { auditText } from './masa-registry.js';
import { nextOwnershipState } from './ownership.js';
import type { OwnershipService } from './ownership-service.js';
import { signVoucherRequest } from './signed-voucher.js';

export interface DecommissionerOptions {
  store: { devices: DeviceRepository; registrations: RegistrationRepository; bootstrapConfigs: BootstrapConfigRepository };
  audit: AuditLog;
  ownership: OwnershipService;
  /** The domain CA that issued the LDevIDs; `onStateChanged` persists its state after revocations and CRLs. */
  domainCa: { ca: CertificateAuthority; onStateChanged?: (state: CaState) => unknown };
  /** The registrar's identity: signs the release request; `chain` must carry the domain CA (the MASA pins the domain from it). */
  registrar: { signer: Signer; certificate: CertificateInput; chain: readonly CertificateInput[] };
  /**
   * Hands a signed release request to the MASA that vouched for `serial`. Absent, or answering
   * `undefined`, when that MASA cannot be reached from here: the result then says the owner must
   * release the claim at the manufacturer.
   */
  releaseClaim?: (serial: string, request: Uint8Array) => Promise<'released' | undefined>;
  /** Days until the CRL's nextUpdate (default 7). */
  crlNextUpdateDays?: number;
}

export type MasaClaimOutcome = 'released' | 'owner-must-release' | 'not-brski';

export interface DecommissionResult {
  endpoint: string;
  /** LDevID serials revoked by this call (hex). */
  revoked: string[];
  registrationDeleted: boolean;
  bootstrapConfigDeleted: boolean;
  credentialsRemoved: number;
  masaClaim: MasaClaimOutcome;
  ownershipState: DeviceRecord['ownershipState'];
}

export interface Decommissioner {
  decommissionDevice(request: { endpoint: string; actor: string }): Promise<DecommissionResult>;
  /** The domain CA's current CRL (DER): the one signed at the last revocation, else a fresh one. */
  currentCrl(): Promise<Uint8Array>;
}

interface Progress {
  startedAt: string;
  masaClaim?: MasaClaimOutcome;
}

/** The LDevID serials a device may hold: its bound x509 credentials, the current and the just-replaced one. */
function ldevidSerials(device: DeviceRecord, x509: readonly Uint8Array[]): string[] {
  const serials = new Set<string>();
  for (const der of x509) {
    try {
      serials.add(parseCertificate(der).serialNumber);
    } catch {
      // A credential that is only a subject binding (empty material) names no certificate.
    }
  }
  for (const key of ['ldevidSerial', 'previousLdevidSerial'] as const) {
    const v = device.attributes[key];
    if (typeof v === 'string' && v.length > 0) serials.add(v);
  }
  return [...serials];
}

export function createDecommissioner(options: DecommissionerOptions): Decommissioner {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const { store, audit, ownership, domainCa, registrar } = options;
  const { ca } = domainCa;
  const nextUpdateDays = options.crlNextUpdateDays ?? 7;
  let latestCrl: Uint8Array | undefined;
  const running = new Map<string, Promise<DecommissionResult>>();

  async function signCrl(): Promise<Uint8Array> {
    const crl = await ca.createCrl({ nextUpdateDays });
    // The CRL number was taken from the state: persist it so numbers keep increasing across restarts (RFC 5280 §5.2.3).
    await domainCa.onStateChanged?.(ca.state);
    latestCrl = crl;
    return crl;
  }

  async function step(actor: string, endpoint: string, name: string, details: Record<string, unknown>): Promise<void> {
    await audit.append({ actor, action: `onboarding.decommission.${name}`, subject: endpoint, outcome: 'success', details });
  }

  async function run(endpoint: string, actor: string): Promise<DecommissionResult> {
    let stage = 'check';
    try {
      const device = await store.devices.get(endpoint);
      if (device === undefined) throw new UnknownDeviceError(endpoint);
      const previous = device.attributes.decommission as Progress | undefined;
      // A device already DECOMMISSIONED has nothing left to do; anything else must be allowed
      // to take the edge now, before an irreversible step runs.
      nextOwnershipState(device.ownershipState, 'decommission');
      const progress: Progress = { startedAt: previous?.startedAt ?? new Date().toISOString(), ...(previous?.masaClaim !== undefined ? { masaClaim: previous.masaClaim } : {}) };
      await store.devices.update(endpoint, { attributes: { ...device.attributes, decommission: progress } });

      stage = 'revoke';
      const credentials = await store.devices.credentials(endpoint);
      const revoked: string[] = [];
      for (const serial of ldevidSerials(device, credentials.filter((c) => c.kind === 'x509').map((c) => c.material))) {
        if (ca.isRevoked(serial)) continue;
        try {
          ca.revoke(serial, 'cessationOfOperation');
          revoked.push(serial);
        } catch (err) {
          // Not issued by this CA (another domain's or a manually bound certificate): not ours to revoke.
          if (isRootlineError(err, 'ERR_PKI_UNKNOWN_SERIAL')) continue;
          throw err;
        }
      }
      if (revoked.length > 0) {
        await domainCa.onStateChanged?.(ca.state);
        await signCrl();
      }
      await step(actor, endpoint, 'revoke', { revoked, crlUpdated: revoked.length > 0 });

      stage = 'accounts';
      const registration = await store.registrations.getByEndpoint(endpoint);
      const registrationDeleted = registration !== undefined && (await store.registrations.delete(registration.id));
      const bootstrapConfigDeleted = await store.bootstrapConfigs.delete(endpoint);
      let credentialsRemoved = 0;
      for (const c of credentials) if (await store.devices.removeCredential(c.kind, c.lookup)) credentialsRemoved++;
      // Lookups only (PSK identities, key hashes, CNs): never the key material.
      await step(actor, endpoint, 'accounts', { registrationDeleted, bootstrapConfigDeleted, credentials: credentials.map((c) => `${c.kind}:${auditText(c.lookup, 128)}`) });

      stage = 'masa';
      const serial = typeof device.attributes.serialNumber === 'string' ? device.attributes.serialNumber : undefined;
      let masaClaim: MasaClaimOutcome;
      if (progress.masaClaim !== undefined && progress.masaClaim !== 'owner-must-release') masaClaim = progress.masaClaim;
      else if (device.attributes.onboarding !== 'brski' || serial === undefined) masaClaim = 'not-brski';
      else {
        // RFC 8995 §5.5 voucher-request format; the MASA takes the owner from the carried domain CA.
        const request = await signVoucherRequest({ serialNumber: serial, createdOn: new Date() }, { signer: registrar.signer, certificates: [registrar.certificate, ...registrar.chain] });
        const answer = options.releaseClaim === undefined ? undefined : await options.releaseClaim(serial, request);
        masaClaim = answer === 'released' ? 'released' : 'owner-must-release';
      }
      progress.masaClaim = masaClaim;
      const current = (await store.devices.get(endpoint)) ?? device;
      await store.devices.update(endpoint, { attributes: { ...current.attributes, decommission: progress } });
      await audit.append({
        actor,
        action: 'onboarding.decommission.masa',
        subject: endpoint,
        // 'allow' rather than success when nothing was released: the claim stays with this domain until the owner asks the manufacturer.
        outcome: masaClaim === 'owner-must-release' ? 'allow' : 'success',
        details: { masaClaim, serialNumber: serial ?? null, ...(masaClaim === 'owner-must-release' ? { note: "the manufacturer's MASA is not reachable from this server: release the claim there (owner-signed release request)" } : {}) },
      });

      stage = 'ownership';
      const updated = await ownership.transition(endpoint, 'decommission', { actor, details: { via: 'onboarding.decommission' } });
      await audit.append({ actor, action: 'onboarding.decommission', subject: endpoint, outcome: 'success', details: { revoked, masaClaim } });
      return { endpoint, revoked, registrationDeleted, bootstrapConfigDeleted, credentialsRemoved, masaClaim, ownershipState: updated.ownershipState };
    } catch (err) {
      await audit.append({
        actor: auditText(actor),
        action: 'onboarding.decommission',
        subject: auditText(endpoint),
        outcome: err instanceof RootlineError && stage === 'check' ? 'deny' : 'failure',
        details: { stage, code: err instanceof RootlineError ? err.code : 'ERR_INTERNAL', reason: auditText(err instanceof Error ? err.message : String(err), 300) },
      });
      throw err;
    }
  }

  return {
    decommissionDevice(request) {
      if (request === null || typeof request !== 'object') throw new InvalidArgumentError('request', 'expected { endpoint, actor }');
      const { endpoint, actor } = request;
      if (typeof endpoint !== 'string' || endpoint.length === 0) throw new InvalidArgumentError('endpoint', 'expected a non-empty string');
      if (typeof actor !== 'string' || actor.length === 0) throw new InvalidArgumentError('actor', 'expected who acts');
      // One decommission per endpoint at a time: a second call joins the first.
      const inFlight = running.get(endpoint);
      if (inFlight !== undefined) return inFlight;
      const p = run(endpoint, actor).finally(() => running.delete(endpoint));
      running.set(endpoint, p);
      return p;
    },
    async currentCrl() {
      return latestCrl ?? signCrl();
    },
  };
}
