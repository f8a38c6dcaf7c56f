/**
 * LwM2M delivery (OMA LwM2M Core 1.1 Appendix E.6, Object 5). Pull: the package is served over
 * CoAPs at /fw/<token> with Block2 and the device is told where with a Write of /5/0/1 Package
 * URI. Push: the package is written to /5/0/0 Package (Block1, from memory). Either way its State (/5/0/3) and Update Result (/5/0/5) are observed and turned into engine reports,
 * Update (/5/0/2) is executed once it reports Downloaded, and after its reboot the re-registered
 * device's /3/0/3 Firmware Version is read as the proof of success.
 *
 * A token names one attempt of one device: a fetch from a DTLS session whose credential belongs
 * to another device is refused (4.03) and audited, as is a fetch of an unknown or finished token.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { CoapCode } from '../../coap/codec.js';
import { ContentFormat } from '../../coap/content-format.js';
import type { CoapEndpoint, ResourceHandle } from '../../coap/endpoint.js';
import type { CoapRequest, CoapResponseInit } from '../../coap/router.js';
import { RootlineError } from '../../errors.js';
import { lwm2mValue as v, type Lwm2mNode } from '../../lwm2m/model/node.js';
import type { IdentityResolver } from '../../lwm2m/server/identity.js';
import type { Lwm2mObservation, NotificationEvent } from '../../lwm2m/server/observations.js';
import type { Lwm2mServer } from '../../lwm2m/server/server.js';
import type { Store } from '../../store/types.js';
import { assertString } from '../../util/assert.js';
import { isFirmwareState, isUpdateResult, FIRMWARE_STATE, UPDATE_RESULT } from '../campaign/object5.js';
import type { DeliveryDriver, DeviceReport, UpdateRequest } from '../campaign/driver.js';
import type { DeltaCache } from '../firmware/delta-cache.js';
import type { FirmwareService } from '../firmware/firmware-service.js';
import { firmwarePackage, type FirmwarePackage } from './package.js';

/** Reports the engine could not take (stale attempt, store error) and failed device requests. */
export const driverErrorChannel = channel('rootline:fota:driver-error');

export class DeliveryError extends RootlineError {}

/** Where reports go: the CampaignEngine (onDeviceReport, onDeviceVersion) has this shape. */
export interface DeviceReportSink {
  onDeviceReport(report: DeviceReport): Promise<unknown>;
  onDeviceVersion(endpoint: string, version: string): Promise<unknown>;
}

export interface Lwm2mDeliveryDriverOptions {
  lwm2m: Lwm2mServer;
  /**
   * 'pull' (default): Package URI to /fw/<token> on `coap`, Block2; 'push': Write /5/0/0 with
   * Block1; 'https-pull': Package URI to `httpsBaseUri`/fw/<token>, served by an
   * HttpsPackageServer (https-package-server.ts) over TLS-PSK.
   */
  delivery?: 'pull' | 'push' | 'https-pull';
  /** For 'https-pull': e.g. 'https://192.0.2.10:5685'. */
  httpsBaseUri?: string;
  /** Push only: largest package written to /5/0/0 (default 1 MiB, the SDK's CoAP body limit). */
  maxPushBytes?: number;
  /** The CoAPs endpoint devices reach the package on (usually the LwM2M one). */
  coap: CoapEndpoint;
  /** The same resolver the LwM2M server uses: peer → credential. */
  identityOf: IdentityResolver;
  store: Store;
  firmware: FirmwareService;
  deltas: DeltaCache;
  reports: DeviceReportSink;
  /** What devices put in front of /fw/<token>, e.g. 'coaps://192.0.2.10:5684'. */
  packageBaseUri: string;
  /** First path segment of the package resource (default 'fw'). */
  resourcePath?: string;
  /** A token stops working this long after the attempt started (default 24 h). */
  tokenLifetimeMs?: number;
  /** Write the version read from /3/0/3 into the device registry (default true). */
  updateRegistry?: boolean;
  /**
   * Read /3/0/3 of every device that registers without an attempt of this driver in memory and
   * pass it to `reports.onDeviceVersion` (default true): after a server restart the engine's
   * in-flight attempts still get their proof of success when the device comes back.
   */
  readVersionOnRegistration?: boolean;
}

interface Attempt {
  readonly request: UpdateRequest;
  readonly token: string;
  readonly pkg: FirmwarePackage;
  readonly expiresAt: number;
  observations: Lwm2mObservation[];
  executed: boolean;
  finished: boolean;
  /** Last progress step reported (tenths). */
  progressStep: number;
}

const AUDIT_ACTOR = 'system:fota-driver';
const TOKEN_KEY_SETTING = 'fota.drivers.package-token-key';

export class Lwm2mDeliveryDriver implements DeliveryDriver {
  readonly #o: Lwm2mDeliveryDriverOptions;
  readonly #path: string;
  readonly #byToken = new Map<string, Attempt>();
  readonly #byEndpoint = new Map<string, Attempt>();
  readonly #resource: ResourceHandle | undefined;
  readonly #delivery: 'pull' | 'push' | 'https-pull';
  readonly #verifiedBlobs = new Set<string>();
  readonly #onRegistered: (e: { registration: { endpoint: string } }) => void;

  constructor(options: Lwm2mDeliveryDriverOptions) {
    assertString(options.packageBaseUri, 'options.packageBaseUri', { max: 1024, pattern: /^coaps?:\/\/[^/]+$/ });
    this.#o = options;
    this.#path = options.resourcePath ?? 'fw';
    assertString(this.#path, 'options.resourcePath', { max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
    this.#delivery = options.delivery ?? 'pull';
    if (this.#delivery === 'https-pull') assertString(options.httpsBaseUri, 'options.httpsBaseUri', { max: 1024, pattern: /^https:\/\/[^/]+$/ });
    // Only pull needs the package resource; a push driver beside a pull driver on one endpoint must not take it.
    this.#resource = this.#delivery === 'pull' ? options.coap.resource(`/${this.#path}/*`, { get: (req) => this.#serve(req), hidden: true }) : undefined;
    this.#onRegistered = (e) => void this.#registered(e.registration.endpoint);
    options.lwm2m.on('registered', this.#onRegistered);
  }

  /** Attempts being delivered now (for diagnostics and tests). */
  get inFlight(): number {
    return this.#byEndpoint.size;
  }

  async startUpdate(request: UpdateRequest): Promise<void> {
    const { endpoint } = request;
    if ((await this.#o.lwm2m.registration(endpoint)) === undefined) throw new DeliveryError('ERR_FOTA_DEVICE_NOT_REGISTERED', `${endpoint} is not registered`);
    await this.#drop(this.#byEndpoint.get(endpoint));
    const pkg = await this.#package(request);
    const token = await this.#tokenFor(endpoint, request.campaignId, request.attempt);
    const attempt: Attempt = { request, token, pkg, expiresAt: Date.now() + (this.#o.tokenLifetimeMs ?? 86_400_000), observations: [], executed: false, finished: false, progressStep: -1 };
    this.#byToken.set(token, attempt);
    this.#byEndpoint.set(endpoint, attempt);
    const uri = `${this.#delivery === 'https-pull' ? this.#o.httpsBaseUri! : this.#o.packageBaseUri}/${this.#path}/${token}`;
    try {
      if (this.#delivery === 'push' && pkg.size > (this.#o.maxPushBytes ?? 1 << 20)) {
        throw new DeliveryError('ERR_FOTA_PACKAGE_TOO_LARGE_FOR_PUSH', `a ${pkg.size}-byte package is over the push limit; use pull`);
      }
      // Observe first, so no state change between the write and the observation is missed.
      await this.#observe(attempt);
      if (this.#delivery !== 'push') await this.#o.lwm2m.write(endpoint, '/5/0/1', v.string(uri));
    } catch (err) {
      await this.#drop(attempt);
      await this.#audit('fota.delivery.start', endpoint, 'deny', { ...this.#ids(request), method: `lwm2m-${this.#delivery}`, reason: (err as { code?: string }).code ?? String(err) });
      throw err;
    }
    await this.#audit('fota.delivery.start', endpoint, 'success', { ...this.#ids(request), method: `lwm2m-${this.#delivery}`, packageKind: pkg.kind, packageSize: pkg.size, firmwareId: request.firmware.id });
    if (this.#delivery === 'push') void this.#push(attempt);
  }

  /**
   * The Block1 write is the download, so it runs after startUpdate resolved (the engine must not
   * wait for it); a failed transfer is reported as an error of the attempt.
   */
  async #push(a: Attempt): Promise<void> {
    try {
      const bytes = await a.pkg.read(0, a.pkg.size);
      if (a.finished) return;
      await this.#o.lwm2m.write(a.request.endpoint, '/5/0/0', v.opaque(bytes));
      this.#progress(a, a.pkg.size);
    } catch (err) {
      if (a.finished) return;
      await this.#audit('fota.delivery.push', a.request.endpoint, 'deny', { ...this.#ids(a.request), reason: (err as { code?: string }).code ?? String(err) });
      await this.#reportAsync({ ...this.#ids(a.request), endpoint: a.request.endpoint, kind: 'error', message: `Write /5/0/0 failed: ${(err as Error).message}` });
      await this.#drop(a);
    }
  }

  async cancelUpdate(request: Pick<UpdateRequest, 'endpoint' | 'campaignId' | 'attempt'>): Promise<void> {
    const a = this.#byEndpoint.get(request.endpoint);
    if (a === undefined || a.request.campaignId !== request.campaignId || a.request.attempt !== request.attempt) return;
    await this.#drop(a);
    // Appendix E.6: "Writing an empty string to Package URI Resource ... resets the Firmware
    // Update State Machine: the State Resource value is set to Idle".
    await this.#o.lwm2m.write(request.endpoint, '/5/0/1', v.string(''));
    await this.#audit('fota.delivery.cancel', request.endpoint, 'success', this.#ids(a.request));
  }

  /** Removes the package resource and the registration listener, ends every observation. */
  async close(): Promise<void> {
    this.#o.lwm2m.off('registered', this.#onRegistered);
    this.#resource?.remove();
    await Promise.all([...this.#byEndpoint.values()].map((a) => this.#drop(a)));
  }

  // ─── the package ─────────────────────────────────────────────────────────────────────────────

  async #package(request: UpdateRequest): Promise<FirmwarePackage> {
    if (request.packageKind === 'delta' && request.fromVersion !== null) {
      const delta = await this.#o.deltas.get(request.firmware.id, request.fromVersion);
      if (delta !== undefined) return firmwarePackage('delta', delta.manifest, { bytes: delta.delta });
      // The catalog said delta but the cache entry is gone (dropped as damaged, or its base
      // deleted): the full image is the fallback, as it is whenever no delta exists.
    }
    const image = await this.#o.firmware.get(request.firmware.id);
    if (!this.#verifiedBlobs.has(image.sha256)) {
      // Blocks are read from the blob file one by one; its digest is checked once here so a
      // damaged disk fails this attempt on the server rather than a fleet of devices.
      const { stream } = await this.#o.firmware.openDownload(image.id);
      for await (const chunk of stream) void chunk;
      this.#verifiedBlobs.add(image.sha256);
    }
    return firmwarePackage('full', image.manifest, { file: this.#o.firmware.blobs.pathOf(image.sha256), size: image.size });
  }

  async #serve(req: CoapRequest): Promise<CoapResponseInit> {
    const token = req.wildcard.length === 1 ? req.wildcard[0]! : '';
    const found = await this.authorizeFetch(token, await this.#endpointOf(req.peer));
    if (found === 'not-found') return { code: CoapCode.NotFound };
    if (found === 'forbidden') return { code: CoapCode.Forbidden };
    return { body: found, etag: found.etag, contentFormat: ContentFormat.OctetStream };
  }

  /**
   * The package behind `token` for the device `requester` (the endpoint its credential is bound
   * to), or why not; refusals are audited. Used by the CoAPs resource and the HTTPS server.
   */
  async authorizeFetch(token: string, requester: string | undefined): Promise<FirmwarePackage | 'not-found' | 'forbidden'> {
    const a = this.#byToken.get(token) ?? (requester === undefined ? undefined : await this.#recover(requester, token));
    if (a === undefined || a.finished || a.expiresAt <= Date.now()) {
      await this.#audit('fota.package.fetch', requester ?? 'unknown', 'deny', { reason: 'unknown-or-expired-token' });
      return 'not-found';
    }
    if (requester !== a.request.endpoint) {
      await this.#audit('fota.package.fetch', a.request.endpoint, 'deny', { ...this.#ids(a.request), reason: 'token-of-another-device', requestedBy: requester ?? null });
      return 'forbidden';
    }
    const pkg = a.pkg;
    return {
      kind: pkg.kind,
      etag: pkg.etag,
      size: pkg.size,
      read: async (offset: number, length: number): Promise<Uint8Array> => {
        // The CoAP layer caches the representation for follow-up blocks of the same session;
        // a cancelled or finished attempt must stop being served all the same.
        if (a.finished) throw new DeliveryError('ERR_FOTA_ATTEMPT_FINISHED', 'the attempt ended');
        const bytes = await pkg.read(offset, length);
        this.#progress(a, offset + bytes.length);
        return bytes;
      },
    };
  }

  /**
   * Tokens are HMAC(key, endpoint, campaign, attempt) under a key kept in the store, so after a
   * restart (attempts in memory lost) a device resuming its download is recognised: its
   * credential names the endpoint, the engine's row for it must still be in flight with that
   * attempt, and the package is rebuilt from the campaign. The key alone grants nothing: a token
   * is served only to the session of the device it names.
   */
  async #tokenFor(endpoint: string, campaignId: string, attempt: number): Promise<string> {
    return createHmac('sha256', await this.#key()).update(`${endpoint}\0${campaignId}\0${attempt}`).digest().subarray(0, 18).toString('base64url');
  }

  #keyPromise: Promise<Buffer> | undefined;

  #key(): Promise<Buffer> {
    this.#keyPromise ??= (async () => {
      const settings = this.#o.store.settings;
      const existing = await settings.get(TOKEN_KEY_SETTING);
      if (existing === undefined) await settings.set(TOKEN_KEY_SETTING, randomBytes(32).toString('hex'));
      // Read back: another node may have written its key first; all must use one.
      return Buffer.from((await settings.get(TOKEN_KEY_SETTING))!, 'hex');
    })();
    return this.#keyPromise;
  }

  readonly #recovering = new Map<string, Promise<Attempt | undefined>>();

  #recover(endpoint: string, token: string): Promise<Attempt | undefined> {
    const key = `${endpoint}\0${token}`;
    let p = this.#recovering.get(key);
    if (p === undefined) {
      p = this.#recoverOnce(endpoint, token).finally(() => this.#recovering.delete(key));
      this.#recovering.set(key, p);
    }
    return p;
  }

  async #recoverOnce(endpoint: string, token: string): Promise<Attempt | undefined> {
    const given = Buffer.from(token, 'base64url');
    for (const row of await this.#o.store.campaigns.devicesByEndpoint(endpoint)) {
      if (row.status !== 'in-flight') continue;
      const expected = Buffer.from(await this.#tokenFor(endpoint, row.campaignId, row.attempt), 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) continue;
      const campaign = await this.#o.store.campaigns.get(row.campaignId);
      const firmware = campaign === undefined ? undefined : await this.#o.deltas.describe(campaign.firmwareId);
      if (firmware === undefined) return undefined;
      const request: UpdateRequest = { endpoint, campaignId: row.campaignId, attempt: row.attempt, firmware, packageKind: row.packageKind ?? 'full', fromVersion: row.fromVersion };
      const pkg = await this.#package(request);
      const current = this.#byEndpoint.get(endpoint);
      if (current !== undefined && !current.finished) return current.token === token ? current : undefined;
      const a: Attempt = { request, token, pkg, expiresAt: Date.now() + (this.#o.tokenLifetimeMs ?? 86_400_000), observations: [], executed: false, finished: false, progressStep: -1 };
      this.#byToken.set(token, a);
      this.#byEndpoint.set(endpoint, a);
      await this.#audit('fota.delivery.resume', endpoint, 'success', { ...this.#ids(request), packageKind: pkg.kind });
      // Watch Object 5 again so Downloaded still leads to the Update.
      this.#observe(a).catch((error: unknown) => driverErrorChannel.hasSubscribers && driverErrorChannel.publish({ endpoint, error }));
      return a;
    }
    return undefined;
  }

  #progress(a: Attempt, sent: number): void {
    const step = Math.floor((sent * 10) / a.pkg.size);
    if (step <= a.progressStep) return;
    a.progressStep = step;
    this.#report({ ...this.#ids(a.request), endpoint: a.request.endpoint, kind: 'progress', percent: Math.min(100, step * 10) });
  }

  async #endpointOf(peer: string): Promise<string | undefined> {
    const id = await this.#o.identityOf(peer);
    if (id === undefined || id.kind === 'nosec') return undefined;
    return (await this.#o.store.devices.findCredential(id.kind, id.lookup))?.endpoint;
  }

  // ─── the device's Object 5 ───────────────────────────────────────────────────────────────────

  async #observe(a: Attempt): Promise<void> {
    const { endpoint } = a.request;
    for (const path of ['/5/0/3', '/5/0/5']) {
      const obs = await this.#o.lwm2m.observe(endpoint, path, { onNotify: (n) => this.#notified(a, n) });
      a.observations.push(obs);
    }
  }

  #notified(a: Attempt, n: NotificationEvent): void {
    if (a.finished || n.path === undefined || n.node === undefined) return;
    const value = integerOf(n.node);
    if (value === undefined) return;
    if (n.path.resourceId === 3) void this.#state(a, value);
    else if (n.path.resourceId === 5) void this.#result(a, value);
  }

  async #state(a: Attempt, state: number): Promise<void> {
    if (!isFirmwareState(state)) return;
    await this.#reportAsync({ ...this.#ids(a.request), endpoint: a.request.endpoint, kind: 'state', state });
    if (state !== FIRMWARE_STATE.DOWNLOADED || a.executed || a.finished) return;
    // The package is downloaded and verified by the device: start the update at once.
    a.executed = true;
    try {
      await this.#o.lwm2m.execute(a.request.endpoint, '/5/0/2');
      await this.#audit('fota.delivery.update', a.request.endpoint, 'success', this.#ids(a.request));
    } catch (err) {
      await this.#audit('fota.delivery.update', a.request.endpoint, 'deny', { ...this.#ids(a.request), reason: (err as { code?: string }).code ?? String(err) });
      await this.#reportAsync({ ...this.#ids(a.request), endpoint: a.request.endpoint, kind: 'error', message: `Execute /5/0/2 failed: ${(err as Error).message}` });
      await this.#drop(a);
    }
  }

  async #result(a: Attempt, result: number): Promise<void> {
    // 0 is the reset at the start of a download or update: not an outcome.
    if (!isUpdateResult(result) || result === UPDATE_RESULT.INITIAL) return;
    if (result === UPDATE_RESULT.SUCCESS) {
      await this.#confirm(a);
      return;
    }
    await this.#reportAsync({ ...this.#ids(a.request), endpoint: a.request.endpoint, kind: 'result', result });
    await this.#drop(a);
  }

  /** Result 1: the new version must show in /3/0/3 before the engine counts the device updated. */
  async #confirm(a: Attempt): Promise<void> {
    if (a.finished) return;
    const { endpoint } = a.request;
    let version: string | undefined;
    try {
      const r = await this.#o.lwm2m.read(endpoint, '/3/0/3');
      version = stringOf(r.node);
    } catch (err) {
      if (driverErrorChannel.hasSubscribers) driverErrorChannel.publish({ endpoint, error: err });
      return;
    }
    if (a.finished) return;
    a.finished = true;
    await this.#reportAsync({ ...this.#ids(a.request), endpoint, kind: 'result', result: UPDATE_RESULT.SUCCESS });
    if (version !== undefined) {
      await this.#recordVersion(endpoint, version).catch((error: unknown) => driverErrorChannel.publish({ endpoint, error }));
      await this.#reportAsync({ ...this.#ids(a.request), endpoint, kind: 'version', version });
    }
    await this.#drop(a);
  }

  /** After a reboot the device registers anew: its observations are gone, its Object 5 says how it went. */
  async #registered(endpoint: string): Promise<void> {
    const a = this.#byEndpoint.get(endpoint);
    if (a === undefined || a.finished) {
      if (this.#o.readVersionOnRegistration !== false) await this.#unattendedVersion(endpoint);
      return;
    }
    try {
      const result = integerOf((await this.#o.lwm2m.read(endpoint, '/5/0/5')).node);
      if (result === UPDATE_RESULT.SUCCESS) return await this.#confirm(a);
      if (result !== undefined && result !== UPDATE_RESULT.INITIAL) return await this.#result(a, result);
      // Still under way (a reboot in the middle of nothing of ours): watch again.
      for (const o of a.observations.splice(0)) await o.cancel().catch(() => undefined);
      await this.#observe(a);
      const state = integerOf((await this.#o.lwm2m.read(endpoint, '/5/0/3')).node);
      if (state !== undefined) await this.#state(a, state);
    } catch (err) {
      if (driverErrorChannel.hasSubscribers) driverErrorChannel.publish({ endpoint, error: err });
    }
  }

  async #unattendedVersion(endpoint: string): Promise<void> {
    try {
      const version = stringOf((await this.#o.lwm2m.read(endpoint, '/3/0/3')).node);
      if (version === undefined) return;
      await this.#recordVersion(endpoint, version);
      // The engine applies it to this device's in-flight attempts only (none: nothing changes).
      await this.#o.reports.onDeviceVersion(endpoint, version);
    } catch (err) {
      if (driverErrorChannel.hasSubscribers) driverErrorChannel.publish({ endpoint, error: err });
    }
  }

  async #recordVersion(endpoint: string, version: string): Promise<void> {
    if (this.#o.updateRegistry === false) return;
    const device = await this.#o.store.devices.get(endpoint);
    if (device !== undefined && device.firmwareVersion !== version) await this.#o.store.devices.update(endpoint, { firmwareVersion: version });
  }

  // ─── helpers ─────────────────────────────────────────────────────────────────────────────────

  async #drop(a: Attempt | undefined): Promise<void> {
    if (a === undefined) return;
    a.finished = true;
    this.#byToken.delete(a.token);
    if (this.#byEndpoint.get(a.request.endpoint) === a) this.#byEndpoint.delete(a.request.endpoint);
    await Promise.all(a.observations.splice(0).map((o) => o.cancel().catch(() => undefined)));
  }

  #ids(r: UpdateRequest): { campaignId: string; attempt: number } {
    return { campaignId: r.campaignId, attempt: r.attempt };
  }

  #report(report: DeviceReport): void {
    void this.#reportAsync(report);
  }

  async #reportAsync(report: DeviceReport): Promise<void> {
    try {
      await this.#o.reports.onDeviceReport(report);
    } catch (error) {
      // A late report of an attempt the engine already closed is refused there; that is not
      // the device's fault and must not break delivery to others.
      if (driverErrorChannel.hasSubscribers) driverErrorChannel.publish({ report, error });
    }
  }

  async #audit(action: string, subject: string, outcome: 'success' | 'deny', details: Record<string, unknown>): Promise<void> {
    try {
      await this.#o.store.audit.append({ actor: AUDIT_ACTOR, action, subject, outcome, details });
    } catch (error) {
      if (driverErrorChannel.hasSubscribers) driverErrorChannel.publish({ action, subject, error });
    }
  }
}

function integerOf(node: Lwm2mNode): number | undefined {
  if (node.kind !== 'resource' || node.multiple) return undefined;
  const val = node.value;
  return val.type === 'integer' || val.type === 'unsigned' ? Number(val.value) : undefined;
}

function stringOf(node: Lwm2mNode): string | undefined {
  if (node.kind !== 'resource' || node.multiple) return undefined;
  return node.value.type === 'string' ? node.value.value : undefined;
}

export function createLwm2mPullDriver(options: Omit<Lwm2mDeliveryDriverOptions, 'delivery'>): Lwm2mDeliveryDriver {
  return new Lwm2mDeliveryDriver({ ...options, delivery: 'pull' });
}

/** HTTPS pull: the Package URI points at an HttpsPackageServer that asks this driver for packages. */
export function createHttpsPullDriver(options: Omit<Lwm2mDeliveryDriverOptions, 'delivery'> & { httpsBaseUri: string }): Lwm2mDeliveryDriver {
  return new Lwm2mDeliveryDriver({ ...options, delivery: 'https-pull' });
}

/** The push variant: the same Object 5 handling, the package written to /5/0/0 (Block1). */
export function createLwm2mPushDriver(options: Omit<Lwm2mDeliveryDriverOptions, 'delivery'>): Lwm2mDeliveryDriver {
  return new Lwm2mDeliveryDriver({ ...options, delivery: 'push' });
}
