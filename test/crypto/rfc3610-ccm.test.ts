// CCM against RFC 3610 §8 packet vectors #1-#24 (test/vectors/rfc3610/): the generic CCM over an
// AES BlockCipher, and createAead's AES-128-CCM-8 (OpenSSL) for the M = 8 packets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBlockCipher } from '../../src/crypto/block-cipher.js';
import { createCcm } from '../../src/crypto/ccm.js';
import { createAead } from '../../src/crypto/aead.js';
import { AeadAuthenticationError } from '../../src/crypto/errors.js';
import { hex, loadVectors, toHex } from './vectors.js';

interface PacketVector { n: number; key: string; nonce: string; M: number; aad: string; plaintext: string; sealed: string }
const { vectors } = loadVectors<{ vectors: PacketVector[] }>('rfc3610', 'packet-vectors.json');

test('all 24 packet vectors are present', () => {
  assert.deepEqual(vectors.map((v) => v.n), Array.from({ length: 24 }, (_, i) => i + 1));
});

for (const v of vectors) {
  test(`RFC 3610 Packet Vector #${v.n} (M=${v.M})`, () => {
    const ccm = createCcm(createBlockCipher('AES', hex(v.key)));
    const sealed = ccm.seal(hex(v.nonce), hex(v.plaintext), hex(v.aad), v.M);
    assert.equal(toHex(sealed), v.sealed.toLowerCase());
    assert.equal(toHex(ccm.open(hex(v.nonce), sealed, hex(v.aad), v.M)), v.plaintext.toLowerCase());
    const bad = Uint8Array.from(sealed);
    bad[0] ^= 1;
    assert.throws(() => ccm.open(hex(v.nonce), bad, hex(v.aad), v.M), AeadAuthenticationError);
    if (v.M === 8) {
      const aead = createAead('AES-128-CCM-8', hex(v.key), { nonceLength: 13 });
      assert.equal(toHex(aead.seal(hex(v.nonce), hex(v.plaintext), hex(v.aad))), v.sealed.toLowerCase());
      assert.equal(toHex(aead.open(hex(v.nonce), hex(v.sealed), hex(v.aad))), v.plaintext.toLowerCase());
    }
  });
}
