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
import { CoseMalformedMessageError, CoseSignatureInvalidError } from './errors.js';
import { encodeProtectedHeader, toHeaderMap, type HeaderInput } from './headers.js';
import { sigStructure1 } from './structures.js';
import {
  CoseTag,
  assertAllowlist,
  assertOptionalBoolean,
  assertOptionalBytes,
  assertKeySource,
  assertOptionsObject,
  bindAlgorithmHeader,
  encodeMessage,
  messageAlgorithm,
  messageContent,
  messageHeaders,
  messageKid,
  parseMessage,
  protectedForStructure,
  resolveMessageKey,
  type EnvelopeOptions,
  type KeyLookup,
  type MessageHeaders,
  type ParsedMessage,
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

export interface VerifiedSign1 extends MessageHeaders {
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function assertSigner(signer: unknown): asserts signer is Signer {
  if (typeof signer !== 'object' || signer === null) throw new InvalidArgumentError('options.signer', `expected a Signer, got ${describeType(signer)}`);
  const s = signer as Partial<Signer>;
  if (s.algorithm !== 'ES256' && s.algorithm !== 'EdDSA') throw new InvalidArgumentError('options.signer', `unsupported signer algorithm ${describeType(s.algorithm)}`);
  if (typeof s.sign !== 'function') throw new InvalidArgumentError('options.signer', 'signer.sign is not a function');
}

function sigStructure(bodyProtected: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  return sigStructure1(bodyProtected, externalAad, payload);
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
  const alg = signer.algorithm === 'ES256' ? CoseAlgorithm.ES256 : CoseAlgorithm.EdDSA;
  bindAlgorithmHeader(protectedHeader, unprotectedHeader, alg, `the ${signer.algorithm} signer`);

  const bodyProtected = encodeProtectedHeader(protectedHeader);
  const signature = await signer.sign(sigStructure(bodyProtected, externalAad, payload));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) {
    throw new InvalidArgumentError('options.signer', `signer returned ${describeType(signature)}, expected ${SIGNATURE_LENGTH} signature bytes`);
  }
  const body = [bodyProtected, unprotectedHeader, detachPayload ? null : payload, new Uint8Array(signature)];
  return encodeMessage(CoseTag.Sign1, body, tagged);
}

async function resolveVerificationKey(options: VerifySign1Options, parsed: ParsedMessage, kid: Uint8Array | undefined, alg: number): Promise<KeyObject> {
  const found = await resolveMessageKey(options.resolveKey!, parsed, kid, alg);
  assertCoseKeyAlgorithm(found, alg);
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
  assertKeySource(options);
  assertAllowlist(options.algorithms, 'options.algorithms');
  assertOptionalBytes(options.externalAad, 'options.externalAad');
  assertOptionalBytes(options.detachedPayload, 'options.detachedPayload');
  const key = options.key !== undefined ? toPublicKeyObject(options.key, 'options.key') : undefined;

  const parsed = parseMessage(bytes, 'COSE_Sign1', CoseTag.Sign1, 4, options);
  const [payloadField, signature] = parsed.rest;
  if (!(signature instanceof Uint8Array)) throw new CoseMalformedMessageError('COSE_Sign1 signature must be a bstr');
  const payload = messageContent(payloadField, options.detachedPayload, { kind: 'COSE_Sign1', content: 'payload', option: 'options.detachedPayload' });

  const alg: SignatureAlgorithm = messageAlgorithm(parsed, SIGNATURE_ALGORITHMS, 'signature', options.algorithms);
  const kid = messageKid(parsed);
  if (options.key !== undefined) assertCoseKeyAlgorithm(options.key, alg.id);
  const publicKey = key ?? (await resolveVerificationKey(options, parsed, kid, alg.id));
  assertKeyFitsSignatureAlgorithm(publicKey, alg);

  const toBeSigned = sigStructure(protectedForStructure(parsed), options.externalAad ?? EMPTY, payload);
  if (!verifySignature(alg, publicKey, toBeSigned, signature)) throw new CoseSignatureInvalidError();
  return { payload, ...messageHeaders(parsed, alg.id, kid) };
}
