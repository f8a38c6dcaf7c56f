/**
 * Internal DER helpers for the EST codecs: walking TLVs strictly (pki/der.ts's definite, minimal
 * lengths) and OBJECT IDENTIFIER content octets both ways (X.690 §8.19). Callers turn the reason
 * strings into their own typed error.
 */
import { readTlv, type Tlv } from '../../pki/der.js';

export type { Tlv };

/** Children of `tlv` inside `bytes`, which must exactly fill its content; or a reason string. */
export function childrenOf(bytes: Uint8Array, tlv: Tlv, maxChildren = 10_000): Tlv[] | string {
  const out: Tlv[] = [];
  let p = tlv.start;
  while (p < tlv.end) {
    const child = readTlv(bytes, p);
    if (typeof child === 'string') return child;
    if (child.end > tlv.end) return 'child runs past its parent';
    out.push(child);
    if (out.length > maxChildren) return `more than ${maxChildren} elements`;
    p = child.end;
  }
  return out;
}

/** The single TLV that makes up all of `bytes`; or a reason string. */
export function wholeTlv(bytes: Uint8Array): Tlv | string {
  const tlv = readTlv(bytes, 0);
  if (typeof tlv === 'string') return tlv;
  if (tlv.end !== bytes.length) return `${bytes.length - tlv.end} trailing bytes`;
  return tlv;
}

const OID_TEXT = /^[0-2](?:\.(?:0|[1-9][0-9]*))+$/;

/** Dotted text → DER content octets; undefined when `oid` is not a valid OID. */
export function encodeOidContent(oid: string): Uint8Array | undefined {
  if (typeof oid !== 'string' || oid.length > 512 || !OID_TEXT.test(oid)) return undefined;
  const arcs = oid.split('.').map((a) => BigInt(a));
  const [a0, a1] = [arcs[0]!, arcs[1]!];
  // X.690 §8.19.4: the first two arcs share one subidentifier, 40 * X + Y, with Y < 40 unless X = 2.
  if (a0 < 2n && a1 > 39n) return undefined;
  const subids = [a0 * 40n + a1, ...arcs.slice(2)];
  const out: number[] = [];
  for (const s of subids) {
    const group: number[] = [Number(s & 0x7fn)];
    for (let v = s >> 7n; v > 0n; v >>= 7n) group.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...group);
  }
  return Uint8Array.from(out);
}

/** DER content octets → dotted text; or a reason string. */
export function decodeOidContent(content: Uint8Array): { oid: string } | string {
  if (content.length === 0) return 'empty OBJECT IDENTIFIER';
  if (content.length > 128) return 'OBJECT IDENTIFIER too long';
  const subids: bigint[] = [];
  let v = 0n;
  let start = true;
  for (const b of content) {
    // X.690 §8.19.2: "the leading octet of the subidentifier shall not have the value 0x80".
    if (start && b === 0x80) return 'non-minimal OBJECT IDENTIFIER subidentifier';
    v = (v << 7n) | BigInt(b & 0x7f);
    start = (b & 0x80) === 0;
    if (start) {
      subids.push(v);
      v = 0n;
    }
  }
  if (!start) return 'truncated OBJECT IDENTIFIER';
  const first = subids[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return { oid: [...head, ...subids.slice(1)].map(String).join('.') };
}
