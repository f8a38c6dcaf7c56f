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
// The one P-256 importer (from the coordinates, with the shared key cache that dtls and pki use too).
import { importP256Spki } from '../crypto/certificate-fields.js';
import { BytesKeyedCache } from '../util/bytes-cache.js';

/**
 * A verification key: SubjectPublicKeyInfo DER, a node:crypto KeyObject (public, or private to
 * derive from), or an EC2/OKP COSE_Key.
 */
export type PublicKeyInput = KeyObject | Uint8Array | CoseKey;

export function isKeyObject(value: unknown): value is KeyObject {
  return value instanceof KeyObject;
}

/**
 * Imported SPKI public keys by their exact bytes (one latin1 character per byte, so equal keys mean
 * equal bytes; never a digest): the MASA, registrar and CA keys verify a COSE signature on every
 * request, and a pledge's IDevID key is checked at the registrar and again at the MASA. A
 * KeyObject is immutable and depends on nothing but the bytes, so a hit is what a fresh import
 * gives. Bounded (least recently used out), SPKIs up to 1 KiB, refusals never kept.
 */
export const SPKI_KEY_CACHE_ENTRIES = 512;
const spkiKeys = new BytesKeyedCache<KeyObject>(SPKI_KEY_CACHE_ENTRIES);
const CACHEABLE_SPKI_BYTES = 1024;

/** The public key of SPKI DER bytes (cached by the exact bytes); bad input is the caller's error (`name`). */
function spkiPublicKey(spki: Uint8Array, name: string): KeyObject {
  const bytes = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  const id = bytes.length <= CACHEABLE_SPKI_BYTES ? bytes.toString('latin1') : undefined;
  const hit = id !== undefined ? spkiKeys.get(id) : undefined;
  if (hit !== undefined) return hit;
  let key = importP256Spki(bytes);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: bytes, format: 'der', type: 'spki' });
    } catch (err) {
      throw new InvalidArgumentError(name, 'not a SubjectPublicKeyInfo DER public key', { cause: err });
    }
  }
  if (id !== undefined) spkiKeys.set(id, key);
  return key;
}

/** Entries of the SPKI key cache (tests). */
export function spkiKeyCacheSize(): number {
  return spkiKeys.size;
}

/** Internal (tests): the SPKI import through OpenSSL's DER decoder alone, never cached. */
export function publicKeyFromSpkiByDecoder(spki: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

/** Converts caller input to a public KeyObject; bad input is the caller's error (`name`). */
export function toPublicKeyObject(key: unknown, name: string): KeyObject {
  if (key instanceof Uint8Array) return spkiPublicKey(key, name);
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

/**
 * Whether a key is a P-256 key, per KeyObject: `asymmetricKeyDetails` asks OpenSSL afresh on every
 * read, and the same (immutable) key objects come back from the cache above for every request.
 */
const isP256 = new WeakMap<KeyObject, boolean>();

function p256(key: KeyObject): boolean {
  let known = isP256.get(key);
  if (known === undefined) {
    known = key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
    isP256.set(key, known);
  }
  return known;
}

/** RFC 9053 §2.1/§2.2: ES256 needs a P-256 key, EdDSA (here) an Ed25519 key. */
export function assertKeyFitsSignatureAlgorithm(key: KeyObject, alg: SignatureAlgorithm): void {
  if (alg.id === CoseAlgorithm.ES256) {
    if (!p256(key)) {
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
