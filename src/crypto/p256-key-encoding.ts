/**
 * P-256 keys' standard encodings built from their numbers: a private key's PKCS#8 (DER, PEM) and
 * a key's SubjectPublicKeyInfo, the same bytes node:crypto's export writes, without OpenSSL 3's
 * encoder set-ups (≈ 10 µs instead of ≈ 55–110 µs, measured on Node 20.20 / OpenSSL 3.0). Used by
 * the device side (src/onboarding/pledge/device-key.ts) and the LwM2M client's accounts.
 */
import { type JsonWebKey, type KeyObject } from 'node:crypto';
import { generateP256KeyPair, jwkOf } from './key-pairs.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** PKCS#8 PrivateKeyInfo { v0, id-ecPublicKey prime256v1, OCTET STRING { ECPrivateKey { 1, d, [1] pub } } }: before d. */
export const PKCS8_HEAD = hex('308187 020100 3013 06072a8648ce3d0201 06082a8648ce3d030107 046d 306b 020101 0420');
/** Between d and x: [1] { BIT STRING, 0 unused bits, uncompressed point }. */
export const PKCS8_MID = hex('a144 034200 04');
/** SubjectPublicKeyInfo { id-ecPublicKey prime256v1, BIT STRING uncompressed point }: before x. */
const SPKI_HEAD = hex('3059 3013 06072a8648ce3d0201 06082a8648ce3d030107 034200 04');

/**
 * The numbers of keys made here (`generateP256Key`) or registered by whoever read them from their
 * bytes (`rememberP256Numbers`), so that `p256Numbers` needs no export for them. Any other key is
 * exported through `jwkOf` (a DER copy): a JWK export of a key straight from `generateKeyPairSync`
 * can deadlock node 20 (src/crypto/key-pairs.ts), and a caller's key may be one.
 */
const knownNumbers = new WeakMap<KeyObject, { d: Buffer; x: Buffer; y: Buffer }>();

/** A fresh P-256 key (ECDH-generated: no generate-then-export deadlock), its numbers kept for the encodings below. */
export function generateP256Key(): KeyObject {
  const pair = generateP256KeyPair();
  knownNumbers.set(pair.privateKey, { d: pair.d, x: pair.point.subarray(1, 33), y: pair.point.subarray(33, 65) });
  return pair.privateKey;
}

/** Registers the numbers of a P-256 private key its caller made from exactly these numbers (copies are kept). */
export function rememberP256Numbers(key: KeyObject, numbers: { d: Buffer; x: Buffer; y: Buffer }): void {
  knownNumbers.set(key, { d: Buffer.from(numbers.d), x: Buffer.from(numbers.x), y: Buffer.from(numbers.y) });
}

/**
 * x, y (and d for a private key) of a P-256 key, kept or through its JWK export; undefined for
 * any other key. The JWK says which key it is (kty EC, crv P-256 only for prime256v1; other curves and key
 * types export as something else or refuse), so `asymmetricKeyDetails` — a native call of its own,
 * ≈ 20 µs on a fresh key — is not asked.
 */
function p256Numbers(key: KeyObject): { d?: Buffer; x: Buffer; y: Buffer } | undefined {
  const known = knownNumbers.get(key);
  // Copies: callers zero the d they are given.
  if (known !== undefined) return { d: Buffer.from(known.d), x: Buffer.from(known.x), y: Buffer.from(known.y) };
  if (key.asymmetricKeyType !== 'ec') return undefined;
  let jwk: JsonWebKey;
  try {
    jwk = jwkOf(key);
  } catch {
    return undefined; // an EC curve JWK has no name for
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') return undefined;
  const x = Buffer.from(jwk.x, 'base64url');
  const y = Buffer.from(jwk.y, 'base64url');
  const d = typeof jwk.d === 'string' ? Buffer.from(jwk.d, 'base64url') : undefined;
  if (x.length !== 32 || y.length !== 32 || (d !== undefined && d.length !== 32)) return undefined;
  return { x, y, ...(d !== undefined ? { d } : {}) };
}

/** The SubjectPublicKeyInfo (DER) of a P-256 key, public or private; undefined for any other key. */
export function p256Spki(key: KeyObject): Uint8Array | undefined {
  const n = p256Numbers(key);
  n?.d?.fill(0);
  return n === undefined ? undefined : new Uint8Array(Buffer.concat([SPKI_HEAD, n.x, n.y]));
}

/**
 * The PKCS#8 DER of a private key, as `key.export({ type: 'pkcs8', format: 'der' })` writes it
 * (the same bytes for P-256, built here from its numbers — ≈ 10 µs instead of ≈ 60 µs through
 * OpenSSL's encoder; other keys through node:crypto). The caller owns (and may zero) the buffer.
 */
export function pkcs8Der(key: KeyObject): Buffer {
  return p256Pkcs8Der(key) ?? key.export({ type: 'pkcs8', format: 'der' });
}

function p256Pkcs8Der(key: KeyObject): Buffer | undefined {
  const n = key.type === 'private' ? p256Numbers(key) : undefined;
  if (n?.d === undefined) return undefined;
  const der = Buffer.concat([PKCS8_HEAD, n.d, PKCS8_MID, n.x, n.y]);
  n.d.fill(0);
  return der;
}

/**
 * The PKCS#8 PEM of a private key, as `key.export({ type: 'pkcs8', format: 'pem' })` writes it
 * (the same bytes for P-256, built here; other keys through node:crypto).
 */
export function pkcs8Pem(key: KeyObject): string {
  const der = p256Pkcs8Der(key);
  if (der === undefined) return String(key.export({ type: 'pkcs8', format: 'pem' }));
  const b64 = der.toString('base64');
  der.fill(0);
  const lines = b64.match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`;
}

