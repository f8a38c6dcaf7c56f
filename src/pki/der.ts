/**
 * Internal DER helpers: byte conversions and a strict TLV reader. @peculiar/asn1-schema parses
 * BER leniently and ignores trailing bytes; these checks let the parsers insist on exactly one
 * definite-length DER object, so two different byte strings never parse to "the same" certificate.
 */

/** Copies a view into its own ArrayBuffer (what @peculiar/asn1-schema wants). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new ArrayBuffer(bytes.length);
  new Uint8Array(out).set(bytes);
  return out;
}

export function fromArrayBuffer(buf: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf.slice(0));
  return new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  offset: number;
  /** Offset of the first content byte. */
  start: number;
  /** Offset one past the last content byte. */
  end: number;
}

/**
 * Reads one DER TLV at `offset`, or returns a reason string. Only single-byte tags, definite
 * minimal lengths (X.690 §10.1: DER uses the definite form, in the fewest octets).
 */
export function readTlv(bytes: Uint8Array, offset: number): Tlv | string {
  if (offset + 2 > bytes.length) return 'truncated header';
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) return 'multi-byte tags are not used here';
  let p = offset + 1;
  const first = bytes[p++]!;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else {
    const n = first & 0x7f;
    if (n === 0) return 'indefinite length is not DER';
    if (n > 4) return 'length too large';
    if (p + n > bytes.length) return 'truncated length';
    if (bytes[p] === 0) return 'non-minimal length';
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + bytes[p++]!;
    if (len < 0x80) return 'non-minimal length';
  }
  if (p + len > bytes.length) return 'content runs past the end';
  return { tag, offset, start: p, end: p + len };
}

/**
 * Checks that `bytes` is exactly one SEQUENCE whose own children are well-formed TLVs, returning
 * the children or a reason string.
 */
export function readOuterSequence(bytes: Uint8Array): Tlv[] | string {
  const outer = readTlv(bytes, 0);
  if (typeof outer === 'string') return outer;
  if (outer.tag !== 0x30) return 'not a SEQUENCE';
  if (outer.end !== bytes.length) return `${bytes.length - outer.end} trailing bytes`;
  const children: Tlv[] = [];
  let p = outer.start;
  while (p < outer.end) {
    const child = readTlv(bytes, p);
    if (typeof child === 'string') return child;
    if (child.end > outer.end) return 'child runs past its parent';
    children.push(child);
    p = child.end;
  }
  return children;
}

/** Encodes a DER INTEGER's content octets for a non-negative big-endian magnitude. */
export function positiveIntegerContent(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const trimmed = magnitude.subarray(i);
  if ((trimmed[0]! & 0x80) === 0) return trimmed.slice();
  const out = new Uint8Array(trimmed.length + 1);
  out.set(trimmed, 1);
  return out;
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** A DER TLV from a tag and content. */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  const header = [tag, ...derLength(content.length)];
  const out = new Uint8Array(header.length + content.length);
  out.set(header, 0);
  out.set(content, header.length);
  return out;
}

/** OBJECT IDENTIFIER from dotted text (X.690 §8.19; the caller has checked the syntax). */
export function derOid(oid: string): Uint8Array {
  const known = OIDS.get(oid);
  if (known !== undefined) return known.slice();
  const arcs = oid.split('.').map((a) => BigInt(a));
  const out: number[] = [];
  const push = (v: bigint): void => {
    const bytes = [Number(v & 0x7fn)];
    for (let x = v >> 7n; x > 0n; x >>= 7n) bytes.unshift(Number((x & 0x7fn) | 0x80n));
    out.push(...bytes);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (let i = 2; i < arcs.length; i++) push(arcs[i]!);
  const der = derTlv(0x06, Uint8Array.from(out));
  if (OIDS.size < 256) OIDS.set(oid, der);
  return der.slice();
}

/** The OIDs encoded so far (a CA writes the same few extension OIDs every time); never handed out. */
const OIDS = new Map<string, Uint8Array>();

/** SEQUENCE of already-encoded elements. */
export function derSequence(...elements: Uint8Array[]): Uint8Array {
  return derTlv(0x30, Buffer.concat(elements));
}

/** BIT STRING with no unused bits (signatures). */
export function derBitString(bytes: Uint8Array): Uint8Array {
  const content = new Uint8Array(bytes.length + 1);
  content.set(bytes, 1);
  return derTlv(0x03, content);
}

/** True when every character is 7-bit ASCII (IA5String's repertoire). */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}
