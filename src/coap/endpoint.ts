/**
 * CoapEndpoint: one CoAP endpoint that is server and client at once over an injected datagram
 * transport (RFC 7252 §4 message layer: CON retransmission, deduplication, token matching,
 * piggybacked and separate responses, NSTART, Reset, ping). Requests it receives go to a
 * RequestDispatcher (router, Block1/Block2, Observe); requests it sends go through client.ts.
 */
import { randomFillSync } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import {
  CoapCode,
  CoapType,
  decodeMessage,
  emptyMessage,
  encodeMessage,
  isRequestCode,
  isResponseCode,
  unrecognizedCriticalOptions,
  type CoapMessage,
  type CoapTypeValue,
} from './codec.js';
import { CoapBadResponseError, CoapCancelledError, CoapFormatError, CoapResetError, CoapSendError, CoapTimeoutError } from './errors.js';
import type { CoapOption } from './options.js';
import {
  DEFAULT_TRANSMISSION,
  DedupCache,
  NstartLimiter,
  exchangeLifetime,
  initialTimeout,
  nonLifetime,
  type TransmissionParameters,
} from './reliability.js';
import { Router, type Resource, type ResourceDefinition, type ResourceResolver } from './router.js';
import { RequestDispatcher, type NotificationEvents, type ResponseParts } from './server.js';
import type { DatagramTransport, PeerKey } from './transport.js';
import { downloadBlocks, observeResource, requestWithBlocks, type BlockSink, type ClientRequest, type CoapResponse, type ExchangeContext, type ExchangeHandlers, type ExchangeHandle, type Observation, type RequestParts } from './client.js';
import { assertString } from '../util/assert.js';
import { validateEndpointOptions, type CoapEndpointOptions } from './endpoint-options.js';

export type { CoapEndpointOptions };

/** Published on `rootline:coap:drop` for every datagram the endpoint discards or rejects. */
export interface CoapDropEvent {
  peer: PeerKey;
  reason: string;
  code?: string;
}
const dropChannel = channel('rootline:coap:drop');


interface PendingCon {
  peer: PeerKey;
  messageId: number;
  bytes: Uint8Array;
  attempts: number;
  timeoutMs: number;
  timer: ReturnType<typeof setTimeout>;
  onAck: (msg: CoapMessage) => void;
  onReset: () => void;
  onTimeout: () => void;
}

interface OpenExchange {
  peer: PeerKey;
  key: string;
  token: Uint8Array;
  handlers: ExchangeHandlers;
  release: (() => void) | undefined;
  conKey: string | undefined;
  nonKey: string | undefined;
  responseTimer: ReturnType<typeof setTimeout> | undefined;
  answered: boolean;
  done: boolean;
}

const MAX_RECENT_NON = 4096;

function isPromise<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

function hex(t: Uint8Array): string {
  return Buffer.from(t.buffer, t.byteOffset, t.length).toString('hex');
}

export class CoapEndpoint implements ExchangeContext {
  readonly router = new Router();
  readonly transmission: TransmissionParameters;
  readonly maxResponseBodySize: number;
  readonly preferredBlockSzx: number;
  readonly #transport: DatagramTransport;
  readonly #options: CoapEndpointOptions;
  readonly #random: () => number;
  readonly #dedup: DedupCache;
  readonly #nstart: NstartLimiter;
  readonly #pendingCon = new Map<string, PendingCon>();
  readonly #recentNon = new Map<string, () => void>();
  readonly #exchanges = new Map<string, OpenExchange>();
  readonly #recognized: ReadonlySet<number>;
  readonly #dispatcher: RequestDispatcher;
  readonly #exchangeLifetime: number;
  readonly #nonLifetime: number;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #nextMessageId: number;
  #closed = false;

  constructor(transport: DatagramTransport, options: CoapEndpointOptions = {}) {
    validateEndpointOptions(transport, options);
    this.#transport = transport;
    this.#options = options;
    this.transmission = { ...DEFAULT_TRANSMISSION, ...options.transmission };
    this.#random = options.random ?? Math.random;
    this.#dedup = new DedupCache(options.maxDedupEntries ?? 50_000);
    this.#nstart = new NstartLimiter(this.transmission.nstart);
    this.#recognized = new Set(options.recognizedOptions ?? []);
    this.#exchangeLifetime = exchangeLifetime(this.transmission);
    this.#nonLifetime = nonLifetime(this.transmission);
    this.maxResponseBodySize = options.maxResponseBodySize ?? 16 * 1024 * 1024;
    this.preferredBlockSzx = Math.min(6, Math.max(0, options.preferredBlockSzx ?? 6));
    this.#nextMessageId = Math.floor(this.#random() * 0x10000);
    this.#dispatcher = new RequestDispatcher(this.router, {
      maxRequestBodySize: options.maxRequestBodySize ?? 1024 * 1024,
      preferredBlockSzx: this.preferredBlockSzx,
      maxBlock1Transfers: options.maxBlock1Transfers ?? 256,
      maxBlock2CacheEntries: options.maxBlock2CacheEntries ?? 64,
      transferLifetimeMs: this.#exchangeLifetime,
      observe: options.observe ?? {},
      initialObserveSeq: Math.floor(this.#random() * 0x1000000),
      sendNotification: (peer, token, parts, confirmable, events) => this.#sendNotification(peer, token, parts, confirmable, events),
    });
    transport.onDatagram((peer, data) => this.#onDatagram(peer, data));
    transport.onNewSession?.((peer) => this.#dedup.forget(peer));
  }

  /** Registers a resource; see Router.add for path syntax. */
  resource(path: string, definition: ResourceDefinition): ResourceHandle {
    return new RegisteredResource(this.router, this.#dispatcher, this.router.add(path, definition));
  }

  /**
   * Resources on demand: `resolver` runs when a request's path has no exact resource (before the
   * wildcard search) and may register one with resource() to answer it. Returns its remover.
   */
  resolveResources(resolver: ResourceResolver): () => void {
    return this.router.addResolver(resolver);
  }

  /** A request with automatic Block1 upload and Block2 download (RFC 7959). */
  async request(peer: PeerKey, req: ClientRequest = {}): Promise<CoapResponse> {
    assertString(peer, 'peer');
    return requestWithBlocks(this, peer, req);
  }

  /** Streams a large representation block by block into `sink` (bounded memory; RFC 7959). */
  async download(peer: PeerKey, req: ClientRequest, sink: BlockSink): Promise<{ response: CoapResponse; size: number }> {
    assertString(peer, 'peer');
    return downloadBlocks(this, peer, req, sink);
  }

  /** Registers an observation (RFC 7641); `onNotify` sees every fresh notification after the first response. */
  async observe(peer: PeerKey, req: ClientRequest, onNotify: (res: CoapResponse) => void, onEnd?: (err?: Error) => void): Promise<Observation> {
    assertString(peer, 'peer');
    return observeResource(this, peer, req, onNotify, onEnd);
  }

  /** CoAP ping (RFC 7252 §4.3): an Empty CON that the peer answers with a Reset. */
  ping(peer: PeerKey): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new CoapCancelledError('endpoint closed'));
      const mid = this.#takeMessageId();
      this.#sendCon(peer, mid, encodeMessage(emptyMessage(CoapType.CON, mid)), {
        onAck: () => resolve(),
        onReset: () => resolve(),
        onTimeout: () => reject(new CoapTimeoutError(`ping to ${peer} not answered`)),
        onSendError: reject,
      });
    });
  }

  /** Drops every observe relation a peer holds (e.g. when its DTLS session ends). */
  forgetPeer(peer: PeerKey): void {
    this.#dispatcher.dropPeer(peer);
  }

  /** Stops timers, fails open exchanges with ERR_COAP_CANCELLED, and closes the transport. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#pendingCon.values()) clearTimeout(p.timer);
    this.#pendingCon.clear();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const ex of [...this.#exchanges.values()]) this.#fail(ex, new CoapCancelledError('endpoint closed'));
    this.#dispatcher.close();
    if (this.#options.closeTransport ?? true) await this.#transport.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ─── ExchangeContext: what client.ts builds on ────────────────────────────────────────────────

  exchange(peer: PeerKey, parts: RequestParts, handlers: ExchangeHandlers): ExchangeHandle {
    const token = parts.token ?? this.#newToken(peer);
    const key = `${peer}|${hex(token)}`;
    const ex: OpenExchange = { peer, key, token, handlers, release: undefined, conKey: undefined, nonKey: undefined, responseTimer: undefined, answered: false, done: false };
    if (this.#closed) {
      void Promise.resolve().then(() => handlers.onError(new CoapCancelledError('endpoint closed')));
      ex.done = true;
      return { token, close: () => {} };
    }
    const previous = this.#exchanges.get(key);
    if (previous !== undefined) this.#fail(previous, new CoapCancelledError('token reused by a newer exchange'));
    this.#exchanges.set(key, ex);
    void this.#nstart.acquire(peer).then((release) => {
      if (ex.done || this.#closed) {
        release();
        if (!ex.done) this.#fail(ex, new CoapCancelledError('endpoint closed'));
        return;
      }
      ex.release = release;
      this.#transmitRequest(ex, parts);
    });
    return { token, close: () => this.#finish(ex) };
  }

  #transmitRequest(ex: OpenExchange, parts: RequestParts): void {
    const confirmable = parts.confirmable ?? true;
    const mid = this.#takeMessageId();
    const msg: CoapMessage = {
      type: confirmable ? CoapType.CON : CoapType.NON,
      code: parts.code,
      messageId: mid,
      token: ex.token,
      options: parts.options,
      payload: parts.payload,
    };
    const bytes = encodeMessage(msg);
    const waitMs = parts.responseTimeoutMs ?? this.#options.responseTimeoutMs ?? (confirmable ? this.#exchangeLifetime : this.#nonLifetime);
    ex.responseTimer = this.#timer(waitMs, () => this.#fail(ex, new CoapTimeoutError(`no response from ${ex.peer}`)));
    if (confirmable) {
      ex.conKey = `${ex.peer}|${mid}`;
      this.#sendCon(ex.peer, mid, bytes, {
        onAck: (ack) => {
          ex.conKey = undefined;
          // An empty ACK promises a separate response (RFC 7252 §5.2.2); a piggybacked one is it.
          if (ack.code !== 0) this.#deliver(ex, ack);
        },
        onReset: () => this.#fail(ex, new CoapResetError(`${ex.peer} rejected the request with a Reset`)),
        onTimeout: () => this.#fail(ex, new CoapTimeoutError(`no ACK from ${ex.peer} after ${this.transmission.maxRetransmit} retransmissions`)),
        onSendError: (err) => this.#fail(ex, err),
      });
    } else {
      ex.nonKey = `${ex.peer}|${mid}`;
      this.#rememberNon(ex.nonKey, () => this.#fail(ex, new CoapResetError(`${ex.peer} rejected the request with a Reset`)));
      const failed = this.#send(ex.peer, bytes);
      if (failed !== undefined) this.#fail(ex, failed);
    }
  }

  #deliver(ex: OpenExchange, msg: CoapMessage): void {
    if (ex.done) return;
    if (!ex.answered) {
      ex.answered = true;
      this.#stopRequestTransmission(ex);
    }
    const keepOpen = ex.handlers.onResponse(msg);
    if (!keepOpen) this.#finish(ex);
  }

  #stopRequestTransmission(ex: OpenExchange): void {
    if (ex.responseTimer !== undefined) this.#clearTimer(ex.responseTimer);
    ex.responseTimer = undefined;
    // A separate response also acknowledges a CON whose ACK was lost (RFC 7252 §5.2.2).
    if (ex.conKey !== undefined) {
      const p = this.#pendingCon.get(ex.conKey);
      if (p !== undefined) clearTimeout(p.timer);
      this.#pendingCon.delete(ex.conKey);
      ex.conKey = undefined;
    }
    if (ex.nonKey !== undefined) this.#recentNon.delete(ex.nonKey);
    ex.release?.();
    ex.release = undefined;
  }

  #finish(ex: OpenExchange): void {
    if (ex.done) return;
    ex.done = true;
    this.#stopRequestTransmission(ex);
    if (this.#exchanges.get(ex.key) === ex) this.#exchanges.delete(ex.key);
  }

  #fail(ex: OpenExchange, err: Error): void {
    if (ex.done) return;
    this.#finish(ex);
    ex.handlers.onError(err);
  }

  // ─── Message layer ───────────────────────────────────────────────────────────────────────────

  #takeMessageId(): number {
    const mid = this.#nextMessageId;
    this.#nextMessageId = (mid + 1) & 0xffff;
    return mid;
  }

  #newToken(peer: PeerKey): Uint8Array {
    const len = this.#options.tokenLength ?? 8;
    for (;;) {
      const t = newTokenBytes(len);
      if (len === 0 || !this.#exchanges.has(`${peer}|${hex(t)}`)) return t;
    }
  }

  #timer(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    return t;
  }

  #clearTimer(t: ReturnType<typeof setTimeout>): void {
    clearTimeout(t);
    this.#timers.delete(t);
  }

  /**
   * RFC 7252 §4.2: the sender "retransmits the Confirmable message at exponentially increasing
   * intervals, until it receives an acknowledgement (or Reset message) or runs out of attempts";
   * after MAX_RETRANSMIT retransmissions it gives up.
   */
  #sendCon(
    peer: PeerKey,
    messageId: number,
    bytes: Uint8Array,
    cb: { onAck: (m: CoapMessage) => void; onReset: () => void; onTimeout: () => void; onSendError?: (err: CoapSendError) => void },
  ): () => void {
    const key = `${peer}|${messageId}`;
    const timeoutMs = initialTimeout(this.transmission, this.#random);
    const p: PendingCon = { peer, messageId, bytes, attempts: 0, timeoutMs, timer: undefined as unknown as ReturnType<typeof setTimeout>, ...cb };
    const arm = (): void => {
      p.timer = setTimeout(() => {
        if (this.#pendingCon.get(key) !== p) return;
        if (p.attempts >= this.transmission.maxRetransmit) {
          this.#pendingCon.delete(key);
          p.onTimeout();
          return;
        }
        p.attempts++;
        p.timeoutMs *= 2;
        this.#send(peer, bytes);
        arm();
      }, p.timeoutMs);
    };
    const failed = this.#send(peer, bytes);
    if (failed !== undefined) {
      void Promise.resolve().then(() => (cb.onSendError ?? cb.onTimeout)(failed));
      return () => {};
    }
    this.#pendingCon.set(key, p);
    arm();
    return () => {
      if (this.#pendingCon.get(key) === p) {
        clearTimeout(p.timer);
        this.#pendingCon.delete(key);
      }
    };
  }

  /**
   * Hands a datagram to the transport. A transport that throws (a DTLS session gone) must not
   * break timers or the receive path: the failure is reported and returned.
   */
  #send(peer: PeerKey, bytes: Uint8Array): CoapSendError | undefined {
    try {
      this.#transport.send(peer, bytes);
      return undefined;
    } catch (err) {
      this.#drop(peer, `transport refused to send: ${String(err)}`, 'ERR_COAP_SEND_FAILED');
      return new CoapSendError(`cannot send to ${peer}`, { cause: err });
    }
  }

  /** RFC 7252 §4.5: a duplicate gets the same ACK or RST again (nothing while the answer is pending). */
  #resendReply(peer: PeerKey, slot: number): void {
    const reply = this.#dedup.reply(slot);
    if (reply !== undefined) this.#send(peer, reply);
  }

  #rememberNon(key: string, onReset: () => void): void {
    this.#recentNon.delete(key);
    this.#recentNon.set(key, onReset);
    if (this.#recentNon.size > MAX_RECENT_NON) this.#recentNon.delete(this.#recentNon.keys().next().value as string);
  }

  #drop(peer: PeerKey, reason: string, code?: string): void {
    if (dropChannel.hasSubscribers) dropChannel.publish({ peer, reason, code } satisfies CoapDropEvent);
  }

  #sendEmpty(peer: PeerKey, type: CoapTypeValue, messageId: number): Uint8Array {
    const bytes = encodeMessage(emptyMessage(type, messageId));
    this.#send(peer, bytes);
    return bytes;
  }

  #onDatagram(peer: PeerKey, data: Uint8Array): void {
    if (this.#closed) return;
    try {
      this.#receive(peer, data);
    } catch (err) {
      // A bug must not take the socket (and every other peer) down; it is reported instead.
      this.#drop(peer, `internal error: ${String(err)}`, 'ERR_COAP_INTERNAL');
    }
  }

  #receive(peer: PeerKey, data: Uint8Array): void {
    let msg: CoapMessage;
    try {
      msg = decodeMessage(data, this.#options.decodeLimits);
    } catch (err) {
      if (!(err instanceof CoapFormatError)) throw err;
      // RFC 7252 §4.2: a CON that "lacks context to process the message properly, including
      // ... a message format error" MUST be rejected with a Reset; §4.3: other types are
      // silently ignored. Unknown versions are always silently ignored (§3).
      if (err.header !== undefined && err.header.type === CoapType.CON && err.code !== 'ERR_COAP_BAD_VERSION') {
        this.#sendEmpty(peer, CoapType.RST, err.header.messageId);
      }
      this.#drop(peer, err.message, err.code);
      return;
    }
    if (msg.code === 0) this.#onEmpty(peer, msg);
    else if (isRequestCode(msg.code)) this.#onRequest(peer, msg);
    else if (isResponseCode(msg.code)) this.#onResponse(peer, msg);
  }

  #onEmpty(peer: PeerKey, msg: CoapMessage): void {
    const key = `${peer}|${msg.messageId}`;
    if (msg.type === CoapType.CON) {
      // RFC 7252 §4.3: "Provoking a Reset message ... by sending an Empty Confirmable message".
      this.#sendEmpty(peer, CoapType.RST, msg.messageId);
    } else if (msg.type === CoapType.ACK) {
      const p = this.#pendingCon.get(key);
      if (p === undefined) return;
      clearTimeout(p.timer);
      this.#pendingCon.delete(key);
      p.onAck(msg);
    } else if (msg.type === CoapType.RST) {
      const p = this.#pendingCon.get(key);
      if (p !== undefined) {
        clearTimeout(p.timer);
        this.#pendingCon.delete(key);
        p.onReset();
        return;
      }
      const n = this.#recentNon.get(key);
      if (n !== undefined) {
        this.#recentNon.delete(key);
        n();
      }
    }
  }

  #onResponse(peer: PeerKey, msg: CoapMessage): void {
    if (msg.type === CoapType.RST) return this.#drop(peer, 'Reset with a non-empty code');
    const checked = unrecognizedCriticalOptions(msg.options, this.#recognized);
    if (msg.type === CoapType.ACK) {
      const key = `${peer}|${msg.messageId}`;
      const p = this.#pendingCon.get(key);
      if (p === undefined) return this.#drop(peer, 'ACK for no outstanding CON');
      clearTimeout(p.timer);
      this.#pendingCon.delete(key);
      const ex = this.#exchanges.get(`${peer}|${hex(msg.token)}`);
      if (ex === undefined || ex.conKey !== key) return this.#drop(peer, 'piggybacked response with a foreign token');
      ex.conKey = undefined;
      // RFC 7252 §5.4.1: an unrecognised critical option in a piggybacked response MUST cause
      // the response to be rejected.
      if (checked.critical.length > 0) return this.#fail(ex, new CoapBadResponseError(`response carries unrecognised critical option(s) ${checked.critical.join(', ')}`));
      return this.#deliver(ex, { ...msg, options: checked.options });
    }
    const seen = this.#dedup.get(peer, msg.messageId, Date.now());
    if (seen >= 0) {
      this.#resendReply(peer, seen);
      return;
    }
    const entry = this.#dedup.add(peer, msg.messageId, Date.now(), msg.type === CoapType.CON ? this.#exchangeLifetime : this.#nonLifetime);
    const ex = this.#exchanges.get(`${peer}|${hex(msg.token)}`);
    // RFC 7252 §5.3.2 / RFC 7641 §3.6: a response whose token matches nothing is rejected with a
    // Reset, which also ends an observation the client has forgotten. §5.4.1 likewise for an
    // unrecognised critical option in a CON or NON response.
    if (ex === undefined || checked.critical.length > 0) {
      this.#dedup.setReply(entry, this.#sendEmpty(peer, CoapType.RST, msg.messageId));
      if (ex !== undefined) this.#fail(ex, new CoapBadResponseError(`response carries unrecognised critical option(s) ${checked.critical.join(', ')}`));
      return this.#drop(peer, ex === undefined ? 'response for an unknown token' : 'unrecognised critical option in a response');
    }
    if (msg.type === CoapType.CON) this.#dedup.setReply(entry, this.#sendEmpty(peer, CoapType.ACK, msg.messageId));
    this.#deliver(ex, { ...msg, options: checked.options });
  }

  #onRequest(peer: PeerKey, msg: CoapMessage): void {
    if (msg.type === CoapType.ACK || msg.type === CoapType.RST) return this.#drop(peer, 'request code in an ACK or RST');
    const now = Date.now();
    const seen = this.#dedup.get(peer, msg.messageId, now);
    if (seen >= 0) {
      this.#resendReply(peer, seen);
      return;
    }
    const confirmable = msg.type === CoapType.CON;
    const entry = this.#dedup.add(peer, msg.messageId, now, confirmable ? this.#exchangeLifetime : this.#nonLifetime);
    let request = msg;
    // A request without options (GET `/`) has nothing to check: no result object for it.
    if (msg.options.length > 0) {
      const checked = unrecognizedCriticalOptions(msg.options, this.#recognized);
      if (checked.critical.length > 0) {
        // RFC 7252 §5.4.1: "Unrecognized options of class 'critical' that occur in a Confirmable
        // request MUST cause the return of a 4.02 (Bad Option) response"; in a NON message they
        // "MUST cause the message to be rejected".
        if (confirmable) {
          const reply = encodeMessage({ type: CoapType.ACK, code: CoapCode.BadOption, messageId: msg.messageId, token: msg.token, options: [], payload: Buffer.from(`unrecognised critical option ${checked.critical.join(', ')}`) });
          this.#dedup.setReply(entry, reply);
          this.#send(peer, reply);
        }
        return this.#drop(peer, 'unrecognised critical option in a request');
      }
      if (checked.options !== msg.options) request = { ...msg, options: checked.options };
    }
    const handled = this.#dispatcher.handle(peer, request);
    if (!isPromise(handled)) {
      // Answered synchronously: piggybacked at once (RFC 7252 §5.2.1), no separate-response
      // timer and no promise for this request.
      this.#respond(peer, msg, entry, false, handled);
      return;
    }
    let acked = false;
    let separateTimer: ReturnType<typeof setTimeout> | undefined;
    if (confirmable) {
      separateTimer = this.#timer(this.#options.separateResponseAfterMs ?? this.transmission.ackTimeoutMs / 2, () => {
        acked = true;
        this.#dedup.setReply(entry, this.#sendEmpty(peer, CoapType.ACK, msg.messageId));
      });
    }
    void handled.then((res) => {
      if (separateTimer !== undefined) this.#clearTimer(separateTimer);
      if (this.#closed) return;
      this.#respond(peer, msg, entry, acked, res);
    });
  }

  #respond(peer: PeerKey, msg: CoapMessage, entry: number, acked: boolean, res: ResponseParts | undefined): void {
    try {
      this.#sendResponse(peer, msg, entry, acked, res);
    } catch (err) {
      // A handler's response that cannot be encoded (e.g. a bad option) becomes a 5.00.
      this.#drop(peer, `response not sendable: ${String(err)}`, 'ERR_COAP_INTERNAL');
      this.#sendResponse(peer, msg, entry, acked, { code: CoapCode.InternalServerError, options: [], payload: new Uint8Array(0) });
    }
  }

  #sendResponse(peer: PeerKey, msg: CoapMessage, entry: number, acked: boolean, res: ResponseParts | undefined): void {
    const confirmable = msg.type === CoapType.CON;
    if (res === undefined) {
      // No-Response (RFC 7967) suppressed it; a CON still needs its ACK.
      if (confirmable && !acked) this.#dedup.setReply(entry, this.#sendEmpty(peer, CoapType.ACK, msg.messageId));
      return;
    }
    if (confirmable && !acked) {
      const reply = encodeMessage({ type: CoapType.ACK, code: res.code, messageId: msg.messageId, token: msg.token, options: res.options, payload: res.payload });
      this.#dedup.setReply(entry, reply);
      this.#send(peer, reply);
      return;
    }
    // RFC 7252 §5.2.2: a separate response to a CON request is itself sent as CON (and a
    // response to a NON request as NON, §5.2.3).
    const mid = this.#takeMessageId();
    const bytes = encodeMessage({ type: confirmable ? CoapType.CON : CoapType.NON, code: res.code, messageId: mid, token: msg.token, options: res.options, payload: res.payload });
    if (confirmable) {
      this.#sendCon(peer, mid, bytes, { onAck: () => {}, onReset: () => this.#dispatcher.resetFrom(peer, msg.token), onTimeout: () => this.#dispatcher.resetFrom(peer, msg.token) });
    } else {
      this.#rememberNon(`${peer}|${mid}`, () => this.#dispatcher.resetFrom(peer, msg.token));
      this.#send(peer, bytes);
    }
  }

  #sendNotification(peer: PeerKey, token: Uint8Array, parts: ResponseParts, confirmable: boolean, events: NotificationEvents): () => void {
    if (this.#closed) return () => {};
    const mid = this.#takeMessageId();
    const bytes = encodeMessage({ type: confirmable ? CoapType.CON : CoapType.NON, code: parts.code, messageId: mid, token, options: parts.options, payload: parts.payload });
    if (confirmable) return this.#sendCon(peer, mid, bytes, { onAck: events.onAck, onReset: events.onReset, onTimeout: events.onTimeout });
    const key = `${peer}|${mid}`;
    this.#rememberNon(key, events.onReset);
    this.#send(peer, bytes);
    return () => this.#recentNon.delete(key);
  }
}

export interface ResourceHandle {
  readonly path: string;
  /** Regenerates the GET representation for every observer and sends it (RFC 7641 §4.2). */
  notifyObservers(): void;
  observerCount(): number;
  remove(): void;
}

/**
 * A handle is a small object with methods on its prototype, not three closures: a device SDK
 * registers one resource per LwM2M object, instance and resource (~50 per device), and a
 * simulator holds thousands of devices.
 */
class RegisteredResource implements ResourceHandle {
  readonly #router: Router;
  readonly #dispatcher: RequestDispatcher;
  readonly #resource: Resource;

  constructor(router: Router, dispatcher: RequestDispatcher, resource: Resource) {
    this.#router = router;
    this.#dispatcher = dispatcher;
    this.#resource = resource;
  }

  get path(): string {
    return this.#resource.path;
  }

  notifyObservers(): void {
    this.#dispatcher.notify(this.#resource);
  }

  observerCount(): number {
    return this.#dispatcher.observerCount(this.#resource);
  }

  remove(): void {
    this.#dispatcher.dropRelations(this.#resource);
    this.#router.remove(this.#resource.path);
  }
}

export type { CoapOption };

/**
 * Tokens come from a pool filled by the CSPRNG 4 KiB at a time (`randomBytes` per request cost a
 * native call, a Buffer and a copy). Bytes are handed out once and zeroed as they are taken.
 */
const TOKEN_POOL = new Uint8Array(4096);
let tokenPoolUsed = TOKEN_POOL.length;

function newTokenBytes(len: number): Uint8Array {
  const out = new Uint8Array(len);
  if (tokenPoolUsed + len > TOKEN_POOL.length) {
    randomFillSync(TOKEN_POOL);
    tokenPoolUsed = 0;
  }
  const o = tokenPoolUsed;
  for (let i = 0; i < len; i++) {
    out[i] = TOKEN_POOL[o + i]!;
    TOKEN_POOL[o + i] = 0;
  }
  tokenPoolUsed = o + len;
  return out;
}
