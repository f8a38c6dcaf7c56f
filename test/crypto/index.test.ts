// The public surface of rootline/crypto (src/crypto/index.ts): the names other rooms rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from '../../src/crypto/index.js';

test('rootline/crypto exports the documented operations', () => {
  for (const name of [
    'createBlockCipher', 'createAead', 'createGcm', 'createCcm', 'ctrCrypt', 'ccmMaxMessageLength',
    'hkdf', 'hkdfExtract', 'hkdfExpand', 'hkdfHashLength', 'constantTimeEqual',
    'keyStoreSigner', 'keyObjectSigner', 'ecdsaRawToDer', 'ecdsaDerToRaw',
  ] as const) {
    assert.equal(typeof crypto[name], 'function', name);
  }
  assert.equal(crypto.AEAD_ALGORITHMS.length, 18);
  assert.deepEqual([...crypto.BLOCK_CIPHER_NAMES], ['LEA', 'ARIA', 'AES']);
  assert.equal(new crypto.AeadAuthenticationError().code, 'ERR_AEAD_AUTH_FAILED');
  assert.equal(new crypto.CryptoMessageTooLongError('plaintext', 'x').code, 'ERR_CRYPTO_MESSAGE_TOO_LONG');
});
