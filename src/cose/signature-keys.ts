/**
 * Public keys for signature verification: SPKI DER or a node KeyObject in, a KeyObject checked
 * against the algorithm out. Internal to the room.
 */
import { KeyObject, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { describeType } from '../util/assert.js';
import { CoseAlgorithm, type SignatureAlgorithm } from './algorithms.js';
import { assertCoseKeyPermits, type CoseKey } from './cose-key.js';
import { CoseKeyMismatchError } from './errors.js';
import { coseKeyToKeyObject } from './key-convert.js';

/**
 * A verification key: SubjectPublicKeyInfo DER, a node:crypto KeyObject (public, or private to
 * derive from), or an EC2/OKP COSE_Key.
 */
export type PublicKeyInput = KeyObject | Uint8Array | CoseKey;

export function isKeyObject(value: unknown): value is KeyObject {
  return value instanceof KeyObject;
}

/** Converts caller input to a public KeyObject; bad input is the caller's error (`name`). */
export function toPublicKeyObject(key: unknown, name: string): KeyObject {
  if (key instanceof Uint8Array) {
    try {
      return createPublicKey({ key: Buffer.from(key.buffer, key.byteOffset, key.byteLength), format: 'der', type: 'spki' });
    } catch (err) {
      throw new InvalidArgumentError(name, 'not a SubjectPublicKeyInfo DER public key', { cause: err });
    }
  }
  if (typeof key === 'object' && key !== null && 'kty' in key) {
    const coseKey = key as CoseKey;
    if (coseKey.kty === 'Symmetric') throw new InvalidArgumentError(name, 'a Symmetric COSE_Key cannot verify signatures');
    return toPublicKeyObject(coseKeyToKeyObject(coseKey), name);
  }
  if (isKeyObject(key)) {
    if (key.type === 'public') return key;
    if (key.type === 'private') return createPublicKey(key);
    throw new InvalidArgumentError(name, 'a secret key cannot verify signatures');
  }
  throw new InvalidArgumentError(name, `expected SPKI DER bytes or a KeyObject, got ${describeType(key)}`);
}

/** A COSE_Key used for verification must allow this algorithm and the verify operation. */
export function assertCoseKeyAlgorithm(key: unknown, alg: number): void {
  if (typeof key === 'object' && key !== null && 'kty' in key) assertCoseKeyPermits(key as CoseKey, alg, 'verify');
}

/** RFC 9053 §2.1/§2.2: ES256 needs a P-256 key, EdDSA (here) an Ed25519 key. */
export function assertKeyFitsSignatureAlgorithm(key: KeyObject, alg: SignatureAlgorithm): void {
  if (alg.id === CoseAlgorithm.ES256) {
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new CoseKeyMismatchError(`ES256 needs a P-256 key, got ${key.asymmetricKeyType ?? key.type}`);
    }
    return;
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new CoseKeyMismatchError(`EdDSA needs an Ed25519 key, got ${key.asymmetricKeyType ?? key.type}`);
}

/** Raw signature length of each algorithm: r||s for ES256 (RFC 9053 §2.1), R||S for Ed25519. */
export const SIGNATURE_LENGTH = 64;

/** True when `signature` is valid over `data`; wrong lengths are simply invalid. */
export function verifySignature(alg: SignatureAlgorithm, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_LENGTH) return false;
  if (alg.id === CoseAlgorithm.ES256) {
    return nodeVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  }
  return nodeVerify(null, data, key, signature);
}
