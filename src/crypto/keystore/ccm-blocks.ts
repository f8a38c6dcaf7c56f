/**
 * AES-CCM (RFC 3610, NIST SP 800-38C) built from two token operations on a key that never
 * leaves the token: AES-ECB (for the CTR keystream) and AES-CBC with a zero IV (whose last block
 * is the CBC-MAC). Used by the PKCS#11 backend because tokens rarely offer CKM_AES_CCM (SoftHSM
 * 2.6 does not) and the ones that do disagree on the parameter struct (2.40 vs 3.0).
 * Checked against the RFC 3610 packet vectors. Internal: not exported.
 */
import { timingSafeEqual } from 'node:crypto';

export interface AesBlockOps {
  /** AES-ECB encryption of whole 16-byte blocks. */
  ecb(blocks: Buffer): Buffer;
  /** AES-CBC encryption with an all-zero IV of whole blocks; returns the last ciphertext block. */
  cbcMac(blocks: Buffer): Buffer;
}

function writeBE(buf: Buffer, offset: number, length: number, value: number): void {
  let v = value;
  for (let i = offset + length - 1; i >= offset; i--) {
    buf[i] = v % 256;
    v = Math.floor(v / 256);
  }
}

function padTo16(parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const total = Math.ceil(len / 16) * 16;
  return Buffer.concat([...parts, Buffer.alloc(total - len)]);
}

/** The CBC-MAC input B_0 || encoded AAD (padded) || message (padded), RFC 3610 §2.2. */
function macInput(nonce: Uint8Array, message: Uint8Array, aad: Uint8Array, tagLength: number): Buffer {
  const L = 15 - nonce.length;
  const b0 = Buffer.alloc(16);
  // RFC 3610 §2.2: Flags = 64*Adata + 8*M' + L', with M' = (M-2)/2 and L' = L-1.
  b0[0] = (aad.length > 0 ? 0x40 : 0) | (((tagLength - 2) / 2) << 3) | (L - 1);
  b0.set(nonce, 1);
  writeBE(b0, 1 + nonce.length, L, message.length);
  let aadBlocks: Uint8Array = new Uint8Array(0);
  if (aad.length > 0) {
    // RFC 3610 §2.2: l(a) as 2 octets if 0 < l(a) < 2^16-2^8, else 0xff 0xfe + 4 octets,
    // else 0xff 0xff + 8 octets.
    let prefix: Buffer;
    if (aad.length < 0xff00) {
      prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(aad.length);
    } else if (aad.length < 2 ** 32) {
      prefix = Buffer.from([0xff, 0xfe, 0, 0, 0, 0]);
      prefix.writeUInt32BE(aad.length, 2);
    } else {
      prefix = Buffer.alloc(10);
      prefix[0] = 0xff;
      prefix[1] = 0xff;
      writeBE(prefix, 2, 8, aad.length);
    }
    aadBlocks = padTo16([prefix, Buffer.from(aad)]);
  }
  return Buffer.concat([b0, aadBlocks, padTo16([Buffer.from(message)])]);
}

/** S_0 || S_1 || ... || S_n: the keystream blocks E(A_i), RFC 3610 §2.3. */
function keystream(ops: AesBlockOps, nonce: Uint8Array, messageLength: number): Buffer {
  const L = 15 - nonce.length;
  const n = Math.ceil(messageLength / 16);
  const counters = Buffer.alloc(16 * (n + 1));
  for (let i = 0; i <= n; i++) {
    const a = counters.subarray(16 * i, 16 * i + 16);
    a[0] = L - 1;
    a.set(nonce, 1);
    writeBE(a, 1 + nonce.length, L, i);
  }
  return ops.ecb(counters);
}

function xorInto(out: Buffer, a: Uint8Array, b: Uint8Array, length: number): void {
  for (let i = 0; i < length; i++) out[i] = a[i]! ^ b[i]!;
}

/** Returns ciphertext || U (the encrypted tag of `tagLength` bytes). */
export function ccmSeal(ops: AesBlockOps, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, tagLength: number): Uint8Array {
  const t = ops.cbcMac(macInput(nonce, plaintext, aad, tagLength));
  const s = keystream(ops, nonce, plaintext.length);
  const out = Buffer.alloc(plaintext.length + tagLength);
  xorInto(out, plaintext, s.subarray(16), plaintext.length);
  xorInto(out.subarray(plaintext.length), t, s, tagLength);
  return new Uint8Array(out);
}

/** Returns the plaintext, or undefined when the tag does not verify (nothing is released). */
export function ccmOpen(ops: AesBlockOps, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, tagLength: number): Uint8Array | undefined {
  if (sealed.length < tagLength) return undefined;
  const n = sealed.length - tagLength;
  const s = keystream(ops, nonce, n);
  const plaintext = Buffer.alloc(n);
  xorInto(plaintext, sealed, s.subarray(16), n);
  const t = ops.cbcMac(macInput(nonce, plaintext, aad, tagLength));
  const expected = Buffer.alloc(tagLength);
  xorInto(expected, t, s, tagLength);
  // Compare in constant time; on failure wipe the would-be plaintext before returning.
  if (!timingSafeEqual(expected, sealed.subarray(n))) {
    plaintext.fill(0);
    return undefined;
  }
  return new Uint8Array(plaintext);
}
