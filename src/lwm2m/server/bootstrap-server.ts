/**
 * The LwM2M Bootstrap-Server (OMA LwM2M Core 1.1 §6.1, Transport §6.3): answers a
 * client-initiated Bootstrap-Request (POST /bs?ep=...) and then, over the device's own session,
 * runs Bootstrap-Discover, Bootstrap-Delete, Bootstrap-Write of the Security (0) and Server (1)
 * instances its stored configuration names, Bootstrap-Read of the Server object to check the
 * result, and Bootstrap-Finish. The same security binding as registration applies: only the
 * credential bound to the endpoint name may ask for that endpoint's configuration.
 */
import { EventEmitter } from 'node:events';
import { CoapCode } from '../../coap/codec.js';
import { ContentFormat } from '../../coap/content-format.js';
import type { CoapEndpoint, ResourceHandle } from '../../coap/endpoint.js';
import type { CoapRequest, CoapResponseInit } from '../../coap/router.js';
import type { Store } from '../../store/types.js';
import { decodeNode, encodeNode } from '../codec/content-format.js';
import type { Lwm2mCodecOptions } from '../codec/common.js';
import { parseLwm2mLinks, type Lwm2mLink } from '../codec/link-format.js';
import { objectNode, type Lwm2mNode } from '../model/node.js';
import { makePath, pathIds } from '../model/path.js';
import { ObjectRegistry } from '../model/registry.js';
import { authorizeEndpoint, identityDetails } from './authorize.js';
import { openBootstrapSecrets, parseBootstrapConfig, securityInstance, serverInstance, type BootstrapConfig, type Unseal } from './bootstrap-config.js';
import { expectCode } from './device-management.js';
import { Lwm2mBadRegistrationError } from './errors.js';
import type { IdentityResolver } from './identity.js';
import { parseBootstrapQuery, type RegistrationLimits } from './registration-params.js';

export interface BootstrapServerOptions {
  endpoint: CoapEndpoint;
  store: Store;
  identityOf: IdentityResolver;
  registry?: ObjectRegistry;
  /**
   * Opens the secrets of configurations marked `sealedSecrets: true` (hex-decoded), told whose
   * they are ({ endpoint, shortServerId, serverIndex, field }). Called for every secret before
   * the Bootstrap-Request is answered; if it throws, the request gets 5.00 and 'failed' is
   * emitted, and nothing is written to the device. Unmarked configurations are written as stored.
   */
  unsealSecret?: Unseal;
  limits?: RegistrationLimits;
  /** Most bootstrap sessions running at once (default 1000); more get 5.03. */
  maxConcurrentSessions?: number;
}

export interface BootstrapResult {
  endpoint: string;
  /** What Bootstrap-Discover reported before anything was changed. */
  discovered: Lwm2mLink[];
  /** The Server object as Bootstrap-Read returned it after the writes. */
  serverObject: Lwm2mNode;
}

export interface BootstrapServerEvents {
  bootstrapped: [BootstrapResult];
  failed: [{ endpoint: string; error: Error }];
}

function text(code: number, message: string): CoapResponseInit {
  return { code, payload: message, contentFormat: ContentFormat.TextPlain };
}

export class BootstrapServer extends EventEmitter<BootstrapServerEvents> {
  readonly #o: BootstrapServerOptions;
  readonly #codec: Lwm2mCodecOptions;
  readonly #resource: ResourceHandle;
  readonly #running = new Set<string>();
  readonly #maxSessions: number;

  constructor(o: BootstrapServerOptions) {
    super();
    this.#o = o;
    this.#codec = { registry: o.registry ?? new ObjectRegistry() };
    this.#maxSessions = o.maxConcurrentSessions ?? 1000;
    this.#resource = o.endpoint.resource('/bs', { post: (req) => this.#request(req), hidden: true });
  }

  /** Bootstrap-Request (Core §6.1.5.1). */
  async #request(req: CoapRequest): Promise<CoapResponseInit> {
    let params;
    try {
      params = parseBootstrapQuery(req.query, this.#o.limits);
    } catch (err) {
      if (err instanceof Lwm2mBadRegistrationError) return text(err.coapCode, err.message);
      throw err;
    }
    const ep = params.endpoint;
    const identity = await this.#o.identityOf(req.peer);
    const decision = await authorizeEndpoint(this.#o.store, identity, ep);
    if (!decision.allowed) {
      await this.#o.store.audit.append({ actor: 'system', action: 'lwm2m.bootstrap', subject: ep, outcome: 'deny', details: { ...identityDetails(identity, req.peer), reason: decision.reason } });
      return text(CoapCode.Forbidden, 'forbidden');
    }
    const stored = await this.#o.store.bootstrapConfigs.get(ep);
    // No configuration for this device: nothing to bootstrap it with.
    if (stored === undefined) return text(CoapCode.NotFound, 'no bootstrap configuration for this endpoint');
    let config: BootstrapConfig;
    try {
      config = parseBootstrapConfig(stored.config);
    } catch (err) {
      this.emit('failed', { endpoint: ep, error: err as Error });
      return text(CoapCode.InternalServerError, 'bootstrap configuration unusable');
    }
    if (this.#running.has(ep)) return text(CoapCode.ServiceUnavailable, 'a bootstrap session for this endpoint is running');
    if (this.#running.size >= this.#maxSessions) return text(CoapCode.ServiceUnavailable, 'too many bootstrap sessions');
    // Secrets are opened for this endpoint before the 2.04: a secret that does not open stops the
    // bootstrap before the device's accounts are deleted.
    try {
      config = await openBootstrapSecrets(ep, config, this.#o.unsealSecret);
    } catch (err) {
      this.emit('failed', { endpoint: ep, error: err instanceof Error ? err : new Error(String(err)) });
      return text(CoapCode.InternalServerError, 'bootstrap configuration unusable');
    }
    await this.#o.store.audit.append({ actor: `device:${ep}`, action: 'lwm2m.bootstrap', subject: ep, outcome: 'allow', details: { ...identityDetails(identity, req.peer), servers: config.servers.map((s) => s.shortServerId) } });
    this.#running.add(ep);
    // Core §6.1.5.1: the server answers 2.04 and then starts the bootstrap operations.
    setImmediate(() => {
      this.#session(req.peer, ep, config, params.preferredContentFormat).then(
        async (result) => {
          await this.#o.store.audit.append({ actor: 'system', action: 'lwm2m.bootstrap.finish', subject: ep, outcome: 'success', details: { servers: config.servers.map((s) => s.shortServerId) } }).catch(() => undefined);
          this.emit('bootstrapped', result);
        },
        async (error: Error) => {
          await this.#o.store.audit.append({ actor: 'system', action: 'lwm2m.bootstrap.finish', subject: ep, outcome: 'failure', details: { error: error.message.slice(0, 512) } }).catch(() => undefined);
          this.emit('failed', { endpoint: ep, error });
        },
      ).finally(() => this.#running.delete(ep));
    });
    return { code: CoapCode.Changed };
  }

  async #session(peer: string, endpoint: string, config: BootstrapConfig, pct: number | undefined): Promise<BootstrapResult> {
    const coap = this.#o.endpoint;
    const format = pct ?? ContentFormat.LwM2mTlv;
    // Bootstrap-Discover (Core §6.1.7.3) on '/': what the device has, incl. its bootstrap account.
    const disc = await coap.request(peer, { method: 'GET', path: [], accept: ContentFormat.LinkFormat });
    expectCode(disc, [CoapCode.Content], 'Bootstrap-Discover');
    const discovered = parseLwm2mLinks(disc.payload);
    // Bootstrap-Delete (Core §6.1.7.5).
    for (const p of config.delete) {
      const res = await coap.request(peer, { method: 'DELETE', path: p.split('/').filter((s) => s !== '') });
      expectCode(res, [CoapCode.Deleted], `Bootstrap-Delete ${p}`);
    }
    // Security instance ids must not collide with the bootstrap account the client keeps.
    const taken = new Set(discovered.filter((l) => l.path !== undefined && pathIds(l.path)[0] === 0 && pathIds(l.path).length === 2).map((l) => pathIds(l.path!)[1]!));
    let next = 0;
    for (const [k, account] of config.servers.entries()) {
      while (taken.has(next)) next++;
      const sec = await securityInstance(next, account);
      taken.add(next);
      // Bootstrap-Write (Core §6.1.7.1): PUT /0/x and /1/x.
      for (const [o, inst] of [[0, sec], [1, serverInstance(k, account)]] as const) {
        const path = makePath(o, inst.id);
        const payload = encodeNode(format, path, inst, this.#codec);
        const res = await coap.request(peer, { method: 'PUT', path: [String(o), String(inst.id)], payload, contentFormat: format });
        expectCode(res, [CoapCode.Changed], `Bootstrap-Write /${o}/${inst.id}`);
      }
    }
    // Bootstrap-Read (Core 1.1 §6.1.7.2) of the Server object: check what the device now holds.
    const read = await coap.request(peer, { method: 'GET', path: ['1'], accept: format });
    expectCode(read, [CoapCode.Content], 'Bootstrap-Read /1');
    const serverObject = read.payload.length === 0 ? objectNode(1, []) : decodeNode(read.contentFormat ?? format, makePath(1), read.payload, this.#codec);
    // Bootstrap-Finish (Core §6.1.7.6).
    const fin = await coap.request(peer, { method: 'POST', path: ['bs'] });
    expectCode(fin, [CoapCode.Changed], 'Bootstrap-Finish');
    return { endpoint, discovered, serverObject };
  }

  close(): void {
    this.#resource.remove();
  }
}

export function createBootstrapServer(options: BootstrapServerOptions): BootstrapServer {
  return new BootstrapServer(options);
}
