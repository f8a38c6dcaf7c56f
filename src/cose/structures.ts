/**
 * The to-be-signed / to-be-MACed structures of RFC 9052 (§4.4 Sig_structure, §6.3 MAC_structure,
 * §5.3 Enc_structure), written directly: a fixed array of one text string and byte strings, whose
 * deterministic encoding (RFC 8949 §4.2.1: shortest length heads, definite lengths) is the
 * concatenation below. Every signature made and checked hashes these bytes, so building them
 * through the general encoder (value walk, copy, sort of nothing) cost a visible share of a COSE
 * verification; the output is byte for byte what `encodeCbor([...])` gives (differential test in
 * test/cose/structures.test.ts). Internal to the room and to its callers that check COSE by hand.
 */
import { assertBytes } from '../util/assert.js';

/** Length of the shortest CBOR head for `length` (major types 2 and 3). */
function headSize(length: number): number {
  return length < 24 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : length < 0x100000000 ? 5 : 9;
}

function writeHead(out: Uint8Array, at: number, major: number, length: number): number {
  const mt = major << 5;
  if (length < 24) {
    out[at] = mt | length;
    return at + 1;
  }
  if (length < 0x100) {
    out[at] = mt | 24;
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 0x10000) {
    out[at] = mt | 25;
    out[at + 1] = length >>> 8;
    out[at + 2] = length & 0xff;
    return at + 3;
  }
  if (length < 0x100000000) {
    out[at] = mt | 26;
    new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(at + 1, length);
    return at + 5;
  }
  // Beyond 4 GiB: not reachable with JS buffers in practice, but the encoding is defined.
  out[at] = mt | 27;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(at + 1, BigInt(length));
  return at + 9;
}

const ASCII = new TextEncoder();

/**
 * `[context, ...fields]` as deterministic CBOR: an array head, the context as a text string (ASCII
 * only: the RFC's contexts), then each field as a byte string.
 */
export function encodeStructure(context: 'Signature1' | 'MAC0' | 'Encrypt0', fields: readonly Uint8Array[]): Uint8Array {
  for (const [i, f] of fields.entries()) assertBytes(f, `fields[${i}]`);
  const ctx = ASCII.encode(context);
  let size = 1 + headSize(ctx.length) + ctx.length;
  for (const f of fields) size += headSize(f.length) + f.length;
  const out = new Uint8Array(size);
  let at = writeHead(out, 0, 4, fields.length + 1);
  at = writeHead(out, at, 3, ctx.length);
  out.set(ctx, at);
  at += ctx.length;
  for (const f of fields) {
    at = writeHead(out, at, 2, f.length);
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/** RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload]. */
export function sigStructure1(bodyProtected: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeStructure('Signature1', [bodyProtected, externalAad, payload]);
}
