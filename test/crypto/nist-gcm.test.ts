// GCM against the McGrew/Viega specification test cases (test/vectors/nist-gcm/): the generic GCM
// over an AES BlockCipher for every case (including the 8- and 60-byte IVs), and createAead's
// AES-*-GCM for the 96-bit-IV cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBlockCipher } from '../../src/crypto/block-cipher.js';
import { createGcm } from '../../src/crypto/gcm.js';
import { createAead } from '../../src/crypto/aead.js';
import { AeadAuthenticationError } from '../../src/crypto/errors.js';
import { hex, loadVectors, toHex } from './vectors.js';

interface GcmVector { name: string; key: string; iv: string; plaintext: string; aad: string; ciphertext: string; tag: string }
const { vectors } = loadVectors<{ vectors: GcmVector[] }>('nist-gcm', 'gcm-spec-aes.json');

test('the file holds test cases 1-6 and 13-18', () => {
  assert.equal(vectors.length, 12);
});

for (const v of vectors) {
  test(`GCM ${v.name}: generic GCM over AES-${hex(v.key).length * 8}`, () => {
    const gcm = createGcm(createBlockCipher('AES', hex(v.key)));
    const sealed = gcm.seal(hex(v.iv), hex(v.plaintext), hex(v.aad));
    assert.equal(toHex(sealed), v.ciphertext + v.tag);
    assert.equal(toHex(gcm.open(hex(v.iv), sealed, hex(v.aad))), v.plaintext);
    const bad = Uint8Array.from(sealed);
    bad[bad.length - 1] ^= 0x80;
    assert.throws(() => gcm.open(hex(v.iv), bad, hex(v.aad)), AeadAuthenticationError);
  });
  if (hex(v.iv).length === 12) {
    test(`GCM ${v.name}: createAead AES-${hex(v.key).length * 8}-GCM (OpenSSL)`, () => {
      const aead = createAead(hex(v.key).length === 16 ? 'AES-128-GCM' : 'AES-256-GCM', hex(v.key));
      const sealed = aead.seal(hex(v.iv), hex(v.plaintext), hex(v.aad));
      assert.equal(toHex(sealed), v.ciphertext + v.tag);
      assert.equal(toHex(aead.open(hex(v.iv), sealed, hex(v.aad))), v.plaintext);
    });
  }
}
