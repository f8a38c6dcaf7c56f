/**
 * Key pairs and JWK exports that cannot deadlock node.
 *
 * Node 20 (seen on v20.20.2): a KeyObject returned by `generateKeyPairSync` / `generateKeyPair`
 * shares one mutex with the job that made it (and so does `createPublicKey()` of it). Exporting
 * such a key as a JWK holds that mutex while it allocates JS strings; when that allocation starts
 * a garbage collection that collects the finished job, the job's destructor takes the same mutex
 * and the thread waits on itself for ever. Under allocation pressure a loop of "generate, export
 * JWK" hangs within a few thousand keys (test/crypto/key-pairs.test.ts). DER and PEM exports,
 * signing and `diffieHellman` do not allocate under that lock and are safe.
 *
 * So: fresh P-256 keys come from ECDH and are imported through their JWK numbers (no key job at
 * all; the numbers are at hand without any export), and `jwkOf` exports a JWK from a copy of the
 * key made through DER, which has a mutex of its own.
 */
import { createECDH, createPrivateKey, createPublicKey, KeyObject, type ECDH, type JsonWebKey } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

export interface P256KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The private scalar, 32 bytes. */
  d: Buffer;
  /** The public point, SEC1 uncompressed (65 bytes: 0x04 || x || y). */
  point: Buffer;
}

/** A fresh P-256 key pair (OpenSSL's generator through ECDH), without node's key-generation job. */
export function generateP256KeyPair(): P256KeyPair {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return p256KeyPairOf(ecdh);
}

/** The key pair an ECDH object on prime256v1 holds, as KeyObjects and numbers. */
export function p256KeyPairOf(ecdh: ECDH): P256KeyPair {
  const point = ecdh.getPublicKey();
  if (point.length !== 65) throw new InvalidArgumentError('ecdh', 'expected a prime256v1 ECDH with keys');
  // getPrivateKey() drops leading zero bytes; JWK needs the full 32.
  const raw = ecdh.getPrivateKey();
  const d = raw.length === 32 ? raw : Buffer.concat([Buffer.alloc(32 - raw.length), raw]);
  const x = point.subarray(1, 33).toString('base64url');
  const y = point.subarray(33, 65).toString('base64url');
  const privateKey = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: d.toString('base64url'), x, y }, format: 'jwk' });
  const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  return { privateKey, publicKey, d, point };
}

/**
 * `key.export({ format: 'jwk' })` for any asymmetric key, made on a copy of the key taken through
 * DER, so that a key straight from `generateKeyPairSync` cannot deadlock the export (see above).
 */
export function jwkOf(key: KeyObject): JsonWebKey {
  if (!(key instanceof KeyObject) || key.type === 'secret') throw new InvalidArgumentError('key', 'expected an asymmetric KeyObject');
  const copy =
    key.type === 'private'
      ? createPrivateKey({ key: key.export({ type: 'pkcs8', format: 'der' }), format: 'der', type: 'pkcs8' })
      : createPublicKey({ key: key.export({ type: 'spki', format: 'der' }), format: 'der', type: 'spki' });
  return copy.export({ format: 'jwk' });
}
