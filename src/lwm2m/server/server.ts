/**
 * createLwm2mServer: the LwM2M server over an injected CoapEndpoint and Store — Registration
 * interface (/rd), Device Management and Information Reporting towards registered devices, the
 * Send operation (/dp), queue mode and lifetime expiry. Events: 'registered', 'updated',
 * 'deregistered', 'notification', 'send' (see Lwm2mServerEvents).
 */
import { EventEmitter } from 'node:events';
import { CoapCode } from '../../coap/codec.js';
import { InvalidArgumentError } from '../../errors.js';
import type { CoapEndpoint, ResourceHandle } from '../../coap/endpoint.js';
import type { Store, RegistrationRecord } from '../../store/types.js';
import type { Lwm2mCodecLimits, Lwm2mCodecOptions } from '../codec/common.js';
import type { Lwm2mEntry } from '../codec/senml.js';
import type { Lwm2mNode, Lwm2mValue, ObjectInstanceNode } from '../model/node.js';
import { ObjectRegistry } from '../model/registry.js';
import { DeviceChannel, type DeviceRequestOptions, type QueueOptions } from './device-channel.js';
import { DeviceManagement, type FormatOptions, type PathInput, type ReadResult, type WriteAttributes, type WriteOptions, type Lwm2mLink } from './device-management.js';
import type { IdentityResolver, PeerIdentity } from './identity.js';
import { authorizeEndpoint, identityDetails } from './authorize.js';
import { ObservationManager, type Lwm2mObservation, type NotificationEvent, type ObservationInfo, type ObservationLimits } from './observations.js';
import { RegistrationInterface, type RegistrationInterfaceLimits } from './registration-interface.js';
import { RegistrationRegistry, type DeregistrationReason } from './registration-registry.js';
import { handleSend, type SendEvent } from './send-operation.js';

/** One CoAP endpoint the server serves /rd and /dp on, with how its peers are identified. */
export interface Lwm2mListenerEndpoint {
  endpoint: CoapEndpoint;
  identityOf: IdentityResolver;
  /** The plain-CoAP endpoint (reached for NoSec registrations after a restart). */
  noSec?: boolean;
}

export interface Lwm2mServerOptions {
  /** The endpoint to serve on (or give `endpoints` for several, e.g. CoAPs 5684 and CoAP 5683). */
  endpoint?: CoapEndpoint;
  /** The credential a peer authenticated with; see identity.ts for DTLS and NoSec resolvers. */
  identityOf?: IdentityResolver;
  endpoints?: readonly Lwm2mListenerEndpoint[];
  store: Store;
  /** Object definitions (default: a registry with the OMA core objects). */
  registry?: ObjectRegistry;
  limits?: RegistrationInterfaceLimits & { codec?: Lwm2mCodecLimits; observations?: ObservationLimits };
  queue?: QueueOptions;
  /** Extra time after a lifetime before the registration is dropped (default 0). */
  lifetimeGraceMs?: number;
  /** How often expired registrations are looked for (default 1000 ms). */
  sweepIntervalMs?: number;
}

export interface Lwm2mServerEvents {
  registered: [{ registration: RegistrationRecord; replaced?: RegistrationRecord }];
  updated: [{ registration: RegistrationRecord; previous: RegistrationRecord }];
  deregistered: [{ registration: RegistrationRecord; reason: DeregistrationReason }];
  notification: [NotificationEvent];
  send: [SendEvent];
  error: [Error];
}

export class Lwm2mServer extends EventEmitter<Lwm2mServerEvents> {
  readonly objects: ObjectRegistry;
  readonly #store: Store;
  readonly #registry: RegistrationRegistry;
  readonly #channel: DeviceChannel;
  readonly #dm: DeviceManagement;
  readonly #observations: ObservationManager;
  readonly #resources: ResourceHandle[] = [];
  readonly #peerEndpoint = new Map<string, string>();
  readonly #sweep: ReturnType<typeof setInterval>;
  #sweeping = false;
  #closed = false;

  constructor(o: Lwm2mServerOptions) {
    super();
    this.objects = o.registry ?? new ObjectRegistry();
    this.#store = o.store;
    const codec: Lwm2mCodecOptions = { registry: this.objects, ...(o.limits?.codec !== undefined ? { limits: o.limits.codec } : {}) };
    this.#registry = new RegistrationRegistry(o.store, { lifetimeGraceMs: o.lifetimeGraceMs ?? 0 });
    const listeners: Lwm2mListenerEndpoint[] = [...(o.endpoints ?? [])];
    if (o.endpoint !== undefined) {
      if (o.identityOf === undefined) throw new InvalidArgumentError('identityOf', 'required with endpoint');
      listeners.unshift({ endpoint: o.endpoint, identityOf: o.identityOf });
    }
    if (listeners.length === 0) throw new InvalidArgumentError('endpoint', 'give endpoint + identityOf, or endpoints');
    const check = {
      allowed: async (identity: PeerIdentity, endpoint: string) => (await authorizeEndpoint(o.store, identity, endpoint)).allowed,
      refused: (r: RegistrationRecord, identity: PeerIdentity | undefined, reason: string) => {
        const record = { actor: 'system', action: 'lwm2m.route', subject: r.endpoint, outcome: 'deny' as const, details: { ...identityDetails(identity, r.peer ?? ''), registration: r.id, reason } };
        o.store.audit.append(record).catch((err: unknown) => {
          if (this.listenerCount('error') > 0) this.emit('error', err as Error);
        });
      },
    };
    this.#channel = new DeviceChannel(listeners.map((l) => ({ coap: l.endpoint, noSec: l.noSec === true, identityOf: l.identityOf })), this.#registry, check, o.queue);
    this.#dm = new DeviceManagement(this.#channel, codec);
    this.#observations = new ObservationManager(this.#channel, this.#dm, (n) => this.emit('notification', n), o.limits?.observations);
    for (const l of listeners) this.#serve(l, o, codec);
    this.#sweep = setInterval(() => void this.sweep(), o.sweepIntervalMs ?? 1000);
    this.#sweep.unref();
  }

  /** /rd, /rd/{id} and /dp on one endpoint. */
  #serve(l: Lwm2mListenerEndpoint, o: Lwm2mServerOptions, codec: Lwm2mCodecOptions): void {
    const contact = (r: RegistrationRecord): void => {
      this.#channel.learn(r, l.endpoint);
      this.#channel.contact(r);
    };
    const rd = new RegistrationInterface({
      store: o.store,
      registry: this.#registry,
      identityOf: l.identityOf,
      ...(o.limits !== undefined ? { limits: o.limits } : {}),
      hooks: {
        registered: (r, replaced) => {
          if (replaced !== undefined) this.#ended(replaced, 'replaced');
          if (r.security === 'nosec' && r.peer !== null) this.#peerEndpoint.set(r.peer, r.endpoint);
          this.emit('registered', replaced !== undefined ? { registration: r, replaced } : { registration: r });
        },
        updated: (r, previous) => {
          if (r.security === 'nosec' && r.peer !== null) this.#peerEndpoint.set(r.peer, r.endpoint);
          this.emit('updated', { registration: r, previous });
        },
        deregistered: (r, reason) => this.#ended(r, reason),
        contact,
      },
    });
    this.#resources.push(
      l.endpoint.resource('/rd', { post: (req) => rd.register(req), hidden: true }),
      l.endpoint.resource('/rd/*', {
        post: (req) => (req.wildcard.length === 1 ? rd.update(req, req.wildcard[0]!) : Promise.resolve({ code: CoapCode.NotFound })),
        delete: (req) => (req.wildcard.length === 1 ? rd.deregister(req, req.wildcard[0]!) : Promise.resolve({ code: CoapCode.NotFound })),
        hidden: true,
      }),
      l.endpoint.resource('/dp', {
        post: (req) =>
          handleSend({
            store: o.store,
            registry: this.#registry,
            identityOf: l.identityOf,
            codec,
            endpointOfPeer: (peer) => this.#peerEndpoint.get(peer),
            received: (r, ev) => {
              contact(r);
              this.emit('send', ev);
            },
          }, req),
        hidden: true,
      }),
    );
  }

  #ended(r: RegistrationRecord, reason: DeregistrationReason): void {
    if (r.peer !== null && this.#peerEndpoint.get(r.peer) === r.endpoint) this.#peerEndpoint.delete(r.peer);
    this.#channel.forget(r, reason);
    this.#observations.forget(r.endpoint);
    this.emit('deregistered', { registration: r, reason });
  }

  /** Drops registrations whose lifetime ran out (Core §6.2.1); runs on a timer, callable for tests and tools. */
  async sweep(now = Date.now()): Promise<RegistrationRecord[]> {
    if (this.#sweeping || this.#closed) return [];
    this.#sweeping = true;
    try {
      const expired = await this.#registry.sweep(now);
      for (const r of expired) this.#ended(r, 'expired');
      return expired;
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
      return [];
    } finally {
      this.#sweeping = false;
    }
  }

  // ─── registrations ──────────────────────────────────────────────────────────────────────────

  /** The current registration of a device, if it is registered. */
  registration(endpoint: string): Promise<RegistrationRecord | undefined> {
    return this.#registry.byEndpoint(endpoint);
  }

  registrations(options?: { after?: string; limit?: number }): Promise<RegistrationRecord[]> {
    return this.#store.registrations.list(options);
  }

  /** Whether requests reach the device now (false for a sleeping queue-mode device). */
  async isAwake(endpoint: string): Promise<boolean> {
    const r = await this.#registry.byEndpoint(endpoint);
    return r !== undefined && this.#channel.isAwake(r);
  }

  /**
   * Whether a request to the device goes out now: registered, awake, and the session at its
   * address authenticated as this device (device-channel.ts). After a restart a device is
   * reachable again once it sent an Update over a new session.
   */
  reachable(endpoint: string): Promise<boolean> {
    return this.#channel.reachable(endpoint);
  }

  /** Requests held for a sleeping queue-mode device. */
  queued(endpoint: string): number {
    return this.#channel.queued(endpoint);
  }

  // ─── device management ──────────────────────────────────────────────────────────────────────

  read(endpoint: string, path: PathInput, options?: FormatOptions): Promise<ReadResult> {
    return this.#dm.read(endpoint, path, options);
  }

  discover(endpoint: string, path: PathInput, options?: DeviceRequestOptions & { depth?: number }): Promise<Lwm2mLink[]> {
    return this.#dm.discover(endpoint, path, options);
  }

  write(endpoint: string, path: PathInput, data: Lwm2mNode | Lwm2mValue, options?: WriteOptions): Promise<void> {
    return this.#dm.write(endpoint, path, data, options);
  }

  writeAttributes(endpoint: string, path: PathInput, attributes: WriteAttributes, options?: DeviceRequestOptions): Promise<void> {
    return this.#dm.writeAttributes(endpoint, path, attributes, options);
  }

  execute(endpoint: string, path: PathInput, args?: string, options?: DeviceRequestOptions): Promise<void> {
    return this.#dm.execute(endpoint, path, args, options);
  }

  create(endpoint: string, objectId: number, instances: readonly ObjectInstanceNode[], options?: FormatOptions): Promise<string[]> {
    return this.#dm.create(endpoint, objectId, instances, options);
  }

  delete(endpoint: string, path: PathInput, options?: DeviceRequestOptions): Promise<void> {
    return this.#dm.delete(endpoint, path, options);
  }

  readComposite(endpoint: string, paths: readonly PathInput[], options?: FormatOptions): Promise<Lwm2mEntry[]> {
    return this.#dm.readComposite(endpoint, paths, options);
  }

  writeComposite(endpoint: string, entries: readonly Lwm2mEntry[], options?: FormatOptions): Promise<void> {
    return this.#dm.writeComposite(endpoint, entries, options);
  }

  observe(endpoint: string, path: PathInput, options?: FormatOptions & { onNotify?: (n: NotificationEvent) => void; attributes?: WriteAttributes }): Promise<Lwm2mObservation> {
    return this.#observations.observe(endpoint, path, options);
  }

  observeComposite(endpoint: string, paths: readonly PathInput[], options?: FormatOptions & { onNotify?: (n: NotificationEvent) => void }): Promise<Lwm2mObservation> {
    return this.#observations.observeComposite(endpoint, paths, options);
  }

  observations(endpoint: string): ObservationInfo[] {
    return this.#observations.list(endpoint);
  }

  /** Removes /rd, /dp from the endpoint, stops the sweep, fails held requests. The endpoint and store stay open (the caller owns them). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const r of this.#resources) r.remove();
    this.#observations.close();
    this.#channel.close();
  }
}

export function createLwm2mServer(options: Lwm2mServerOptions): Lwm2mServer {
  return new Lwm2mServer(options);
}

export type { NotificationEvent, SendEvent, Lwm2mObservation, ObservationInfo, ReadResult, WriteAttributes, WriteOptions, FormatOptions, PathInput, DeregistrationReason };
