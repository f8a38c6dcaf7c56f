/**
 * RFC 7252 §3 message format: bytes ⇄ CoapMessage. Pure: no I/O, no timers.
 *
 *   0                   1                   2                   3
 *   |Ver| T |  TKL  |      Code     |          Message ID           |
 *   |   Token (if any, TKL bytes) ...  Options (if any) ... |1 1 1 1 1 1 1 1|  Payload ...
 *
 * Decoding checks the wire format only. Whether an option is recognised, and what to do if a
 * critical one is not, is `unrecognizedCriticalOptions`'s answer, used by the endpoint.
 */
import {
  CoapBadEmptyMessageError,
  CoapBadOptionEncodingError,
  CoapBadTokenError,
  CoapBadVersionError,
  CoapBodyTooLargeError,
  CoapEmptyPayloadError,
  CoapReservedCodeError,
  CoapTooManyOptionsError,
  CoapTruncatedHeaderError,
  type CoapHeaderInfo,
} from './errors.js';
import { OPTION_DEFINITIONS, isCritical, optionFormatProblem, type CoapOption } from './options.js';
import { InvalidArgumentError } from '../errors.js';

export const CoapType = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;
export type CoapTypeValue = (typeof CoapType)[keyof typeof CoapType];
export const COAP_TYPE_NAMES = ['CON', 'NON', 'ACK', 'RST'] as const;

/** Builds a code from class and detail: code(2, 5) is 2.05 Content. */
export function code(cls: number, detail: number): number {
  return (cls << 5) | detail;
}

export const CoapCode = {
  Empty: 0,
  GET: 1,
  POST: 2,
  PUT: 3,
  DELETE: 4,
  FETCH: 5, // RFC 8132
  PATCH: 6,
  iPATCH: 7,
  Created: code(2, 1),
  Deleted: code(2, 2),
  Valid: code(2, 3),
  Changed: code(2, 4),
  Content: code(2, 5),
  Continue: code(2, 31), // RFC 7959 §2.9.1
  BadRequest: code(4, 0),
  Unauthorized: code(4, 1),
  BadOption: code(4, 2),
  Forbidden: code(4, 3),
  NotFound: code(4, 4),
  MethodNotAllowed: code(4, 5),
  NotAcceptable: code(4, 6),
  RequestEntityIncomplete: code(4, 8), // RFC 7959 §2.9.2
  PreconditionFailed: code(4, 12),
  RequestEntityTooLarge: code(4, 13),
  UnsupportedContentFormat: code(4, 15),
  InternalServerError: code(5, 0),
  NotImplemented: code(5, 1),
  BadGateway: code(5, 2),
  ServiceUnavailable: code(5, 3),
  GatewayTimeout: code(5, 4),
  ProxyingNotSupported: code(5, 5),
} as const;

/** "2.05" for 69. */
export function codeToString(c: number): string {
  return `${c >> 5}.${String(c & 0x1f).padStart(2, '0')}`;
}

export function isRequestCode(c: number): boolean {
  return c >= 1 && c <= 31;
}

export function isResponseCode(c: number): boolean {
  const cls = c >> 5;
  return cls >= 2 && cls <= 5;
}

export interface CoapMessage {
  type: CoapTypeValue;
  code: number;
  messageId: number;
  token: Uint8Array;
  /** In wire order: sorted by number, repeated options in their given order. */
  options: CoapOption[];
  payload: Uint8Array;
}

export interface DecodeLimits {
  /** Most options accepted in one message (default 64). */
  maxOptions?: number;
  /** Largest payload accepted in one message (default 65535). */
  maxPayload?: number;
}

export const DEFAULT_MAX_OPTIONS = 64;
export const DEFAULT_MAX_PAYLOAD = 65535;
const PAYLOAD_MARKER = 0xff;
const EMPTY = new Uint8Array(0);

function readExtended(nibble: number, data: Uint8Array, pos: number, header: CoapHeaderInfo, what: string): [number, number] {
  // RFC 7252 §3.1: 13 → one extra byte minus 13, 14 → two extra bytes minus 269, 15 is reserved
  // ("MUST be processed as a message format error" unless it is the payload marker).
  if (nibble < 13) return [nibble, pos];
  if (nibble === 13) {
    if (pos + 1 > data.length) throw new CoapBadOptionEncodingError(`truncated extended option ${what}`, header);
    return [data[pos]! + 13, pos + 1];
  }
  if (nibble === 14) {
    if (pos + 2 > data.length) throw new CoapBadOptionEncodingError(`truncated extended option ${what}`, header);
    return [((data[pos]! << 8) | data[pos + 1]!) + 269, pos + 2];
  }
  throw new CoapBadOptionEncodingError(`reserved option ${what} nibble 15`, header);
}

/** Reads the fixed header, or undefined when there are fewer than 4 bytes. */
export function peekHeader(data: Uint8Array): CoapHeaderInfo | undefined {
  if (data.length < 4) return undefined;
  return { type: (data[0]! >> 4) & 3, code: data[1]!, messageId: (data[2]! << 8) | data[3]! };
}

/** Decodes one CoAP message. Throws a CoapFormatError subclass (code ERR_COAP_*) on any fault. */
export function decodeMessage(data: Uint8Array, limits: DecodeLimits = {}): CoapMessage {
  const maxOptions = limits.maxOptions ?? DEFAULT_MAX_OPTIONS;
  const maxPayload = limits.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const header = peekHeader(data);
  if (header === undefined) throw new CoapTruncatedHeaderError(data.length);
  const version = data[0]! >> 6;
  // RFC 7252 §3: "Messages with unknown version numbers MUST be silently ignored."
  if (version !== 1) throw new CoapBadVersionError(version, header);
  const tkl = data[0]! & 0x0f;
  // RFC 7252 §3: "Lengths 9-15 are reserved, MUST NOT be sent, and MUST be processed as a
  // message format error."
  if (tkl > 8) throw new CoapBadTokenError(`reserved token length ${tkl}`, header);
  if (4 + tkl > data.length) throw new CoapBadTokenError(`token of ${tkl} bytes runs past the datagram`, header);
  const cls = header.code >> 5;
  if (header.code === 0) {
    // RFC 7252 §4.1: an Empty message "MUST" have TKL 0 and no bytes after the Message ID; "If
    // there are any bytes, they MUST be processed as a message format error."
    if (data.length !== 4) throw new CoapBadEmptyMessageError(header);
  } else if (cls === 1 || cls === 6 || cls === 7) {
    throw new CoapReservedCodeError(header);
  }
  const token = data.slice(4, 4 + tkl);
  const options: CoapOption[] = [];
  let pos = 4 + tkl;
  let number = 0;
  let payload = EMPTY;
  while (pos < data.length) {
    const b = data[pos]!;
    if (b === PAYLOAD_MARKER) {
      // RFC 7252 §3: "The presence of a marker followed by a zero-length payload MUST be
      // processed as a message format error."
      if (pos + 1 === data.length) throw new CoapEmptyPayloadError(header);
      if (data.length - pos - 1 > maxPayload) throw new CoapBodyTooLargeError(maxPayload, header);
      payload = data.slice(pos + 1);
      break;
    }
    let delta: number;
    let length: number;
    [delta, pos] = readExtended(b >> 4, data, pos + 1, header, 'delta');
    [length, pos] = readExtended(b & 0x0f, data, pos, header, 'length');
    if (pos + length > data.length) throw new CoapBadOptionEncodingError(`option value of ${length} bytes runs past the datagram`, header);
    if (options.length >= maxOptions) throw new CoapTooManyOptionsError(maxOptions, header);
    number += delta;
    options.push({ number, value: data.slice(pos, pos + length) });
    pos += length;
  }
  return { type: header.type as CoapTypeValue, code: header.code, messageId: header.messageId, token, options, payload };
}

function extLength(v: number): number {
  return v < 13 ? 0 : v < 269 ? 1 : 2;
}

function nibbleOf(v: number): number {
  return v < 13 ? v : v < 269 ? 13 : 14;
}

function writeExt(out: Uint8Array, pos: number, v: number): number {
  if (v < 13) return pos;
  if (v < 269) {
    out[pos] = v - 13;
    return pos + 1;
  }
  out[pos] = (v - 269) >> 8;
  out[pos + 1] = (v - 269) & 0xff;
  return pos + 2;
}

/**
 * Encoded messages up to POOLED_MAX bytes are views into shared 16 KiB slabs, handed out once
 * each and never reused or written again after encodeMessage returns (what Buffer.allocUnsafe
 * does with its pool): a reply of ~150 bytes as its own Uint8Array is an off-heap backing store
 * that V8 must allocate, track and sweep per request. A slab lives as long as any view into it
 * (a retransmitted CON, a notification): at most 16 KiB per retained message. Every byte of a
 * view is written by encodeMessage (sizes are computed exactly), so slabs need no zeroing.
 */
const SLAB_BYTES = 16 * 1024;
const POOLED_MAX = 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
/** The same slab as a Buffer, for write() (which returns a count, not an object as encodeInto does). */
let slabBuffer = Buffer.from(slab);
let slabUsed = 0;

function newSlab(): void {
  slab = new ArrayBuffer(SLAB_BYTES);
  slabBuffer = Buffer.from(slab);
  slabUsed = 0;
}

/** A fresh view of `size` bytes, from the current slab when small; its contents are to be overwritten. */
export function allocateMessageBytes(size: number): Uint8Array {
  if (size > POOLED_MAX) return new Uint8Array(size);
  if (slabUsed + size > SLAB_BYTES) newSlab();
  const out = new Uint8Array(slab, slabUsed, size);
  slabUsed += (size + 7) & ~7;
  return out;
}

const utf8 = new TextEncoder();

/**
 * `new TextEncoder().encode(s)` into the same slabs (a handler's text payload, encoded once per
 * response): a string of up to POOLED_MAX / 3 UTF-16 units is written in place and its view
 * returned; longer ones get their own array, as encode() would.
 */
export function encodeUtf8(s: string): Uint8Array {
  const max = s.length * 3;
  if (max > POOLED_MAX) return utf8.encode(s);
  if (slabUsed + max > SLAB_BYTES) newSlab();
  // Room for 3 bytes per UTF-16 unit, so nothing is cut; lone surrogates become U+FFFD as with TextEncoder.
  const written = slabBuffer.write(s, slabUsed, max, 'utf8');
  const out = new Uint8Array(slab, slabUsed, written);
  slabUsed += (written + 7) & ~7;
  return out;
}

/** Encodes a message; options are sorted by number (stable), as RFC 7252 §3.1 requires. */
export function encodeMessage(msg: CoapMessage): Uint8Array {
  if (msg.token.length > 8) throw new InvalidArgumentError('token', `at most 8 bytes, got ${msg.token.length}`);
  if (!Number.isInteger(msg.messageId) || msg.messageId < 0 || msg.messageId > 0xffff) {
    throw new InvalidArgumentError('messageId', `expected 0..65535, got ${msg.messageId}`);
  }
  if (!Number.isInteger(msg.code) || msg.code < 0 || msg.code > 255) throw new InvalidArgumentError('code', `expected 0..255, got ${msg.code}`);
  let options = msg.options;
  for (let i = 1; i < options.length; i++) {
    if (options[i]!.number < options[i - 1]!.number) {
      // Array.prototype.sort is stable, so repeated options keep their order.
      options = [...options].sort((a, b) => a.number - b.number);
      break;
    }
  }
  let size = 4 + msg.token.length + (msg.payload.length > 0 ? 1 + msg.payload.length : 0);
  let prev = 0;
  for (const o of options) {
    if (!Number.isInteger(o.number) || o.number < 0 || o.number > 65535) throw new InvalidArgumentError('option', `bad option number ${o.number}`);
    if (o.value.length > 65535 + 269) throw new InvalidArgumentError('option', `value of option ${o.number} too long`);
    size += 1 + extLength(o.number - prev) + extLength(o.value.length) + o.value.length;
    prev = o.number;
  }
  const out = allocateMessageBytes(size);
  out[0] = 0x40 | (msg.type << 4) | msg.token.length;
  out[1] = msg.code;
  out[2] = msg.messageId >> 8;
  out[3] = msg.messageId & 0xff;
  out.set(msg.token, 4);
  let pos = 4 + msg.token.length;
  prev = 0;
  for (const o of options) {
    const delta = o.number - prev;
    const len = o.value.length;
    out[pos++] = (nibbleOf(delta) << 4) | nibbleOf(len);
    pos = writeExt(out, pos, delta);
    pos = writeExt(out, pos, len);
    out.set(o.value, pos);
    pos += len;
    prev = o.number;
  }
  if (msg.payload.length > 0) {
    out[pos++] = PAYLOAD_MARKER;
    out.set(msg.payload, pos);
  }
  return out;
}

/**
 * Options that must be treated as unrecognised (RFC 7252 §5.4): unknown numbers, recognised
 * options whose length or format is out of range (§5.4.3), and repeats of non-repeatable ones
 * (§5.4.5). Returns the critical ones (which the caller must act on) and the message with the
 * elective ones removed ("MUST be silently ignored", §5.4.1).
 */
const NO_EXTRA_OPTIONS: ReadonlySet<number> = new Set();

export function unrecognizedCriticalOptions(
  options: readonly CoapOption[],
  extraRecognized: ReadonlySet<number> = NO_EXTRA_OPTIONS,
): { critical: number[]; options: CoapOption[] } {
  const critical: number[] = [];
  let kept: CoapOption[] | undefined;
  // Repeats among numbers below 32 (every RFC 7252 option but Size2/Size1/No-Response and the
  // like) are tracked in a bit mask; a Set only for larger numbers.
  let seenLow = 0;
  let seenHigh: Set<number> | undefined;
  for (let i = 0; i < options.length; i++) {
    const o = options[i]!;
    const d = OPTION_DEFINITIONS.get(o.number);
    let bad = d === undefined && !extraRecognized.has(o.number);
    if (d !== undefined) {
      let seen: boolean;
      if (o.number < 32) {
        seen = (seenLow & (1 << o.number)) !== 0;
        seenLow |= 1 << o.number;
      } else {
        seenHigh ??= new Set();
        seen = seenHigh.has(o.number);
        seenHigh.add(o.number);
      }
      if (optionFormatProblem(o) !== undefined) bad = true;
      else if (!d.repeatable && seen) bad = true;
    }
    if (bad) {
      // The first removal copies what was kept so far; with nothing removed the input is returned.
      kept ??= options.slice(0, i);
      if (isCritical(o.number)) critical.push(o.number);
    } else kept?.push(o);
  }
  return { critical, options: kept ?? (options as CoapOption[]) };
}

/** An Empty message (ACK, RST or a CoAP ping as CON) with the given message ID. */
export function emptyMessage(type: CoapTypeValue, messageId: number): CoapMessage {
  return { type, code: 0, messageId, token: EMPTY, options: [], payload: EMPTY };
}
