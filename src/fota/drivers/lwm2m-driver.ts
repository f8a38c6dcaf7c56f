/**
 * LwM2M delivery (OMA LwM2M Core 1.1 Appendix E.6, Object 5). Pull: the package is served over
 * CoAPs at /fw/<token> with Block2 and the device is told where with a Write of /5/0/1 Package
 * URI. Push: the package is written to /5/0/0 Package (Block1, from memory). Either way its State (/5/0/3) and Update Result (/5/0/5) are observed and turned into engine reports,
 * Update (/5/0/2) is executed once it reports Downloaded, and after its reboot the re-registered
 * device's /3/0/3 Firmware Version is read as the proof of success.
 *
 * A token names one attempt of one device: a fetch from a DTLS session whose credential belongs
 * to another device is refused (4.03) and audited, as is a fetch of an unknown or finished token.
 *
 * One driver offers several methods (`methods`); each attempt uses its campaign's `delivery`, or
 * the driver's default. After a server restart an attempt still in flight in the store is
 * adopted again when its device registers, sends a registration Update, or fetches its package:
 * the device's /3/0/3, /5/0/5 and /5/0/3 say where it stands, and the attempt continues from
 * there (success, Update executed, failure reported, or the download restarted).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CoapCode } from '../../coap/codec.js';
import { ContentFormat } from '../../coap/content-format.js';
import type { ResourceHandle } from '../../coap/endpoint.js';
import type { CoapRequest, CoapResponseInit } from '../../coap/router.js';
import { InvalidArgumentError } from '../../errors.js';
import { lwm2mValue as v } from '../../lwm2m/model/node.js';
import type { Lwm2mObservation, NotificationEvent } from '../../lwm2m/server/observations.js';
import type { CampaignDeviceRecord } from '../../store/campaign-types.js';
import { assertInteger, assertString } from '../../util/assert.js';
import { isFirmwareState, isUpdateResult, FIRMWARE_STATE, UPDATE_RESULT } from '../campaign/object5.js';
import type { DeliveryDriver, DeviceReport, UpdateRequest } from '../campaign/driver.js';
import { isDeliveryMethod, isTargetVersion, type DeliveryMethod } from '../campaign/spec.js';
import {
  DRIVER_DELIVERIES,
  DeliveryError,
  deliveryMethodOf,
  driverDeliveryOf,
  driverErrorChannel,
  integerOf,
  stringOf,
  type DriverDelivery,
  type Lwm2mDeliveryDriverOptions,
} from './delivery-types.js';
import { firmwarePackage, type FirmwarePackage } from './package.js';

export { DeliveryError, deliveryMethodOf, driverDeliveryOf, driverErrorChannel, type DeviceReportSink, type DriverDelivery, type HttpsPskGrants, type Lwm2mDeliveryDriverOptions } from './delivery-types.js';

interface Attempt {
  readonly request: UpdateRequest;
  readonly method: DriverDelivery;
  /** Rebuilt from the store (after a restart), not started by this driver. */
  readonly adopted: boolean;
  /** The Package URI was written (or the push begun) by this driver. */
  delivered: boolean;
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

function boundedInteger(value: unknown, name: string, min: number, max: number): number {
  assertInteger(value, name, min, max);
  return value;
}
const TOKEN_KEY_SETTING = 'fota.drivers.package-token-key';

export class Lwm2mDeliveryDriver implements DeliveryDriver {
  readonly #o: Lwm2mDeliveryDriverOptions;
  readonly #path: string;
  readonly #byToken = new Map<string, Attempt>();
  readonly #byEndpoint = new Map<string, Attempt>();
  readonly #resource: ResourceHandle | undefined;
  readonly #default: DriverDelivery;
  readonly #methods: ReadonlySet<DriverDelivery>;
  readonly #verifiedBlobs = new Set<string>();
  readonly #onRegistered: (e: { registration: { endpoint: string } }) => void;
  readonly #onUpdated: (e: { registration: { endpoint: string } }) => void;
  /** Per-device queue: registrations, updates and package fetches of one device are handled in order. */
  readonly #busy = new Map<string, Promise<unknown>>();
  /** Registered devices whose /3/0/3 is still to be read (endpoint → queued at, ms), oldest first. */
  readonly #inventory = new Map<string, number>();
  readonly #inventoryQuietMs: number;
  readonly #inventoryMaxDelayMs: number;
  readonly #inventoryConcurrency: number;
  #inventoryRunning = 0;
  #inventoryTimer: NodeJS.Timeout | undefined;
  #lastRegistrationAt = -Infinity;
  #closed = false;

  constructor(options: Lwm2mDeliveryDriverOptions) {
    assertString(options.packageBaseUri, 'options.packageBaseUri', { max: 1024, pattern: /^coaps?:\/\/[^/]+$/ });
    this.#o = options;
    this.#path = options.resourcePath ?? 'fw';
    assertString(this.#path, 'options.resourcePath', { max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
    this.#default = options.delivery ?? 'pull';
    const methods = new Set<DriverDelivery>([this.#default, ...(options.methods ?? [])]);
    for (const m of methods) if (!DRIVER_DELIVERIES.includes(m)) throw new InvalidArgumentError('options.methods', `expected ${DRIVER_DELIVERIES.join(', ')}, got ${JSON.stringify(m)}`);
    this.#methods = methods;
    if (methods.has('https-pull')) assertString(options.httpsBaseUri, 'options.httpsBaseUri', { max: 1024, pattern: /^https:\/\/[^/]+$/ });
    // Only pull needs the package resource; a push driver beside a pull driver on one endpoint must not take it.
    this.#resource = methods.has('pull') ? options.coap.resource(`/${this.#path}/*`, { get: (req) => this.#serve(req), hidden: true }) : undefined;
    const reads = options.inventoryReads ?? {};
    this.#inventoryQuietMs = boundedInteger(reads.quietMs ?? 200, 'options.inventoryReads.quietMs', 0, 60_000);
    this.#inventoryMaxDelayMs = boundedInteger(reads.maxDelayMs ?? 30_000, 'options.inventoryReads.maxDelayMs', 0, 3_600_000);
    this.#inventoryConcurrency = boundedInteger(reads.concurrency ?? 32, 'options.inventoryReads.concurrency', 1, 4096);
    this.#onRegistered = (e) => {
      this.#lastRegistrationAt = performance.now();
      void this.#registered(e.registration.endpoint, 'register');
    };
    this.#onUpdated = (e) => void this.#registered(e.registration.endpoint, 'update');
    options.lwm2m.on('registered', this.#onRegistered);
    options.lwm2m.on('updated', this.#onUpdated);
  }

  /** Attempts being delivered now (for diagnostics and tests). */
  get inFlight(): number {
    return this.#byEndpoint.size;
  }

  /** The campaign delivery methods offered, the default first. */
  get methods(): DeliveryMethod[] {
    return [this.#default, ...[...this.#methods].filter((m) => m !== this.#default)].map(deliveryMethodOf);
  }

  /** Whether a campaign asking for `delivery` (null: the default) can be served. */
  supports(delivery: DeliveryMethod | null | undefined): boolean {
    return delivery === null || delivery === undefined || this.#methods.has(driverDeliveryOf(delivery));
  }

  #methodFor(request: Pick<UpdateRequest, 'delivery'>): DriverDelivery {
    const wanted = request.delivery ?? null;
    const method = wanted === null ? this.#default : driverDeliveryOf(wanted);
    if (!this.#methods.has(method)) throw new DeliveryError('ERR_FOTA_DELIVERY_UNSUPPORTED', `delivery ${wanted} is not offered by this server (offered: ${this.methods.join(', ')})`);
    return method;
  }

  /**
   * Whether the device can be reached now (`lwm2m.reachable`): registered, awake (a sleeping
   * queue-mode device would hold the Package URI write, and the engine's tick, until it wakes),
   * and the session at its address authenticated as this device — after a restart the address a
   * restored registration remembers can be another device's, so a live session there proves
   * nothing. The engine leaves an unreachable device waiting instead of failing attempts on it.
   */
  async canDeliver(endpoint: string): Promise<boolean> {
    if (this.#closed) return false;
    return this.#o.lwm2m.reachable(endpoint);
  }

  async startUpdate(request: UpdateRequest): Promise<void> {
    if (this.#closed) throw new DeliveryError('ERR_FOTA_DRIVER_CLOSED', 'the delivery driver is closed');
    const method = this.#methodFor(request);
    const { endpoint } = request;
    if ((await this.#o.lwm2m.registration(endpoint)) === undefined) throw new DeliveryError('ERR_FOTA_DEVICE_NOT_REGISTERED', `${endpoint} is not registered`);
    this.#drop(this.#byEndpoint.get(endpoint));
    const pkg = await this.#package(request);
    if (this.#closed) throw new DeliveryError('ERR_FOTA_DRIVER_CLOSED', 'the delivery driver closed while the package was prepared');
    const attempt = await this.#track(request, method, pkg, false);
    // A device may run the target already: it installed it while this server was down and its
    // registration had not been read yet when the engine retried, or it was updated out of band.
    // Delivering again would only have it download a package for a base it no longer runs (and
    // end with Update Result 6/7 on the device), so the attempt is confirmed from /3/0/3 instead,
    // once startUpdate has returned. A failed read is no reason to fail the attempt: deliver.
    const running = await this.#o.lwm2m.read(endpoint, '/3/0/3').then(
      (r) => stringOf(r.node),
      () => undefined,
    );
    if (running !== undefined && isTargetVersion(running, request.firmware.version)) {
      await this.#audit('fota.delivery.start', endpoint, 'success', { ...this.#ids(request), method: deliveryMethodOf(method), alreadyRunning: running });
      setImmediate(() => void this.#confirm(attempt, running));
      return;
    }
    try {
      if (method === 'push' && pkg.size > (this.#o.maxPushBytes ?? 1 << 20)) {
        throw new DeliveryError('ERR_FOTA_PACKAGE_TOO_LARGE_FOR_PUSH', `a ${pkg.size}-byte package is over the push limit; use pull`);
      }
      if (method === 'https-pull') await this.#grantHttps(attempt);
      // Observe first, so no state change between the write and the observation is missed.
      await this.#observe(attempt);
      await this.#deliver(attempt);
    } catch (err) {
      this.#drop(attempt);
      await this.#audit('fota.delivery.start', endpoint, 'deny', { ...this.#ids(request), method: deliveryMethodOf(method), reason: (err as { code?: string }).code ?? String(err) });
      throw err;
    }
    await this.#audit('fota.delivery.start', endpoint, 'success', { ...this.#ids(request), method: deliveryMethodOf(method), packageKind: pkg.kind, packageSize: pkg.size, firmwareId: request.firmware.id });
  }

  /** Tells the device where the package is (pull), or starts writing it (push, not awaited). */
  async #deliver(a: Attempt): Promise<void> {
    a.delivered = true;
    if (a.method === 'push') {
      void this.#push(a);
      return;
    }
    const base = a.method === 'https-pull' ? this.#o.httpsBaseUri! : this.#o.packageBaseUri;
    const uri = v.string(`${base}/${this.#path}/${a.token}`);
    try {
      await this.#o.lwm2m.write(a.request.endpoint, '/5/0/1', uri);
    } catch (err) {
      if (!(await this.#resetStale(a, err))) throw err;
      await this.#o.lwm2m.write(a.request.endpoint, '/5/0/1', uri);
    }
  }

  /**
   * A device refuses a new package (4.05) while it is still busy with an earlier one: e.g. it
   * was mid-download when the server was killed and keeps retrying the old link, or it holds a
   * package of an attempt that timed out. Such a device is still Downloading or Downloaded with
   * a package of an earlier attempt (this attempt's token is new), so its state machine is reset
   * — Appendix E.6: "Writing an empty string to Package URI Resource ... resets the Firmware
   * Update State Machine" — and the package is offered again. A device that is Updating
   * (installing) is never reset: the refusal stands and the attempt fails. Returns whether it
   * reset the device (audited).
   */
  async #resetStale(a: Attempt, err: unknown): Promise<boolean> {
    if ((err as { code?: string; coapCode?: number }).code !== 'ERR_LWM2M_DEVICE_ERROR' || (err as { coapCode?: number }).coapCode !== CoapCode.MethodNotAllowed) return false;
    const { endpoint } = a.request;
    const state = integerOf((await this.#o.lwm2m.read(endpoint, '/5/0/3')).node);
    if (state !== FIRMWARE_STATE.DOWNLOADING && state !== FIRMWARE_STATE.DOWNLOADED) return false;
    await this.#audit('fota.delivery.reset', endpoint, 'success', { ...this.#ids(a.request), state, reason: 'the device refused the package while busy with an earlier one' });
    await this.#o.lwm2m.write(endpoint, '/5/0/1', v.string(''));
    return !a.finished;
  }

  async #grantHttps(a: Attempt): Promise<void> {
    if (this.#o.httpsAccess === undefined) return;
    await this.#o.httpsAccess.grant(a.request.endpoint, a.expiresAt);
  }

  async #track(request: UpdateRequest, method: DriverDelivery, pkg: FirmwarePackage, adopted: boolean): Promise<Attempt> {
    const token = await this.#tokenFor(request.endpoint, request.campaignId, request.attempt);
    const a: Attempt = { request, method, adopted, delivered: false, token, pkg, expiresAt: Date.now() + (this.#o.tokenLifetimeMs ?? 86_400_000), observations: [], executed: false, finished: false, progressStep: -1 };
    this.#byToken.set(token, a);
    this.#byEndpoint.set(request.endpoint, a);
    return a;
  }

  /**
   * The Block1 write is the download, so it runs after startUpdate resolved (the engine must not
   * wait for it); a failed transfer is reported as an error of the attempt.
   */
  async #push(a: Attempt): Promise<void> {
    try {
      const bytes = await a.pkg.read(0, a.pkg.size);
      if (a.finished) return;
      try {
        await this.#o.lwm2m.write(a.request.endpoint, '/5/0/0', v.opaque(bytes));
      } catch (err) {
        if (a.finished || !(await this.#resetStale(a, err))) throw err;
        await this.#o.lwm2m.write(a.request.endpoint, '/5/0/0', v.opaque(bytes));
      }
      this.#progress(a, a.pkg.size);
    } catch (err) {
      if (a.finished) return;
      await this.#audit('fota.delivery.push', a.request.endpoint, 'deny', { ...this.#ids(a.request), reason: (err as { code?: string }).code ?? String(err) });
      await this.#reportAsync({ ...this.#ids(a.request), endpoint: a.request.endpoint, kind: 'error', message: `Write /5/0/0 failed: ${(err as Error).message}` });
      this.#drop(a);
    }
  }

  async cancelUpdate(request: Pick<UpdateRequest, 'endpoint' | 'campaignId' | 'attempt'>): Promise<void> {
    const a = this.#byEndpoint.get(request.endpoint);
    if (a === undefined || a.request.campaignId !== request.campaignId || a.request.attempt !== request.attempt) return;
    this.#drop(a);
    // Appendix E.6: "Writing an empty string to Package URI Resource ... resets the Firmware
    // Update State Machine: the State Resource value is set to Idle".
    await this.#o.lwm2m.write(request.endpoint, '/5/0/1', v.string(''));
    await this.#audit('fota.delivery.cancel', request.endpoint, 'success', this.#ids(a.request));
  }

  /**
   * Refuses new attempts, stops listening to registrations, ends every observation and removes
   * the package resource. Idempotent.
   *
   * `keepServing` (a server shutdown, where the CoAPs endpoint closes right after): the packages
   * of the attempts in memory stay available until the endpoint itself goes, so a device in the
   * middle of a download keeps its link until the process ends and then resumes against the
   * restarted server (or reports a lost connection, 4), instead of being answered 4.04, which a
   * device takes for "7: Invalid URI" — a failure no retry policy repeats by default.
   */
  async close(options: { keepServing?: boolean } = {}): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#inventoryTimer);
    this.#inventoryTimer = undefined;
    this.#inventory.clear();
    this.#o.lwm2m.off('registered', this.#onRegistered);
    this.#o.lwm2m.off('updated', this.#onUpdated);
    if (options.keepServing === true) {
      for (const a of this.#byEndpoint.values()) this.#unobserve(a);
      return;
    }
    this.#resource?.remove();
    for (const a of [...this.#byEndpoint.values()]) this.#drop(a);
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

  /** Runs `fn` after everything queued for this device (registrations, updates, fetch recoveries). */
  #exclusive<T>(endpoint: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.#busy.get(endpoint) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.#busy.set(endpoint, tail);
    void tail.then(() => {
      if (this.#busy.get(endpoint) === tail) this.#busy.delete(endpoint);
    });
    return run;
  }

  /** A fetch with a token not in memory (after a restart): adopt the in-flight attempt it names. */
  #recover(endpoint: string, token: string): Promise<Attempt | undefined> {
    return this.#exclusive(endpoint, async () => {
      if (this.#closed) return undefined;
      const known = this.#byToken.get(token);
      if (known !== undefined) return known;
      const given = Buffer.from(token, 'base64url');
      for (const row of await this.#o.store.campaigns.devicesByEndpoint(endpoint)) {
        if (row.status !== 'in-flight') continue;
        const expected = Buffer.from(await this.#tokenFor(endpoint, row.campaignId, row.attempt), 'base64url');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) continue;
        const a = await this.#adopt(row, 'package-fetch');
        if (a === undefined || a.token !== token) return undefined;
        // The device is downloading: watch Object 5 again so Downloaded still leads to the Update.
        if (a.observations.length === 0) this.#observe(a).catch((error: unknown) => this.#driverError({ endpoint, error }));
        return a;
      }
      return undefined;
    });
  }

  /**
   * The attempt of an in-flight campaign row, in memory again (built from the campaign and the
   * row exactly as startUpdate built it). undefined when another attempt of the device is in
   * memory, the firmware is gone, or the driver is closed; throws when its method is not offered.
   */
  async #adopt(row: CampaignDeviceRecord, why: 'registration' | 'package-fetch'): Promise<Attempt | undefined> {
    const { endpoint } = row;
    const same = (a: Attempt): Attempt | undefined => (a.request.campaignId === row.campaignId && a.request.attempt === row.attempt ? a : undefined);
    const current = this.#byEndpoint.get(endpoint);
    if (current !== undefined && !current.finished) return same(current);
    const campaign = await this.#o.store.campaigns.get(row.campaignId);
    const firmware = campaign === undefined ? undefined : await this.#o.deltas.describe(campaign.firmwareId);
    if (campaign === undefined || firmware === undefined) return undefined;
    const wanted = (campaign.spec as { delivery?: unknown }).delivery;
    const request: UpdateRequest = { endpoint, campaignId: row.campaignId, attempt: row.attempt, firmware, packageKind: row.packageKind ?? 'full', fromVersion: row.fromVersion, delivery: isDeliveryMethod(wanted) ? wanted : null };
    const method = this.#methodFor(request);
    const pkg = await this.#package(request);
    const again = this.#byEndpoint.get(endpoint);
    if (again !== undefined && !again.finished) return same(again);
    if (this.#closed) return undefined;
    const a = await this.#track(request, method, pkg, true);
    if (method === 'https-pull') await this.#grantHttps(a).catch((error: unknown) => this.#driverError({ endpoint, error }));
    await this.#audit('fota.delivery.resume', endpoint, 'success', { ...this.#ids(request), method: deliveryMethodOf(method), packageKind: pkg.kind, trigger: why });
    return a;
  }

  #progress(a: Attempt, sent: number): void {
    const step = Math.floor((sent * 10) / a.pkg.size);
    if (step <= a.progressStep) return;
    a.progressStep = step;
    if (this.#closed) return; // serving out a shutdown: the engine is closing too
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
      if (a.finished) {
        await obs.cancel().catch(() => undefined);
        return;
      }
      a.observations.push(obs);
    }
  }

  #notified(a: Attempt, n: NotificationEvent): void {
    if (a.finished || this.#closed || n.path === undefined || n.node === undefined) return;
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
    // Recorded before it is sent: a shutdown can cut the wait for the answer (the device still
    // installs), and an Update that cannot be recorded is not sent (adopted again later).
    try {
      await this.#o.store.audit.append({ actor: AUDIT_ACTOR, action: 'fota.delivery.update', subject: a.request.endpoint, outcome: 'success', details: this.#ids(a.request) });
    } catch (error) {
      a.executed = false;
      this.#driverError({ endpoint: a.request.endpoint, action: 'fota.delivery.update', error });
      return;
    }
    try {
      await this.#o.lwm2m.execute(a.request.endpoint, '/5/0/2');
    } catch (err) {
      await this.#audit('fota.delivery.update', a.request.endpoint, 'failure', { ...this.#ids(a.request), reason: (err as { code?: string }).code ?? String(err) });
      await this.#reportAsync({ ...this.#ids(a.request), endpoint: a.request.endpoint, kind: 'error', message: `Execute /5/0/2 failed: ${(err as Error).message}` });
      this.#drop(a);
    }
  }

  async #result(a: Attempt, result: number): Promise<void> {
    // 0 is the reset at the start of a download or update: not an outcome.
    if (!isUpdateResult(result) || result === UPDATE_RESULT.INITIAL) return;
    if (result === UPDATE_RESULT.SUCCESS) {
      await this.#confirm(a);
      return;
    }
    if (a.finished) return;
    // Dropped before the report: a notification and a registration inspection seeing the same
    // result report it once.
    this.#drop(a);
    await this.#reportAsync({ ...this.#ids(a.request), endpoint: a.request.endpoint, kind: 'result', result });
  }

  /**
   * Result 1: the new version must show in /3/0/3 before the engine counts the device updated
   * (`known`: already read). Reports result 1 and the version; the engine decides.
   */
  async #confirm(a: Attempt, known?: string): Promise<void> {
    if (a.finished) return;
    const { endpoint } = a.request;
    let version = known;
    if (version === undefined) {
      try {
        version = stringOf((await this.#o.lwm2m.read(endpoint, '/3/0/3')).node);
      } catch (err) {
        this.#driverError({ endpoint, error: err });
        return;
      }
    }
    if (a.finished) return;
    a.finished = true;
    await this.#reportAsync({ ...this.#ids(a.request), endpoint, kind: 'result', result: UPDATE_RESULT.SUCCESS });
    if (version !== undefined) {
      await this.#recordVersion(endpoint, version).catch((error: unknown) => this.#driverError({ endpoint, error }));
      await this.#reportAsync({ ...this.#ids(a.request), endpoint, kind: 'version', version });
    }
    this.#drop(a);
  }

  /**
   * A registration (after a reboot: observations do not survive it) or a registration Update
   * (after a server restart the device reconnects with one). With an attempt of this driver in
   * memory, a registration has its Object 5 inspected; without one, an attempt still in flight
   * in the store is adopted and inspected, and any other registration only has its /3/0/3 read.
   */
  #registered(endpoint: string, how: 'register' | 'update'): Promise<void> {
    return this.#exclusive(endpoint, async () => {
      if (this.#closed) return;
      const mine = this.#byEndpoint.get(endpoint);
      if (mine !== undefined && !mine.finished) {
        if (how === 'register') await this.#inspect(mine);
        return;
      }
      let adopted: Attempt | undefined;
      let inFlight = false;
      try {
        for (const row of await this.#o.store.campaigns.devicesByEndpoint(endpoint)) {
          if (row.status !== 'in-flight') continue;
          inFlight = true;
          adopted = await this.#adopt(row, 'registration');
          if (adopted !== undefined) break;
        }
      } catch (error) {
        this.#driverError({ endpoint, error });
      }
      if (adopted !== undefined) await this.#inspect(adopted);
      else if (inFlight && this.#o.readVersionOnRegistration !== false) await this.#unattendedVersion(endpoint);
      else if (how === 'register' && this.#o.readVersionOnRegistration !== false) this.#queueInventory(endpoint);
    });
  }

  /** Inventory reads: see `inventoryReads` in the options. */
  #queueInventory(endpoint: string): void {
    if (!this.#inventory.has(endpoint)) this.#inventory.set(endpoint, performance.now());
    this.#scheduleInventory();
  }

  #scheduleInventory(): void {
    if (this.#inventoryTimer !== undefined || this.#closed || this.#inventory.size === 0) return;
    if (this.#inventoryRunning >= this.#inventoryConcurrency) return; // a finishing read pumps again
    // Until the registrations have been quiet long enough, or the oldest read is due.
    const now = performance.now();
    const oldest = this.#inventory.values().next().value as number;
    const wait = Math.min(this.#lastRegistrationAt + this.#inventoryQuietMs - now, oldest + this.#inventoryMaxDelayMs - now);
    this.#inventoryTimer = setTimeout(() => {
      this.#inventoryTimer = undefined;
      this.#pumpInventory();
    }, Math.max(1, Math.ceil(wait)));
    this.#inventoryTimer.unref();
  }

  #pumpInventory(): void {
    if (this.#closed) return;
    const now = performance.now();
    const quiet = now - this.#lastRegistrationAt >= this.#inventoryQuietMs;
    for (const [endpoint, queuedAt] of this.#inventory) {
      if (this.#inventoryRunning >= this.#inventoryConcurrency) break;
      if (!quiet && now - queuedAt < this.#inventoryMaxDelayMs) break; // the rest are younger
      this.#inventory.delete(endpoint);
      this.#inventoryRunning++;
      void this.#exclusive(endpoint, async () => {
        if (this.#closed) return;
        // An attempt started since the registration reads /3/0/3 itself (startUpdate, #inspect).
        const mine = this.#byEndpoint.get(endpoint);
        if (mine !== undefined && !mine.finished) return;
        await this.#unattendedVersion(endpoint);
      }).finally(() => {
        this.#inventoryRunning--;
        this.#pumpInventory();
      });
    }
    this.#scheduleInventory();
  }

  /**
   * Where the device stands with attempt `a`, and what follows: it runs the target (success);
   * it reports a failure (the result goes to the engine); Downloaded (Update executed);
   * Downloading or Updating (watched); Idle with nothing to show, after the Package URI was
   * written or the attempt was adopted (it lost the package in a reboot, or never got it): the
   * download starts again, for the same attempt and token.
   */
  async #inspect(a: Attempt): Promise<void> {
    const { endpoint } = a.request;
    try {
      const version = stringOf((await this.#o.lwm2m.read(endpoint, '/3/0/3')).node);
      if (a.finished) return;
      if (version !== undefined && isTargetVersion(version, a.request.firmware.version)) return await this.#confirm(a, version);
      // Observations do not survive a new registration or a server restart: watch again.
      this.#unobserve(a);
      await this.#observe(a);
      const result = integerOf((await this.#o.lwm2m.read(endpoint, '/5/0/5')).node);
      const state = integerOf((await this.#o.lwm2m.read(endpoint, '/5/0/3')).node);
      if (a.finished) return;
      // An adopted attempt's result 1 with another version is the last update's, not this one's.
      if (result === UPDATE_RESULT.SUCCESS && !a.adopted) return await this.#confirm(a, version);
      if (result !== undefined && result > UPDATE_RESULT.SUCCESS) return await this.#result(a, result);
      if (state === undefined || !isFirmwareState(state)) return;
      if (state !== FIRMWARE_STATE.IDLE) return await this.#state(a, state);
      if (!a.adopted && !a.delivered) return; // startUpdate is about to write the Package URI
      a.executed = false;
      await this.#audit('fota.delivery.redeliver', endpoint, 'success', { ...this.#ids(a.request), method: deliveryMethodOf(a.method), reason: 'device idle without the package' });
      await this.#deliver(a);
    } catch (err) {
      this.#driverError({ endpoint, error: err });
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
      this.#driverError({ endpoint, error: err });
    }
  }

  async #recordVersion(endpoint: string, version: string): Promise<void> {
    if (this.#o.updateRegistry === false) return;
    const device = await this.#o.store.devices.get(endpoint);
    if (device !== undefined && device.firmwareVersion !== version) await this.#o.store.devices.update(endpoint, { firmwareVersion: version });
  }

  // ─── helpers ─────────────────────────────────────────────────────────────────────────────────

  #drop(a: Attempt | undefined): void {
    if (a === undefined) return;
    a.finished = true;
    this.#byToken.delete(a.token);
    if (this.#byEndpoint.get(a.request.endpoint) === a) this.#byEndpoint.delete(a.request.endpoint);
    if (a.method === 'https-pull') this.#o.httpsAccess?.revoke(a.request.endpoint);
    this.#unobserve(a);
  }

  /**
   * Ends the attempt's observations here at once; the Cancel Observation requests go out without
   * being waited for (a rebooting device would hold a shutdown for the whole CoAP retransmission
   * window). One that does not arrive ends passively: the next notification is answered Reset.
   */
  #unobserve(a: Attempt): void {
    for (const o of a.observations.splice(0)) void o.cancel().catch(() => undefined);
  }

  #driverError(message: Record<string, unknown>): void {
    if (driverErrorChannel.hasSubscribers) driverErrorChannel.publish(message);
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
      this.#driverError({ report, error });
    }
  }

  async #audit(action: string, subject: string, outcome: 'success' | 'deny' | 'failure', details: Record<string, unknown>): Promise<void> {
    try {
      await this.#o.store.audit.append({ actor: AUDIT_ACTOR, action, subject, outcome, details });
    } catch (error) {
      this.#driverError({ action, subject, error });
    }
  }
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
