/**
 * rootline/crypto: block ciphers (LEA here, ARIA/AES via OpenSSL), generic AEAD modes, HKDF,
 * constant-time comparison, and the Signer helpers.
 */
export { createBlockCipher, BLOCK_CIPHER_NAMES, type BlockCipher, type BlockCipherName } from './block-cipher.js';
export { AeadAuthenticationError, CryptoMessageTooLongError } from './errors.js';
export { keyStoreSigner, keyObjectSigner } from './signer.js';
export { ecdsaRawToDer, ecdsaDerToRaw } from './ecdsa-signature.js';
