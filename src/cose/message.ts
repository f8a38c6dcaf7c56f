/**
 * What every single-recipient COSE message shares (RFC 9052 §2): optional tag, an array whose
 * first two fields are the protected bucket (bstr) and the unprotected bucket (map), then the
 * content and, for Sign1/Mac0, the signature or tag. Internal to the room.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, describeType } from '../util/assert.js';
import { CborTag, decodeCbor, encodeCbor, type DecodeCborOptions } from './cbor.js';
import {
  CoseAlgorithmNotAllowedError,
  CoseDetachedContentError,
  CoseKeyNotFoundError,
  CoseMalformedMessageError,
  CoseUnexpectedTagError,
  CoseUnsupportedAlgorithmError,
} from './errors.js';
import { HeaderLabels, assertHeaderBuckets, checkCritical, checkReceivedBuckets, headerValue, type HeaderLabel, type HeaderMap } from './headers.js';

/** RFC 9052 §2, Table 1: CBOR tags of the message types. */
export const CoseTag = {
  Sign1: 18,
  Mac0: 17,
  Encrypt0: 16,
  /** RFC 8392 §6: the CWT tag. */
  Cwt: 61,
} as const;

export type MessageKind = 'COSE_Sign1' | 'COSE_Mac0' | 'COSE_Encrypt0';

export interface ParsedMessage {
  /** The protected bucket exactly as received (what the signature, MAC or AEAD covers). */
  protectedBytes: Uint8Array;
  protectedHeader: HeaderMap;
  unprotectedHeader: HeaderMap;
  /** The fields after the two buckets, still unchecked. */
  rest: unknown[];
}

/** What a key resolver is told about the message it must find a key for. */
export interface KeyLookup {
  kid: Uint8Array | undefined;
  alg: number;
  protectedHeader: HeaderMap;
  unprotectedHeader: HeaderMap;
}

/** What every verify/decrypt reports about a message besides its content. */
export interface MessageHeaders {
  alg: number;
  kid: Uint8Array | undefined;
  protectedHeader: HeaderMap;
  unprotectedHeader: HeaderMap;
}

/** Options every verify/decrypt function takes about the envelope. */
export interface EnvelopeOptions {
  /** Labels the application processes itself, so "crit" may list them. */
  criticalHeaders?: readonly HeaderLabel[];
  /** Limits for the CBOR decoder (default depth 32). */
  cbor?: DecodeCborOptions;
}

export function assertOptionsObject(options: unknown, name = 'options'): asserts options is object {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(name, `expected an object, got ${describeType(options)}`);
}

/**
 * Checks the caller's header buckets and puts `alg` in the protected one unless the caller named
 * it already, in which case it must be `alg`. `algSource` says what alg was taken from, for the
 * error ("the ES256 signer", "options.alg 1").
 */
export function bindAlgorithmHeader(protectedHeader: HeaderMap, unprotectedHeader: HeaderMap, alg: number, algSource: string): void {
  assertHeaderBuckets(protectedHeader, unprotectedHeader, 'options.protectedHeader');
  const declared = headerValue(protectedHeader, unprotectedHeader, HeaderLabels.alg);
  // alg "MUST be authenticated where the ability to do so exists" (RFC 9052 §3.1): protected by default.
  if (declared === undefined) protectedHeader.set(HeaderLabels.alg, alg);
  else if (declared !== alg) throw new InvalidArgumentError('options.protectedHeader', `alg ${String(declared)} does not match ${algSource}`);
}

/** The encoded message: `body` as a CBOR array, under the message type's tag when `tagged`. */
export function encodeMessage(tag: number, body: unknown[], tagged: boolean): Uint8Array {
  return encodeCbor(tagged ? new CborTag(tag, body) : body);
}

/** Checks that verify/decrypt options name exactly one of `key` and `resolveKey`. */
export function assertKeySource(options: { key?: unknown; resolveKey?: unknown }): void {
  if ((options.key === undefined) === (options.resolveKey === undefined)) {
    throw new InvalidArgumentError('options', 'give exactly one of key and resolveKey');
  }
  if (options.resolveKey !== undefined && typeof options.resolveKey !== 'function') throw new InvalidArgumentError('options.resolveKey', 'expected a function');
}

/** Splits a decoded COSE value: tag check, array shape, both buckets. */
export function parseMessageValue(value: unknown, kind: MessageKind, tag: number, fields: number): ParsedMessage {
  let body = value;
  if (body instanceof CborTag) {
    // A tag, when present, must be the one of this message type (RFC 9052 §2).
    if (Number(body.tag) !== tag) throw new CoseUnexpectedTagError(body.tag as number | bigint, `${kind} (${tag})`);
    body = body.contents;
  }
  if (!Array.isArray(body) || body.length !== fields) {
    throw new CoseMalformedMessageError(`${kind} must be an array of ${fields} elements`);
  }
  const [protectedBytes, unprotectedHeader, ...rest] = body as unknown[];
  // RFC 9052 §3: "empty_or_serialized_map = bstr .cbor header_map / bstr .size 0".
  if (!(protectedBytes instanceof Uint8Array)) throw new CoseMalformedMessageError('protected header must be a bstr');
  if (!(unprotectedHeader instanceof Map)) throw new CoseMalformedMessageError('unprotected header must be a map');
  let protectedHeader: HeaderMap;
  if (protectedBytes.length === 0) {
    protectedHeader = new Map();
  } else {
    const decoded = decodeNested(protectedBytes, 'protected header');
    if (!(decoded instanceof Map)) throw new CoseMalformedMessageError('protected header must encode a map');
    protectedHeader = decoded as HeaderMap;
  }
  checkReceivedBuckets(protectedHeader, unprotectedHeader as HeaderMap);
  return { protectedBytes, protectedHeader, unprotectedHeader: unprotectedHeader as HeaderMap, rest };
}

function decodeNested(bytes: Uint8Array, what: string): unknown {
  try {
    return decodeCbor(bytes);
  } catch (err) {
    throw new CoseMalformedMessageError(`${what} is not one CBOR data item`, { cause: err });
  }
}

/** Decodes `bytes` and splits them as a message of `kind`. */
export function parseMessage(bytes: Uint8Array, kind: MessageKind, tag: number, fields: number, options: EnvelopeOptions): ParsedMessage {
  assertBytes(bytes, 'bytes');
  assertLabelList(options.criticalHeaders, 'options.criticalHeaders');
  if (options.cbor !== undefined) assertOptionsObject(options.cbor, 'options.cbor');
  const parsed = parseMessageValue(decodeCbor(bytes, options.cbor), kind, tag, fields);
  checkCritical(parsed.protectedHeader, options.criticalHeaders);
  return parsed;
}

/**
 * The protected bucket as it enters Sig_structure, MAC_structure and Enc_structure. RFC 9052
 * §4.4/§6.3/§5.3: "If there are no protected attributes, a zero-length byte string is used" —
 * so a received h'a0' (an empty map, which §3 says recipients MUST accept) counts as empty.
 */
export function protectedForStructure(parsed: ParsedMessage): Uint8Array {
  return parsed.protectedHeader.size === 0 ? new Uint8Array(0) : parsed.protectedBytes;
}

/** The message's algorithm: must be present, an integer, known for this kind, and allowed. */
export function messageAlgorithm<T>(parsed: ParsedMessage, known: ReadonlyMap<number, T>, kind: string, allowed: readonly number[] | undefined): T {
  const alg = headerValue(parsed.protectedHeader, parsed.unprotectedHeader, HeaderLabels.alg);
  if (alg === undefined) throw new CoseMalformedMessageError('the message has no alg header parameter');
  const info = typeof alg === 'number' ? known.get(alg) : undefined;
  if (info === undefined) {
    throw new CoseUnsupportedAlgorithmError(alg, kind);
  }
  if (allowed !== undefined && !allowed.includes(alg as number)) throw new CoseAlgorithmNotAllowedError(alg as number);
  return info;
}

/** The MessageHeaders of a verified or decrypted message. */
export function messageHeaders(parsed: ParsedMessage, alg: number, kid: Uint8Array | undefined): MessageHeaders {
  return { alg, kid, protectedHeader: parsed.protectedHeader, unprotectedHeader: parsed.unprotectedHeader };
}

export function messageKid(parsed: ParsedMessage): Uint8Array | undefined {
  return headerValue(parsed.protectedHeader, parsed.unprotectedHeader, HeaderLabels.kid) as Uint8Array | undefined;
}

/** Validates an `algorithms` allowlist option. */
export function assertAllowlist(value: unknown, name: string): asserts value is readonly number[] | undefined {
  if (value === undefined) return;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) {
    throw new InvalidArgumentError(name, 'expected an array of COSE algorithm identifiers');
  }
}

export function assertLabelList(value: unknown, name: string): asserts value is readonly HeaderLabel[] | undefined {
  if (value === undefined) return;
  if (!Array.isArray(value) || !value.every((v) => (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'string')) {
    throw new InvalidArgumentError(name, 'expected an array of header labels');
  }
}

export function assertOptionalBoolean(value: unknown, name: string): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidArgumentError(name, `expected a boolean, got ${describeType(value)}`);
}

export function assertOptionalBytes(value: unknown, name: string): asserts value is Uint8Array | undefined {
  if (value !== undefined) assertBytes(value, name);
}

/**
 * The content field (payload or ciphertext) of a received message: a bstr, or nil when the content
 * travels apart (RFC 9052 §2 detached content) and the caller gives it as `detached`.
 */
export function messageContent(
  field: unknown,
  detached: Uint8Array | undefined,
  where: { kind: MessageKind; content: 'payload' | 'ciphertext'; option: string },
): Uint8Array {
  if (field === null) {
    if (detached === undefined) throw new CoseDetachedContentError(where.content);
    return detached;
  }
  if (field instanceof Uint8Array) {
    if (detached !== undefined) throw new InvalidArgumentError(where.option, `the message carries its ${where.content}`);
    return field;
  }
  throw new CoseMalformedMessageError(`${where.kind} ${where.content} must be a bstr or nil`);
}

/** Asks the caller's resolver for the message's key; none found is ERR_COSE_KEY_NOT_FOUND. */
export async function resolveMessageKey<K>(
  resolveKey: (lookup: KeyLookup) => K | undefined | Promise<K | undefined>,
  parsed: ParsedMessage,
  kid: Uint8Array | undefined,
  alg: number,
): Promise<K> {
  const found = await resolveKey({ kid, alg, protectedHeader: parsed.protectedHeader, unprotectedHeader: parsed.unprotectedHeader });
  if (found === undefined) throw new CoseKeyNotFoundError(kid);
  return found;
}
