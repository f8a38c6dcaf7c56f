/**
 * Signature algorithms (internal): which AlgorithmIdentifier a Signer produces, turning its raw
 * output into the X.509 encoding, and verifying signatures with node:crypto.
 */
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import type { Signer } from '../crypto/keystore/types.js';
import { ecdsaRawToDer } from '../crypto/ecdsa-signature.js';
import { importP256Spki } from '../crypto/certificate-fields.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, describeType } from '../util/assert.js';
import { BytesKeyedCache } from '../util/bytes-cache.js';
import { BadSignatureError, MalformedPublicKeyError, UnsupportedAlgorithmError } from './errors.js';
import { OID } from './oids.js';

/** Asserts the Signer shape at a public entry point. */
export function assertSigner(value: unknown, name: string): asserts value is Signer {
  if (value === null || typeof value !== 'object') throw new InvalidArgumentError(name, `expected a Signer, got ${describeType(value)}`);
  const s = value as Partial<Signer>;
  if (s.algorithm !== 'ES256' && s.algorithm !== 'EdDSA') throw new InvalidArgumentError(name, 'algorithm must be ES256 or EdDSA');
  assertBytes(s.publicKey, `${name}.publicKey`, { min: 1 });
  if (typeof s.sign !== 'function') throw new InvalidArgumentError(name, 'sign must be a function');
}

/**
 * The signature AlgorithmIdentifier for a Signer. RFC 5758 §3.2: for ecdsa-with-SHA256 "the
 * encoding MUST omit the parameters field"; RFC 8410 §3: for Ed25519 "the parameters MUST be
 * absent".
 */
export function signatureAlgorithmFor(signer: Signer): AlgorithmIdentifier {
  return new AlgorithmIdentifier({ algorithm: signer.algorithm === 'ES256' ? OID.ecdsaWithSha256 : OID.ed25519 });
}

/**
 * Signs `tbs` and returns the signature as X.509 wants it in the BIT STRING. The signature is
 * checked against the signer's public key before it is used: a token that signs with the wrong
 * key, or a fault during signing, must not produce a certificate that is then handed out.
 */
export async function signForX509(signer: Signer, tbs: Uint8Array): Promise<Uint8Array> {
  const raw = await signer.sign(tbs);
  if (!(raw instanceof Uint8Array) || raw.length !== 64) {
    throw new InvalidArgumentError('signer', `sign() returned ${describeType(raw)}, expected 64 bytes`);
  }
  // RFC 5758 §3.2: the ECDSA signature is the DER Ecdsa-Sig-Value, not the raw r||s.
  const signature = signer.algorithm === 'ES256' ? ecdsaRawToDer(raw) : raw;
  if (!verifySignature(signer.publicKey, signatureAlgorithmFor(signer).algorithm, tbs, signature)) {
    throw new BadSignatureError("the signer's signature does not verify with its own public key");
  }
  return signature;
}

interface VerifyAlgorithm {
  hash: string | null;
  keyType: string;
  name: string;
}

const VERIFY_ALGORITHMS: ReadonlyMap<string, VerifyAlgorithm> = new Map([
  [OID.ecdsaWithSha256, { hash: 'sha256', keyType: 'ec', name: 'ecdsa-with-SHA256' }],
  [OID.ecdsaWithSha384, { hash: 'sha384', keyType: 'ec', name: 'ecdsa-with-SHA384' }],
  [OID.ecdsaWithSha512, { hash: 'sha512', keyType: 'ec', name: 'ecdsa-with-SHA512' }],
  [OID.sha256WithRsa, { hash: 'sha256', keyType: 'rsa', name: 'sha256WithRSAEncryption' }],
  [OID.sha384WithRsa, { hash: 'sha384', keyType: 'rsa', name: 'sha384WithRSAEncryption' }],
  [OID.sha512WithRsa, { hash: 'sha512', keyType: 'rsa', name: 'sha512WithRSAEncryption' }],
  [OID.ed25519, { hash: null, keyType: 'ed25519', name: 'Ed25519' }],
]);

/** A readable name for a signature algorithm OID (the OID itself when unknown). */
export function signatureAlgorithmName(oid: string): string {
  return VERIFY_ALGORITHMS.get(oid)?.name ?? oid;
}

/** A node:crypto public key from SPKI DER; MalformedPublicKeyError when node cannot read it. */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  const cacheKey = BytesKeyedCache.keyOf(spki);
  const known = PUBLIC_KEYS.get(cacheKey);
  if (known !== undefined) return known;
  let key = importP256Point(spki);
  if (key === undefined) {
    try {
      key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    } catch (err) {
      throw new MalformedPublicKeyError('not a usable SubjectPublicKeyInfo', { cause: err });
    }
  }
  PUBLIC_KEYS.set(cacheKey, key);
  return key;
}

/**
 * The common case, a P-256 SPKI in its one DER form, is imported from its coordinates (JWK)
 * rather than through OpenSSL 3's SPKI decoder: the same key in about half the CPU (measured
 * 108 → 58 µs). The helper is shared with the DTLS room (src/crypto/certificate-fields.ts); it
 * answers undefined for anything else or a refusal, and the DER import then decides as before.
 */
const importP256Point = importP256Spki;

/** Internal (tests): the SPKI import through OpenSSL's decoder alone, not kept. */
export function publicKeyFromSpkiByDecoder(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw new MalformedPublicKeyError('not a usable SubjectPublicKeyInfo', { cause: err });
  }
}

/**
 * Imported public keys by the exact SPKI bytes: the CA, MASA and registrar keys verify a signature
 * on every request, and a KeyObject (immutable) is the same for the same bytes. Refusals are not
 * kept, so a malformed key is refused every time.
 */
const PUBLIC_KEYS = new BytesKeyedCache<KeyObject>(512);

/**
 * Verifies `signature` over `data` with the key in `spki`. Returns false for a wrong signature,
 * a malformed signature or key, or a key whose type does not belong to the algorithm (so an RSA
 * key cannot pass for ECDSA); throws only for an algorithm we do not implement.
 */
export function verifySignature(spki: Uint8Array, algorithmOid: string, data: Uint8Array, signature: Uint8Array): boolean {
  const alg = VERIFY_ALGORITHMS.get(algorithmOid);
  if (alg === undefined) throw new UnsupportedAlgorithmError(`signature algorithm ${algorithmOid} is not supported`);
  const memoKey = data.length <= VERIFIED_MAX_DATA ? verifiedKey(spki, algorithmOid, data, signature) : undefined;
  if (memoKey !== undefined && VERIFIED.get(memoKey) === true) return true;
  let key: KeyObject;
  try {
    key = publicKeyFromSpki(spki);
  } catch {
    return false;
  }
  if (key.asymmetricKeyType !== alg.keyType) return false;
  let ok: boolean;
  try {
    ok = nodeVerify(alg.hash, data, key, signature);
  } catch {
    return false;
  }
  if (ok && memoKey !== undefined) VERIFIED.set(memoKey, true);
  return ok;
}

/**
 * Signatures that verified, by the exact bytes of (algorithm, key, signature, signed data): the
 * same certificate link is checked several times per onboarding (the IDevID under its
 * manufacturer CA by the CMS reader, the registrar's policy, the EST authorisation, the MASA),
 * and the answer is a pure function of those bytes. Only successes are kept (a refusal is
 * computed again every time); signed data over 8 KiB is not kept.
 */
const VERIFIED = new BytesKeyedCache<true>(4096);
const VERIFIED_MAX_DATA = 8192;

function verifiedKey(spki: Uint8Array, algorithmOid: string, data: Uint8Array, signature: Uint8Array): string {
  // Lengths first, so the boundaries between the byte strings are unambiguous.
  return `${algorithmOid}|${spki.length}|${signature.length}|${BytesKeyedCache.keyOf(spki)}${BytesKeyedCache.keyOf(signature)}${BytesKeyedCache.keyOf(data)}`;
}
