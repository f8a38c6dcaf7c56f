/**
 * The one door to cbor2 in rootline: deterministic encoding and strict, bounded decoding, with
 * every decoder failure turned into ERR_COSE_MALFORMED_CBOR. See README.md for why cbor2.
 *
 * Data model on both sides:
 *   - byte strings ⇄ plain Uint8Array (a Buffer is encoded as bytes, never via its toJSON);
 *   - maps ⇄ Map (always: COSE labels are integers, a plain object cannot hold them);
 *   - tags ⇄ CborTag; no tag is interpreted (a tag 1 stays a tag, not a Date);
 *   - integers beyond 2^53 ⇄ bigint.
 */
import { Tag, decode, encode, type DecodeOptions, type ObjectCreator } from 'cbor2';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger, describeType } from '../util/assert.js';
import { decodeCoveredFast } from './cbor-decoder.js';
import { encodeDeterministicFast } from './cbor-encoder.js';
import { CoseMalformedCborError } from './errors.js';

/** A CBOR tag: number plus content (cbor2's class, re-exported so callers need not import cbor2). */
export { Tag as CborTag };

export interface DecodeCborOptions {
  /**
   * Deepest nesting of arrays, maps and tags accepted. COSE messages are 3-4 levels deep; the
   * default leaves room for claim sets with nested maps while bounding hostile input.
   */
  maxDepth?: number;
  /** Accept indefinite-length strings, arrays and maps (RFC 8949 §3.2.2). Default true. */
  allowIndefiniteLength?: boolean;
  /**
   * Reject integers and lengths not in their shortest form (RFC 8949 §4.2.1 preferred
   * serialization). Default false: COSE only RECOMMENDS deterministic encoding (RFC 9052 §9).
   */
  requirePreferred?: boolean;
}

export const DEFAULT_CBOR_MAX_DEPTH = 32;

/**
 * Builds every map as a Map and rejects duplicate keys after decoding, not only identical
 * encodings: 1 written as 0x01 and as 0x1801 are the same key. RFC 9052 §3: "if a label appears
 * multiple times, the message MUST be rejected as malformed". Floating-point keys are refused
 * because a float 1.0 decodes to the same JS number as the integer label 1 (alg).
 */
const createStrictMap: ObjectCreator = (entries) => {
  const map = new Map<unknown, unknown>();
  for (const [key, value, encodedKey] of entries) {
    if (typeof key === 'number' && encodedKey.length > 0 && encodedKey[0]! >> 5 === 7) {
      throw new Error(`floating-point map key ${key}`);
    }
    if (map.has(key)) throw new Error(`duplicate map key ${String(key)}`);
    map.set(key, value);
  }
  return map;
};

/**
 * Decodes exactly one CBOR data item filling all of `bytes`. Any failure (truncation, trailing
 * bytes, invalid UTF-8, depth limit, duplicate keys, reserved encodings) throws
 * CoseMalformedCborError with the decoder's reason as `cause`.
 */
export function decodeCbor(bytes: Uint8Array, options: DecodeCborOptions = {}): unknown {
  assertBytes(bytes, 'bytes');
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', `expected an object, got ${describeType(options)}`);
  const maxDepth = options.maxDepth ?? DEFAULT_CBOR_MAX_DEPTH;
  assertInteger(maxDepth, 'options.maxDepth', 1, 1024);
  for (const flag of ['allowIndefiniteLength', 'requirePreferred'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean') throw new InvalidArgumentError(`options.${flag}`, 'expected a boolean');
  }
  if (bytes.length === 0) throw new CoseMalformedCborError('empty input is not a CBOR data item');
  // cbor2 returns byte strings as views into its input. Decoding a private copy keeps every
  // returned bstr (payloads, keys, signatures) independent of the caller's buffer, which may be
  // reused or altered after a message was verified.
  const copy = new Uint8Array(bytes);
  // Preferred-serialization COSE-shaped input is read directly (cbor-decoder.ts); anything else,
  // and every malformation, goes to cbor2 below, so results and errors are as they were.
  const fast = decodeCoveredFast(copy, maxDepth);
  if (fast !== undefined) return fast.value;
  return decodeWithCbor2(copy, maxDepth, options);
}

/** Internal (tests): the cbor2 path alone, on a private copy, with the same checks. */
export function decodeWithCbor2(copy: Uint8Array, maxDepth: number, options: DecodeCborOptions): unknown {
  const decodeOptions: DecodeOptions = {
    // cbor2's own count weighs containers unevenly (an array costs two levels, a map or tag one),
    // so it only bounds the work here; the exact limit is checked on the result below.
    maxDepth: 2 * maxDepth + 2,
    preferMap: true,
    ignoreGlobalTags: true,
    rejectDuplicateKeys: true,
    createObject: createStrictMap,
    rejectStreaming: options.allowIndefiniteLength === false,
    requirePreferred: options.requirePreferred === true,
  };
  let value: unknown;
  try {
    value = decode(copy, decodeOptions);
  } catch (err) {
    // cbor2 throws Error, TypeError and RangeError for different malformations; callers see one code.
    const reason = err instanceof Error ? err.message : String(err);
    throw new CoseMalformedCborError(`malformed CBOR: ${reason}`, { cause: err });
  }
  if (exceedsDepth(value, maxDepth)) throw new CoseMalformedCborError(`CBOR nests arrays, maps and tags deeper than ${maxDepth}`);
  return value;
}

/** True when arrays, maps and tags nest more than `budget` levels (already bounded by cbor2). */
function exceedsDepth(value: unknown, budget: number): boolean {
  let children: Iterable<unknown>;
  if (Array.isArray(value)) children = value;
  else if (value instanceof Map) children = [...value.keys(), ...value.values()];
  else if (value instanceof Tag) children = [value.contents];
  else return false;
  if (budget === 0) return true;
  for (const child of children) if (exceedsDepth(child, budget - 1)) return true;
  return false;
}

const MAX_ENCODE_DEPTH = 256;

function toEncodable(value: unknown, depth: number): unknown {
  if (depth > MAX_ENCODE_DEPTH) throw new InvalidArgumentError('value', `nested deeper than ${MAX_ENCODE_DEPTH}`);
  if (value === null || value === undefined) return value;
  switch (typeof value) {
    case 'boolean':
    case 'string':
    case 'bigint':
      return value;
    case 'number':
      return value;
    case 'object':
      break;
    default:
      throw new InvalidArgumentError('value', `cannot encode ${describeType(value)} as CBOR`);
  }
  if (value instanceof Uint8Array) {
    // A Buffer would otherwise be written through its toJSON() as {type, data}.
    return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) return value.map((item) => toEncodable(item, depth + 1));
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value) out.set(toEncodable(k, depth + 1), toEncodable(v, depth + 1));
    return out;
  }
  if (value instanceof Tag) {
    if (typeof value.tag !== 'number' && typeof value.tag !== 'bigint') throw new InvalidArgumentError('value', 'tag number must be a number or bigint');
    return new Tag(value.tag, toEncodable(value.contents, depth + 1));
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toEncodable(v, depth + 1);
    return out;
  }
  throw new InvalidArgumentError('value', `cannot encode ${describeType(value)} as CBOR`);
}

/**
 * Encodes `value` deterministically (RFC 8949 §4.2.1 core deterministic encoding: shortest
 * forms, definite lengths, map keys sorted by their encoded bytes). Deterministic output is
 * what makes Mac0/Encrypt0 outputs reproducible and protected headers stable.
 */
export function encodeCbor(value: unknown): Uint8Array {
  // The common values (COSE headers, structures, voucher payloads) are written directly; the rest
  // — and every refusal — goes through cbor2 as before (cbor-encoder.ts).
  const fast = encodeDeterministicFast(value);
  if (fast !== undefined) return fast;
  const encodable = toEncodable(value, 0);
  try {
    return encode(encodable, { cde: true, rejectDuplicateKeys: true });
  } catch (err) {
    throw new InvalidArgumentError('value', `cannot encode as CBOR: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
