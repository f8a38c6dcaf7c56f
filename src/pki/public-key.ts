/**
 * SubjectPublicKeyInfo reading (RFC 5280 §4.1.2.7) and raw public keys (RFC 7250): DTLS and
 * LwM2M identify an RPK device by its SPKI DER, so these helpers extract it from whatever the
 * operator holds (certificate, PEM public key, SPKI DER), check it is P-256, and fingerprint it.
 */
import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ECParameters } from '@peculiar/asn1-ecc';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, describeType } from '../util/assert.js';
import { publicKeyFromSpki } from './algorithms.js';
import { parseStrict } from './asn1.js';
import { readPublicKeyDer } from './certificate-der.js';
import { fromArrayBuffer, readOuterSequence } from './der.js';
import { MalformedPublicKeyError, UnsupportedKeyError } from './errors.js';
import { OID } from './oids.js';
import { decodePem, parsePem } from './pem.js';

/** Key algorithms by name; anything else is reported by its OID. */
export type PublicKeyAlgorithm = 'ec-p256' | 'ec-p384' | 'ed25519' | 'rsa' | string;

export interface PublicKeyView {
  /** The SPKI DER exactly as given. */
  der: Uint8Array;
  algorithm: PublicKeyAlgorithm;
  /** Contents of the subjectPublicKey BIT STRING (e.g. the 65-byte uncompressed P-256 point). */
  subjectPublicKey: Uint8Array;
}

const malformed = (m: string, cause?: unknown): MalformedPublicKeyError => new MalformedPublicKeyError(m, { cause });

/** Parses SubjectPublicKeyInfo DER; MalformedPublicKeyError for anything else. */
export function parsePublicKey(spki: Uint8Array): PublicKeyView {
  assertBytes(spki, 'spki', { min: 1 });
  // The hand-written reader first (certificate-der.ts); anything outside its profile goes to the
  // schema library, which accepts or refuses as before.
  const fast = readPublicKeyDer(spki);
  if (fast !== undefined) return { der: spki, ...fast };
  return parsePublicKeyBySchema(spki);
}

/** Internal (tests): `parsePublicKey` by the schema library alone. */
export function parsePublicKeyBySchema(spki: Uint8Array): PublicKeyView {
  const { value } = parseStrict(spki, SubjectPublicKeyInfo, malformed, 'SubjectPublicKeyInfo');
  const alg = value.algorithm.algorithm;
  let algorithm: PublicKeyAlgorithm = alg;
  if (alg === OID.ecPublicKey) {
    const params = value.algorithm.parameters;
    // RFC 5480 §2.1.1: namedCurve is the form PKIX uses; implicit/specified curves are not.
    let curve: string | undefined;
    if (params instanceof ArrayBuffer) {
      try {
        curve = AsnConvert.parse(params, ECParameters).namedCurve;
      } catch {
        curve = undefined;
      }
    }
    if (curve === OID.prime256v1) algorithm = 'ec-p256';
    else if (curve === OID.secp384r1) algorithm = 'ec-p384';
    else algorithm = `ec:${curve ?? 'unnamed'}`;
  } else if (alg === OID.ed25519) algorithm = 'ed25519';
  else if (alg === OID.rsaEncryption) algorithm = 'rsa';
  return { der: spki, algorithm, subjectPublicKey: fromArrayBuffer(value.subjectPublicKey) };
}

/**
 * The SPKI DER of a raw public key, taken from SPKI DER, a PEM "PUBLIC KEY" block, or a
 * certificate (DER or PEM). The key is checked to be P-256 (`assertP256PublicKey`), the one RPK
 * type rootline's DTLS stack offers (TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 and friends).
 */
export function extractRawPublicKey(input: Uint8Array | string): Uint8Array {
  let der: Uint8Array;
  if (typeof input === 'string' || (input instanceof Uint8Array && Buffer.from(input.subarray(0, 64)).toString('latin1').trimStart().startsWith('-----BEGIN '))) {
    const block = parsePem(input, { maxBlocks: 1 })[0]!;
    if (block.label === 'PUBLIC KEY') der = block.der;
    else if (block.label === 'CERTIFICATE') der = spkiOfCertificate(block.der);
    else throw new MalformedPublicKeyError(`expected a PUBLIC KEY or CERTIFICATE block, got ${JSON.stringify(block.label)}`);
  } else {
    assertBytes(input, 'input', { min: 1 });
    const kids = readOuterSequence(input);
    if (typeof kids === 'string') throw new MalformedPublicKeyError(`not DER: ${kids}`);
    // SPKI has two children (AlgorithmIdentifier, BIT STRING); a Certificate has three.
    der = kids.length === 3 ? spkiOfCertificate(input) : input;
  }
  assertP256PublicKey(der);
  return der.slice();
}

/** SPKI DER straight out of a certificate's TBS, by position (RFC 5280 §4.1). */
function spkiOfCertificate(cert: Uint8Array): Uint8Array {
  const kids = readOuterSequence(cert);
  if (typeof kids === 'string' || kids.length !== 3) throw new MalformedPublicKeyError('not a certificate');
  const tbs = cert.subarray(kids[0]!.offset, kids[0]!.end);
  const fields = readOuterSequence(tbs);
  if (typeof fields === 'string') throw new MalformedPublicKeyError(`certificate TBS: ${fields}`);
  const first = fields[0]?.tag === 0xa0 ? 1 : 0;
  const spki = fields[first + 5];
  if (spki === undefined) throw new MalformedPublicKeyError('certificate has no subjectPublicKeyInfo');
  return tbs.slice(spki.offset, spki.end);
}

/**
 * Checks that `spki` is a P-256 public key with a valid point (id-ecPublicKey, namedCurve
 * prime256v1). UnsupportedKeyError for other key types, MalformedPublicKeyError for junk.
 */
export function assertP256PublicKey(spki: Uint8Array): void {
  const view = parsePublicKey(spki);
  if (view.algorithm !== 'ec-p256') throw new UnsupportedKeyError(`expected a P-256 key, got ${view.algorithm}`);
  // RFC 5480 §2.2: the point is an ECPoint octet string; rootline accepts the uncompressed form
  // (0x04 || x || y), which is what "MUST" be supported by implementations.
  if (view.subjectPublicKey.length !== 65 || view.subjectPublicKey[0] !== 0x04) {
    throw new MalformedPublicKeyError('P-256 key is not a 65-byte uncompressed point');
  }
  // node:crypto (OpenSSL) refuses points that are not on the curve.
  publicKeyFromSpki(spki);
}

/** SHA-256 of the SPKI DER, lowercase hex: the lookup key for RPK devices (cf. RFC 7469 §2.4). */
export function publicKeyFingerprint(spki: Uint8Array): string {
  assertBytes(spki, 'spki', { min: 1 });
  parsePublicKey(spki);
  return createHash('sha256').update(spki).digest('hex');
}

/** SPKI DER from a PEM "PUBLIC KEY" block (any key type). */
export function decodePublicKeyPem(pem: string | Uint8Array): Uint8Array {
  if (typeof pem !== 'string' && !(pem instanceof Uint8Array)) throw new InvalidArgumentError('pem', `expected a string, got ${describeType(pem)}`);
  const der = decodePem(pem, 'PUBLIC KEY');
  parsePublicKey(der);
  return der;
}
