/**
 * The pledge's own P-256 keys without OpenSSL 3's decoder and encoder chains where the bytes are
 * fixed: a device reads its IDevID key, derives the public key its CSR and voucher request carry,
 * and hands its new LDevID key to node:tls as PEM. Through node:crypto each of these goes through
 * an OSSL_DECODER / OSSL_ENCODER set-up that costs far more than the key itself (measured on this
 * machine, Node 20.20 / OpenSSL 3.0: `createPrivateKey(pem)` ≈ 355 µs, a public key's SPKI
 * export ≈ 110 µs, a PKCS#8 export ≈ 55 µs; the JWK import and export that build the EC key from
 * its numbers ≈ 55 µs and ≈ 5 µs).
 *
 * Only the one DER layout OpenSSL and node write for a P-256 key is taken on the fast path
 * (PKCS#8 per RFC 5208/5915 with the optional public key present, or SEC1 "EC PRIVATE KEY" the
 * same way), matched byte for byte around the three numbers; anything else — another curve,
 * another layout, an encrypted key, a PEM with headers or more than one block, a private scalar
 * out of range — goes to node:crypto as before, so it is accepted or refused exactly as
 * `createPrivateKey` would. On the fast path the key is the same as OpenSSL's reading of the file:
 * OpenSSL also takes the embedded public key as written (it does not recompute it from the
 * private scalar), and the JWK import checks that the point is on the curve as OpenSSL does.
 */
import { createPrivateKey, sign as nodeSign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { Signer } from '../../crypto/keystore/types.js';
import { PKCS8_HEAD, PKCS8_MID, generateP256Key, p256Spki, rememberP256Numbers } from '../../crypto/p256-key-encoding.js';
import { keyObjectSigner } from '../../crypto/signer.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** SEC1 ECPrivateKey { 1, d, [0] prime256v1, [1] pub }: before d. */
const SEC1_HEAD = hex('3077 020101 0420');
const SEC1_MID = hex('a00a 06082a8648ce3d030107 a144 034200 04');
/** The order n of the P-256 group (FIPS 186-4 D.1.2.3): a private scalar is 1..n-1. */
const P256_N = hex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

const PEM = /^-----BEGIN (PRIVATE KEY|EC PRIVATE KEY)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END \1-----\r?\n?$/;

function startsWithAt(buf: Buffer, at: number, part: Buffer): boolean {
  return buf.length >= at + part.length && buf.compare(part, 0, part.length, at, at + part.length) === 0;
}

/** d, x, y (32 bytes each) of a P-256 key in exactly the PKCS#8 or SEC1 layout above; else undefined. */
export function p256KeyNumbers(der: Buffer, layout: 'pkcs8' | 'sec1'): { d: Buffer; x: Buffer; y: Buffer } | undefined {
  const head = layout === 'pkcs8' ? PKCS8_HEAD : SEC1_HEAD;
  const mid = layout === 'pkcs8' ? PKCS8_MID : SEC1_MID;
  if (der.length !== head.length + 32 + mid.length + 64 || !startsWithAt(der, 0, head) || !startsWithAt(der, head.length + 32, mid)) return undefined;
  const d = der.subarray(head.length, head.length + 32);
  if (d.every((b) => b === 0) || d.compare(P256_N) >= 0) return undefined;
  const at = head.length + 32 + mid.length;
  return { d, x: der.subarray(at, at + 32), y: der.subarray(at + 32, at + 64) };
}

/**
 * The device's private key from its key file's PEM: node:crypto's `createPrivateKey(pem)`, with
 * the same result and the same errors, faster for the P-256 layout OpenSSL writes (file header).
 */
export function importDeviceKey(pem: string): KeyObject {
  const m = typeof pem === 'string' ? PEM.exec(pem) : null;
  if (m !== null) {
    const b64 = m[2]!.replace(/\r?\n/g, '');
    const der = Buffer.from(b64, 'base64');
    // Buffer's base64 decoder skips what it does not understand: only a canonical body is taken.
    const numbers = der.toString('base64') === b64 ? p256KeyNumbers(der, m[1] === 'PRIVATE KEY' ? 'pkcs8' : 'sec1') : undefined;
    try {
      if (numbers !== undefined) {
        const key = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: numbers.d.toString('base64url'), x: numbers.x.toString('base64url'), y: numbers.y.toString('base64url') } satisfies JsonWebKey, format: 'jwk' });
        rememberP256Numbers(key, numbers);
        return key;
      }
    } catch {
      // Not a point on the curve, say: node:crypto's own reading gives its own error below.
    } finally {
      der.fill(0);
    }
  }
  return createPrivateKey(pem);
}

/** A fresh P-256 key for the device (its LDevID key), its numbers kept for the encodings (src/crypto/p256-key-encoding.ts). */
export const generateDeviceKey = generateP256Key;
export { p256Spki, pkcs8Der, pkcs8Pem } from '../../crypto/p256-key-encoding.js';

/** One Signer per key (the CSR, the voucher request and DTLS all ask for it). */
const signers = new WeakMap<KeyObject, Signer>();

/**
 * A Signer over a device key held in memory: `keyObjectSigner` (src/crypto/signer.ts) with the
 * public key read through JWK for P-256 instead of an SPKI export; the same algorithm, public key
 * bytes and signatures. Made once per key.
 */
export function deviceSigner(key: KeyObject): Signer {
  let signer = signers.get(key);
  if (signer === undefined) {
    const spki = key.type === 'private' ? p256Spki(key) : undefined;
    if (spki === undefined) signer = keyObjectSigner(key);
    else signer = { algorithm: 'ES256', publicKey: spki, sign: async (data) => new Uint8Array(nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })) };
    signers.set(key, signer);
  }
  return signer;
}
