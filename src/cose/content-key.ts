/**
 * Content keys for COSE_Encrypt0 that live in a KeyStore (software or PKCS#11): the AEAD runs
 * inside the store and the key never reaches this room.
 */
import type { KeyStore, KeyStoreAeadAlgorithm } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import { assertString, describeType } from '../util/assert.js';
import { AEAD_ALGORITHMS, type AeadAlgorithm } from './algorithms.js';

/** An AEAD key bound to one COSE content encryption algorithm. */
export interface ContentKey {
  /** COSE algorithm identifier. */
  readonly alg: number;
  /** Returns ciphertext || tag. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Throws (any error) when the input does not authenticate. */
  open(nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
}

export function isContentKey(value: unknown): value is ContentKey {
  return typeof value === 'object' && value !== null && typeof (value as ContentKey).seal === 'function' && typeof (value as ContentKey).open === 'function' && typeof (value as ContentKey).alg === 'number';
}

/** The KeyStore's name for a COSE AES algorithm: GCM, CCM (16-byte tag) or CCM-8 (8-byte tag). */
function keyStoreAlgorithm(alg: AeadAlgorithm): KeyStoreAeadAlgorithm | undefined {
  if (alg.engine === 'crypto-aead' || (alg.keyLength !== 16 && alg.keyLength !== 32)) return undefined;
  const bits = alg.keyLength * 8;
  if (alg.engine === 'aes-gcm') return `AES-${bits}-GCM` as KeyStoreAeadAlgorithm;
  return `AES-${bits}-${alg.tagLength === 8 ? 'CCM-8' : 'CCM'}` as KeyStoreAeadAlgorithm;
}

/**
 * A ContentKey over a KeyStore aes-128 or aes-256 key, for AES-GCM (1, 3) and every AES-CCM
 * variant of matching key size; the COSE nonce length (13 or 7 for CCM) is passed through.
 */
export async function keyStoreContentKey(store: KeyStore, label: string, alg: number): Promise<ContentKey> {
  if (typeof store !== 'object' || store === null || typeof store.seal !== 'function') throw new InvalidArgumentError('store', `expected a KeyStore, got ${describeType(store)}`);
  assertString(label, 'label');
  const info = typeof alg === 'number' ? AEAD_ALGORITHMS.get(alg) : undefined;
  const name = info === undefined ? undefined : keyStoreAlgorithm(info);
  if (info === undefined || name === undefined) throw new InvalidArgumentError('alg', `a KeyStore key cannot compute COSE algorithm ${String(alg)}`);
  const keyInfo = await store.getKeyInfo(label);
  const wanted = info.keyLength === 16 ? 'aes-128' : 'aes-256';
  if (keyInfo.type !== wanted) throw new InvalidArgumentError('label', `key ${JSON.stringify(label)} is ${keyInfo.type}, ${info.name} needs ${wanted}`);
  return {
    alg: info.id,
    seal: (nonce, plaintext, aad) => store.seal(label, name, nonce, plaintext, aad),
    open: (nonce, ciphertext, aad) => store.open(label, name, nonce, ciphertext, aad),
  };
}
