/**
 * rootline/crypto: block ciphers (LEA here, ARIA/AES via OpenSSL), AEAD modes written once over
 * the BlockCipher interface (GCM, CCM, CCM-8, plus CTR), HKDF, constant-time comparison, and the
 * Signer helpers.
 */
export { createBlockCipher, BLOCK_CIPHER_NAMES, type BlockCipher, type BlockCipherName } from './block-cipher.js';
export { createAead, AEAD_ALGORITHMS, type Aead, type AeadAlgorithm, type AeadOptions } from './aead.js';
export { createGcm, type Gcm } from './gcm.js';
export { createCcm, ccmMaxMessageLength, type Ccm } from './ccm.js';
export { ctrCrypt } from './ctr.js';
export { constantTimeEqual } from './constant-time.js';
export { hkdf, hkdfExtract, hkdfExpand, hkdfHashLength, HKDF_HASHES, type HkdfHash } from './hkdf.js';
export { AeadAuthenticationError, CryptoMessageTooLongError } from './errors.js';
export { keyStoreSigner, keyObjectSigner } from './signer.js';
export { ecdsaRawToDer, ecdsaDerToRaw } from './ecdsa-signature.js';
