/**
 * COSE_Sign1 (RFC 9052 §4.2): one signer, signature over
 *   Sig_structure = ["Signature1", body_protected, external_aad, payload]   (§4.4)
 * Signing goes through the crypto room's Signer, so keys may live in a KeyStore (software or
 * PKCS#11) and never pass through here.
 */
import type { KeyObject } from 'node:crypto';
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, describeType } from '../util/assert.js';
import { CoseAlgorithm, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './algorithms.js';
import { CborTag, encodeCbor } from './cbor.js';
import { CoseDetachedContentError, CoseKeyNotFoundError, CoseMalformedMessageError, CoseSignatureInvalidError } from './errors.js';
import { HeaderLabels, assertHeaderBuckets, encodeProtectedHeader, headerValue, toHeaderMap, type HeaderInput, type HeaderMap } from './headers.js';
import {
  CoseTag,
  assertAllowlist,
  assertOptionalBoolean,
  assertOptionalBytes,
  assertOptionsObject,
  messageAlgorithm,
  messageKid,
  parseMessage,
  protectedForStructure,
  type EnvelopeOptions,
  type KeyLookup,
} from './message.js';
import { SIGNATURE_LENGTH, assertCoseKeyAlgorithm, assertKeyFitsSignatureAlgorithm, toPublicKeyObject, verifySignature, type PublicKeyInput } from './signature-keys.js';

export interface Sign1Options {
  payload: Uint8Array;
  signer: Signer;
  /** alg is added here from the signer when neither bucket names it. */
  protectedHeader?: HeaderInput;
  unprotectedHeader?: HeaderInput;
  /** Application data bound into the signature but not carried (RFC 9052 §4.3). */
  externalAad?: Uint8Array;
  /** Send nil instead of the payload (RFC 9052 §4.1 detached content). */
  detachPayload?: boolean;
  /** Prefix CBOR tag 18 (default true). */
  tagged?: boolean;
}

export interface VerifySign1Options extends EnvelopeOptions {
  /** The verification key. Exactly one of `key` (or its alias `publicKey`) and `resolveKey`. */
  key?: PublicKeyInput;
  /** Same as `key`. */
  publicKey?: PublicKeyInput;
  /** Finds the key from kid/alg; returning undefined fails with ERR_COSE_KEY_NOT_FOUND. */
  resolveKey?: (lookup: KeyLookup) => PublicKeyInput | undefined | Promise<PublicKeyInput | undefined>;
  /** Algorithms accepted (default: ES256 and EdDSA). */
  algorithms?: readonly number[];
  externalAad?: Uint8Array;
  /** The payload, when the message carries nil in its place. */
  detachedPayload?: Uint8Array;
}

export interface VerifiedSign1 {
  payload: Uint8Array;
  alg: number;
  kid: Uint8Array | undefined;
  protectedHeader: HeaderMap;
  unprotectedHeader: HeaderMap;
}

const EMPTY = new Uint8Array(0);

function assertSigner(signer: unknown): asserts signer is Signer {
  if (typeof signer !== 'object' || signer === null) throw new InvalidArgumentError('options.signer', `expected a Signer, got ${describeType(signer)}`);
  const s = signer as Partial<Signer>;
  if (s.algorithm !== 'ES256' && s.algorithm !== 'EdDSA') throw new InvalidArgumentError('options.signer', `unsupported signer algorithm ${describeType(s.algorithm)}`);
  if (typeof s.sign !== 'function') throw new InvalidArgumentError('options.signer', 'signer.sign is not a function');
}

function sigStructure(bodyProtected: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', bodyProtected, externalAad, payload]);
}

/** Signs `payload` and returns the encoded COSE_Sign1. */
export async function sign1(options: Sign1Options): Promise<Uint8Array> {
  assertOptionsObject(options);
  assertOptionalBoolean(options.detachPayload, 'options.detachPayload');
  assertOptionalBoolean(options.tagged, 'options.tagged');
  const { payload, signer, externalAad = EMPTY, detachPayload = false, tagged = true } = options;
  assertBytes(payload, 'options.payload');
  assertSigner(signer);
  assertBytes(externalAad, 'options.externalAad');
  const protectedHeader = toHeaderMap(options.protectedHeader, 'options.protectedHeader');
  const unprotectedHeader = toHeaderMap(options.unprotectedHeader, 'options.unprotectedHeader');
  assertHeaderBuckets(protectedHeader, unprotectedHeader, 'options.protectedHeader');

  const alg = signer.algorithm === 'ES256' ? CoseAlgorithm.ES256 : CoseAlgorithm.EdDSA;
  const declared = headerValue(protectedHeader, unprotectedHeader, HeaderLabels.alg);
  // alg "MUST be authenticated where the ability to do so exists" (RFC 9052 §3.1): protected by default.
  if (declared === undefined) protectedHeader.set(HeaderLabels.alg, alg);
  else if (declared !== alg) throw new InvalidArgumentError('options.protectedHeader', `alg ${String(declared)} does not match the ${signer.algorithm} signer`);

  const bodyProtected = encodeProtectedHeader(protectedHeader);
  const signature = await signer.sign(sigStructure(bodyProtected, externalAad, payload));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) {
    throw new InvalidArgumentError('options.signer', `signer returned ${describeType(signature)}, expected ${SIGNATURE_LENGTH} signature bytes`);
  }
  const body = [bodyProtected, unprotectedHeader, detachPayload ? null : payload, new Uint8Array(signature)];
  return encodeCbor(tagged ? new CborTag(CoseTag.Sign1, body) : body);
}

async function resolveVerificationKey(options: VerifySign1Options, lookup: KeyLookup): Promise<KeyObject> {
  const found = await options.resolveKey!(lookup);
  if (found === undefined) throw new CoseKeyNotFoundError(lookup.kid);
  assertCoseKeyAlgorithm(found, lookup.alg);
  return toPublicKeyObject(found, 'options.resolveKey');
}

/**
 * Verifies a COSE_Sign1 (tagged 18 or untagged) and returns its payload. Throws
 * ERR_COSE_SIGNATURE_INVALID on a bad signature and a typed ERR_COSE_* error on anything else.
 */
export async function verifySign1(bytes: Uint8Array, verifyOptions: VerifySign1Options): Promise<VerifiedSign1> {
  assertOptionsObject(verifyOptions, 'options');
  if (verifyOptions.key !== undefined && verifyOptions.publicKey !== undefined) throw new InvalidArgumentError('options.publicKey', 'give key or publicKey, not both');
  const options: VerifySign1Options = verifyOptions.publicKey !== undefined ? { ...verifyOptions, key: verifyOptions.publicKey } : verifyOptions;
  if ((options.key === undefined) === (options.resolveKey === undefined)) {
    throw new InvalidArgumentError('options', 'give exactly one of key and resolveKey');
  }
  if (options.resolveKey !== undefined && typeof options.resolveKey !== 'function') throw new InvalidArgumentError('options.resolveKey', 'expected a function');
  assertAllowlist(options.algorithms, 'options.algorithms');
  assertOptionalBytes(options.externalAad, 'options.externalAad');
  assertOptionalBytes(options.detachedPayload, 'options.detachedPayload');
  const key = options.key !== undefined ? toPublicKeyObject(options.key, 'options.key') : undefined;

  const parsed = parseMessage(bytes, 'COSE_Sign1', CoseTag.Sign1, 4, options);
  const [payloadField, signature] = parsed.rest;
  if (!(signature instanceof Uint8Array)) throw new CoseMalformedMessageError('COSE_Sign1 signature must be a bstr');
  let payload: Uint8Array;
  if (payloadField === null) {
    if (options.detachedPayload === undefined) throw new CoseDetachedContentError('payload');
    payload = options.detachedPayload;
  } else if (payloadField instanceof Uint8Array) {
    if (options.detachedPayload !== undefined) throw new InvalidArgumentError('options.detachedPayload', 'the message carries its payload');
    payload = payloadField;
  } else {
    throw new CoseMalformedMessageError('COSE_Sign1 payload must be a bstr or nil');
  }

  const alg: SignatureAlgorithm = messageAlgorithm(parsed, SIGNATURE_ALGORITHMS, 'signature', options.algorithms);
  const kid = messageKid(parsed);
  if (options.key !== undefined) assertCoseKeyAlgorithm(options.key, alg.id);
  const publicKey = key ?? (await resolveVerificationKey(options, { kid, alg: alg.id, protectedHeader: parsed.protectedHeader, unprotectedHeader: parsed.unprotectedHeader }));
  assertKeyFitsSignatureAlgorithm(publicKey, alg);

  const toBeSigned = sigStructure(protectedForStructure(parsed), options.externalAad ?? EMPTY, payload);
  if (!verifySignature(alg, publicKey, toBeSigned, signature)) throw new CoseSignatureInvalidError();
  return { payload, alg: alg.id, kid, protectedHeader: parsed.protectedHeader, unprotectedHeader: parsed.unprotectedHeader };
}
