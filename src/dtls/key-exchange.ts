/**
 * Ephemeral ECDH (RFC 8422: secp256r1 and x25519) and the handshake signatures of ECDHE_ECDSA
 * suites: the ServerKeyExchange signature and the client's CertificateVerify, made through the
 * `Signer` interface so that KeyStore and PKCS#11 keys work, and verified with node:crypto.
 */
import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { importP256Spki, readCertificateFields } from '../crypto/certificate-fields.js';
import type { Signer } from '../crypto/keystore/types.js';
import { ecdsaRawToDer } from '../crypto/ecdsa-signature.js';
import { NamedGroup, SignatureScheme } from './constants.js';
import { DtlsBadCertificateError, DtlsDecryptError, DtlsHandshakeFailureError } from './errors.js';
import { BytesKeyedCache } from '../util/bytes-cache.js';

export const SUPPORTED_GROUPS: readonly number[] = [NamedGroup.secp256r1, NamedGroup.x25519];

export interface EphemeralKey {
  group: number;
  /** Our public key as it goes on the wire (uncompressed point, or 32 raw bytes for x25519). */
  publicKey: Uint8Array;
  /** The shared secret with the peer's wire-format public key; throws on an invalid point. */
  computeSecret(peer: Uint8Array): Uint8Array;
}

export function generateEphemeralKey(group: number): EphemeralKey {
  if (group === NamedGroup.secp256r1) {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    return {
      group,
      publicKey: new Uint8Array(ecdh.getPublicKey()),
      computeSecret(peer) {
        // RFC 8422 §5.1.2: only the uncompressed point format is in use.
        if (peer.length !== 65 || peer[0] !== 4) throw new DtlsHandshakeFailureError('ECDH: peer point is not an uncompressed P-256 point');
        try {
          return new Uint8Array(ecdh.computeSecret(peer));
        } catch (err) {
          throw new DtlsHandshakeFailureError(`ECDH: invalid peer point (${(err as Error).message})`);
        }
      },
    };
  }
  if (group === NamedGroup.x25519) {
    // The public key as SPKI DER from the generator itself (its last 32 bytes are the raw key):
    // a JWK export of a freshly generated key can deadlock node 20 (src/crypto/key-pairs.ts).
    // (node returns the encoded half as a Buffer and the other as a KeyObject; its types lack that overload.)
    const { publicKey: spki, privateKey } = generateKeyPairSync('x25519', { publicKeyEncoding: { type: 'spki', format: 'der' } } as never) as unknown as { publicKey: Buffer; privateKey: KeyObject };
    const raw = spki.subarray(spki.length - 32);
    return {
      group,
      publicKey: new Uint8Array(raw),
      computeSecret(peer) {
        if (peer.length !== 32) throw new DtlsHandshakeFailureError('ECDH: x25519 public key must be 32 bytes');
        try {
          const peerKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peer).toString('base64url') }, format: 'jwk' });
          const secret = new Uint8Array(diffieHellman({ privateKey, publicKey: peerKey }));
          // RFC 8422 §5.11: an all-zero X25519 result MUST be rejected.
          if (secret.every((b) => b === 0)) throw new Error('all-zero shared secret');
          return secret;
        } catch (err) {
          throw new DtlsHandshakeFailureError(`ECDH: invalid x25519 peer key (${(err as Error).message})`);
        }
      },
    };
  }
  throw new DtlsHandshakeFailureError(`unsupported named group ${group}`);
}

/** The SignatureScheme a signer produces in TLS 1.2. */
export function signatureSchemeOf(signer: Signer): number {
  return signer.algorithm === 'ES256' ? SignatureScheme.ecdsaSecp256r1Sha256 : SignatureScheme.ed25519;
}

/** Signs `data` for a digitally-signed struct; ECDSA goes on the wire DER-encoded (RFC 8422 §5.4). */
export async function signHandshake(signer: Signer, data: Uint8Array): Promise<{ scheme: number; signature: Uint8Array }> {
  const raw = await signer.sign(data);
  if (signer.algorithm === 'ES256') return { scheme: SignatureScheme.ecdsaSecp256r1Sha256, signature: ecdsaRawToDer(raw) };
  return { scheme: SignatureScheme.ed25519, signature: raw };
}

/** Verifies a digitally-signed struct; throws DtlsDecryptError (RFC 5246: decrypt_error) when it does not hold. */
export function verifyHandshakeSignature(key: KeyObject, scheme: number, data: Uint8Array, signature: Uint8Array): void {
  let ok = false;
  try {
    if (scheme === SignatureScheme.ecdsaSecp256r1Sha256 && key.asymmetricKeyType === 'ec') {
      ok = nodeVerify('sha256', data, { key, dsaEncoding: 'der' }, signature);
    } else if (scheme === SignatureScheme.ed25519 && key.asymmetricKeyType === 'ed25519') {
      ok = nodeVerify(null, data, key, signature);
    } else {
      throw new DtlsHandshakeFailureError(`signature scheme 0x${scheme.toString(16)} does not fit a ${key.asymmetricKeyType} key`);
    }
  } catch (err) {
    if (err instanceof DtlsHandshakeFailureError) throw err;
    ok = false;
  }
  if (!ok) throw new DtlsDecryptError('handshake signature does not verify');
}

/** The public key of a SubjectPublicKeyInfo (raw public key) or of an X.509 leaf certificate. */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    checkKeyType(key);
    return key;
  } catch (err) {
    if (err instanceof DtlsBadCertificateError) throw err;
    throw new DtlsBadCertificateError('raw public key is not a SubjectPublicKeyInfo', { cause: err });
  }
}

/**
 * Parsed public keys of recently seen certificates, by their exact DER bytes (a latin1 string):
 * a device reconnecting with its certificate costs a Map lookup instead of an X509Certificate
 * parse per handshake. Only certificates that parsed and passed `checkKeyType` are kept (a bad
 * one throws every time); bounded in entries and in certificate size, oldest entry out first.
 * A KeyObject is immutable, and the key depends on nothing but the bytes, so a hit is exactly
 * what a fresh parse would give. 2048 entries (a few MiB at most): an onboarding device shows its
 * new LDevID to the registrar (enrollstatus) and then to the LwM2M bootstrap server within
 * seconds, while a fleet of 64 in flight brings two new certificates per device in between; at
 * 256 the LDevID had often been pushed out before its second handshake.
 */
export const CERTIFICATE_KEY_CACHE_ENTRIES = 2048;
const certificateKeys = new BytesKeyedCache<KeyObject>(CERTIFICATE_KEY_CACHE_ENTRIES);
const CACHEABLE_CERTIFICATE_BYTES = 2048;

export function publicKeyFromCertificate(der: Uint8Array): KeyObject {
  const id = der.length <= CACHEABLE_CERTIFICATE_BYTES ? Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1') : undefined;
  // Least recently used out (a hit is refreshed).
  const hit = id !== undefined ? certificateKeys.get(id) : undefined;
  if (hit !== undefined) return hit;
  const key = certificatePublicKey(der);
  checkKeyType(key);
  if (id !== undefined) certificateKeys.set(id, key);
  return key;
}

/**
 * The key of a certificate not seen before: a strict DER walk to its SubjectPublicKeyInfo
 * (src/crypto/certificate-fields.ts: the whole TLV tree well-formed DER, the RFC 5280 shape of
 * Certificate and TBSCertificate) and the key imported from it — a P-256 key from its point
 * (JWK), anything else through OpenSSL's SPKI decoder. About half the CPU of an X509Certificate
 * (measured ~110 → ~53 µs per P-256 certificate), and the same key (test/dtls/certificate-key.test.ts
 * checks it against X509Certificate, on real and fuzzed certificates). Anything malformed is the
 * same DtlsBadCertificateError (ERR_DTLS_BAD_CERTIFICATE) as before.
 */
function certificatePublicKey(der: Uint8Array): KeyObject {
  const fields = readCertificateFields(der);
  if (fields === undefined) throw new DtlsBadCertificateError('certificate is not well-formed X.509 with a usable public key');
  const p256 = importP256Spki(fields.spki);
  if (p256 !== undefined) return p256;
  try {
    return createPublicKey({ key: Buffer.from(fields.spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw new DtlsBadCertificateError('certificate is not well-formed X.509 with a usable public key', { cause: err });
  }
}

/** Entries of the certificate key cache (for tests). */
export function certificateKeyCacheSize(): number {
  return certificateKeys.size;
}

function checkKeyType(key: KeyObject): void {
  const ok =
    (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') || key.asymmetricKeyType === 'ed25519';
  if (!ok) throw new DtlsBadCertificateError(`peer key type ${key.asymmetricKeyType} is not P-256 or Ed25519`);
}
