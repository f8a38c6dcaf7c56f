/**
 * The SUIT authentication wrapper (draft-ietf-suit-manifest §8.3): a SUIT_Digest of the manifest
 * followed by COSE_Sign1 blocks whose payload is that digest, detached (the block carries nil and
 * the verifier supplies the encoded SUIT_Digest). Signing goes through a Signer, so the
 * firmware-signing key may live in a KeyStore (software or PKCS#11) and never pass through here.
 */
import { createHash, verify as nodeVerify, type KeyObject } from 'node:crypto';
import type { Signer } from '../../crypto/keystore/types.js';
import { decodeCbor, encodeCbor, CborTag } from '../../cose/cbor.js';
import { CoseError } from '../../cose/errors.js';
import { sign1, verifySign1 } from '../../cose/sign1.js';
import { toPublicKeyObject, type PublicKeyInput } from '../../cose/signature-keys.js';
import { InvalidArgumentError } from '../../errors.js';
import { assertBytes, describeType } from '../../util/assert.js';
import { encodeDigest, wrappedDigestOf } from './digest.js';
import { SuitBadSignatureError, SuitMalformedError, SuitUnknownKeyError, SuitUnsupportedError } from './errors.js';
import { encodeEnvelope } from './encode.js';
import { SignatureAlg } from './labels.js';
import { toHex } from './cbor-util.js';

/** A key trusted to sign manifests; `kid` narrows which blocks it is tried on. */
export interface TrustedKey {
  key: PublicKeyInput;
  kid?: Uint8Array;
}

export type TrustedKeyInput = PublicKeyInput | TrustedKey;

/** The key id rootline puts in its blocks: SHA-256 of the SubjectPublicKeyInfo DER. */
export function keyIdOf(spki: Uint8Array): Uint8Array {
  assertBytes(spki, 'spki', { min: 1 });
  return new Uint8Array(createHash('sha256').update(spki).digest());
}

/** Signs `manifestBytes` and returns the SUIT_Envelope_Tagged bytes. */
export async function signManifest(manifestBytes: Uint8Array, signer: Signer, options: { kid?: Uint8Array } = {}): Promise<Uint8Array> {
  assertBytes(manifestBytes, 'manifestBytes', { min: 1 });
  if (typeof signer !== 'object' || signer === null || typeof signer.sign !== 'function') throw new InvalidArgumentError('signer', `expected a Signer, got ${describeType(signer)}`);
  const kid = options.kid ?? keyIdOf(signer.publicKey);
  assertBytes(kid, 'options.kid', { min: 1, max: 64 });
  const digestBytes = encodeDigest(wrappedDigestOf(manifestBytes));
  const block = await sign1({ payload: digestBytes, signer, unprotectedHeader: { kid }, detachPayload: true });
  return encodeEnvelope(manifestBytes, digestBytes, [block]);
}

interface PreparedKey {
  key: KeyObject;
  kid: Uint8Array | undefined;
  index: number;
}

export function prepareTrustedKeys(trustedKeys: unknown): PreparedKey[] {
  if (!Array.isArray(trustedKeys) || trustedKeys.length === 0) throw new InvalidArgumentError('options.trustedKeys', 'expected a non-empty array of keys');
  return trustedKeys.map((entry: unknown, index) => {
    const isObject = typeof entry === 'object' && entry !== null && !(entry instanceof Uint8Array);
    const isWrapped = isObject && 'key' in entry && !('kty' in entry);
    const raw = isWrapped ? (entry as TrustedKey) : { key: entry as PublicKeyInput };
    // A COSE_Key given directly brings its own kid.
    const ownKid = isObject && 'kty' in entry ? (entry as { kid?: Uint8Array }).kid : undefined;
    const kid = raw.kid ?? ownKid;
    if (kid !== undefined) assertBytes(kid, `options.trustedKeys[${index}].kid`, { min: 1 });
    return { key: toPublicKeyObject(raw.key, `options.trustedKeys[${index}]`), kid, index };
  });
}

export interface BlockVerification {
  alg: number;
  kid: Uint8Array | undefined;
  /** Index into options.trustedKeys of the key that verified. */
  keyIndex: number;
}

function keyFits(key: KeyObject, alg: number): boolean {
  if (alg === SignatureAlg.EdDSA) return key.asymmetricKeyType === 'ed25519';
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/**
 * Verifies one COSE_Sign1 authentication block over the encoded SUIT_Digest. Returns which key
 * verified, or throws ERR_SUIT_UNKNOWN_KEY (no trusted key to try) / ERR_SUIT_BAD_SIGNATURE.
 */
export async function verifyAuthenticationBlock(block: Uint8Array, digestBytes: Uint8Array, keys: readonly PreparedKey[]): Promise<BlockVerification> {
  const header = readBlockHeader(block);
  // A kid names the key: only keys with that kid (or without any kid) are candidates. Without a
  // kid, every trusted key of the algorithm's type is tried (the draft's examples carry none).
  const candidates = keys.filter((k) => keyFits(k.key, header.alg) && (header.kid === undefined || k.kid === undefined || Buffer.compare(k.kid, header.kid) === 0));
  if (candidates.length === 0) {
    throw new SuitUnknownKeyError(header.kid === undefined ? `no trusted key for algorithm ${header.alg}` : `no trusted key with kid ${toHex(header.kid)}`);
  }
  const named = header.kid !== undefined && candidates.some((k) => k.kid !== undefined);
  for (const candidate of candidates) {
    if (await verifyWith(block, digestBytes, candidate.key, header)) return { alg: header.alg, kid: header.kid, keyIndex: candidate.index };
  }
  // A key chosen by its kid that does not verify means a forged or damaged signature; a block no
  // trusted key verifies, without a kid to say whose it is, was signed by a key we do not know.
  if (named) throw new SuitBadSignatureError('the authentication block does not verify with the key its kid names');
  throw new SuitUnknownKeyError('the authentication block is not signed by any trusted key');
}

interface BlockHeader {
  alg: number;
  kid: Uint8Array | undefined;
  protectedBytes: Uint8Array;
  signature: Uint8Array;
}

/** Reads alg and kid; structural checks beyond that are verifySign1's. */
function readBlockHeader(block: Uint8Array): BlockHeader {
  let value: unknown;
  try {
    value = decodeCbor(block, { maxDepth: 8 });
  } catch (err) {
    throw new SuitMalformedError('authentication block: not CBOR', { cause: err });
  }
  if (value instanceof CborTag) {
    if (value.tag !== 18) throw new SuitUnsupportedError(`authentication block: CBOR tag ${String(value.tag)} is not COSE_Sign1 (18)`);
    value = value.contents;
  }
  if (!Array.isArray(value) || value.length !== 4) throw new SuitMalformedError('authentication block: not a COSE_Sign1');
  const [protectedBytes, unprotected, payload, signature] = value as unknown[];
  if (!(protectedBytes instanceof Uint8Array) || !(unprotected instanceof Map) || !(signature instanceof Uint8Array)) {
    throw new SuitMalformedError('authentication block: malformed COSE_Sign1');
  }
  if (payload !== null) throw new SuitMalformedError('authentication block: the payload must be detached (nil)');
  let prot: unknown = new Map();
  if (protectedBytes.length > 0) {
    try {
      prot = decodeCbor(protectedBytes, { maxDepth: 4 });
    } catch (err) {
      throw new SuitMalformedError('authentication block: protected header is not CBOR', { cause: err });
    }
  }
  if (!(prot instanceof Map)) throw new SuitMalformedError('authentication block: protected header is not a map');
  const alg = prot.get(1) ?? unprotected.get(1);
  if (alg !== SignatureAlg.ES256 && alg !== SignatureAlg.EdDSA && alg !== SignatureAlg.ESP256) {
    throw new SuitUnsupportedError(`authentication block: signature algorithm ${String(alg)} is not supported`);
  }
  const kid = prot.get(4) ?? unprotected.get(4);
  if (kid !== undefined && !(kid instanceof Uint8Array)) throw new SuitMalformedError('authentication block: kid must be a bstr');
  return { alg, kid, protectedBytes, signature };
}

async function verifyWith(block: Uint8Array, digestBytes: Uint8Array, key: KeyObject, header: BlockHeader): Promise<boolean> {
  if (header.alg === SignatureAlg.ESP256) return verifyEsp256(header, digestBytes, key);
  try {
    await verifySign1(block, { key, algorithms: [header.alg], detachedPayload: digestBytes });
    return true;
  } catch (err) {
    if (err instanceof CoseError && err.code === 'ERR_COSE_SIGNATURE_INVALID') return false;
    if (err instanceof CoseError) throw new SuitMalformedError(`authentication block: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * ESP256 (-9, RFC 9864) is ES256 with the curve fixed; the cose room implements -7/-8 only, so
 * the Sig_structure (RFC 9052 §4.4) is built here for it. The protected header must not carry
 * `crit` labels this code does not understand (§3.1), the same rule verifySign1 enforces.
 */
function verifyEsp256(header: BlockHeader, digestBytes: Uint8Array, key: KeyObject): boolean {
  if (header.protectedBytes.length > 0) {
    const prot = decodeCbor(header.protectedBytes, { maxDepth: 4 }) as Map<unknown, unknown>;
    if (prot.has(2)) throw new SuitUnsupportedError('authentication block: critical headers are not supported');
  }
  if (header.signature.length !== 64) return false;
  const toBeSigned = encodeCbor(['Signature1', header.protectedBytes, new Uint8Array(0), digestBytes]);
  return nodeVerify('sha256', toBeSigned, { key, dsaEncoding: 'ieee-p1363' }, header.signature);
}
