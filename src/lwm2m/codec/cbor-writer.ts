/**
 * A small CBOR writer (RFC 8949) for the two LwM2M CBOR formats. Why not encodeCbor() from
 * cose/cbor.ts: it sorts map keys by their encoding (deterministic encoding, RFC 8949 §4.2.1), but
 * the OMA examples of SenML CBOR put "bn" (-2) before "n" (0) — record order as written — and it
 * cannot tell a Float resource holding 1.0 from an Integer holding 1 (both are the JS number 1).
 * Here every item says what it is, maps keep their order, and all lengths are definite and
 * shortest (RFC 8949 §4.2.1 "preferred serialization" for integers and lengths). Decoding still
 * goes through decodeCbor().
 */
import { Lwm2mBadValueError } from '../model/errors.js';

export type CborItem =
  | { readonly int: number | bigint }
  | { readonly float: number }
  | { readonly text: string }
  | { readonly bytes: Uint8Array }
  | { readonly bool: boolean }
  | { readonly null: true }
  | { readonly array: readonly CborItem[] }
  | { readonly map: ReadonlyArray<readonly [CborItem, CborItem]> };

class Out {
  buf = new Uint8Array(256);
  len = 0;
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

function head(out: Out, major: number, arg: bigint): void {
  const m = major << 5;
  if (arg < 24n) out.byte(m | Number(arg));
  else if (arg < 0x100n) {
    out.byte(m | 24);
    out.byte(Number(arg));
  } else if (arg < 0x10000n) {
    out.byte(m | 25);
    out.byte(Number(arg >> 8n));
    out.byte(Number(arg & 0xffn));
  } else if (arg < 0x100000000n) {
    out.byte(m | 26);
    for (let s = 24n; s >= 0n; s -= 8n) out.byte(Number((arg >> s) & 0xffn));
  } else {
    out.byte(m | 27);
    for (let s = 56n; s >= 0n; s -= 8n) out.byte(Number((arg >> s) & 0xffn));
  }
}

const encoder = new TextEncoder();

function write(out: Out, item: CborItem, depth: number): void {
  if (depth > 64) throw new Lwm2mBadValueError('CBOR item nested too deep');
  if ('int' in item) {
    const v = typeof item.int === 'bigint' ? item.int : BigInt(item.int);
    if (v >= 0n) {
      if (v > 0xffffffffffffffffn) throw new Lwm2mBadValueError('integer too large for CBOR');
      head(out, 0, v);
    } else {
      if (-1n - v > 0xffffffffffffffffn) throw new Lwm2mBadValueError('integer too small for CBOR');
      head(out, 1, -1n - v);
    }
  } else if ('float' in item) {
    // Binary32 when it holds the value exactly (NaN included), else binary64.
    const f = item.float;
    if (Number.isNaN(f) || Math.fround(f) === f) {
      out.byte(0xfa);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setFloat32(0, f);
      out.bytes(b);
    } else {
      out.byte(0xfb);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, f);
      out.bytes(b);
    }
  } else if ('text' in item) {
    const b = encoder.encode(item.text);
    head(out, 3, BigInt(b.length));
    out.bytes(b);
  } else if ('bytes' in item) {
    head(out, 2, BigInt(item.bytes.length));
    out.bytes(item.bytes);
  } else if ('bool' in item) {
    out.byte(item.bool ? 0xf5 : 0xf4);
  } else if ('null' in item) {
    out.byte(0xf6);
  } else if ('array' in item) {
    head(out, 4, BigInt(item.array.length));
    for (const x of item.array) write(out, x, depth + 1);
  } else {
    head(out, 5, BigInt(item.map.length));
    for (const [k, v] of item.map) {
      write(out, k, depth + 1);
      write(out, v, depth + 1);
    }
  }
}

/** Serialises one CBOR item. */
export function writeCbor(item: CborItem): Uint8Array {
  const out = new Out();
  write(out, item, 0);
  return out.buf.slice(0, out.len);
}
