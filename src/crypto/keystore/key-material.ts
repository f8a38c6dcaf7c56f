/**
 * Checks and conversions of key material at the store's edge (node:crypto does the parsing):
 * PKCS#8 private keys coming in, SPKI public keys going out, peer public keys for ECDH.
 * Internal: not exported from index.ts.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { InvalidArgumentError } from '../../errors.js';
import { assertBytes } from '../../util/assert.js';
import { KeyStoreCorruptError } from './errors.js';
import { jwkOf } from '../key-pairs.js';

/** DER of `SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) ... }` up to the point. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
/** DER of `SEQUENCE { SEQUENCE { id-Ed25519 }, BIT STRING ... }` up to the 32-byte key (RFC 8410 §4). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** DER OID of prime256v1 / secp256r1 (CKA_EC_PARAMS for P-256). */
export const P256_OID_DER = Buffer.from('06082a8648ce3d030107', 'hex');
/** DER OID 1.3.101.112 id-Ed25519 (CKA_EC_PARAMS for Ed25519, PKCS#11 3.0 §2.3.10). */
export const ED25519_OID_DER = Buffer.from('06032b6570', 'hex');

/** Parses PKCS#8 DER and checks that it is a private key of `type`; InvalidArgumentError('material') otherwise. */
export function parsePkcs8(material: Uint8Array, type: 'ec-p256' | 'ed25519'): KeyObject {
  assertBytes(material, 'material', { min: 16, max: 4096 });
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(material), format: 'der', type: 'pkcs8' });
  } catch {
    // node's message can quote OpenSSL internals; keep ours short and free of the input.
    throw new InvalidArgumentError('material', 'not a PKCS#8 DER private key');
  }
  const ok =
    type === 'ed25519'
      ? key.asymmetricKeyType === 'ed25519'
      : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (!ok) throw new InvalidArgumentError('material', `the PKCS#8 key is not a ${type} key`);
  return key;
}

/** SPKI DER of the public half of a private KeyObject. */
export function spkiOf(privateKey: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
}

/** The private scalar (P-256 d) or seed (Ed25519) and public point of a parsed private key. */
export function rawKeyParts(privateKey: KeyObject): { secret: Buffer; point: Buffer } {
  // Through a DER copy: a key straight from generateKeyPairSync can deadlock a JWK export (../key-pairs.ts).
  const jwk = jwkOf(privateKey);
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string') throw new InvalidArgumentError('material', 'unexpected key shape');
  const secret = Buffer.from(jwk.d, 'base64url');
  const x = Buffer.from(jwk.x, 'base64url');
  if (jwk.kty === 'OKP') return { secret, point: x };
  if (typeof jwk.y !== 'string') throw new InvalidArgumentError('material', 'unexpected key shape');
  // P-256 JWK coordinates are always 32 bytes (RFC 7518 §6.2.1.2), so this is SEC1 uncompressed.
  return { secret, point: Buffer.concat([Buffer.from([0x04]), x, Buffer.from(jwk.y, 'base64url')]) };
}

/** SPKI DER from a P-256 uncompressed point (65 bytes) or an Ed25519 public key (32 bytes). */
export function spkiFromPoint(type: 'ec-p256' | 'ed25519', point: Uint8Array): Uint8Array {
  const prefix = type === 'ec-p256' ? P256_SPKI_PREFIX : ED25519_SPKI_PREFIX;
  const expected = type === 'ec-p256' ? 65 : 32;
  if (point.length !== expected || (type === 'ec-p256' && point[0] !== 0x04)) {
    throw new InvalidArgumentError('point', `expected a ${expected}-byte ${type} public key`);
  }
  const spki = new Uint8Array(Buffer.concat([prefix, point]));
  // Let node check that the point is on the curve before anyone trusts this SPKI.
  createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  return spki;
}

/**
 * Parses a peer's SPKI DER for ECDH on P-256: InvalidArgumentError('peerPublicKey') unless it
 * is a valid P-256 public key (OpenSSL rejects points not on the curve when decoding).
 */
export function parsePeerP256(peerPublicKey: unknown): { key: KeyObject; point: Buffer } {
  assertBytes(peerPublicKey, 'peerPublicKey', { min: 1, max: 1024 });
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(peerPublicKey), format: 'der', type: 'spki' });
  } catch {
    throw new InvalidArgumentError('peerPublicKey', 'not a SubjectPublicKeyInfo DER public key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new InvalidArgumentError('peerPublicKey', 'expected a P-256 public key');
  }
  const jwk = key.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
  if (point.length !== 65) throw new InvalidArgumentError('peerPublicKey', 'expected a P-256 public key');
  return { key, point };
}

/** Unwraps CKA_EC_POINT, which tokens give either raw or as a DER OCTET STRING. */
export function ecPoint(value: Buffer, type: 'ec-p256' | 'ed25519'): Buffer {
  const raw = type === 'ec-p256' ? 65 : 32;
  if (value.length === raw) return value;
  if (value.length === raw + 2 && value[0] === 0x04 && value[1] === raw) return value.subarray(2);
  throw new KeyStoreCorruptError(`token public key has an unexpected CKA_EC_POINT (${value.length} bytes)`);
}

/** DER OCTET STRING of a short value (CKA_EC_POINT as PKCS#11 specifies it). */
export function octetString(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x04, bytes.length]), bytes]);
}
