/**
 * A strict CBOR decoder for what COSE messages, headers and voucher payloads are made of, in
 * preferred serialization only: unsigned and negative integers within ±(2^53 − 1), byte and text
 * strings, arrays, maps, tags, false/true/null/undefined — all with definite lengths and shortest
 * heads. It reads what cbor2 (with `decodeCbor`'s options) would return for those bytes, about ten
 * times faster, and answers `undefined` for anything else or anything wrong — floats, other simple
 * values, big integers, indefinite lengths, non-shortest heads, truncation, trailing bytes,
 * invalid UTF-8, duplicate map keys, nesting beyond the limit: `decodeCbor` then hands the bytes
 * to cbor2, so every other input decodes, and every refusal fails, exactly as before (same error,
 * same reason). Differential property tests against cbor2: test/cose/cbor-decoder.test.ts.
 * Internal to the room.
 */
import { Tag } from 'cbor2';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Thrown inside to give up; never escapes this file. */
const GIVE_UP = Symbol('give up');

class Reader {
  at = 0;
  constructor(
    readonly b: Uint8Array,
    readonly maxDepth: number,
  ) {}

  /** The argument of a head with additional information `ai` (shortest form only, at most 2^53 − 1). */
  argument(ai: number): number {
    const b = this.b;
    if (ai < 24) return ai;
    let v: number;
    switch (ai) {
      case 24:
        if (this.at + 1 > b.length) throw GIVE_UP;
        v = b[this.at]!;
        this.at += 1;
        if (v < 24) throw GIVE_UP;
        return v;
      case 25:
        if (this.at + 2 > b.length) throw GIVE_UP;
        v = (b[this.at]! << 8) | b[this.at + 1]!;
        this.at += 2;
        if (v < 0x100) throw GIVE_UP;
        return v;
      case 26:
        if (this.at + 4 > b.length) throw GIVE_UP;
        v = b[this.at]! * 0x1000000 + ((b[this.at + 1]! << 16) | (b[this.at + 2]! << 8) | b[this.at + 3]!);
        this.at += 4;
        if (v < 0x10000) throw GIVE_UP;
        return v;
      case 27: {
        if (this.at + 8 > b.length) throw GIVE_UP;
        const hi = b[this.at]! * 0x1000000 + ((b[this.at + 1]! << 16) | (b[this.at + 2]! << 8) | b[this.at + 3]!);
        const lo = b[this.at + 4]! * 0x1000000 + ((b[this.at + 5]! << 16) | (b[this.at + 6]! << 8) | b[this.at + 7]!);
        this.at += 8;
        // Shortest form needs hi > 0; beyond 2^53 − 1 cbor2's bigint is left to it.
        if (hi === 0 || hi >= 0x200000) throw GIVE_UP;
        return hi * 0x100000000 + lo;
      }
      default:
        // 28..30 reserved, 31 indefinite length (or break): cbor2 decides.
        throw GIVE_UP;
    }
  }

  take(n: number): Uint8Array {
    if (this.at + n > this.b.length) throw GIVE_UP;
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** One item; `depth` counts the arrays, maps and tags it sits in. */
  item(depth: number): unknown {
    if (this.at >= this.b.length) throw GIVE_UP;
    const ib = this.b[this.at++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    switch (major) {
      case 0:
        return this.argument(ai);
      case 1: {
        const n = this.argument(ai);
        // −1 − (2^53 − 1) = −2^53 is no longer a safe integer: cbor2 decides.
        if (n > Number.MAX_SAFE_INTEGER - 1) throw GIVE_UP;
        return -1 - n;
      }
      case 2:
        return this.take(this.argument(ai));
      case 3: {
        const raw = this.take(this.argument(ai));
        try {
          return UTF8.decode(raw);
        } catch {
          throw GIVE_UP;
        }
      }
      case 4: {
        if (depth >= this.maxDepth) throw GIVE_UP;
        const n = this.argument(ai);
        // Every item is at least one byte: a count beyond what is left is truncation.
        if (n > this.b.length - this.at) throw GIVE_UP;
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.item(depth + 1);
        return out;
      }
      case 5: {
        if (depth >= this.maxDepth) throw GIVE_UP;
        const n = this.argument(ai);
        if (2 * n > this.b.length - this.at) throw GIVE_UP;
        const map = new Map<unknown, unknown>();
        // Equal keys have equal bytes in preferred serialization; also refused when two keys are
        // the same JS value. Either way cbor2's path gives the error.
        const seen = n > 1 ? new Set<string>() : undefined;
        for (let i = 0; i < n; i++) {
          const start = this.at;
          const key = this.item(depth + 1);
          if (seen !== undefined) {
            const id = Buffer.from(this.b.buffer, this.b.byteOffset + start, this.at - start).toString('latin1');
            if (seen.has(id)) throw GIVE_UP;
            seen.add(id);
          }
          if (map.has(key)) throw GIVE_UP;
          map.set(key, this.item(depth + 1));
        }
        return map;
      }
      case 6: {
        if (depth >= this.maxDepth) throw GIVE_UP;
        const tag = this.argument(ai);
        return new Tag(tag, this.item(depth + 1));
      }
      default:
        // Major 7: false, true, null, undefined; floats and other simple values go to cbor2.
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 23) return undefined;
        throw GIVE_UP;
    }
  }
}

/**
 * `bytes` (the caller's private copy: returned byte strings are views into it) as one data item
 * nested at most `maxDepth` arrays/maps/tags deep, or undefined to let cbor2 decide.
 */
export function decodeCoveredFast(bytes: Uint8Array, maxDepth: number): { value: unknown } | undefined {
  const r = new Reader(bytes, maxDepth);
  try {
    const value = r.item(0);
    if (r.at !== bytes.length) return undefined;
    return { value };
  } catch (err) {
    if (err === GIVE_UP) return undefined;
    throw err;
  }
}
