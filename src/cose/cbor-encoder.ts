/**
 * A deterministic CBOR encoder (RFC 8949 §4.2.1 core deterministic encoding) for the values COSE
 * and the constrained vouchers are made of — byte and text strings, safe integers, booleans,
 * null/undefined, arrays, Maps and tags — written directly instead of through cbor2's general
 * writer (which walks, copies and sorts through several layers for every small header and
 * payload). Shortest heads, definite lengths, map keys sorted by their encoded bytes.
 *
 * It answers `undefined` for anything outside that set (floats, -0, bigints, integers beyond
 * 2^53, plain objects, class instances, ill-formed UTF-16, sparse arrays, nesting beyond the
 * limit, keys that encode alike): `encodeCbor` then takes cbor2's path, so such values encode —
 * or fail — exactly as before. For the set it covers the bytes are cbor2's `cde` output byte for
 * byte (differential property test: test/cose/cbor-encoder.test.ts). Internal to the room.
 */
import { Tag } from 'cbor2';

const MAX_DEPTH = 256;
const UTF8 = new TextEncoder();
/** A surrogate not paired (in /u mode a pair is one code point, not Cs): TextEncoder would replace it. */
const LONE_SURROGATE = /\p{Cs}/u;

class Writer {
  buf = new Uint8Array(256);
  len = 0;

  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  head(major: number, value: number): void {
    const mt = major << 5;
    this.reserve(9);
    const b = this.buf;
    let at = this.len;
    if (value < 24) b[at++] = mt | value;
    else if (value < 0x100) {
      b[at++] = mt | 24;
      b[at++] = value;
    } else if (value < 0x10000) {
      b[at++] = mt | 25;
      b[at++] = value >>> 8;
      b[at++] = value & 0xff;
    } else if (value < 0x100000000) {
      b[at++] = mt | 26;
      b[at++] = value >>> 24;
      b[at++] = (value >>> 16) & 0xff;
      b[at++] = (value >>> 8) & 0xff;
      b[at++] = value & 0xff;
    } else {
      // Safe integers only (< 2^53): split into 32-bit halves.
      const hi = Math.floor(value / 0x100000000);
      const lo = value >>> 0;
      b[at++] = mt | 27;
      b[at++] = hi >>> 24;
      b[at++] = (hi >>> 16) & 0xff;
      b[at++] = (hi >>> 8) & 0xff;
      b[at++] = hi & 0xff;
      b[at++] = lo >>> 24;
      b[at++] = (lo >>> 16) & 0xff;
      b[at++] = (lo >>> 8) & 0xff;
      b[at++] = lo & 0xff;
    }
    this.len = at;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Bytewise lexicographic order of encoded keys (RFC 8949 §4.2.1); 0 only for equal bytes. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Writes `value`; false when it is outside the covered set (the caller then discards the writer). */
function write(w: Writer, value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  switch (typeof value) {
    case 'number':
      if (!Number.isSafeInteger(value) || Object.is(value, -0)) return false;
      if (value >= 0) w.head(0, value);
      else w.head(1, -1 - value);
      return true;
    case 'string': {
      if (LONE_SURROGATE.test(value)) return false;
      const b = UTF8.encode(value);
      w.head(3, b.length);
      w.bytes(b);
      return true;
    }
    case 'boolean':
      w.reserve(1);
      w.buf[w.len++] = value ? 0xf5 : 0xf4;
      return true;
    case 'undefined':
      w.reserve(1);
      w.buf[w.len++] = 0xf7;
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) {
    w.reserve(1);
    w.buf[w.len++] = 0xf6;
    return true;
  }
  if (value instanceof Uint8Array) {
    w.head(2, value.length);
    w.bytes(value);
    return true;
  }
  if (Array.isArray(value)) {
    w.head(4, value.length);
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return false;
      if (!write(w, value[i], depth + 1)) return false;
    }
    return true;
  }
  if (value instanceof Map) {
    const entries: { key: Uint8Array; value: unknown }[] = [];
    for (const [k, v] of value) {
      const kw = new Writer();
      if (!write(kw, k, depth + 1)) return false;
      entries.push({ key: kw.buf.subarray(0, kw.len), value: v });
    }
    entries.sort((a, b) => compareBytes(a.key, b.key));
    // Two keys that encode alike (cbor2 refuses them): its path gives the error.
    for (let i = 1; i < entries.length; i++) if (compareBytes(entries[i - 1]!.key, entries[i]!.key) === 0) return false;
    w.head(5, entries.length);
    for (const e of entries) {
      w.bytes(e.key);
      if (!write(w, e.value, depth + 1)) return false;
    }
    return true;
  }
  if (value instanceof Tag) {
    if (typeof value.tag !== 'number' || !Number.isSafeInteger(value.tag) || value.tag < 0) return false;
    w.head(6, value.tag);
    return write(w, value.contents, depth + 1);
  }
  return false;
}

/** The deterministic encoding of `value`, or undefined when it is not in the covered set. */
export function encodeDeterministicFast(value: unknown): Uint8Array | undefined {
  const w = new Writer();
  return write(w, value, 0) ? w.result() : undefined;
}
