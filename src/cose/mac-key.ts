/**
 * MAC keys for COSE_Mac0: one small interface so a tag can come from raw key bytes in memory or
 * from a KeyStore hmac-256 key that never leaves the store (software or PKCS#11).
 */
import { createCipheriv, createHmac } from 'node:crypto';
import type { KeyStore } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertString, describeType } from '../util/assert.js';
import { CoseAlgorithm, MAC_ALGORITHMS, type MacAlgorithm } from './algorithms.js';
import { assertCoseKeyPermits, type SymmetricKey } from './cose-key.js';

/** A key bound to one COSE MAC algorithm; `mac` returns the COSE tag (already truncated). */
export interface MacKey {
  /** COSE algorithm identifier (4 = HMAC 256/64, 5 = HMAC 256/256, 6, 7). */
  readonly alg: number;
  mac(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * The secret of a Symmetric COSE_Key about to be used with `alg` for `operation` (checked when
 * `alg` is known; see assertCoseKeyPermits).
 */
export function symmetricKeyBytes(key: unknown, alg: number | undefined, name: string, operation: 'macCreate' | 'macVerify' | 'encrypt' | 'decrypt' = 'decrypt'): Uint8Array {
  const k = (typeof key === 'object' && key !== null ? key : {}) as Partial<SymmetricKey>;
  if (k.kty !== 'Symmetric' || !(k.k instanceof Uint8Array)) throw new InvalidArgumentError(name, `expected a Symmetric COSE_Key, got ${describeType(key)}`);
  if (alg !== undefined) assertCoseKeyPermits(k as SymmetricKey, alg, operation);
  return k.k;
}

export function macAlgorithm(alg: unknown, name: string): MacAlgorithm {
  const info = typeof alg === 'number' ? MAC_ALGORITHMS.get(alg) : undefined;
  if (info === undefined) throw new InvalidArgumentError(name, `not a supported COSE MAC algorithm: ${String(alg)}`);
  return info;
}

/**
 * RFC 9053 §3.2 AES-CBC-MAC: CBC encryption with an all-zero IV over the data padded with zeros
 * to a whole number of blocks; the tag is the leftmost bytes of the last block. Zero padding is
 * safe here only because MAC_structure is a length-prefixed CBOR array (no two inputs pad alike).
 */
function aesCbcMac(key: Buffer, data: Uint8Array, tagLength: number): Uint8Array {
  const padded = Buffer.alloc(Math.max(16, Math.ceil(data.length / 16) * 16));
  padded.set(data);
  const cipher = createCipheriv(key.length === 16 ? 'aes-128-cbc' : 'aes-256-cbc', key, Buffer.alloc(16));
  cipher.setAutoPadding(false);
  const out = Buffer.concat([cipher.update(padded), cipher.final()]);
  return new Uint8Array(out.buffer, out.byteOffset + out.length - 16, tagLength);
}

/**
 * A MacKey over raw secret bytes (copied). HMAC keys must be at least as long as the hash
 * output (RFC 2104 §3: shorter keys are "strongly discouraged"); AES-MAC keys are 16 or 32 bytes.
 */
export function rawMacKey(key: Uint8Array, alg: number = CoseAlgorithm.HMAC_256_256): MacKey {
  const info = macAlgorithm(alg, 'alg');
  assertBytes(key, 'key', { min: info.minKeyLength, max: info.maxKeyLength });
  const secret = Buffer.from(key);
  if (info.engine === 'aes-cbc-mac') return { alg: info.id, mac: async (data) => aesCbcMac(secret, data, info.tagLength) };
  const hash = info.hash!;
  return {
    alg: info.id,
    mac: async (data) => {
      const full = createHmac(hash, secret).update(data).digest();
      return new Uint8Array(full.buffer, full.byteOffset, info.tagLength);
    },
  };
}

/**
 * A MacKey over a KeyStore hmac-256 key: HMAC 256/64 (4) or HMAC 256/256 (5). The store
 * computes the full HMAC-SHA-256; the COSE tag keeps its leftmost bytes (RFC 9053 §3.1).
 */
export async function keyStoreMacKey(store: KeyStore, label: string, alg: number = CoseAlgorithm.HMAC_256_256): Promise<MacKey> {
  if (typeof store !== 'object' || store === null || typeof store.hmac !== 'function') throw new InvalidArgumentError('store', 'expected a KeyStore');
  assertString(label, 'label');
  const info = macAlgorithm(alg, 'alg');
  if (info.hash !== 'sha256') throw new InvalidArgumentError('alg', `a KeyStore hmac-256 key cannot compute ${info.name}`);
  const keyInfo = await store.getKeyInfo(label);
  if (keyInfo.type !== 'hmac-256') throw new InvalidArgumentError('label', `key ${JSON.stringify(label)} is ${keyInfo.type}, not hmac-256`);
  return {
    alg: info.id,
    mac: async (data) => (await store.hmac(label, data)).subarray(0, info.tagLength),
  };
}
