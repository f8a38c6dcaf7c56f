/**
 * Resource registry of a CoapEndpoint: paths (with a trailing `*` wildcard), handlers per method,
 * RFC 6690 attributes, and the generated `/.well-known/core`. Pure: no I/O.
 */
import { InvalidArgumentError } from '../errors.js';
import type { CoapOption } from './options.js';
import type { PeerKey } from './transport.js';
import { serializeLinkFormat, type Link, type LinkAttribute } from './link-format.js';

export const COAP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'] as const;
export type CoapMethod = (typeof COAP_METHODS)[number];

/** Method code (1..7) → name. */
export function methodName(code: number): CoapMethod | undefined {
  return COAP_METHODS[code - 1];
}

export function methodCode(method: CoapMethod): number {
  return COAP_METHODS.indexOf(method) + 1;
}

/** A request as a handler sees it; Block1 bodies arrive reassembled. */
export interface CoapRequest {
  peer: PeerKey;
  method: CoapMethod;
  /** Uri-Path segments. */
  path: string[];
  /** Uri-Query values, e.g. `['ep=dev1', 'lt=300']`. */
  query: string[];
  /** Segments matched by a trailing `*` of the resource path. */
  wildcard: string[];
  options: CoapOption[];
  payload: Uint8Array;
  token: Uint8Array;
  confirmable: boolean;
  contentFormat: number | undefined;
  accept: number | undefined;
  /** Observe option value of the request (0 register, 1 deregister), if any. */
  observe: number | undefined;
}

export interface CoapResponseInit {
  /** Default: 2.05 for GET/FETCH, 2.04 for POST/PUT/PATCH, 2.02 for DELETE. */
  code?: number;
  payload?: Uint8Array | string;
  contentFormat?: number;
  maxAge?: number;
  etag?: Uint8Array;
  options?: CoapOption[];
  /**
   * A large representation served block by block without holding it in memory (firmware
   * images): only the requested block is read. Replaces `payload`. Give `etag` (or the
   * source's) so clients can tell versions apart (RFC 7959 §2.4).
   */
  body?: BlockSource;
}

/** Random access to a representation of known size. */
export interface BlockSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
}

export type CoapHandler = (req: CoapRequest) => CoapResponseInit | Promise<CoapResponseInit>;

export interface ResourceAttributes {
  rt?: string | string[];
  if?: string | string[];
  ct?: number | number[];
  title?: string;
  sz?: number;
  [name: string]: string | string[] | number | number[] | undefined;
}

export interface ResourceDefinition {
  get?: CoapHandler;
  post?: CoapHandler;
  put?: CoapHandler;
  delete?: CoapHandler;
  fetch?: CoapHandler;
  patch?: CoapHandler;
  ipatch?: CoapHandler;
  /** Accept Observe registrations on GET (RFC 7641); listed with `obs` in /.well-known/core. */
  observable?: boolean;
  /** Send every notification of this resource as CON. */
  confirmableNotifications?: boolean;
  attributes?: ResourceAttributes;
  /** Leave out of /.well-known/core. */
  hidden?: boolean;
  /**
   * Receive request bodies of these methods as a stream instead of one buffer (firmware pushed
   * with Block1): each block is written to the sink as it arrives, so memory stays bounded.
   */
  upload?: UploadDefinition;
}

export interface UploadDefinition {
  /** Default PUT and POST. */
  methods?: CoapMethod[];
  /** Largest body accepted (default the endpoint's maxRequestBodySize); more gets 4.13. */
  maxSize?: number;
  /** Called on the first block (or the only one); the request's payload is that block. */
  open(req: CoapRequest): UploadSink | Promise<UploadSink>;
}

export interface UploadSink {
  write(chunk: Uint8Array, offset: number): void | Promise<void>;
  /** After the last block: the response to the request. */
  finish(): CoapResponseInit | Promise<CoapResponseInit>;
  /** The transfer broke off (out of sequence, too large, expired, replaced, endpoint closed). */
  abort?(reason: string): void;
}

export interface Resource {
  readonly path: string;
  readonly segments: readonly string[];
  readonly wildcard: boolean;
  readonly definition: ResourceDefinition;
}

export interface RouteMatch {
  resource: Resource;
  wildcard: string[];
}

/** Splits `/a/b` into segments; a final `*` marks a wildcard. */
function parsePath(path: string): { segments: string[]; wildcard: boolean } {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidArgumentError('path', `expected an absolute path, got ${JSON.stringify(path)}`);
  const segments = path === '/' ? [] : path.slice(1).split('/');
  const wildcard = segments.at(-1) === '*';
  if (wildcard) segments.pop();
  if (segments.some((s) => s === '*')) throw new InvalidArgumentError('path', '`*` is only allowed as the last segment');
  return { segments, wildcard };
}

export function handlerFor(def: ResourceDefinition, method: CoapMethod): CoapHandler | undefined {
  switch (method) {
    case 'GET': return def.get;
    case 'POST': return def.post;
    case 'PUT': return def.put;
    case 'DELETE': return def.delete;
    case 'FETCH': return def.fetch;
    case 'PATCH': return def.patch;
    case 'iPATCH': return def.ipatch;
  }
}

/**
 * Called when a request's path has no exact resource, before the wildcard search: it may add
 * one (Router.add / CoapEndpoint.resource) for that path, which then answers the request.
 */
export type ResourceResolver = (path: readonly string[]) => void;

export class Router {
  readonly #resources = new Map<string, Resource>();
  #resolvers: ResourceResolver[] = [];

  /**
   * Adds a resolver (see ResourceResolver): resources made on first use rather than up front —
   * the LwM2M SDK has one per object, instance and resource, and a simulator thousands of
   * devices. Returns the function that removes it.
   */
  addResolver(resolver: ResourceResolver): () => void {
    this.#resolvers = [...this.#resolvers, resolver];
    return () => {
      this.#resolvers = this.#resolvers.filter((r) => r !== resolver);
    };
  }

  /** Registers (or replaces) the resource at `path`, e.g. `/3/0` or `/fw/*`. */
  add(path: string, definition: ResourceDefinition): Resource {
    const { segments, wildcard } = parsePath(path);
    const key = `/${segments.join('/')}${wildcard ? (segments.length ? '/*' : '*') : ''}`;
    const r: Resource = { path: key, segments, wildcard, definition };
    this.#resources.set(key, r);
    return r;
  }

  remove(path: string): boolean {
    const { segments, wildcard } = parsePath(path);
    return this.#resources.delete(`/${segments.join('/')}${wildcard ? (segments.length ? '/*' : '*') : ''}`);
  }

  get resources(): Resource[] {
    return [...this.#resources.values()];
  }

  /** Exact match first, then the wildcard resource with the longest prefix. */
  match(path: readonly string[]): RouteMatch | undefined {
    const key = `/${path.join('/')}`;
    let exact = this.#resources.get(key);
    if (exact === undefined && this.#resolvers.length > 0) {
      for (const resolve of this.#resolvers) {
        resolve(path);
        exact = this.#resources.get(key);
        if (exact !== undefined) break;
      }
    }
    if (exact !== undefined && !exact.wildcard) return { resource: exact, wildcard: [] };
    for (let n = path.length; n >= 0; n--) {
      const prefix = path.slice(0, n);
      const r = this.#resources.get(`/${prefix.join('/')}${n ? '/*' : '*'}`);
      if (r !== undefined) return { resource: r, wildcard: path.slice(n) };
    }
    return undefined;
  }

  /** The links for /.well-known/core (RFC 6690 §4), filtered by its query (§4.1). */
  links(query: readonly string[] = []): Link[] {
    const out: Link[] = [];
    for (const r of this.#resources.values()) {
      if (r.definition.hidden) continue;
      const attributes: LinkAttribute[] = [];
      for (const [name, v] of Object.entries(r.definition.attributes ?? {})) {
        if (v === undefined) continue;
        const values = Array.isArray(v) ? v : [v];
        // RFC 6690 §3.1-3.3: rt and if are space-separated lists; ct may repeat as a list too.
        attributes.push({ name, value: values.map(String).join(' ') });
      }
      if (r.definition.observable) attributes.push({ name: 'obs' });
      out.push({ target: r.path, attributes });
    }
    return out.filter((l) => query.every((q) => matchesFilter(l, q)));
  }

  wellKnownCore(query: readonly string[] = []): string {
    return serializeLinkFormat(this.links(query));
  }
}

/** RFC 6690 §4.1: `name=value` filters, with a trailing `*` as prefix match; `href` matches the target. */
function matchesFilter(link: Link, query: string): boolean {
  const eq = query.indexOf('=');
  if (eq < 0) return true;
  const name = query.slice(0, eq);
  const pattern = query.slice(eq + 1);
  const test = (value: string): boolean => (pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern);
  if (name === 'href') return test(link.target);
  return link.attributes.some((a) => a.name === name && a.value !== undefined && a.value.split(' ').some(test));
}
