/**
 * COSE_Encrypt0 (RFC 9052 §5.2): content encrypted with a key both sides already share, the
 * AEAD's associated data being
 *   Enc_structure = ["Encrypt0", protected, external_aad]   (§5.3)
 * The nonce travels as IV (label 5), or as Partial IV (label 6) combined with a Base IV the
 * recipient already holds (§3.1).
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger, describeType } from '../util/assert.js';
import { AEAD_ALGORITHMS, type AeadAlgorithm } from './algorithms.js';
import type { SymmetricKey } from './cose-key.js';
import { openContent, sealContent } from './content-cipher.js';
import { isContentKey, type ContentKey } from './content-key.js';
import { CoseDecryptionFailedError, CoseKeyMismatchError, CoseMalformedMessageError } from './errors.js';
import { HeaderLabels, encodeProtectedHeader, headerValue, toHeaderMap, type HeaderInput, type HeaderMap } from './headers.js';
import { symmetricKeyBytes } from './mac-key.js';
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

export interface Encrypt0Options {
  plaintext: Uint8Array;
  /** The content encryption key: raw bytes (length fixed by `alg`) or a ContentKey (e.g. in a KeyStore). */
  key: Uint8Array | ContentKey;
  /** COSE AEAD algorithm identifier (see CoseAlgorithm); must match a ContentKey's alg. */
  alg: number;
  /**
   * The full nonce, sent as IV. Default: random. A nonce MUST NOT repeat under one key; give it
   * explicitly (or use partialIv) when a counter guarantees that better than chance.
   */
  iv?: Uint8Array;
  /** Send only this Partial IV; the nonce is it, left-padded, XOR `baseIv` (RFC 9052 §3.1). */
  partialIv?: Uint8Array;
  baseIv?: Uint8Array;
  /** alg is added here when neither bucket names it. IV parameters come from the options above. */
  protectedHeader?: HeaderInput;
  unprotectedHeader?: HeaderInput;
  externalAad?: Uint8Array;
  /** Send nil instead of the ciphertext (RFC 9052 §5.1 detached content). */
  detachCiphertext?: boolean;
  /** Prefix CBOR tag 16 (default true). */
  tagged?: boolean;
}

/** A raw content key, a Symmetric COSE_Key, or a ContentKey (e.g. in a KeyStore; must match the message's alg). */
export type ContentKeyInput = Uint8Array | SymmetricKey | ContentKey;

export interface Decrypt0Options extends EnvelopeOptions {
  key?: ContentKeyInput;
  resolveKey?: (lookup: KeyLookup) => ContentKeyInput | undefined | Promise<ContentKeyInput | undefined>;
  /** Algorithms accepted (default: every supported AEAD). */
  algorithms?: readonly number[];
  externalAad?: Uint8Array;
  /** The ciphertext, when the message carries nil in its place. */
  detachedCiphertext?: Uint8Array;
  /** Needed when the message carries a Partial IV instead of an IV. */
  baseIv?: Uint8Array;
}

export interface DecryptedEncrypt0 extends MessageHeaders {
  plaintext: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function encStructure(bodyProtected: Uint8Array, externalAad: Uint8Array): Uint8Array {
  return encodeStructure('Encrypt0', [bodyProtected, externalAad]);
}

/**
 * RFC 9052 §3.1: "1. Left-pad the Partial IV with zeros to the length of IV ... 2. XOR the
 * padded Partial IV with the Context IV." A Base IV shorter than the nonce is its prefix (zeros
 * follow), as in RFC 9052 Appendix C.4.2 ("Prefix for IV").
 */
function nonceFromPartialIv(partialIv: Uint8Array, baseIv: Uint8Array, nonceLength: number): Uint8Array {
  const nonce = new Uint8Array(nonceLength);
  nonce.set(baseIv);
  const offset = nonceLength - partialIv.length;
  for (let i = 0; i < partialIv.length; i++) nonce[offset + i]! ^= partialIv[i]!;
  return nonce;
}

function aeadAlgorithm(alg: unknown): AeadAlgorithm {
  assertInteger(alg, 'options.alg');
  const info = AEAD_ALGORITHMS.get(alg);
  if (info === undefined) throw new InvalidArgumentError('options.alg', `not a supported COSE content encryption algorithm: ${alg}`);
  return info;
}

/** Encrypts `plaintext` and returns the encoded COSE_Encrypt0. */
export async function encrypt0(options: Encrypt0Options): Promise<Uint8Array> {
  assertOptionsObject(options);
  assertOptionalBoolean(options.detachCiphertext, 'options.detachCiphertext');
  assertOptionalBoolean(options.tagged, 'options.tagged');
  const { plaintext, key, externalAad = EMPTY, detachCiphertext = false, tagged = true } = options;
  const alg = aeadAlgorithm(options.alg);
  assertBytes(plaintext, 'options.plaintext', { max: alg.maxPlaintextLength });
  if (isContentKey(key)) {
    if (key.alg !== alg.id) throw new InvalidArgumentError('options.key', `the key is for algorithm ${key.alg}, not ${alg.id}`);
  } else {
    assertBytes(key, 'options.key', { len: alg.keyLength });
  }
  assertBytes(externalAad, 'options.externalAad');
  const protectedHeader = toHeaderMap(options.protectedHeader, 'options.protectedHeader');
  const unprotectedHeader = toHeaderMap(options.unprotectedHeader, 'options.unprotectedHeader');
  for (const label of [HeaderLabels.iv, HeaderLabels.partialIv]) {
    if (protectedHeader.has(label) || unprotectedHeader.has(label)) {
      throw new InvalidArgumentError('options.unprotectedHeader', 'give the nonce as options.iv or options.partialIv, not as a header');
    }
  }

  let nonce: Uint8Array;
  if (options.partialIv !== undefined) {
    if (options.iv !== undefined) throw new InvalidArgumentError('options.iv', 'give iv or partialIv, not both');
    assertBytes(options.baseIv, 'options.baseIv', { min: 1, max: alg.nonceLength });
    assertBytes(options.partialIv, 'options.partialIv', { min: 1, max: alg.nonceLength });
    nonce = nonceFromPartialIv(options.partialIv, options.baseIv, alg.nonceLength);
    unprotectedHeader.set(HeaderLabels.partialIv, new Uint8Array(options.partialIv));
  } else {
    if (options.baseIv !== undefined) throw new InvalidArgumentError('options.baseIv', 'a Base IV is only used with partialIv');
    if (options.iv !== undefined) assertBytes(options.iv, 'options.iv', { len: alg.nonceLength });
    nonce = options.iv !== undefined ? new Uint8Array(options.iv) : new Uint8Array(randomBytes(alg.nonceLength));
    unprotectedHeader.set(HeaderLabels.iv, nonce);
  }
  bindAlgorithmHeader(protectedHeader, unprotectedHeader, alg.id, `options.alg ${alg.id}`);

  const bodyProtected = encodeProtectedHeader(protectedHeader);
  const aad = encStructure(bodyProtected, externalAad);
  const ciphertext = isContentKey(key) ? await key.seal(nonce, plaintext, aad) : sealContent(alg, key, nonce, plaintext, aad);
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length !== plaintext.length + alg.tagLength) {
    throw new InvalidArgumentError('options.key', `seal() returned ${describeType(ciphertext)}, expected ${plaintext.length + alg.tagLength} bytes`);
  }
  const body = [bodyProtected, unprotectedHeader, detachCiphertext ? null : ciphertext];
  return encodeMessage(CoseTag.Encrypt0, body, tagged);
}

/** The nonce of a received message: its IV, or its Partial IV combined with the caller's Base IV. */
function messageNonce(protectedHeader: HeaderMap, unprotectedHeader: HeaderMap, alg: AeadAlgorithm, baseIv: Uint8Array | undefined): Uint8Array {
  const iv = headerValue(protectedHeader, unprotectedHeader, HeaderLabels.iv) as Uint8Array | undefined;
  if (iv !== undefined) {
    if (iv.length !== alg.nonceLength) throw new CoseMalformedMessageError(`${alg.name} needs a ${alg.nonceLength}-byte IV, got ${iv.length}`);
    return iv;
  }
  const partialIv = headerValue(protectedHeader, unprotectedHeader, HeaderLabels.partialIv) as Uint8Array | undefined;
  if (partialIv === undefined) throw new CoseMalformedMessageError('the message has neither IV nor Partial IV');
  if (partialIv.length === 0 || partialIv.length > alg.nonceLength) throw new CoseMalformedMessageError(`Partial IV of ${partialIv.length} bytes does not fit a ${alg.nonceLength}-byte nonce`);
  if (baseIv === undefined) throw new InvalidArgumentError('options.baseIv', 'the message carries a Partial IV; its Base IV is needed');
  if (baseIv.length === 0 || baseIv.length > alg.nonceLength) throw new InvalidArgumentError('options.baseIv', `expected 1..${alg.nonceLength} bytes for ${alg.name}`);
  return nonceFromPartialIv(partialIv, baseIv, alg.nonceLength);
}

/**
 * Decrypts a COSE_Encrypt0 (tagged 16 or untagged). Throws ERR_COSE_DECRYPTION_FAILED when the
 * ciphertext does not authenticate.
 */
export async function decrypt0(bytes: Uint8Array, options: Decrypt0Options): Promise<DecryptedEncrypt0> {
  assertOptionsObject(options);
  assertKeySource(options);
  if (options.key instanceof Uint8Array) assertBytes(options.key, 'options.key', { min: 16, max: 32 });
  else if (options.key !== undefined && !isContentKey(options.key)) symmetricKeyBytes(options.key, undefined, 'options.key');
  assertAllowlist(options.algorithms, 'options.algorithms');
  assertOptionalBytes(options.externalAad, 'options.externalAad');
  assertOptionalBytes(options.detachedCiphertext, 'options.detachedCiphertext');
  assertOptionalBytes(options.baseIv, 'options.baseIv');

  const parsed = parseMessage(bytes, 'COSE_Encrypt0', CoseTag.Encrypt0, 3, options);
  const [ciphertextField] = parsed.rest;
  const ciphertext = messageContent(ciphertextField, options.detachedCiphertext, { kind: 'COSE_Encrypt0', content: 'ciphertext', option: 'options.detachedCiphertext' });

  const alg = messageAlgorithm(parsed, AEAD_ALGORITHMS, 'content encryption', options.algorithms);
  const nonce = messageNonce(parsed.protectedHeader, parsed.unprotectedHeader, alg, options.baseIv);
  const kid = messageKid(parsed);
  const keyInput = options.key ?? (await resolveMessageKey(options.resolveKey!, parsed, kid, alg.id));
  const name = options.key !== undefined ? 'options.key' : 'options.resolveKey';
  const aad = encStructure(protectedForStructure(parsed), options.externalAad ?? EMPTY);
  let plaintext: Uint8Array;
  if (isContentKey(keyInput)) {
    if (keyInput.alg !== alg.id) throw new CoseKeyMismatchError(`the key is for algorithm ${keyInput.alg}, the message uses ${alg.id}`);
    if (ciphertext.length < alg.tagLength) throw new CoseDecryptionFailedError();
    try {
      plaintext = await keyInput.open(nonce, ciphertext, aad);
    } catch (err) {
      // Whatever the key's backend says (ERR_AEAD_AUTH_FAILED from a KeyStore), the caller learns one thing.
      throw new CoseDecryptionFailedError({ cause: err });
    }
  } else {
    const key = keyInput instanceof Uint8Array ? keyInput : symmetricKeyBytes(keyInput, alg.id, name, 'decrypt');
    assertBytes(key, name);
    if (key.length !== alg.keyLength) throw new CoseKeyMismatchError(`${alg.name} needs a ${alg.keyLength}-byte key, got ${key.length}`);
    plaintext = openContent(alg, key, nonce, ciphertext, aad);
  }
  return { plaintext, ...messageHeaders(parsed, alg.id, kid) };
}
