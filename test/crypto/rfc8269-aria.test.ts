// ARIA-GCM and ARIA-CCM against RFC 8269 (test/vectors/rfc8269/): createAead (OpenSSL) and the
// generic GCM/CCM over an ARIA BlockCipher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBlockCipher } from '../../src/crypto/block-cipher.js';
import { createGcm } from '../../src/crypto/gcm.js';
import { createCcm } from '../../src/crypto/ccm.js';
import { createAead, type AeadAlgorithm } from '../../src/crypto/aead.js';
import { hex, loadVectors, toHex } from './vectors.js';

interface Entry { key: string; ciphertext: string; tag: string }
const v = loadVectors<{ nonce: string; aad: string; plaintext: string; gcm: Entry[]; ccm: Entry[] }>('rfc8269', 'aria-gcm-ccm.json');
const nonce = hex(v.nonce);
const aad = hex(v.aad);
const pt = hex(v.plaintext);

for (const e of v.gcm) {
  const bits = hex(e.key).length * 8;
  test(`RFC 8269 ARIA-${bits}-GCM: createAead and generic GCM`, () => {
    const aead = createAead(`ARIA-${bits}-GCM` as AeadAlgorithm, hex(e.key));
    assert.equal(toHex(aead.seal(nonce, pt, aad)), e.ciphertext + e.tag);
    assert.equal(toHex(aead.open(nonce, hex(e.ciphertext + e.tag), aad)), v.plaintext);
    const gcm = createGcm(createBlockCipher('ARIA', hex(e.key)));
    assert.equal(toHex(gcm.seal(nonce, pt, aad)), e.ciphertext + e.tag);
  });
}

for (const e of v.ccm) {
  const bits = hex(e.key).length * 8;
  const tagLength = hex(e.tag).length;
  test(`RFC 8269 ARIA-${bits}-CCM, ${tagLength}-byte tag: generic CCM${tagLength !== 12 ? ' and createAead' : ''}`, () => {
    const ccm = createCcm(createBlockCipher('ARIA', hex(e.key)));
    assert.equal(toHex(ccm.seal(nonce, pt, aad, tagLength)), e.ciphertext + e.tag);
    assert.equal(toHex(ccm.open(nonce, hex(e.ciphertext + e.tag), aad, tagLength)), v.plaintext);
    if (tagLength !== 12) {
      const alg = `ARIA-${bits}-CCM${tagLength === 8 ? '-8' : ''}` as AeadAlgorithm;
      const aead = createAead(alg, hex(e.key), { nonceLength: 12 });
      assert.equal(aead.tagLength, tagLength);
      assert.equal(toHex(aead.seal(nonce, pt, aad)), e.ciphertext + e.tag);
      assert.equal(toHex(aead.open(nonce, hex(e.ciphertext + e.tag), aad)), v.plaintext);
    }
  });
}
