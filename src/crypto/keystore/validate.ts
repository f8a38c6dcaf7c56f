/**
 * Argument checks shared by both backends, so that a caller sees the same typed error whichever
 * backend sits behind the KeyStore interface. Internal: not exported from index.ts.
 */
import { InvalidArgumentError } from '../../errors.js';
import { assertBytes, assertOneOf, assertString } from '../../util/assert.js';
import { WrongKeyTypeError } from './errors.js';
import { KEY_TYPES, type KeyStoreAeadAlgorithm, type KeyType } from './types.js';

/**
 * Visible ASCII, inner spaces allowed, 1..128 characters. Labels end up in a JSON file and in
 * a token's CKA_LABEL, and in error messages: no control characters, nothing ambiguous.
 */
export const LABEL_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

export function assertLabel(label: unknown, name = 'label'): asserts label is string {
  assertString(label, name, { min: 1, max: 128 });
  if (!LABEL_PATTERN.test(label)) {
    throw new InvalidArgumentError(name, 'expected visible ASCII (inner spaces allowed), 1..128 characters');
  }
}

export function assertKeyType(type: unknown, name = 'type'): asserts type is KeyType {
  assertOneOf(type, name, KEY_TYPES);
}

export const AEAD_ALGORITHMS: readonly KeyStoreAeadAlgorithm[] = [
  'AES-128-GCM',
  'AES-128-CCM',
  'AES-128-CCM-8',
  'AES-256-GCM',
  'AES-256-CCM',
  'AES-256-CCM-8',
];

export interface AeadParams {
  mode: 'gcm' | 'ccm';
  keyType: 'aes-128' | 'aes-256';
  tagLength: 8 | 16;
}

export function aeadParams(alg: KeyStoreAeadAlgorithm): AeadParams {
  const keyType = alg.startsWith('AES-128-') ? 'aes-128' : 'aes-256';
  if (alg.endsWith('-GCM')) return { mode: 'gcm', keyType, tagLength: 16 };
  return { mode: 'ccm', keyType, tagLength: alg.endsWith('-CCM-8') ? 8 : 16 };
}

/** Checks the AEAD arguments common to seal and open and returns the algorithm's parameters. */
export function checkAeadArgs(
  alg: unknown,
  nonce: unknown,
  data: unknown,
  dataName: 'plaintext' | 'ciphertext',
  aad: unknown,
): AeadParams {
  assertOneOf(alg, 'alg', AEAD_ALGORITHMS);
  const params = aeadParams(alg);
  if (params.mode === 'gcm') {
    // 96-bit IVs only: the one length GCM treats without GHASH-ing the IV (SP 800-38D §8.2.1),
    // and the one DTLS 1.2 (RFC 5288) and COSE (RFC 9053 §4.1) use.
    assertBytes(nonce, 'nonce', { len: 12 });
  } else {
    // RFC 3610 §2: "Valid values of L range between 2 octets and 8 octets" → nonce 15-L = 7..13.
    assertBytes(nonce, 'nonce', { min: 7, max: 13 });
  }
  assertBytes(data, dataName);
  if (aad !== undefined) assertBytes(aad, 'aad');
  if (params.mode === 'ccm') {
    const lengthFieldBytes = 15 - (nonce as Uint8Array).length;
    const n = dataName === 'plaintext' ? data.length : data.length - params.tagLength;
    // RFC 3610 §2: the message length l(m) must fit in L octets.
    if (lengthFieldBytes < 6 && n >= 2 ** (8 * lengthFieldBytes)) {
      throw new InvalidArgumentError(dataName, `too long for a ${(nonce as Uint8Array).length}-byte CCM nonce`);
    }
  }
  return params;
}

/** Throws WrongKeyTypeError unless `actual` is one of `wanted`. */
export function requireKeyType<T extends KeyType>(label: string, actual: KeyType, wanted: readonly T[]): asserts actual is T {
  if (!(wanted as readonly KeyType[]).includes(actual)) throw new WrongKeyTypeError(label, actual, wanted.join(' or '));
}

/** Raw secret lengths accepted by importKey for the symmetric types. */
export function secretLengthRule(type: 'aes-128' | 'aes-256' | 'hmac-256'): { len?: number; min?: number; max?: number } {
  if (type === 'aes-128') return { len: 16 };
  if (type === 'aes-256') return { len: 32 };
  // RFC 2104 §3: keys shorter than L (32 bytes for SHA-256) are "strongly discouraged"; longer
  // than the block size (64) are hashed first, which adds nothing. SoftHSM also requires >= 32.
  return { min: 32, max: 64 };
}

export function isAsymmetric(type: KeyType): type is 'ec-p256' | 'ed25519' {
  return type === 'ec-p256' || type === 'ed25519';
}
