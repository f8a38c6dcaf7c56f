/**
 * Galois/Counter Mode (NIST SP 800-38D) over any 128-bit BlockCipher, written once: LEA-GCM uses
 * it directly, and a test runs it over AES to reproduce OpenSSL's aes-*-gcm bit for bit.
 */
import { assertBlockCipher, type BlockCipher } from './block-cipher.js';
import { constantTimeEqual } from './constant-time.js';
import { ctrXorInto } from './ctr.js';
import { AeadAuthenticationError, CryptoMessageTooLongError } from './errors.js';
import { ghashDigest, ghashTable, ghashUpdate } from './ghash.js';
import { assertBytes, assertInteger } from '../util/assert.js';

/** SP 800-38D §5.2.1.1: len(P) ≤ 2^39 − 256 bits, i.e. 2^36 − 32 bytes. */
const MAX_PLAINTEXT_BYTES = 2 ** 36 - 32;

export interface Gcm {
  /** Returns ciphertext || tag (tagLength bytes). */
  seal(iv: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array, tagLength?: number): Uint8Array;
  /** Verifies and decrypts `ciphertext` (ciphertext || tag); throws AeadAuthenticationError on any mismatch. */
  open(iv: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array, tagLength?: number): Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * GCM keyed by `cipher`. IVs of any length ≥ 1 byte are accepted (96 bits is the recommended and
 * fast case); tags of 12..16 bytes (SP 800-38D §5.2.1.2 also allows 8 and 4 bytes for special
 * applications only, which we do not offer).
 */
export function createGcm(cipher: BlockCipher): Gcm {
  assertBlockCipher(cipher, 'cipher');
  // H = CIPH_K(0^128)
  const table = ghashTable(cipher.encryptBlock(new Uint8Array(16)));

  function preCounter(iv: Uint8Array): Uint8Array {
    const j0 = new Uint8Array(16);
    if (iv.length === 12) {
      // If len(IV) = 96, then J0 = IV || 0^31 || 1.
      j0.set(iv);
      j0[15] = 1;
      return j0;
    }
    // Otherwise J0 = GHASH_H(IV || 0^(s+64) || [len(IV)]_64).
    const s = new Int32Array(4);
    ghashUpdate(table, s, iv, 0, iv.length);
    ghashUpdate(table, s, lengthBlock(0, iv.length), 0, 16);
    ghashDigest(s, j0);
    return j0;
  }

  /** T = MSB_t(GCTR_K(J0, S)), S = GHASH_H(A || 0^v || C || 0^u || [len(A)]_64 || [len(C)]_64). */
  function tag(j0: Uint8Array, aad: Uint8Array, ct: Uint8Array, ctLen: number, tagLength: number): Uint8Array {
    const s = new Int32Array(4);
    ghashUpdate(table, s, aad, 0, aad.length);
    ghashUpdate(table, s, ct, 0, ctLen);
    ghashUpdate(table, s, lengthBlock(aad.length, ctLen), 0, 16);
    const out = new Uint8Array(16);
    ghashDigest(s, out);
    const ek = new Uint8Array(16);
    cipher.encryptBlockInto(j0, 0, ek, 0);
    for (let i = 0; i < 16; i++) out[i] ^= ek[i]!;
    return out.subarray(0, tagLength);
  }

  function check(iv: unknown, data: unknown, dataName: string, aad: unknown, tagLength: unknown): void {
    assertBytes(iv, 'iv', { min: 1 });
    assertBytes(data, dataName);
    if (aad !== undefined) assertBytes(aad, 'aad');
    assertInteger(tagLength, 'tagLength', 12, 16);
  }

  return {
    seal(iv, plaintext, aad = EMPTY, tagLength = 16) {
      check(iv, plaintext, 'plaintext', aad, tagLength);
      if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new CryptoMessageTooLongError('plaintext', 'longer than GCM allows (2^36 − 32 bytes)');
      const j0 = preCounter(iv);
      const out = new Uint8Array(plaintext.length + tagLength);
      const counter = Uint8Array.from(j0);
      inc32(counter);
      // C = GCTR_K(inc32(J0), P)
      ctrXorInto(cipher, counter, plaintext, out, 32);
      out.set(tag(j0, aad, out, plaintext.length, tagLength), plaintext.length);
      return out;
    },
    open(iv, sealed, aad = EMPTY, tagLength = 16) {
      check(iv, sealed, 'ciphertext', aad, tagLength);
      // SP 800-38D §7.2: if len(C) or len(T) is not supported, return FAIL.
      if (sealed.length < tagLength) throw new AeadAuthenticationError();
      const ctLen = sealed.length - tagLength;
      const j0 = preCounter(iv);
      // The tag is checked before any plaintext exists, so a forgery never yields plaintext.
      const expected = tag(j0, aad, sealed, ctLen, tagLength);
      if (!constantTimeEqual(expected, sealed.subarray(ctLen))) throw new AeadAuthenticationError();
      const counter = Uint8Array.from(j0);
      inc32(counter);
      const pt = new Uint8Array(ctLen);
      ctrXorInto(cipher, counter, sealed.subarray(0, ctLen), pt, 32);
      return pt;
    },
  };
}

function inc32(block: Uint8Array): void {
  for (let i = 15; i >= 12; i--) {
    block[i] = (block[i]! + 1) & 0xff;
    if (block[i] !== 0) return;
  }
}

/** [len(A)]_64 || [len(C)]_64, lengths in bits. */
function lengthBlock(aadBytes: number, ctBytes: number): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  for (const [off, bytes] of [[0, aadBytes], [8, ctBytes]] as const) {
    const bits = bytes * 8;
    dv.setUint32(off, Math.floor(bits / 2 ** 32));
    dv.setUint32(off + 4, bits >>> 0);
  }
  return b;
}
