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
 *   4. release the MASA claim with a release request signed by this registrar (RFC 8995 §5.5
 *      voucher-request format with created-on and a nonce; the MASA checks that the signer's
 *      domain is the owner): at the MASA in this process, or over HTTPS at the remote MASA that
 *      vouched for the device. A remote MASA that cannot be reached (or fails) does not hold the
 *      decommission up: the release is kept as a durable pending row (store.masa) and retried
 *      with backoff until the MASA answers. With no MASA known, the owner is told to release it;
 *   5. ownership `decommission` → DECOMMISSIONED through the ownership service.
 *
 * Access is withdrawn first (revocation cannot be undone, and a device cut off but still
 * claimed is the safe half-state). Every step is idempotent and progress is kept in the device's
 * `attributes.decommission`, so after a failure (audited `onboarding.decommission`/failure with
 * the step) the same call finishes the job instead of leaving a half-decommissioned device.
 */
import { InvalidArgumentError, isRootlineError, RootlineError } from '../errors.js';
import type { MasaRepository } from '../store/masa-types.js';
import type { Signer } from '../crypto/keystore/types.js';
import { parseCertificate, type CertificateAuthority, type CertificateInput } from '../pki/index.js';
import type { AuditLog, BootstrapConfigRepository, DeviceRecord, DeviceRepository, RegistrationRepository } from '../store/types.js';
import { UnknownDeviceError } from './errors.js';
import { auditText } from './masa-registry.js';
import { nextOwnershipState } from './ownership.js';
import type { OwnershipService } from './ownership-service.js';
import { MasaFailedError } from './registrar/errors.js';
import type { MasaClient } from './registrar/masa-client.js';
import { createReleaseRequest } from './voucher-requests.js';

export interface DecommissionerOptions {
  store: { devices: DeviceRepository; registrations: RegistrationRepository; bootstrapConfigs: BootstrapConfigRepository };
  audit: AuditLog;
  ownership: OwnershipService;
  /** The domain CA that issued the LDevIDs; `onStateChanged` persists its state (`ca.state`, or `ca.takeChanges()` when tracked) after revocations and CRLs. */
  domainCa: { ca: CertificateAuthority; onStateChanged?: (ca: CertificateAuthority) => unknown };
  /** The registrar's identity: signs the release request; `chain` must carry the domain CA (the MASA pins the domain from it). */
  registrar: { signer: Signer; certificate: CertificateInput; chain: readonly CertificateInput[] };
  /**
   * Hands a signed release request to the MASA that vouched for `serial`. Absent, or answering
   * `undefined`, when that MASA cannot be reached from here: the result then says the owner must
   * release the claim at the manufacturer.
   */
  releaseClaim?: (serial: string, request: Uint8Array) => Promise<'released' | undefined>;
  /**
   * The remote MASA path, tried when `releaseClaim` is absent or answers undefined: `client`
   * posts the release to `masaUrlFor(serial)` (the MASA that vouched for the device); `pending`
   * (store.masa) keeps releases that could not be delivered, retried every `retryIntervalMs`
   * (default 60 s; 0: only when retryPendingReleases() is called) with exponential backoff.
   */
  remoteMasa?: {
    client: MasaClient;
    masaUrlFor: (serial: string) => Promise<string | undefined>;
    pending: MasaRepository;
    retryIntervalMs?: number;
    /** First retry delay, doubled per failure up to maxBackoffMs (defaults 30 s, 6 h). */
    initialBackoffMs?: number;
    maxBackoffMs?: number;
  };
  /** Days until the CRL's nextUpdate (default 7). */
  crlNextUpdateDays?: number;
}

/**
 * released: the MASA released it; pending: the remote MASA was not reachable, the release is
 * queued and retried; not-owned: the MASA says this domain holds no claim (released before, or
 * never ours); owner-must-release: no MASA is known from here; not-brski: nothing to release.
 */
export type MasaClaimOutcome = 'released' | 'pending' | 'not-owned' | 'owner-must-release' | 'not-brski';

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
  /** Tries every pending remote release that is due now; what happened to each. */
  retryPendingReleases(): Promise<Array<{ serial: string; outcome: 'released' | 'not-owned' | 'pending' | 'superseded' }>>;
  /** Stops the retry timer (pending rows stay for the next start). */
  close(): void;
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
    await domainCa.onStateChanged?.(ca);
    latestCrl = crl;
    return crl;
  }

  async function step(actor: string, endpoint: string, name: string, details: Record<string, unknown>): Promise<void> {
    await audit.append({ actor, action: `onboarding.decommission.${name}`, subject: endpoint, outcome: 'success', details });
  }

  /** A fresh, signed release request: created-on now and a nonce of its own (the MASA answers each once). */
  function releaseRequest(serial: string): Promise<Uint8Array> {
    return createReleaseRequest({ serialNumber: serial, signer: registrar.signer, certificates: [registrar.certificate, ...registrar.chain] });
  }

  const remote = options.remoteMasa;
  const initialBackoff = remote?.initialBackoffMs ?? 30_000;
  const maxBackoff = remote?.maxBackoffMs ?? 6 * 3600_000;

  /** One delivery attempt to the remote MASA: released, not-owned (it says so), or failed (retry). */
  async function deliver(serial: string, masaUrl: string): Promise<{ outcome: 'released' | 'not-owned' } | { outcome: 'failed'; error: string; masaStatus: number | null; masaCode: string | null }> {
    try {
      await remote!.client.releaseClaim!({ masaUrl, serialNumber: serial, request: await releaseRequest(serial) });
      return { outcome: 'released' };
    } catch (err) {
      if (!(err instanceof MasaFailedError)) throw err;
      // The MASA answered that this domain holds no claim: after a lost answer to an earlier
      // attempt that is the release itself; either way there is nothing left for us to release.
      if (err.masaCode === 'ERR_ONBOARDING_NOT_OWNER' || err.masaCode === 'ERR_ONBOARDING_UNKNOWN_DEVICE') return { outcome: 'not-owned' };
      return { outcome: 'failed', error: auditText(err.message, 300), masaStatus: err.masaStatus ?? null, masaCode: err.masaCode ?? null };
    }
  }

  async function releaseRemotely(serial: string, endpoint: string, actor: string): Promise<{ outcome: MasaClaimOutcome; details: Record<string, unknown> }> {
    if (remote === undefined || remote.client.releaseClaim === undefined) return { outcome: 'owner-must-release', details: {} };
    const masaUrl = await remote.masaUrlFor(serial);
    if (masaUrl === undefined) return { outcome: 'owner-must-release', details: {} };
    const result = await deliver(serial, masaUrl);
    if (result.outcome !== 'failed') {
      await remote.pending.deletePendingRelease(serial);
      return { outcome: result.outcome, details: { masaUrl } };
    }
    const nextAttemptAt = new Date(Date.now() + initialBackoff).toISOString();
    await remote.pending.putPendingRelease({ serial, endpoint, masaUrl, lastError: result.error, nextAttemptAt });
    await audit.append({ actor, action: 'onboarding.decommission.masa.pending', subject: endpoint, outcome: 'failure', details: { serialNumber: serial, masaUrl, reason: result.error, masaStatus: result.masaStatus, masaCode: result.masaCode, nextAttemptAt } });
    return { outcome: 'pending', details: { masaUrl, nextAttemptAt } };
  }

  let retrying: Promise<Array<{ serial: string; outcome: 'released' | 'not-owned' | 'pending' | 'superseded' }>> | undefined;
  async function retryDue(): Promise<Array<{ serial: string; outcome: 'released' | 'not-owned' | 'pending' | 'superseded' }>> {
    if (remote === undefined || remote.client.releaseClaim === undefined) return [];
    const out: Array<{ serial: string; outcome: 'released' | 'not-owned' | 'pending' | 'superseded' }> = [];
    for (const row of await remote.pending.duePendingReleases(new Date().toISOString(), 100)) {
      // A device reset and onboarded again since (to this domain, most likely) holds a new claim
      // of ours: releasing "the" claim now would release that one. The old release is moot.
      const current = await store.devices.get(row.endpoint);
      if (current !== undefined && current.ownershipState !== 'DECOMMISSIONED') {
        await remote.pending.deletePendingRelease(row.serial);
        await audit.append({ actor: 'system', action: 'onboarding.decommission.masa.retry', subject: row.endpoint, outcome: 'allow', details: { serialNumber: row.serial, masaUrl: row.masaUrl, dropped: true, note: `the device is ${current.ownershipState} again: the pending release is superseded` } });
        out.push({ serial: row.serial, outcome: 'superseded' });
        continue;
      }
      const result = await deliver(row.serial, row.masaUrl);
      if (result.outcome === 'failed') {
        const delay = Math.min(maxBackoff, initialBackoff * 2 ** Math.min(row.attempts + 1, 30));
        const nextAttemptAt = new Date(Date.now() + delay).toISOString();
        await remote.pending.retryPendingReleaseLater(row.serial, result.error, nextAttemptAt);
        await audit.append({ actor: 'system', action: 'onboarding.decommission.masa.retry', subject: row.endpoint, outcome: 'failure', details: { serialNumber: row.serial, masaUrl: row.masaUrl, attempts: row.attempts + 1, reason: result.error, masaStatus: result.masaStatus, masaCode: result.masaCode, nextAttemptAt } });
        out.push({ serial: row.serial, outcome: 'pending' });
        continue;
      }
      await remote.pending.deletePendingRelease(row.serial);
      const device = await store.devices.get(row.endpoint);
      const progress = device?.attributes.decommission as Progress | undefined;
      if (device !== undefined && progress !== undefined && progress.masaClaim === 'pending') {
        await store.devices.update(row.endpoint, { attributes: { ...device.attributes, decommission: { ...progress, masaClaim: result.outcome } } });
      }
      await audit.append({ actor: 'system', action: 'onboarding.decommission.masa.retry', subject: row.endpoint, outcome: 'success', details: { serialNumber: row.serial, masaUrl: row.masaUrl, masaClaim: result.outcome, attempts: row.attempts + 1 } });
      out.push({ serial: row.serial, outcome: result.outcome });
    }
    return out;
  }
  function retryPendingReleases(): Promise<Array<{ serial: string; outcome: 'released' | 'not-owned' | 'pending' | 'superseded' }>> {
    // One pass at a time: the timer and a caller never deliver the same row twice at once.
    retrying ??= retryDue().finally(() => {
      retrying = undefined;
    });
    return retrying;
  }
  const interval = remote?.retryIntervalMs ?? 60_000;
  const timer =
    remote !== undefined && interval > 0
      ? setInterval(() => {
          retryPendingReleases().catch(async (err: unknown) => {
            // A closed store during shutdown, a database outage: the rows stay; say so once per pass.
            await audit.append({ actor: 'system', action: 'onboarding.decommission.masa.retry', subject: 'pending-releases', outcome: 'failure', details: { code: err instanceof RootlineError ? err.code : 'ERR_INTERNAL', reason: auditText(err instanceof Error ? err.message : String(err), 300) } }).catch(() => undefined);
          });
        }, interval)
      : undefined;
  timer?.unref();

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
        await domainCa.onStateChanged?.(ca);
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
      let masaDetails: Record<string, unknown> = {};
      if (progress.masaClaim !== undefined && progress.masaClaim !== 'owner-must-release' && progress.masaClaim !== 'pending') masaClaim = progress.masaClaim;
      else if (device.attributes.onboarding !== 'brski' || serial === undefined) masaClaim = 'not-brski';
      else {
        const answer = options.releaseClaim === undefined ? undefined : await options.releaseClaim(serial, await releaseRequest(serial));
        if (answer === 'released') masaClaim = 'released';
        else {
          const remote = await releaseRemotely(serial, endpoint, actor);
          masaClaim = remote.outcome;
          masaDetails = remote.details;
        }
      }
      progress.masaClaim = masaClaim;
      const current = (await store.devices.get(endpoint)) ?? device;
      await store.devices.update(endpoint, { attributes: { ...current.attributes, decommission: progress } });
      await audit.append({
        actor,
        action: 'onboarding.decommission.masa',
        subject: endpoint,
        // 'allow' rather than success when nothing was released: the claim stays with this domain until the owner asks the manufacturer.
        outcome: masaClaim === 'owner-must-release' || masaClaim === 'pending' ? 'allow' : 'success',
        details: {
          masaClaim,
          serialNumber: serial ?? null,
          ...masaDetails,
          ...(masaClaim === 'owner-must-release' ? { note: "no MASA is known for this device here: release the claim at the manufacturer's MASA (owner-signed release request)" } : {}),
          ...(masaClaim === 'pending' ? { note: 'the MASA was not reachable: the release is queued and retried' } : {}),
        },
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
    retryPendingReleases,
    close() {
      if (timer !== undefined) clearInterval(timer);
    },
  };
}
