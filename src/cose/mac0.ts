/**
 * COSE_Mac0 (RFC 9052 §6.2): a MAC with a key both sides already share, over
 *   MAC_structure = ["MAC0", protected, external_aad, payload]   (§6.3)
 * Tags are compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, describeType } from '../util/assert.js';
import { MAC_ALGORITHMS, type MacAlgorithm } from './algorithms.js';
import { CoseKeyMismatchError, CoseMacInvalidError, CoseMalformedMessageError } from './errors.js';
import { encodeProtectedHeader, toHeaderMap, type HeaderInput } from './headers.js';
import type { SymmetricKey } from './cose-key.js';
import { rawMacKey, symmetricKeyBytes, type MacKey } from './mac-key.js';
import { encodeStructure } from './structures.js';
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
} from './message.js';

export interface Mac0Options {
  payload: Uint8Array;
  key: MacKey;
  /** alg is added here from the key when neither bucket names it. */
  protectedHeader?: HeaderInput;
  unprotectedHeader?: HeaderInput;
  externalAad?: Uint8Array;
  detachPayload?: boolean;
  /** Prefix CBOR tag 17 (default true). */
  tagged?: boolean;
}

/** A raw secret or Symmetric COSE_Key (bound to the message's algorithm), or a MacKey (must match it). */
export type MacKeyInput = MacKey | Uint8Array | SymmetricKey;

export interface VerifyMac0Options extends EnvelopeOptions {
  key?: MacKeyInput;
  resolveKey?: (lookup: KeyLookup) => MacKeyInput | undefined | Promise<MacKeyInput | undefined>;
  /** Algorithms accepted (default: every supported HMAC). */
  algorithms?: readonly number[];
  externalAad?: Uint8Array;
  detachedPayload?: Uint8Array;
}

export interface VerifiedMac0 extends MessageHeaders {
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function macStructure(bodyProtected: Uint8Array, externalAad: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeStructure('MAC0', [bodyProtected, externalAad, payload]);
}

function assertMacKey(key: unknown, name: string): asserts key is MacKey {
  if (typeof key !== 'object' || key === null || typeof (key as MacKey).mac !== 'function' || typeof (key as MacKey).alg !== 'number') {
    throw new InvalidArgumentError(name, `expected a MacKey, got ${describeType(key)}`);
  }
}

/** MACs `payload` and returns the encoded COSE_Mac0. */
export async function mac0(options: Mac0Options): Promise<Uint8Array> {
  assertOptionsObject(options);
  assertOptionalBoolean(options.detachPayload, 'options.detachPayload');
  assertOptionalBoolean(options.tagged, 'options.tagged');
  const { payload, key, externalAad = EMPTY, detachPayload = false, tagged = true } = options;
  assertBytes(payload, 'options.payload');
  assertMacKey(key, 'options.key');
  assertBytes(externalAad, 'options.externalAad');
  const info = MAC_ALGORITHMS.get(key.alg);
  if (info === undefined) throw new InvalidArgumentError('options.key', `unsupported MAC algorithm ${key.alg}`);
  const protectedHeader = toHeaderMap(options.protectedHeader, 'options.protectedHeader');
  const unprotectedHeader = toHeaderMap(options.unprotectedHeader, 'options.unprotectedHeader');
  bindAlgorithmHeader(protectedHeader, unprotectedHeader, info.id, `the key's ${info.name}`);

  const bodyProtected = encodeProtectedHeader(protectedHeader);
  const tag = await key.mac(macStructure(bodyProtected, externalAad, payload));
  if (!(tag instanceof Uint8Array) || tag.length !== info.tagLength) {
    throw new InvalidArgumentError('options.key', `mac() returned ${describeType(tag)}, expected ${info.tagLength} bytes`);
  }
  const body = [bodyProtected, unprotectedHeader, detachPayload ? null : payload, new Uint8Array(tag)];
  return encodeMessage(CoseTag.Mac0, body, tagged);
}

function toMacKey(input: unknown, alg: MacAlgorithm, name: string): MacKey {
  if (input instanceof Uint8Array) return rawMacKey(input, alg.id);
  if (typeof input === 'object' && input !== null && 'kty' in input) return rawMacKey(symmetricKeyBytes(input, alg.id, name, 'macVerify'), alg.id);
  assertMacKey(input, name);
  // RFC 9053 §3.1: recipients "MUST validate that the key type, key length, and algorithm are correct".
  if (input.alg !== alg.id) throw new CoseKeyMismatchError(`the key is for MAC algorithm ${input.alg}, the message uses ${alg.id}`);
  return input;
}

/**
 * Verifies a COSE_Mac0 (tagged 17 or untagged) and returns its payload. Throws
 * ERR_COSE_MAC_INVALID when the tag does not match.
 */
export async function verifyMac0(bytes: Uint8Array, options: VerifyMac0Options): Promise<VerifiedMac0> {
  assertOptionsObject(options);
  assertKeySource(options);
  if (options.key !== undefined && !(options.key instanceof Uint8Array)) {
    if (typeof options.key === 'object' && options.key !== null && 'kty' in options.key) symmetricKeyBytes(options.key, undefined, 'options.key');
    else assertMacKey(options.key, 'options.key');
  }
  assertAllowlist(options.algorithms, 'options.algorithms');
  assertOptionalBytes(options.externalAad, 'options.externalAad');
  assertOptionalBytes(options.detachedPayload, 'options.detachedPayload');

  const parsed = parseMessage(bytes, 'COSE_Mac0', CoseTag.Mac0, 4, options);
  const [payloadField, tag] = parsed.rest;
  if (!(tag instanceof Uint8Array)) throw new CoseMalformedMessageError('COSE_Mac0 tag must be a bstr');
  const payload = messageContent(payloadField, options.detachedPayload, { kind: 'COSE_Mac0', content: 'payload', option: 'options.detachedPayload' });

  const alg = messageAlgorithm(parsed, MAC_ALGORITHMS, 'MAC', options.algorithms);
  const kid = messageKid(parsed);
  const keyInput = options.key ?? (await resolveMessageKey(options.resolveKey!, parsed, kid, alg.id));
  const key = toMacKey(keyInput, alg, options.key !== undefined ? 'options.key' : 'options.resolveKey');

  const expected = await key.mac(macStructure(protectedForStructure(parsed), options.externalAad ?? EMPTY, payload));
  // Length is public (it follows from alg); only equal-length tags reach the constant-time compare.
  if (tag.length !== expected.length || !timingSafeEqual(tag, expected)) throw new CoseMacInvalidError();
  return { payload, ...messageHeaders(parsed, alg.id, kid) };
}
