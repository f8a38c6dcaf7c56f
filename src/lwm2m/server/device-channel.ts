/**
 * How the server reaches a registered device: over the device's own session (the peer key of
 * its last message), with the registration's alternate path, and — for queue-mode devices — only
 * while the device is awake. Core 1.1 §6.5 (Queue Mode): "the LwM2M Server MUST consider the LwM2M
 * Client reachable only for a period of CoAP MAX_TRANSMIT_WAIT after the last message received";
 * requests made while it sleeps are held and sent, in order, the next time it talks.
 */
import type { CoapEndpoint } from '../../coap/endpoint.js';
import type { ClientRequest, CoapResponse } from '../../coap/client.js';
import { parseRegistrationLinks } from '../codec/link-format.js';
import type { RegistrationRecord } from '../../store/types.js';
import { Lwm2mNotRegisteredError, Lwm2mQueueFullError, Lwm2mRequestExpiredError, Lwm2mServerClosedError } from './errors.js';
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
  #closed = false;

  constructor(endpoints: readonly ServerEndpoint[], registry: RegistrationRegistry, options: QueueOptions = {}) {
    this.#endpoints = endpoints;
    this.#registry = registry;
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
    if (this.isAwake(r)) return work(this.#target(r as RegistrationRecord & { peer: string }));
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
          work(this.#target(current as RegistrationRecord & { peer: string })).then(resolve, reject);
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
