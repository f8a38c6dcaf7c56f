/**
 * Binds an ObjectTree to a CoapEndpoint's router: the client side of the Device Management
 * (Core 1.1 §6.3), Information Reporting (§6.4) and Bootstrap (§6.1) interfaces. Every object,
 * instance and resource present in the tree gets its own router entry, so an Observe relation
 * sits on exactly the path observed and a change notifies only the observers of that path and
 * its ancestors; one wildcard entry answers everything else (resource instances, composite
 * operations, 4.04s). The per-path entries are made on a path's first request (a resolver on
 * the endpoint), not up front: a device has some fifty paths and a server touches a few, and a
 * simulator holds thousands of devices (building every entry was ~10 % of its CPU per device).
 */
import { CoapCode } from '../coap/codec.js';
import { ContentFormat } from '../coap/content-format.js';
import type { CoapEndpoint, ResourceHandle } from '../coap/endpoint.js';
import { OptionNumber, stringOption } from '../coap/options.js';
import type { CoapRequest, CoapResponseInit, ResourceDefinition } from '../coap/router.js';
import { decodeComposite, decodeNode, encodeComposite, encodeNode, COMPOSITE_FORMATS } from '../lwm2m/codec/content-format.js';
import { decodeCreatePayload } from '../lwm2m/codec/create-payload.js';
import type { Lwm2mCodecOptions } from '../lwm2m/codec/common.js';
import { formatLwm2mLinks, type Lwm2mLink, type Lwm2mLinkAttributes } from '../lwm2m/codec/link-format.js';
import type { Lwm2mEntry } from '../lwm2m/codec/senml.js';
import { Lwm2mError } from '../lwm2m/model/errors.js';
import { flattenNode, type Lwm2mNode } from '../lwm2m/model/node.js';
import { makePath, parsePath, pathIds, pathStartsWith, type Lwm2mPath } from '../lwm2m/model/path.js';
import { Lwm2mOperationError } from './errors.js';
import { NotificationScheduler, parseAttributeQuery } from './notification-scheduler.js';
import type { ObjectTree, Requester } from './object-tree.js';

export interface ClientResourcesOptions {
  who: Exclude<Requester, 'local'>;
  codec: Lwm2mCodecOptions;
  /** Format for multi-value answers when the request names none (default SenML CBOR; TLV for 1.0). */
  defaultFormat: number;
  /** LwM2M version announced in Bootstrap-Discover (`</>;lwm2m=`). */
  lwm2mVersion: string;
  /** Bootstrap-Finish (POST /bs) arrived. */
  onBootstrapFinish?: () => CoapResponseInit | Promise<CoapResponseInit>;
}

const MAX_COMPOSITE_OBSERVATIONS = 32;

function text(code: number, message: string): CoapResponseInit {
  return { code, payload: message, contentFormat: ContentFormat.TextPlain };
}

function segmentsToPath(segments: readonly string[]): Lwm2mPath {
  return segments.length === 0 ? makePath() : parsePath(segments.join('/'));
}

export class ClientResources {
  readonly #coap: CoapEndpoint;
  readonly #tree: ObjectTree;
  readonly #o: ClientResourcesOptions;
  readonly #handles = new Map<string, ResourceHandle>();
  /** Path lists of Observe-Composite relations, by token (at most MAX_COMPOSITE_OBSERVATIONS). */
  readonly #composite = new Map<string, Lwm2mPath[]>();
  readonly #unsubscribe: () => void;
  #unresolve: () => void = () => undefined;
  readonly scheduler: NotificationScheduler | undefined;
  readonly #pathDefinition: ResourceDefinition;

  constructor(coap: CoapEndpoint, tree: ObjectTree, options: ClientResourcesOptions) {
    this.#coap = coap;
    this.#tree = tree;
    this.#o = options;
    const handler = (req: CoapRequest): Promise<CoapResponseInit> => this.#handle(req);
    const generic = { get: handler, put: handler, post: handler, delete: handler, fetch: handler, ipatch: handler, hidden: true };
    // One definition shared by every per-path entry (a device has some fifty): the router keeps
    // it by reference and never changes it.
    this.#pathDefinition = Object.freeze({ get: handler, put: handler, post: handler, delete: handler, observable: true, hidden: true });
    this.#handles.set('*', coap.resource('/*', generic));
    // The root is observable for Observe-Composite (FETCH / with Observe, Core 1.1 §6.4.3).
    this.#handles.set('/', coap.resource('/', { ...generic, observable: options.who === 'server' }));
    if (options.who === 'bootstrap') {
      this.#handles.set('bs', coap.resource('/bs', { post: async () => (await options.onBootstrapFinish?.()) ?? { code: CoapCode.Changed }, hidden: true }));
      this.#unsubscribe = () => undefined;
      this.scheduler = undefined;
      return;
    }
    this.scheduler = new NotificationScheduler((key) => this.#handles.get(key), (key) => this.#numericValue(key));
    this.#unresolve = coap.resolveResources((segments) => this.#resolve(segments));
    this.#unsubscribe = tree.onChange((c) => {
      if (c.kind === 'instances') this.#sync();
      this.scheduler?.changed(c.path);
      if (this.#compositeTouched(c.path)) this.#handles.get('/')?.notifyObservers();
    });
  }

  /** Whether the server observes anything here: a path (Observe) or a path list (Observe-Composite). */
  get observing(): boolean {
    return this.scheduler?.observing === true || this.#composite.size > 0;
  }

  /**
   * The router entry of `/o`, `/o/i` or `/o/i/r` when the tree holds that object, instance or
   * resource (the same paths, in the same canonical decimal form, as the tree lists).
   */
  #resolve(segments: readonly string[]): void {
    const n = segments.length;
    if (n < 1 || n > 3) return;
    const ids: number[] = [];
    for (const s of segments) {
      if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return;
      ids.push(Number(s));
    }
    if (!this.#present(ids)) return;
    const key = `/${ids.join('/')}`;
    if (!this.#handles.has(key)) this.#handles.set(key, this.#coap.resource(key, this.#pathDefinition));
  }

  /** Whether the tree holds the object, instance or resource `ids` (objects 0 and 21 have no entry). */
  #present(ids: readonly number[]): boolean {
    const o = ids[0]!;
    if (o === 0 || o === 21) return false;
    if (ids.length === 1) return this.#tree.hasObject(o);
    if (!this.#tree.hasInstance(o, ids[1]!)) return false;
    return ids.length === 2 || this.#tree.hasResource(o, ids[1]!, ids[2]!);
  }

  /** Drops the router entries (and their observations) of paths no longer in the tree. */
  #sync(): void {
    for (const [key, h] of [...this.#handles]) {
      if (!key.startsWith('/') || key === '/') continue;
      if (this.#present(key.slice(1).split('/').map(Number))) continue;
      h.remove();
      this.#handles.delete(key);
      this.scheduler?.forget(key);
    }
  }

  #numericValue(key: string): number | undefined {
    const ids = pathIds(parsePath(key));
    if (ids.length !== 3) return undefined;
    const v = this.#tree.get(ids[0]!, ids[1]!, ids[2]!);
    if (v === undefined || v instanceof Map) return undefined;
    const x = (v as { value: unknown }).value;
    return typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : undefined;
  }

  #format(req: CoapRequest, node: Lwm2mNode): number {
    if (req.accept !== undefined) return req.accept;
    if (node.kind === 'resourceInstance' || (node.kind === 'resource' && !node.multiple)) {
      return node.kind === 'resource' && node.value.type === 'opaque' ? ContentFormat.OctetStream : ContentFormat.TextPlain;
    }
    return this.#o.defaultFormat;
  }

  async #handle(req: CoapRequest): Promise<CoapResponseInit> {
    try {
      return await this.#dispatch(req);
    } catch (err) {
      if (err instanceof Lwm2mOperationError) return text(err.coapCode, err.message);
      if (err instanceof Lwm2mError) {
        if (err.code === 'ERR_LWM2M_UNSUPPORTED_FORMAT') return text(req.method === 'GET' || req.method === 'FETCH' ? CoapCode.NotAcceptable : CoapCode.UnsupportedContentFormat, err.message);
        if (err.code === 'ERR_LWM2M_BAD_PATH') return text(CoapCode.NotFound, err.message);
        return text(CoapCode.BadRequest, err.message);
      }
      throw err;
    }
  }

  async #dispatch(req: CoapRequest): Promise<CoapResponseInit> {
    const who = this.#o.who;
    const path = segmentsToPath(req.path);
    const depth = pathIds(path).length;
    switch (req.method) {
      case 'GET': {
        if (req.accept === ContentFormat.LinkFormat) return this.#discover(path);
        if (depth === 0) return text(CoapCode.MethodNotAllowed, 'Read of the root is not defined');
        const node = this.#tree.read(path, who);
        if (req.observe === 0 && who === 'server') this.scheduler?.observed(`/${pathIds(path).join('/')}`, this.#attributesFor(path));
        const format = this.#format(req, node);
        return { code: CoapCode.Content, payload: encodeNode(format, path, node, this.#o.codec), contentFormat: format };
      }
      case 'PUT': {
        if (req.payload.length === 0 && who === 'server') {
          // Core §6.3.4 Write-Attributes: PUT with attributes as query and no payload.
          this.#tree.guard(path, who);
          // Core §6.3.4: attributes attach to an existing object, instance or resource (4.04 otherwise).
          if (depth > 0) this.#tree.read(path, 'local');
          this.scheduler?.setAttributes(`/${pathIds(path).join('/')}`, parseAttributeQuery(req.query));
          return { code: CoapCode.Changed };
        }
        if (depth === 0) return text(CoapCode.MethodNotAllowed, 'Write of the root is not defined');
        this.#tree.write(path, this.#decode(req, path), who, true);
        return { code: CoapCode.Changed };
      }
      case 'POST': {
        if (depth === 1) return this.#create(req, path);
        if (depth === 3 && this.#isExecutable(path)) {
          await this.#tree.execute(path, Buffer.from(req.payload).toString('utf8'), who);
          return { code: CoapCode.Changed };
        }
        // POST on a non-executable resource without a body is an Execute it does not allow.
        if (depth < 2 || (depth === 3 && req.payload.length === 0)) return text(CoapCode.MethodNotAllowed, 'not executable');
        this.#tree.write(path, this.#decode(req, path), who, false);
        return { code: CoapCode.Changed };
      }
      case 'DELETE':
        this.#tree.delete(path, who);
        return { code: CoapCode.Deleted };
      case 'FETCH':
        return this.#readComposite(req);
      case 'iPATCH':
        return this.#writeComposite(req);
      default:
        return text(CoapCode.MethodNotAllowed, `${req.method} is not an LwM2M operation`);
    }
  }

  #isExecutable(path: Lwm2mPath): boolean {
    const [o, , r] = pathIds(path) as [number, number, number];
    const def = this.#tree.registry.getResource(o, r);
    return def === undefined ? true : def.operations.execute;
  }

  #decode(req: CoapRequest, path: Lwm2mPath): Lwm2mNode {
    if (req.contentFormat === undefined) throw new Lwm2mOperationError(CoapCode.BadRequest, 'a Write needs a Content-Format');
    return decodeNode(req.contentFormat, path, req.payload, this.#o.codec);
  }

  #create(req: CoapRequest, path: Lwm2mPath): CoapResponseInit {
    const o = pathIds(path)[0]!;
    if (req.contentFormat === undefined) throw new Lwm2mOperationError(CoapCode.BadRequest, 'a Create needs a Content-Format');
    const created = decodeCreatePayload(req.contentFormat, o, req.payload, this.#o.codec);
    const ids = created.map((c) => this.#tree.create(o, c.instanceId, c.resources, this.#o.who));
    // Core 1.1 Transport §6.5: "2.01 Created" with the new instance's path as Location-Path.
    return { code: CoapCode.Created, options: ids.length === 1 ? [stringOption(OptionNumber.LocationPath, String(o)), stringOption(OptionNumber.LocationPath, String(ids[0]))] : [] };
  }

  #attributesFor(path: Lwm2mPath): Lwm2mLinkAttributes {
    return this.scheduler?.effective(`/${pathIds(path).join('/')}`) ?? {};
  }

  /** Discover (Core §6.3.2) and Bootstrap-Discover (§6.1.7.?) as CoRE link format. */
  #discover(path: Lwm2mPath): CoapResponseInit {
    const ids = pathIds(path);
    const links: Lwm2mLink[] = [];
    const add = (p: Lwm2mPath, attributes: Lwm2mLinkAttributes = {}): void => {
      links.push({ target: `/${pathIds(p).join('/')}`, path: p, attributes });
    };
    if (this.#o.who === 'bootstrap') {
      // Core 1.1 §5.2.7.3: `</>;lwm2m=1.1` then instances, Security and Server ones with their ssid/uri.
      links.push({ target: '/', attributes: { other: { lwm2m: this.#o.lwm2mVersion } } });
      for (const o of ids.length === 0 ? this.#tree.objectIds() : [ids[0]!]) {
        const insts = this.#tree.instanceIds(o);
        if (insts.length === 0) add(makePath(o));
        for (const i of insts) {
          const attrs: Lwm2mLinkAttributes = {};
          const ssid = this.#tree.get(o, i, o === 0 ? 10 : 0) as { value?: unknown } | undefined;
          if ((o === 0 || o === 1) && typeof ssid?.value === 'number') attrs.ssid = ssid.value;
          const uri = o === 0 ? (this.#tree.get(0, i, 0) as { value?: unknown } | undefined) : undefined;
          if (typeof uri?.value === 'string') attrs.uri = uri.value;
          add(makePath(o, i), attrs);
        }
      }
      return { code: CoapCode.Content, payload: formatLwm2mLinks(links), contentFormat: ContentFormat.LinkFormat };
    }
    if (ids.length === 0) return text(CoapCode.MethodNotAllowed, 'Discover needs an object');
    this.#tree.guard(path, 'server');
    const [o, i, r] = ids as [number, number | undefined, number | undefined];
    this.#tree.read(path, 'local');
    const attrs = (p: Lwm2mPath): Lwm2mLinkAttributes => this.scheduler?.own(`/${pathIds(p).join('/')}`) ?? {};
    const resLinks = (inst: number): void => {
      for (const rid of this.#tree.resourceIds(o, inst)) {
        if (r !== undefined && rid !== r) continue;
        const v = this.#tree.get(o, inst, rid);
        const a = attrs(makePath(o, inst, rid));
        if (v instanceof Map) a.dim = v.size;
        add(makePath(o, inst, rid), a);
      }
    };
    if (i === undefined) {
      const ver = this.#tree.registry.get(o)?.version;
      add(makePath(o), { ...attrs(makePath(o)), ...(ver !== undefined && ver !== '1.0' ? { ver } : {}) });
      for (const inst of this.#tree.instanceIds(o)) {
        add(makePath(o, inst), attrs(makePath(o, inst)));
        resLinks(inst);
      }
    } else {
      if (r === undefined) add(makePath(o, i), attrs(makePath(o, i)));
      resLinks(i);
    }
    return { code: CoapCode.Content, payload: formatLwm2mLinks(links), contentFormat: ContentFormat.LinkFormat };
  }

  /** Whether a change at `path` concerns an Observe-Composite relation (same path, above or below). */
  #compositeTouched(path: Lwm2mPath): boolean {
    for (const paths of this.#composite.values()) {
      for (const p of paths) if (pathStartsWith(path, p) || pathStartsWith(p, path)) return true;
    }
    return false;
  }

  /** Read-Composite (Core §6.3.8) and Observe-Composite (§6.4.3): FETCH with a path list. */
  #readComposite(req: CoapRequest): CoapResponseInit {
    const format = req.contentFormat;
    if (format === undefined || !COMPOSITE_FORMATS.includes(format)) return text(CoapCode.UnsupportedContentFormat, 'Read-Composite takes SenML or LwM2M CBOR');
    const paths = decodeComposite(format, req.payload, false, this.#o.codec).map((e) => e.path);
    const token = Buffer.from(req.token).toString('hex');
    if (req.observe === 0 && this.#o.who === 'server' && (this.#composite.has(token) || this.#composite.size < MAX_COMPOSITE_OBSERVATIONS)) this.#composite.set(token, paths);
    if (req.observe === 1) this.#composite.delete(token);
    const entries: Lwm2mEntry[] = [];
    for (const p of paths) {
      let node: Lwm2mNode;
      try {
        node = this.#tree.read(p, this.#o.who);
      } catch (err) {
        // Core §6.3.8: paths that do not exist are left out of the answer.
        if (err instanceof Lwm2mOperationError && err.coapCode === CoapCode.NotFound) continue;
        throw err;
      }
      for (const leaf of flattenNode(p, node)) entries.push({ path: leaf.path, value: leaf.value });
    }
    const accept = req.accept ?? format;
    return { code: CoapCode.Content, payload: encodeComposite(accept, entries, this.#o.codec), contentFormat: accept };
  }

  /** Write-Composite (Core §6.3.9): iPATCH with paths and values; each is a partial update. */
  #writeComposite(req: CoapRequest): CoapResponseInit {
    const format = req.contentFormat;
    if (format === undefined || !COMPOSITE_FORMATS.includes(format)) return text(CoapCode.UnsupportedContentFormat, 'Write-Composite takes SenML or LwM2M CBOR');
    const entries = decodeComposite(format, req.payload, true, this.#o.codec);
    for (const e of entries) {
      const ids = pathIds(e.path);
      if (ids.length < 3 || e.value === undefined) throw new Lwm2mOperationError(CoapCode.BadRequest, 'Write-Composite writes resources');
      const node: Lwm2mNode = ids.length === 3 ? { kind: 'resource', id: ids[2]!, multiple: false, value: e.value } : { kind: 'resourceInstance', id: ids[3]!, value: e.value };
      this.#tree.write(e.path, node, this.#o.who, false);
    }
    return { code: CoapCode.Changed };
  }

  close(): void {
    this.#unresolve();
    this.#unsubscribe();
    this.scheduler?.close();
    for (const h of this.#handles.values()) h.remove();
    this.#handles.clear();
  }
}
