/**
 * HKDF (RFC 5869) with HMAC-SHA-256/384/512 or HMAC-SHA-1, from node:crypto's HMAC. Extract and
 * Expand are offered separately because DTLS, OSCORE and EDHOC call them separately.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { assertBytes, assertInteger, assertOneOf } from '../util/assert.js';

export type HkdfHash = 'SHA-256' | 'SHA-384' | 'SHA-512' | 'SHA-1';
export const HKDF_HASHES: readonly HkdfHash[] = ['SHA-256', 'SHA-384', 'SHA-512', 'SHA-1'];

const NODE_NAME: Record<HkdfHash, string> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512', 'SHA-1': 'sha1' };
const HASH_LEN: Record<HkdfHash, number> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64, 'SHA-1': 20 };
const EMPTY = new Uint8Array(0);

/** Output length of the hash in bytes (HashLen in RFC 5869). */
export function hkdfHashLength(hash: HkdfHash): number {
  assertOneOf(hash, 'hash', HKDF_HASHES);
  return HASH_LEN[hash];
}

/**
 * HKDF-Extract(salt, IKM) → PRK (HashLen bytes), RFC 5869 §2.2. An absent salt is "a string of
 * HashLen zeros", which HMAC treats exactly like the empty key.
 */
export function hkdfExtract(hash: HkdfHash, salt: Uint8Array | undefined, ikm: Uint8Array): Uint8Array {
  assertOneOf(hash, 'hash', HKDF_HASHES);
  if (salt !== undefined) assertBytes(salt, 'salt');
  assertBytes(ikm, 'ikm');
  const key = salt === undefined || salt.length === 0 ? new Uint8Array(HASH_LEN[hash]) : salt;
  return new Uint8Array(createHmac(NODE_NAME[hash], key).update(ikm).digest());
}

/**
 * HKDF-Expand(PRK, info, L) → OKM, RFC 5869 §2.3:
 *   T(0) = empty; T(i) = HMAC-Hash(PRK, T(i−1) | info | i); OKM = first L octets of T(1) | T(2) | …
 */
export function hkdfExpand(hash: HkdfHash, prk: Uint8Array, info: Uint8Array | undefined, length: number): Uint8Array {
  assertOneOf(hash, 'hash', HKDF_HASHES);
  const hashLen = HASH_LEN[hash];
  // PRK: "a pseudorandom key of at least HashLen octets".
  assertBytes(prk, 'prk', { min: hashLen });
  if (info !== undefined) assertBytes(info, 'info');
  // L: "length of output keying material in octets (<= 255*HashLen)".
  assertInteger(length, 'length', 1, 255 * hashLen);
  const okm = new Uint8Array(length);
  let t: Uint8Array = EMPTY;
  for (let i = 1, off = 0; off < length; i++) {
    t = createHmac(NODE_NAME[hash], prk).update(t).update(info ?? EMPTY).update(Uint8Array.of(i)).digest();
    okm.set(t.subarray(0, Math.min(t.length, length - off)), off);
    off += t.length;
  }
  return okm;
}

/**
 * HKDF(IKM, salt, info, L) = HKDF-Expand(HKDF-Extract(salt, IKM), info, L). Argument order follows
 * node's hkdfSync(digest, ikm, salt, info, keylen), which does the work when info fits its
 * 1024-byte limit; longer info (allowed by the RFC) goes through extract + expand here.
 */
export function hkdf(hash: HkdfHash, ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array | undefined, length: number): Uint8Array {
  assertOneOf(hash, 'hash', HKDF_HASHES);
  assertBytes(ikm, 'ikm');
  if (salt !== undefined) assertBytes(salt, 'salt');
  if (info !== undefined) assertBytes(info, 'info');
  assertInteger(length, 'length', 1, 255 * HASH_LEN[hash]);
  if ((info?.length ?? 0) > 1024) return hkdfExpand(hash, hkdfExtract(hash, salt, ikm), info, length);
  return new Uint8Array(hkdfSync(NODE_NAME[hash], ikm, salt ?? EMPTY, info ?? EMPTY, length));
}
