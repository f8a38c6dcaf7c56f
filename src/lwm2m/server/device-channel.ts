/**
 * How the server reaches a registered device: over the device's own session (the peer key of
 * its last message), with the registration's alternate path, and — for queue-mode devices — only
 * while the device is awake. Core 1.1 §6.5 (Queue Mode): "the LwM2M Server MUST consider the LwM2M
 * Client reachable only for a period of CoAP MAX_TRANSMIT_WAIT after the last message received";
 * requests made while it sleeps are held and sent, in order, the next time it talks.
 *
 * A request goes out only over a session authenticated as the device itself: the address a
 * registration remembers can meanwhile belong to another device (a NAT rebinding, a device that
 * reconnected from a fresh port, or — after a server restart — a registration restored from the
 * store whose old address another device now uses), so before each request the identity of the
 * session at that address is checked against the credential bound to the endpoint (the check
 * Register/Update pass, authorize.ts). A mismatch is refused (ERR_LWM2M_DEVICE_UNREACHABLE) and
 * audited; the device is reached again after its next Update from its own session.
 */
import type { CoapEndpoint } from '../../coap/endpoint.js';
import type { ClientRequest, CoapResponse } from '../../coap/client.js';
import { parseRegistrationLinks } from '../codec/link-format.js';
import type { RegistrationRecord } from '../../store/types.js';
import { Lwm2mDeviceUnreachableError, Lwm2mNotRegisteredError, Lwm2mQueueFullError, Lwm2mRequestExpiredError, Lwm2mServerClosedError } from './errors.js';
import type { IdentityResolver, PeerIdentity } from './identity.js';
import type { RegistrationRegistry } from './registration-registry.js';

export interface QueueOptions {
  /** How long a queue-mode device counts as awake after its last message (default 93 s, MAX_TRANSMIT_WAIT). */
  awakeMs?: number;
  /** Most requests held per sleeping device (default 32); more fail with ERR_LWM2M_QUEUE_FULL. */
  maxQueuedPerDevice?: number;
  /** Longest a request waits for a sleeping device (default 24 h); then ERR_LWM2M_REQUEST_EXPIRED. */
  maxWaitMs?: number;
}

export interface DeviceRequestOptions {
  /** Overrides QueueOptions.maxWaitMs for this request. */
  queueTimeoutMs?: number;
}

interface Held {
  start: () => void;
  fail: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface DeviceState {
  awakeUntil: number;
  held: Held[];
}

/** A CoAP endpoint the server listens on; `noSec` marks the plain-CoAP one. */
export interface ServerEndpoint {
  coap: CoapEndpoint;
  noSec: boolean;
  /** Who the peer at an address authenticated as (the listener's resolver). */
  identityOf: IdentityResolver;
}

/**
 * Whether a session authenticated as `identity` may carry requests for `endpoint` (the server
 * passes authorizeEndpoint over its store); a refusal is reported through `refused`.
 */
export interface SessionCheck {
  allowed(identity: PeerIdentity, endpoint: string): Promise<boolean>;
  /** A request was not sent because the session at the device's address is not the device's. */
  refused(r: RegistrationRecord, identity: PeerIdentity | undefined, reason: string): void;
}

/** The started exchange: what `DeviceChannel.run` passes to its caller. */
export interface Target {
  registration: RegistrationRecord;
  /** The endpoint the device talks to (its session lives there). */
  coap: CoapEndpoint;
  peer: string;
  /** The device's alternate path segments (Core §6.2.1 rt="oma.lwm2m"), usually empty. */
  rootPath: string[];
}

export class DeviceChannel {
  readonly #endpoints: readonly ServerEndpoint[];
  /** Which endpoint each device last spoke to. */
  readonly #via = new Map<string, CoapEndpoint>();
  readonly #registry: RegistrationRegistry;
  readonly #awakeMs: number;
  readonly #maxQueued: number;
  readonly #maxWaitMs: number;
  readonly #states = new Map<string, DeviceState>();
  readonly #rootPaths = new Map<string, string[]>();
  readonly #check: SessionCheck;
  #closed = false;

  constructor(endpoints: readonly ServerEndpoint[], registry: RegistrationRegistry, check: SessionCheck, options: QueueOptions = {}) {
    this.#endpoints = endpoints;
    this.#registry = registry;
    this.#check = check;
    this.#awakeMs = options.awakeMs ?? 93_000;
    this.#maxQueued = options.maxQueuedPerDevice ?? 32;
    this.#maxWaitMs = options.maxWaitMs ?? 24 * 3600 * 1000;
  }

  /**
   * Records the endpoint a device's message arrived on. Only a device that spoke somewhere other
   * than where coapFor would look for it anyway takes an entry (almost none: a secure device
   * talks to the secure endpoint), so a large fleet costs no map entry per device.
   */
  learn(r: RegistrationRecord, coap: CoapEndpoint): void {
    if (this.#endpoints.length <= 1) return;
    if (coap === this.#defaultFor(r)) this.#via.delete(r.endpoint);
    else this.#via.set(r.endpoint, coap);
  }

  /** The plain-CoAP endpoint for a NoSec registration, the secure one otherwise. */
  #defaultFor(r: RegistrationRecord): CoapEndpoint {
    const wanted = this.#endpoints.find((e) => e.noSec === (r.security === 'nosec'));
    return (wanted ?? this.#endpoints[0]!).coap;
  }

  /**
   * The endpoint to reach a device on: where it last spoke, or — after a restart, before it
   * spoke again — the plain-CoAP endpoint for a NoSec registration and the secure one otherwise.
   */
  coapFor(r: RegistrationRecord): CoapEndpoint {
    return this.#via.get(r.endpoint) ?? this.#defaultFor(r);
  }

  #target(r: RegistrationRecord & { peer: string }): Target {
    return { registration: r, coap: this.coapFor(r), peer: r.peer, rootPath: this.#rootPath(r) };
  }

  #listenerOf(coap: CoapEndpoint): ServerEndpoint {
    return this.#endpoints.find((e) => e.coap === coap) ?? this.#endpoints[0]!;
  }

  /**
   * Throws ERR_LWM2M_DEVICE_UNREACHABLE unless the session at the registration's address is
   * authenticated as a credential bound to its endpoint. NoSec registrations have no session to
   * check (plain CoAP gives no identity; they are allowed per device, authorize.ts).
   */
  async verifySession(r: RegistrationRecord & { peer: string }): Promise<void> {
    if (r.security === 'nosec') return;
    const identity = await this.#listenerOf(this.coapFor(r)).identityOf(r.peer);
    let reason: string | undefined;
    if (identity === undefined) reason = 'no session at the address it last spoke from';
    else if (identity.kind !== r.security) reason = `the session at its address is ${identity.kind}, the registration ${r.security}`;
    else if (!(await this.#check.allowed(identity, r.endpoint))) reason = `the session at its address is authenticated as a ${identity.kind} credential not bound to it`;
    if (reason === undefined) return;
    // An absent session is the ordinary state after a restart or an idle timeout; only a session
    // of someone else is a security decision worth a record.
    if (identity !== undefined) this.#check.refused(r, identity, reason);
    throw new Lwm2mDeviceUnreachableError(r.endpoint, `${JSON.stringify(r.endpoint)} cannot be reached: ${reason}; it is reachable again after its next Update`);
  }

  /** Whether a request to the device would go out now: registered, awake, over its own session. */
  async reachable(endpoint: string): Promise<boolean> {
    if (this.#closed) return false;
    const r = await this.#registry.byEndpoint(endpoint);
    if (r === undefined || r.peer === null || !this.isAwake(r)) return false;
    try {
      await this.verifySession(r as RegistrationRecord & { peer: string });
      return true;
    } catch (err) {
      if (err instanceof Lwm2mDeviceUnreachableError) return false;
      throw err;
    }
  }

  async #verified(r: RegistrationRecord & { peer: string }): Promise<Target> {
    await this.verifySession(r);
    return this.#target(r);
  }

  #rootPath(r: RegistrationRecord): string[] {
    // Only payloads that declare an alternate path are parsed again; the usual case costs a test.
    if (!r.objectLinks.includes('oma.lwm2m')) return [];
    const cached = this.#rootPaths.get(r.id);
    if (cached !== undefined) return cached;
    let root: string[] = [];
    try {
      root = parseRegistrationLinks(r.objectLinks).rootPath.split('/').filter((s) => s !== '');
    } catch {
      root = [];
    }
    this.#rootPaths.set(r.id, root);
    return root;
  }

  /** Whether requests to this device go out now (always, unless it is in queue mode and asleep). */
  isAwake(r: RegistrationRecord, now = Date.now()): boolean {
    if (!r.queueMode) return true;
    return (this.#states.get(r.endpoint)?.awakeUntil ?? 0) > now;
  }

  /** Number of requests held for a sleeping device. */
  queued(endpoint: string): number {
    return this.#states.get(endpoint)?.held.length ?? 0;
  }

  /**
   * Runs `work` against the device now, or when it next wakes up (queue mode). `work` gets the
   * registration current at send time, so a device that moved to a new session is reached there.
   */
  async run<T>(endpoint: string, work: (t: Target) => Promise<T>, options: DeviceRequestOptions = {}): Promise<T> {
    if (this.#closed) throw new Lwm2mServerClosedError();
    const r = await this.#registry.byEndpoint(endpoint);
    if (r === undefined || r.peer === null) throw new Lwm2mNotRegisteredError(endpoint);
    if (this.isAwake(r)) return work(await this.#verified(r as RegistrationRecord & { peer: string }));
    let state = this.#states.get(endpoint);
    if (state === undefined) this.#states.set(endpoint, (state = { awakeUntil: 0, held: [] }));
    if (state.held.length >= this.#maxQueued) throw new Lwm2mQueueFullError(endpoint, this.#maxQueued);
    const held = state.held;
    return new Promise<T>((resolve, reject) => {
      const item: Held = {
        start: () => {
          clearTimeout(item.timer);
          const current = this.#registry.cachedByEndpoint(endpoint);
          if (current === undefined || current.peer === null) return reject(new Lwm2mNotRegisteredError(endpoint));
          this.#verified(current as RegistrationRecord & { peer: string }).then(work).then(resolve, reject);
        },
        fail: (err) => {
          clearTimeout(item.timer);
          reject(err);
        },
        timer: setTimeout(() => {
          const i = held.indexOf(item);
          if (i >= 0) held.splice(i, 1);
          reject(new Lwm2mRequestExpiredError(`${JSON.stringify(endpoint)} did not wake up in time`));
        }, options.queueTimeoutMs ?? this.#maxWaitMs),
      };
      item.timer.unref?.();
      held.push(item);
    });
  }

  /** The cached registration of an endpoint (no store access). */
  registrationOf(endpoint: string): RegistrationRecord | undefined {
    return this.#registry.cachedByEndpoint(endpoint);
  }

  /** The device sent a message: it is awake now; held requests go out in order. */
  contact(r: RegistrationRecord): void {
    if (!r.queueMode) {
      this.#states.delete(r.endpoint);
      return;
    }
    let state = this.#states.get(r.endpoint);
    if (state === undefined) this.#states.set(r.endpoint, (state = { awakeUntil: 0, held: [] }));
    state.awakeUntil = Date.now() + this.#awakeMs;
    const due = state.held.splice(0);
    // After the answer to the message that woke it: the device listens once it got its reply.
    if (due.length > 0) setImmediate(() => due.forEach((h) => h.start()));
  }

  /** The registration ended: held requests fail, cached state goes. */
  forget(r: RegistrationRecord, reason: string): void {
    this.#rootPaths.delete(r.id);
    this.#via.delete(r.endpoint);
    const state = this.#states.get(r.endpoint);
    if (state === undefined) return;
    this.#states.delete(r.endpoint);
    for (const h of state.held) h.fail(new Lwm2mRequestExpiredError(`${JSON.stringify(r.endpoint)} ${reason} before the request could be delivered`));
  }

  /** Sends one CoAP request to the target (paths are prefixed with the alternate path). */
  request(t: Target, req: ClientRequest & { path: string[] }): Promise<CoapResponse> {
    return t.coap.request(t.peer, { ...req, path: [...t.rootPath, ...req.path] });
  }

  close(): void {
    this.#closed = true;
    for (const [endpoint, state] of this.#states) {
      for (const h of state.held) h.fail(new Lwm2mRequestExpiredError(`server closed before the request to ${JSON.stringify(endpoint)} was delivered`));
    }
    this.#states.clear();
  }
}
