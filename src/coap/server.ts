/**
 * Server side of a CoapEndpoint above the message layer: routing, method defaults (4.04, 4.05),
 * `/.well-known/core`, Block1 reassembly and Block2 slicing (RFC 7959), and Observe relations
 * (RFC 7641). It returns the response for each request; the endpoint decides how to send it.
 */
import { createHash } from 'node:crypto';
import { blockSize, decodeBlock, encodeBlock, type BlockValue } from './block.js';
import { CoapCode, codeToString, encodeUtf8, type CoapMessage } from './codec.js';
import { ContentFormat } from './content-format.js';
import { CoapError } from './errors.js';
import { ObserveRegistry, type ObserveLimits, type ObserveRelation } from './observe.js';
import {
  OptionNumber,
  getOption,
  getStringOptions,
  getUintOption,
  opaqueOption,
  uintOption,
  withoutOption,
  type CoapOption,
} from './options.js';
import { handlerFor, methodName, type BlockSource, type CoapRequest, type RouteMatch, type UploadDefinition, type UploadSink, type CoapResponseInit, type Resource, type Router } from './router.js';
import type { PeerKey } from './transport.js';

export interface ResponseParts {
  code: number;
  options: CoapOption[];
  payload: Uint8Array;
  /** Set instead of `payload` for a representation read block by block. */
  source?: BlockSource;
}

export interface NotificationEvents {
  onAck: () => void;
  onReset: () => void;
  onTimeout: () => void;
}

export interface DispatcherOptions {
  maxRequestBodySize: number;
  preferredBlockSzx: number;
  maxBlock1Transfers: number;
  maxBlock2CacheEntries: number;
  transferLifetimeMs: number;
  observe: ObserveLimits & { confirmableEvery?: number; confirmableIntervalMs?: number };
  initialObserveSeq: number;
  sendNotification: (peer: PeerKey, token: Uint8Array, parts: ResponseParts, confirmable: boolean, events: NotificationEvents) => () => void;
}

interface Block1Transfer {
  chunks: Uint8Array[];
  received: number;
  expires: number;
  /** Set for a streamed upload (ResourceDefinition.upload): blocks go there, not to `chunks`. */
  sink?: UploadSink;
}

interface CachedRepresentation {
  response: ResponseParts;
  expires: number;
}

const EMPTY = new Uint8Array(0);
const WELL_KNOWN_CORE = '.well-known/core';

function text(s: string): Uint8Array {
  // Same bytes as encodeString (TextEncoder), written into the codec's slabs for short strings.
  return encodeUtf8(s);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function defaultCode(method: string): number {
  if (method === 'GET' || method === 'FETCH') return CoapCode.Content;
  if (method === 'DELETE') return CoapCode.Deleted;
  return CoapCode.Changed;
}

function errorResponse(code: number, diagnostic: string, extra: CoapOption[] = []): ResponseParts {
  return { code, options: extra, payload: text(diagnostic) };
}

export class RequestDispatcher {
  readonly #router: Router;
  readonly #o: DispatcherOptions;
  readonly #observers: ObserveRegistry<CoapRequest>;
  readonly #block1 = new Map<string, Block1Transfer>();
  readonly #block2 = new Map<string, CachedRepresentation>();

  constructor(router: Router, options: DispatcherOptions) {
    this.#router = router;
    this.#o = options;
    this.#observers = new ObserveRegistry(options.observe, options.initialObserveSeq);
  }

  observerCount(resource: Resource): number {
    return this.#observers.forResource(resource.path).length;
  }

  dropRelations(resource: Resource): void {
    for (const r of this.#observers.forResource(resource.path)) this.#observers.remove(r.peer, r.token);
  }

  dropPeer(peer: PeerKey): void {
    for (const r of this.#observers.forPeer(peer)) this.#observers.remove(r.peer, r.token);
  }

  /** A Reset (or a timed-out CON) for a response or notification we sent with this token. */
  resetFrom(peer: PeerKey, token: Uint8Array): void {
    // RFC 7641 §3.6: a client that rejects a notification with a Reset is removed from the list.
    this.#observers.remove(peer, token);
  }

  close(): void {
    this.#observers.clear();
    for (const k of [...this.#block1.keys()]) this.#dropTransfer(k, 'endpoint closed');
    this.#block2.clear();
  }

  /** Handles one request; undefined means "send no response" (RFC 7967 No-Response). */
  async dispatch(peer: PeerKey, msg: CoapMessage): Promise<ResponseParts | undefined> {
    return this.handle(peer, msg);
  }

  /**
   * `dispatch` without a promise where none is needed: a request whose handler answers
   * synchronously (and needs no streamed upload or BlockSource read) gets its response
   * returned directly, so the endpoint can piggyback it at once (no timer, no promise chain).
   */
  handle(peer: PeerKey, msg: CoapMessage): MaybePromise<ResponseParts | undefined> {
    let res: MaybePromise<ResponseParts>;
    try {
      res = this.#dispatch(peer, msg);
    } catch (err) {
      return this.#finalResponse(msg, failureResponse(err));
    }
    if (isPromise(res)) return res.then((r) => this.#finalResponse(msg, r), (err: unknown) => this.#finalResponse(msg, failureResponse(err)));
    return this.#finalResponse(msg, res);
  }

  #finalResponse(msg: CoapMessage, res: ResponseParts): ResponseParts | undefined {
    // RFC 7967 §2: No-Response bits 2, 8, 16 suppress 2.xx, 4.xx, 5.xx responses.
    const noResponse = getUintOption(msg.options, OptionNumber.NoResponse) ?? 0;
    const cls = res.code >> 5;
    if ((cls === 2 && noResponse & 2) || (cls === 4 && noResponse & 8) || (cls === 5 && noResponse & 16)) return undefined;
    return res;
  }

  #dispatch(peer: PeerKey, msg: CoapMessage): MaybePromise<ResponseParts> {
    const method = methodName(msg.code);
    // RFC 7252 §5.8: "A request with an unrecognized or unsupported Method Code MUST generate a
    // 4.05 (Method Not Allowed) piggybacked response."
    if (method === undefined) return errorResponse(CoapCode.MethodNotAllowed, `method ${codeToString(msg.code)} not supported`);
    // RFC 7252 §5.7.2: an endpoint that is not a forward-proxy answers Proxy-Uri/Proxy-Scheme
    // requests with 5.05 (Proxying Not Supported).
    if (getOption(msg.options, OptionNumber.ProxyUri) !== undefined || getOption(msg.options, OptionNumber.ProxyScheme) !== undefined) {
      return errorResponse(CoapCode.ProxyingNotSupported, 'not a proxy');
    }
    const path = getStringOptions(msg.options, OptionNumber.UriPath);
    if (path.length === 1 && path[0] === '') path.pop();
    const query = getStringOptions(msg.options, OptionNumber.UriQuery);
    const observe = getUintOption(msg.options, OptionNumber.Observe);
    const req: CoapRequest = {
      peer,
      method,
      path,
      query,
      wildcard: [],
      options: msg.options,
      payload: msg.payload,
      token: msg.token,
      confirmable: msg.type === 0,
      contentFormat: getUintOption(msg.options, OptionNumber.ContentFormat),
      accept: getUintOption(msg.options, OptionNumber.Accept),
      observe,
    };
    const block2Raw = getOption(msg.options, OptionNumber.Block2);
    const block2 = block2Raw === undefined ? undefined : decodeBlock(block2Raw);
    const block1Raw = getOption(msg.options, OptionNumber.Block1);
    const block1: BlockValue | undefined = block1Raw === undefined ? undefined : decodeBlock(block1Raw);
    const route = this.#router.match(path);
    const upload = route?.resource.definition.upload;
    // The Block2 cache key is built from `req` only when a block-wise exchange needs it.
    const reprKey: ReprKeySource = req;
    const continuation = block1 === undefined && block2 !== undefined && block2.num > 0;
    if (route !== undefined && upload !== undefined && !continuation && (upload.methods ?? ['PUT', 'POST']).includes(method)) {
      return this.#upload(req, block1, route, upload).then((step) => {
        if ('reply' in step) return step.reply;
        return this.#slice(this.#withBlock1(step.final, block1), block2, reprKey, false);
      });
    }
    if (block1 !== undefined) {
      const step = this.#reassemble(req, block1);
      if (step !== undefined) return step;
    }
    let res: ResponseParts | undefined;
    if (block2 !== undefined && block2.num > 0 && observe === undefined) {
      const cached = this.#block2.get(reprKeyOf(reprKey));
      if (cached !== undefined && cached.expires > Date.now()) res = cached.response;
    }
    if (res === undefined && block2 !== undefined && block2.num > 0 && block1 === undefined && method !== 'GET' && method !== 'FETCH') {
      // A later block of a POST/PUT response whose representation is no longer cached: running
      // the (unsafe) handler again with an empty body would repeat its effect instead.
      return errorResponse(CoapCode.RequestEntityIncomplete, 'representation no longer available; repeat the request');
    }
    const wantSize2 = getUintOption(msg.options, OptionNumber.Size2) !== undefined;
    if (res !== undefined) return this.#slice(this.#withBlock1(res, block1), block2, reprKey, wantSize2);
    // A GET for block NUM > 0, or one without Observe, carries no registration (RFC 7641 §3.6, RFC 7959 §3.4).
    const invoked = this.#invoke(req, block2 !== undefined && block2.num > 0 ? undefined : observe, route);
    // No closure for a synchronous answer (this runs for every request).
    if (isPromise(invoked)) return invoked.then((r) => this.#slice(this.#withBlock1(r, block1), block2, reprKey, wantSize2));
    return this.#slice(this.#withBlock1(invoked, block1), block2, reprKey, wantSize2);
  }

  /** RFC 7959 §2.3: the final response to a Block1 transfer echoes the last block's NUM with M=0. */
  #withBlock1(res: ResponseParts, block1: BlockValue | undefined): ResponseParts {
    if (block1 === undefined) return res;
    const echo = encodeBlock({ num: block1.num, more: false, szx: Math.min(block1.szx, this.#o.preferredBlockSzx) });
    return { ...res, options: [...res.options, opaqueOption(OptionNumber.Block1, echo)] };
  }

  /** Drops a Block1 transfer, telling a streaming sink why. */
  #dropTransfer(key: string, reason: string): void {
    const t = this.#block1.get(key);
    if (t === undefined) return;
    this.#block1.delete(key);
    try {
      t.sink?.abort?.(reason);
    } catch {
      // The sink's own failure to abort changes nothing here.
    }
  }

  /** A streamed upload (ResourceDefinition.upload): same Block1 rules, blocks go to the sink. */
  async #upload(req: CoapRequest, block: BlockValue | undefined, route: RouteMatch, upload: UploadDefinition): Promise<{ reply: ResponseParts } | { final: ResponseParts }> {
    const key = `${req.peer}|${req.method}|${req.path.join('/')}?${req.query.join('&')}`;
    const max = upload.maxSize ?? this.#o.maxRequestBodySize;
    const b = block ?? { num: 0, more: false, szx: 6 };
    const fail = (reply: ResponseParts, reason: string): { reply: ResponseParts } => {
      this.#dropTransfer(key, reason);
      return { reply };
    };
    const tooLarge = (): { reply: ResponseParts } => fail(errorResponse(CoapCode.RequestEntityTooLarge, `body larger than ${max} bytes`, [uintOption(OptionNumber.Size1, max)]), 'too large');
    const size1 = getUintOption(req.options, OptionNumber.Size1);
    if (size1 !== undefined && size1 > max) return tooLarge();
    const now = Date.now();
    this.#sweepBlock1(now);
    const r: CoapRequest = { ...req, wildcard: route.wildcard };
    if (b.num === 0) {
      this.#dropTransfer(key, 'replaced by a new transfer');
      if (req.payload.length > max) return tooLarge();
      const sink = await upload.open(r);
      if (this.#block1.size >= this.#o.maxBlock1Transfers) this.#dropTransfer(this.#block1.keys().next().value as string, 'too many transfers');
      this.#block1.set(key, { chunks: [], received: 0, expires: now + this.#o.transferLifetimeMs, sink });
    }
    const t = this.#block1.get(key);
    const size = blockSize(b.szx);
    if (t?.sink === undefined || b.num * size !== t.received) return fail(errorResponse(CoapCode.RequestEntityIncomplete, 'block out of sequence'), 'block out of sequence');
    if (b.more && req.payload.length !== size) return fail(errorResponse(CoapCode.BadRequest, `Block1 block of ${req.payload.length} bytes, SZX says ${size}`), 'short block');
    if (t.received + req.payload.length > max) return tooLarge();
    try {
      await t.sink.write(req.payload, t.received);
    } catch (err) {
      this.#dropTransfer(key, `write failed: ${String(err)}`);
      throw err;
    }
    t.received += req.payload.length;
    t.expires = now + this.#o.transferLifetimeMs;
    if (b.more) {
      const szx = Math.min(b.szx, this.#o.preferredBlockSzx);
      return { reply: { code: CoapCode.Continue, options: [opaqueOption(OptionNumber.Block1, encodeBlock({ num: b.num, more: true, szx }))], payload: EMPTY } };
    }
    this.#block1.delete(key);
    return { final: toParts(await t.sink.finish(), req.method) };
  }

  /** Runs the handler (or a default), managing the Observe relation for GETs. */
  #invoke(req: CoapRequest, observe: number | undefined, route: RouteMatch | undefined): MaybePromise<ResponseParts> {
    if (route === undefined && req.path.length === 2 && `${req.path[0]}/${req.path[1]}` === WELL_KNOWN_CORE) {
      if (req.method !== 'GET') return errorResponse(CoapCode.MethodNotAllowed, 'only GET');
      return { code: CoapCode.Content, options: [uintOption(OptionNumber.ContentFormat, ContentFormat.LinkFormat)], payload: text(this.#router.wellKnownCore(req.query)) };
    }
    const m = route;
    if (m === undefined) return errorResponse(CoapCode.NotFound, 'not found');
    const handler = handlerFor(m.resource.definition, req.method);
    if (handler === undefined) return errorResponse(CoapCode.MethodNotAllowed, `${req.method} not allowed`);
    // `req` was made for this request alone (#dispatch): completed in place rather than copied.
    req.wildcard = m.wildcard;
    const r = req;
    const init = handler(r);
    if (isPromise(init)) return init.then((i) => this.#answered(req, r, m, toParts(i, req.method), observe));
    return this.#answered(req, r, m, toParts(init, req.method), observe);
  }

  /** What #invoke does with the handler's response: Accept check and Observe registration. */
  #answered(req: CoapRequest, r: CoapRequest, m: RouteMatch, res: ResponseParts, observe: number | undefined): ResponseParts {
    // RFC 7252 §5.10.4: "If the preferred Content-Format cannot be returned, then a 4.06 (Not
    // Acceptable) MUST be sent as a response, unless another error code takes precedence."
    const format = getUintOption(res.options, OptionNumber.ContentFormat);
    if (req.accept !== undefined && res.code >> 5 === 2 && format !== undefined && format !== req.accept) {
      return errorResponse(CoapCode.NotAcceptable, `cannot return content-format ${req.accept}`);
    }
    if (req.method !== 'GET' && req.method !== 'FETCH') return res;
    const existing = this.#observers.get(req.peer, req.token);
    const success = res.code >> 5 === 2;
    if (observe === 0 && m.resource.definition.observable && success) {
      // RFC 7641 §4.1: a registration only takes effect with a 2.xx response.
      const rel = this.#observers.add(req.peer, req.token, m.resource.path, r, Date.now());
      if (rel !== undefined) {
        rel.notifications++;
        return { ...res, options: [...withoutOption(res.options, OptionNumber.Observe), uintOption(OptionNumber.Observe, this.#observers.nextSequence())] };
      }
    } else if (existing !== undefined) {
      // RFC 7641 §3.6 deregistration (Observe=1), and a GET with the same token but without
      // Observe replaces the interest with a plain request.
      this.#observers.remove(req.peer, req.token);
    }
    return res;
  }

  /**
   * Block1 (RFC 7959 §2.5). Returns a response to send now (2.31 Continue or an error), or
   * undefined once the body is complete and `req.payload` holds it.
   */
  #reassemble(req: CoapRequest, block: BlockValue): ResponseParts | undefined {
    const key = `${req.peer}|${req.method}|${req.path.join('/')}?${req.query.join('&')}`;
    const max = this.#o.maxRequestBodySize;
    const tooLarge = (): ResponseParts => {
      this.#block1.delete(key);
      // RFC 7959 §2.9.3: 4.13 "... the server MAY indicate the maximum size it can accept" in Size1.
      return errorResponse(CoapCode.RequestEntityTooLarge, `body larger than ${max} bytes`, [uintOption(OptionNumber.Size1, max)]);
    };
    const size1 = getUintOption(req.options, OptionNumber.Size1);
    if (size1 !== undefined && size1 > max) return tooLarge();
    const size = blockSize(block.szx);
    const now = Date.now();
    this.#sweepBlock1(now);
    let t = this.#block1.get(key);
    if (block.num === 0) {
      t = { chunks: [], received: 0, expires: now + this.#o.transferLifetimeMs };
      this.#block1.delete(key);
      if (this.#block1.size >= this.#o.maxBlock1Transfers) this.#block1.delete(this.#block1.keys().next().value as string);
      this.#block1.set(key, t);
    }
    // RFC 7959 §2.9.2: 4.08 Request Entity Incomplete when "the server has not received all
    // blocks of the request body that it needs to proceed"; the offset must be contiguous.
    if (t === undefined || block.num * size !== t.received) {
      this.#block1.delete(key);
      return errorResponse(CoapCode.RequestEntityIncomplete, 'block out of sequence');
    }
    // RFC 7959 §2.3: with M set, the payload size "MUST" match the block size.
    if (block.more && req.payload.length !== size) {
      this.#block1.delete(key);
      return errorResponse(CoapCode.BadRequest, `Block1 block of ${req.payload.length} bytes, SZX says ${size}`);
    }
    if (t.received + req.payload.length > max) return tooLarge();
    t.chunks.push(req.payload);
    t.received += req.payload.length;
    t.expires = now + this.#o.transferLifetimeMs;
    if (block.more) {
      // RFC 7959 §2.3: the server may ask for smaller blocks by answering with a smaller SZX.
      const szx = Math.min(block.szx, this.#o.preferredBlockSzx);
      return { code: CoapCode.Continue, options: [opaqueOption(OptionNumber.Block1, encodeBlock({ num: block.num, more: true, szx }))], payload: EMPTY };
    }
    this.#block1.delete(key);
    req.payload = concat(t.chunks, t.received);
    req.options = withoutOption(req.options, OptionNumber.Block1, OptionNumber.Size1);
    return undefined;
  }

  #sweepBlock1(now: number): void {
    for (const [k, t] of this.#block1) if (t.expires <= now) this.#dropTransfer(k, 'expired');
  }

  /** Block2 (RFC 7959 §2.4): cuts one block out of the representation when needed. */
  #slice(res: ResponseParts, requested: BlockValue | undefined, key: ReprKeySource, wantSize2: boolean): MaybePromise<ResponseParts> {
    // RFC 7959 §2.4: the client's SZX in a request is the largest it wants; the server may pick smaller.
    const szx = Math.min(requested?.szx ?? this.#o.preferredBlockSzx, this.#o.preferredBlockSzx);
    const size = blockSize(szx);
    const source = res.source;
    const total = source === undefined ? res.payload.length : source.size;
    // The common case — a small representation in memory — is answered as it is.
    if (requested === undefined && total <= size && source === undefined) return res;
    const read = async (offset: number, length: number): Promise<Uint8Array> => {
      if (source === undefined) return res.payload.subarray(offset, offset + length);
      const chunk = await source.read(offset, length);
      if (!(chunk instanceof Uint8Array) || chunk.length !== length) throw new RangeError(`BlockSource.read(${offset}, ${length}) returned ${chunk?.length} bytes`);
      return chunk;
    };
    return this.#sliceBlocks(res, requested, key, wantSize2, szx, size, total, read);
  }

  async #sliceBlocks(
    res: ResponseParts,
    requested: BlockValue | undefined,
    key: ReprKeySource,
    wantSize2: boolean,
    szx: number,
    size: number,
    total: number,
    read: (offset: number, length: number) => Promise<Uint8Array>,
  ): Promise<ResponseParts> {
    const source = res.source;
    if (requested === undefined && total <= size) return { code: res.code, options: res.options, payload: await read(0, total) };
    // A smaller SZX than the client's gives a NUM that keeps the client's byte offset (§2.4).
    const num = requested === undefined ? 0 : Math.floor((requested.num * blockSize(requested.szx)) / size);
    const offset = num * size;
    if (offset >= total && !(offset === 0 && total === 0)) return errorResponse(CoapCode.BadOption, 'Block2 beyond the end of the representation');
    const more = offset + size < total;
    let options = withoutOption(res.options, OptionNumber.Block2, OptionNumber.Size2);
    if (getOption(options, OptionNumber.ETag) === undefined && total > size && source === undefined) {
      options.push(opaqueOption(OptionNumber.ETag, createHash('sha256').update(res.payload).digest().subarray(0, 8)));
    }
    options.push(opaqueOption(OptionNumber.Block2, encodeBlock({ num, more, szx })));
    // RFC 7959 §4: Size2 tells the total size; sent with the first block or when asked for.
    if (num === 0 || wantSize2) options.push(uintOption(OptionNumber.Size2, total));
    if (more && num === 0) this.#cacheRepresentation(reprKeyOf(key), { ...res, options: withoutOption(res.options, OptionNumber.Observe) });
    if (num > 0) options = withoutOption(options, OptionNumber.Observe);
    return { code: res.code, options, payload: await read(offset, Math.min(total, offset + size) - offset) };
  }

  #cacheRepresentation(key: string, response: ResponseParts): void {
    if (this.#o.maxBlock2CacheEntries <= 0) return;
    const now = Date.now();
    for (const [k, c] of this.#block2) if (c.expires <= now) this.#block2.delete(k);
    this.#block2.delete(key);
    if (this.#block2.size >= this.#o.maxBlock2CacheEntries) this.#block2.delete(this.#block2.keys().next().value as string);
    this.#block2.set(key, { response, expires: now + this.#o.transferLifetimeMs });
  }

  /** RFC 7641 §4.2: on a state change, each observer gets a notification with the new representation. */
  notify(resource: Resource): void {
    for (const rel of this.#observers.forResource(resource.path)) {
      // A notification that cannot be built (e.g. a BlockSource read fails) ends that relation.
      this.#notifyOne(resource, rel).catch(() => this.#observers.remove(rel.peer, rel.token));
    }
  }

  async #notifyOne(resource: Resource, rel: ObserveRelation<CoapRequest>): Promise<void> {
    const handler = resource.definition.get;
    let res: ResponseParts;
    try {
      res = handler === undefined ? errorResponse(CoapCode.NotFound, 'gone') : toParts(await handler(rel.request), 'GET');
    } catch {
      res = errorResponse(CoapCode.InternalServerError, 'internal server error');
    }
    if (this.#observers.get(rel.peer, rel.token) !== rel) return;
    const success = res.code >> 5 === 2;
    // RFC 7641 §4.2: a non-2.xx notification ends the relation ("MUST ... remove").
    if (!success) this.#observers.remove(rel.peer, rel.token);
    else res = { ...res, options: [...withoutOption(res.options, OptionNumber.Observe), uintOption(OptionNumber.Observe, this.#observers.nextSequence())] };
    // RFC 7959 §3.4: a large notification carries its first block; the client GETs the rest.
    const key: ReprKeySource = { peer: rel.peer, method: 'GET', path: rel.request.path, query: rel.request.query, accept: rel.request.accept };
    const block2Raw = getOption(rel.request.options, OptionNumber.Block2);
    const parts = await this.#slice(res, block2Raw === undefined ? undefined : { ...decodeBlock(block2Raw), num: 0 }, key, false);
    rel.notifications++;
    const now = Date.now();
    const every = this.#o.observe.confirmableEvery ?? 5;
    const interval = this.#o.observe.confirmableIntervalMs ?? 24 * 3600 * 1000;
    // RFC 7641 §4.5: a server "MUST" send a CON notification "at least every 24 hours".
    const confirmable = resource.definition.confirmableNotifications === true || !success || rel.notifications % every === 0 || now - rel.lastConfirmedAt >= interval;
    // RFC 7641 §4.5.2: a newer notification replaces one still being retransmitted.
    rel.cancelPending?.();
    rel.cancelPending = undefined;
    const cancel = this.#o.sendNotification(rel.peer, rel.token, parts, confirmable, {
      onAck: () => {
        rel.cancelPending = undefined;
        rel.lastConfirmedAt = Date.now();
      },
      onReset: () => this.#observers.remove(rel.peer, rel.token),
      // RFC 7641 §4.5: an unacknowledged CON notification means the client is gone.
      onTimeout: () => {
        rel.cancelPending = undefined;
        this.#observers.remove(rel.peer, rel.token);
      },
    });
    if (confirmable && success) rel.cancelPending = cancel;
  }
}

type MaybePromise<T> = T | Promise<T>;

/** What names a representation in the Block2 cache: peer, method, URI and Accept. */
interface ReprKeySource {
  peer: PeerKey;
  method: string;
  path: string[];
  query: string[];
  accept: number | undefined;
}

function reprKeyOf(k: ReprKeySource): string {
  return `${k.peer}|${k.method}|${k.path.join('/')}?${k.query.join('&')}|${k.accept ?? ''}`;
}

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function failureResponse(err: unknown): ResponseParts {
  return err instanceof CoapError && err.code === 'ERR_COAP_BAD_BLOCK_OPTION'
    ? errorResponse(CoapCode.BadRequest, err.message)
    : errorResponse(CoapCode.InternalServerError, 'internal server error');
}

/**
 * Content-Format options of responses, one per format value: the option is only read (encoded,
 * sliced, cached for Block2), never written, so one object per value serves every response
 * instead of an option and a value array per request. Values outside the cached range are built
 * as before (uintOption checks them).
 */
const CONTENT_FORMAT_OPTIONS = new Map<number, CoapOption>();

function contentFormatOption(format: number): CoapOption {
  let o = CONTENT_FORMAT_OPTIONS.get(format);
  if (o === undefined) {
    o = uintOption(OptionNumber.ContentFormat, format); // throws for a value that is no uint
    // Content-Format is 0..65535 (RFC 7252 §12.3); anything larger is built each time.
    if (format > 0xffff) return o;
    CONTENT_FORMAT_OPTIONS.set(format, o);
  }
  return o;
}

function toParts(init: CoapResponseInit, method: string): ResponseParts {
  const options: CoapOption[] = init.options === undefined ? [] : [...init.options];
  if (init.contentFormat !== undefined) options.push(contentFormatOption(init.contentFormat));
  if (init.maxAge !== undefined) options.push(uintOption(OptionNumber.MaxAge, init.maxAge));
  if (init.etag !== undefined) options.push(opaqueOption(OptionNumber.ETag, init.etag));
  const payload = init.payload === undefined ? EMPTY : typeof init.payload === 'string' ? text(init.payload) : init.payload;
  if (init.body !== undefined) {
    if (!Number.isSafeInteger(init.body.size) || init.body.size < 0 || typeof init.body.read !== 'function') throw new TypeError('body: expected a BlockSource');
    return { code: init.code ?? defaultCode(method), options, payload: EMPTY, source: init.body };
  }
  return { code: init.code ?? defaultCode(method), options, payload };
}

