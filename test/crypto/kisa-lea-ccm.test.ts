// LEA-CCM (the generic CCM over LEA) against an independent implementation's known answers
// (test/vectors/kisa-lea/lea-ccm.json: 4 vectors per key size, 8-byte nonce, 16-byte tag).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBlockCipher } from '../../src/crypto/block-cipher.js';
import { createCcm } from '../../src/crypto/ccm.js';
import { createAead } from '../../src/crypto/aead.js';
import { AeadAuthenticationError } from '../../src/crypto/errors.js';
import { hex, loadVectors, toHex } from './vectors.js';

interface V { key: string; nonce: string; aad: string; plaintext: string; ciphertext: string; tag: string }
const { vectors } = loadVectors<{ vectors: V[] }>('kisa-lea', 'lea-ccm.json');

test('LEA-CCM known answers for LEA-128, LEA-192 and LEA-256', () => {
  assert.deepEqual(vectors.map((v) => hex(v.key).length), [16, 16, 16, 16, 24, 24, 24, 24, 32, 32, 32, 32]);
  for (const v of vectors) {
    const ccm = createCcm(createBlockCipher('LEA', hex(v.key)));
    const sealed = ccm.seal(hex(v.nonce), hex(v.plaintext), hex(v.aad), 16);
    assert.equal(toHex(sealed), v.ciphertext + v.tag);
    assert.equal(toHex(ccm.open(hex(v.nonce), sealed, hex(v.aad), 16)), v.plaintext);
    const bad = Uint8Array.from(sealed);
    bad[sealed.length - 16] ^= 0x40;
    assert.throws(() => ccm.open(hex(v.nonce), bad, hex(v.aad), 16), AeadAuthenticationError);
  }
});

test('createAead LEA-128-CCM / LEA-256-CCM with an 8-byte nonce give the same answers', () => {
  for (const v of vectors.filter((x) => hex(x.key).length !== 24)) {
    const aead = createAead(hex(v.key).length === 16 ? 'LEA-128-CCM' : 'LEA-256-CCM', hex(v.key), { nonceLength: 8 });
    assert.equal(toHex(aead.seal(hex(v.nonce), hex(v.plaintext), hex(v.aad))), v.ciphertext + v.tag);
  }
});
