/**
 * Payload encryption for a device class (draft-ietf-suit-firmware-encryption's
 * SUIT_Encryption_Info, in its simplest form): the image is encrypted under a symmetric key that
 * every device of the class holds, with COSE_Encrypt0 and detached ciphertext. The Encrypt0
 * (protected alg, unprotected IV and kid) travels in the manifest as the encryption-info
 * parameter (19), so it is covered by the manifest signature; the ciphertext is the payload.
 *
 * Algorithms: AES-CCM-64-128-128/256 (COSE 32/33) and LEA-CCM-64-128-128/256 (-65545/-65546,
 * rootline's private-use ids, see src/cose/README.md). Only L = 64 variants: the L = 16 ones
 * (13-byte nonce) cap the plaintext at 64 KiB, smaller than most firmware. Their 7-byte nonce is
 * random; one class key would need ~2^28 images before a collision becomes likely.
 */
import { CoseAlgorithm } from '../../cose/algorithms.js';
import { CborTag, decodeCbor, encodeCbor } from '../../cose/cbor.js';
import { CoseError } from '../../cose/errors.js';
import type { ContentKey } from '../../cose/content-key.js';
import { decrypt0, encrypt0, type ContentKeyInput } from '../../cose/encrypt0.js';
import { InvalidArgumentError } from '../../errors.js';
import { assertBytes, assertOneOf } from '../../util/assert.js';
import { SuitDecryptionFailedError, SuitMalformedError } from './errors.js';

export const PAYLOAD_ENCRYPTION_ALGORITHMS = {
  'AES-CCM-128': CoseAlgorithm.AES_CCM_64_128_128,
  'AES-CCM-256': CoseAlgorithm.AES_CCM_64_128_256,
  'LEA-CCM-128': CoseAlgorithm.LEA_CCM_64_128_128,
  'LEA-CCM-256': CoseAlgorithm.LEA_CCM_64_128_256,
} as const;

export type PayloadEncryptionAlgorithm = keyof typeof PAYLOAD_ENCRYPTION_ALGORITHMS;

const ALLOWED_IDS: readonly number[] = Object.values(PAYLOAD_ENCRYPTION_ALGORITHMS);

export interface EncryptPayloadOptions {
  plaintext: Uint8Array;
  /** The class key: raw bytes or a KeyStore ContentKey (keyStoreContentKey, AES only). */
  key: Uint8Array | ContentKey;
  algorithm: PayloadEncryptionAlgorithm;
  /** Names the class key for the device (e.g. the class ID). */
  kid: Uint8Array;
}

export interface EncryptedPayload {
  ciphertext: Uint8Array;
  /** bstr .cbor SUIT_Encryption_Info for ManifestInput.encryptionInfo. */
  encryptionInfo: Uint8Array;
}

export async function encryptPayload(options: EncryptPayloadOptions): Promise<EncryptedPayload> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected an object');
  assertBytes(options.plaintext, 'options.plaintext');
  assertOneOf(options.algorithm, 'options.algorithm', Object.keys(PAYLOAD_ENCRYPTION_ALGORITHMS) as PayloadEncryptionAlgorithm[]);
  assertBytes(options.kid, 'options.kid', { min: 1, max: 64 });
  const alg = PAYLOAD_ENCRYPTION_ALGORITHMS[options.algorithm];
  // Encrypted once with the ciphertext attached, then split: the Enc_structure (RFC 9052 §5.3)
  // does not cover the ciphertext field, so replacing it with nil leaves a message that
  // decrypts with the ciphertext supplied as detached content. (detachCiphertext would drop the
  // ciphertext this function must return.)
  const attached = await encrypt0({ plaintext: options.plaintext, key: options.key, alg, unprotectedHeader: { kid: options.kid } });
  const tagged = decodeCbor(attached, { maxDepth: 4 }) as InstanceType<typeof CborTag>;
  const [prot, unprot, ciphertext] = tagged.contents as [Uint8Array, Map<unknown, unknown>, Uint8Array];
  return { ciphertext, encryptionInfo: encodeCbor(new CborTag(tagged.tag, [prot, unprot, null])) };
}

/** Decrypts a payload with the encryption info of a verified manifest. */
export async function decryptPayload(encryptionInfo: Uint8Array, ciphertext: Uint8Array, key: ContentKeyInput): Promise<Uint8Array> {
  assertBytes(encryptionInfo, 'encryptionInfo', { min: 1 });
  assertBytes(ciphertext, 'ciphertext');
  try {
    const { plaintext } = await decrypt0(encryptionInfo, { key, algorithms: ALLOWED_IDS, detachedCiphertext: ciphertext });
    return plaintext;
  } catch (err) {
    if (err instanceof CoseError && err.code === 'ERR_COSE_DECRYPTION_FAILED') throw new SuitDecryptionFailedError({ cause: err });
    if (err instanceof CoseError) throw new SuitMalformedError(`encryption info: ${err.message}`, { cause: err });
    throw err;
  }
}
