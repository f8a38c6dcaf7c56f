/**
 * Client side of a CoapEndpoint above the message layer: requests with automatic Block1 upload
 * and Block2 download (RFC 7959), and observations with the freshness rule of RFC 7641 §3.4.
 */
import { blockSize, decodeBlock, encodeBlock } from './block.js';
import { CoapCode, codeToString, type CoapMessage } from './codec.js';
import { CoapBlockTransferError, CoapBodyTooLargeError } from './errors.js';
import { isFresherNotification } from './observe.js';
import {
  OptionNumber,
  encodeString,
  getOption,
  getUintOption,
  opaqueOption,
  stringOption,
  uintOption,
  withoutOption,
  type CoapOption,
} from './options.js';
import { methodCode, type CoapMethod } from './router.js';
import type { PeerKey } from './transport.js';
import { InvalidArgumentError } from '../errors.js';

/** One request message as the message layer sends it. */
export interface RequestParts {
  code: number;
  options: CoapOption[];
  payload: Uint8Array;
  /** Reuse a token (deregistering an observation); default: a fresh random one. */
  token?: Uint8Array;
  confirmable?: boolean;
  responseTimeoutMs?: number;
}

export interface ExchangeHandlers {
  /** Return true to keep the exchange open for more responses (observe). */
  onResponse: (msg: CoapMessage) => boolean;
  onError: (err: Error) => void;
}

export interface ExchangeHandle {
  readonly token: Uint8Array;
  close(): void;
}

/** What the client needs from an endpoint. */
export interface ExchangeContext {
  exchange(peer: PeerKey, parts: RequestParts, handlers: ExchangeHandlers): ExchangeHandle;
  readonly maxResponseBodySize: number;
  readonly preferredBlockSzx: number;
}

export interface ClientRequest {
  method?: CoapMethod;
  /** `/a/b` (split on `/`, each segment percent-decoded by the caller) or the segments. */
  path?: string | string[];
  query?: string[];
  uriHost?: string;
  uriPort?: number;
  /** Further options, e.g. ETag or If-Match. */
  options?: CoapOption[];
  payload?: Uint8Array | string;
  contentFormat?: number;
  accept?: number;
  /** Default true. */
  confirmable?: boolean;
  /** Block size exponent for uploads (default the endpoint's preferred). */
  block1Szx?: number;
  /** Ask for this block size from the first response on (early negotiation, RFC 7959 §2.4). */
  block2Szx?: number;
  responseTimeoutMs?: number;
  /** Largest reassembled response body (default the endpoint's maxResponseBodySize). */
  maxBodySize?: number;
}

export interface CoapResponse {
  code: number;
  /** "2.05" */
  codeText: string;
  payload: Uint8Array;
  options: CoapOption[];
  contentFormat: number | undefined;
  /** The Observe value of a notification or registration response. */
  observe: number | undefined;
  /** The last message of the exchange. */
  message: CoapMessage;
}

export interface Observation {
  /** The response to the registration request (with the whole body). */
  readonly response: CoapResponse;
  /** False when the server did not accept the registration (no Observe in the response). */
  readonly active: boolean;
  /** Deregisters (RFC 7641 §3.6: GET with Observe=1 and the same token) and stops notifications. */
  cancel(): Promise<void>;
}

const EMPTY = new Uint8Array(0);

function toBytes(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return EMPTY;
  return typeof p === 'string' ? encodeString(p) : p;
}

/** The options of a request, in the order RFC 7252 §6.4 builds them from a URI. */
export function requestOptions(req: ClientRequest): CoapOption[] {
  const opts: CoapOption[] = [];
  if (req.uriHost !== undefined) opts.push(stringOption(OptionNumber.UriHost, req.uriHost));
  if (req.uriPort !== undefined) opts.push(uintOption(OptionNumber.UriPort, req.uriPort));
  const path = req.path === undefined ? [] : typeof req.path === 'string' ? req.path.split('/').filter((s, i) => !(i === 0 && s === '')) : req.path;
  if (!(path.length === 1 && path[0] === '')) for (const seg of path) opts.push(stringOption(OptionNumber.UriPath, seg));
  if (req.contentFormat !== undefined) opts.push(uintOption(OptionNumber.ContentFormat, req.contentFormat));
  for (const q of req.query ?? []) opts.push(stringOption(OptionNumber.UriQuery, q));
  if (req.accept !== undefined) opts.push(uintOption(OptionNumber.Accept, req.accept));
  opts.push(...(req.options ?? []));
  return opts;
}

/** Sends one request message and resolves with its (first) response. */
export function sendOnce(ctx: ExchangeContext, peer: PeerKey, parts: RequestParts): Promise<CoapMessage> {
  return new Promise((resolve, reject) => {
    ctx.exchange(peer, parts, {
      onResponse: (msg) => {
        resolve(msg);
        return false;
      },
      onError: reject,
    });
  });
}

export function toResponse(msg: CoapMessage, payload: Uint8Array = msg.payload): CoapResponse {
  return {
    code: msg.code,
    codeText: codeToString(msg.code),
    payload,
    options: msg.options,
    contentFormat: getUintOption(msg.options, OptionNumber.ContentFormat),
    observe: getUintOption(msg.options, OptionNumber.Observe),
    message: msg,
  };
}

function checkSzx(szx: number | undefined, name: string): void {
  if (szx !== undefined && (!Number.isInteger(szx) || szx < 0 || szx > 6)) throw new InvalidArgumentError(name, `expected 0..6, got ${szx}`);
}

/** A request with Block1 upload and Block2 download handled (RFC 7959 §2.3-§2.5, §3). */
export async function requestWithBlocks(ctx: ExchangeContext, peer: PeerKey, req: ClientRequest): Promise<CoapResponse> {
  checkSzx(req.block1Szx, 'block1Szx');
  checkSzx(req.block2Szx, 'block2Szx');
  const code = methodCode(req.method ?? 'GET');
  const base = requestOptions(req);
  const payload = toBytes(req.payload);
  const common = { confirmable: req.confirmable, responseTimeoutMs: req.responseTimeoutMs };
  let szx1 = req.block1Szx ?? ctx.preferredBlockSzx;
  let first: CoapMessage | undefined;
  if (payload.length > blockSize(szx1)) {
    let offset = 0;
    while (first === undefined) {
      const size = blockSize(szx1);
      const num = offset / size;
      const chunk = payload.subarray(offset, offset + size);
      const more = offset + size < payload.length;
      const opts = [...base, opaqueOption(OptionNumber.Block1, encodeBlock({ num, more, szx: szx1 }))];
      // RFC 7959 §4: Size1 in a request announces the total size of the body.
      if (num === 0) opts.push(uintOption(OptionNumber.Size1, payload.length));
      const res = await sendOnce(ctx, peer, { code, options: opts, payload: chunk, ...common });
      if (!more || res.code !== CoapCode.Continue) {
        first = res;
        break;
      }
      offset += chunk.length;
      const echoed = getOption(res.options, OptionNumber.Block1);
      // RFC 7959 §2.3: a smaller SZX in the 2.31 asks the client to continue with smaller blocks.
      if (echoed !== undefined) {
        const b = decodeBlock(echoed);
        if (b.szx < szx1) szx1 = b.szx;
      }
    }
  } else {
    const opts = [...base];
    if (req.block2Szx !== undefined) opts.push(opaqueOption(OptionNumber.Block2, encodeBlock({ num: 0, more: false, szx: req.block2Szx })));
    first = await sendOnce(ctx, peer, { code, options: opts, payload, ...common });
  }
  const body = await fetchRemainingBlocks(ctx, peer, code, base, first, req.maxBodySize ?? ctx.maxResponseBodySize, common);
  return toResponse(body.last, body.payload);
}

/** Receives a representation block by block; `offset` is the byte offset of `chunk`. */
export type BlockSink = (chunk: Uint8Array, offset: number) => void | Promise<void>;

/**
 * Follows Block2 (RFC 7959 §2.4) from a first response until M=0: asks for the next byte offset
 * with the server's SZX and checks that the ETag, if any, stays the same. Every block, the first
 * included, goes to `sink`; returns the last message and the total size.
 */
export async function followBlocks(
  ctx: ExchangeContext,
  peer: PeerKey,
  code: number,
  base: CoapOption[],
  first: CoapMessage,
  maxBodySize: number,
  sink: BlockSink,
  common: { confirmable?: boolean | undefined; responseTimeoutMs?: number | undefined } = {},
): Promise<{ last: CoapMessage; size: number }> {
  const raw = getOption(first.options, OptionNumber.Block2);
  if (first.payload.length > maxBodySize) throw new CoapBodyTooLargeError(maxBodySize);
  await sink(first.payload, 0);
  if (raw === undefined || first.code >> 5 !== 2) return { last: first, size: first.payload.length };
  let block = decodeBlock(raw);
  if (!block.more) return { last: first, size: first.payload.length };
  if (block.num !== 0) throw new CoapBlockTransferError(`first response carries block ${block.num}`);
  const etag = getOption(first.options, OptionNumber.ETag);
  let total = first.payload.length;
  let last = first;
  const opts = withoutOption(base, OptionNumber.Observe, OptionNumber.Block1, OptionNumber.Size1, OptionNumber.Block2);
  while (block.more) {
    const size = blockSize(block.szx);
    if (total % size !== 0) throw new CoapBlockTransferError(`block of ${last.payload.length} bytes is not a whole block of ${size}`);
    const num = total / size;
    const res = await sendOnce(ctx, peer, { code, options: [...opts, opaqueOption(OptionNumber.Block2, encodeBlock({ num, more: false, szx: block.szx }))], payload: EMPTY, ...common });
    if (res.code >> 5 !== 2) throw new CoapBlockTransferError(`block ${num} answered ${codeToString(res.code)}`);
    const r = getOption(res.options, OptionNumber.Block2);
    if (r === undefined) throw new CoapBlockTransferError(`block ${num} answered without Block2`);
    block = decodeBlock(r);
    if (block.num * blockSize(block.szx) !== total) throw new CoapBlockTransferError(`asked for offset ${total}, got block ${block.num} of ${blockSize(block.szx)}`);
    const e = getOption(res.options, OptionNumber.ETag);
    if (etag !== undefined && (e === undefined || Buffer.compare(e, etag) !== 0)) {
      throw new CoapBlockTransferError('representation changed during the transfer (ETag differs)');
    }
    if (block.more && res.payload.length !== blockSize(block.szx)) throw new CoapBlockTransferError('short block with M set');
    if (total + res.payload.length > maxBodySize) throw new CoapBodyTooLargeError(maxBodySize);
    await sink(res.payload, total);
    total += res.payload.length;
    last = res;
  }
  return { last, size: total };
}

/** followBlocks into one buffer; the result carries the first response's options (ETag, Content-Format). */
export async function fetchRemainingBlocks(
  ctx: ExchangeContext,
  peer: PeerKey,
  code: number,
  base: CoapOption[],
  first: CoapMessage,
  maxBodySize: number,
  common: { confirmable?: boolean | undefined; responseTimeoutMs?: number | undefined } = {},
): Promise<{ last: CoapMessage; payload: Uint8Array }> {
  const chunks: Uint8Array[] = [];
  const { last, size } = await followBlocks(ctx, peer, code, base, first, maxBodySize, (c) => void chunks.push(c), common);
  if (last === first) return { last: first, payload: first.payload };
  const payload = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    payload.set(c, off);
    off += c.length;
  }
  return { last: { ...last, options: first.options.filter((o) => o.number !== OptionNumber.Block2).concat(last.options.filter((o) => o.number === OptionNumber.Block2)) }, payload };
}

/**
 * A GET (or FETCH) whose body goes block by block to `sink` instead of into memory: for firmware
 * images and other large representations (RFC 7959 §2.4). Resolves with the response (empty
 * payload) and the total size once the last block has been written.
 */
export async function downloadBlocks(ctx: ExchangeContext, peer: PeerKey, req: ClientRequest, sink: BlockSink): Promise<{ response: CoapResponse; size: number }> {
  checkSzx(req.block2Szx, 'block2Szx');
  const code = methodCode(req.method ?? 'GET');
  const base = requestOptions(req);
  const common = { confirmable: req.confirmable, responseTimeoutMs: req.responseTimeoutMs };
  const opts = [...base];
  if (req.block2Szx !== undefined) opts.push(opaqueOption(OptionNumber.Block2, encodeBlock({ num: 0, more: false, szx: req.block2Szx })));
  const first = await sendOnce(ctx, peer, { code, options: opts, payload: toBytes(req.payload), ...common });
  const { last, size } = await followBlocks(ctx, peer, code, base, first, req.maxBodySize ?? Number.MAX_SAFE_INTEGER, sink, common);
  return { response: toResponse({ ...last, options: first.options }, EMPTY), size };
}

/** Registers an observation (RFC 7641 §3.1) and follows its notifications. */
export function observeResource(
  ctx: ExchangeContext,
  peer: PeerKey,
  req: ClientRequest,
  onNotify: (res: CoapResponse) => void,
  onEnd?: (err?: Error) => void,
): Promise<Observation> {
  checkSzx(req.block2Szx, 'block2Szx');
  const base = requestOptions({ ...req, method: 'GET' });
  const regOptions = [...withoutOption(base, OptionNumber.Observe), uintOption(OptionNumber.Observe, 0)];
  if (req.block2Szx !== undefined) regOptions.push(opaqueOption(OptionNumber.Block2, encodeBlock({ num: 0, more: false, szx: req.block2Szx })));
  const maxBody = req.maxBodySize ?? ctx.maxResponseBodySize;
  const common = { confirmable: req.confirmable, responseTimeoutMs: req.responseTimeoutMs };
  return new Promise((resolve, reject) => {
    let registered = false;
    let ended = false;
    let last = { seq: 0, at: 0 };
    const end = (err?: Error): void => {
      if (ended) return;
      ended = true;
      handle.close();
      onEnd?.(err);
    };
    // A throwing callback must neither escape into the receive path nor become an unhandled
    // rejection: it ends the observation with that error.
    const deliver = (r: CoapResponse): void => {
      try {
        onNotify(r);
      } catch (err) {
        end(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const full = async (msg: CoapMessage): Promise<CoapResponse> => {
      const body = await fetchRemainingBlocks(ctx, peer, CoapCode.GET, base, msg, maxBody, common);
      return toResponse({ ...body.last, options: msg.options }, body.payload);
    };
    const handle = ctx.exchange(peer, { code: CoapCode.GET, options: regOptions, payload: EMPTY, ...common }, {
      onResponse: (msg) => {
        const seq = getUintOption(msg.options, OptionNumber.Observe);
        const now = Date.now();
        if (!registered) {
          registered = true;
          const active = seq !== undefined && msg.code >> 5 === 2;
          if (active) last = { seq, at: now };
          full(msg).then(
            (response) => resolve({ response, active, cancel: () => cancel(active) }),
            (err: Error) => {
              end(err);
              reject(err);
            },
          );
          if (!active) ended = true;
          return active;
        }
        if (ended) return false;
        // RFC 7641 §3.2: a response without Observe, or with an error code, ends the observation.
        if (seq === undefined || msg.code >> 5 !== 2) {
          deliver(toResponse(msg));
          end();
          return false;
        }
        // RFC 7641 §3.4: only a notification fresher than the last one updates the client.
        if (!isFresherNotification(last.seq, last.at, seq, now)) return true;
        last = { seq, at: now };
        full(msg).then(
          (r) => {
            if (!ended) deliver(r);
          },
          (err: Error) => end(err),
        );
        return true;
      },
      onError: (err) => {
        if (!registered) reject(err);
        else end(err);
      },
    });
    const cancel = async (active: boolean): Promise<void> => {
      if (ended) return;
      ended = true;
      handle.close();
      try {
        if (!active) return;
        // RFC 7641 §3.6: "a client MAY explicitly deregister by issuing a GET request that has
        // the Token field set to the token of the observation to be cancelled and includes an
        // Observe Option with the value set to 1 (deregister)."
        const opts = [...withoutOption(base, OptionNumber.Observe), uintOption(OptionNumber.Observe, 1)];
        await sendOnce(ctx, peer, { code: CoapCode.GET, options: opts, payload: EMPTY, token: handle.token, ...common });
      } finally {
        onEnd?.();
      }
    };
  });
}
