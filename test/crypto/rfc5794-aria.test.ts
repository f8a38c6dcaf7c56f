// ARIA (through OpenSSL) against RFC 5794 Appendix A.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBlockCipher } from '../../src/crypto/block-cipher.js';
import { hex, loadVectors, toHex } from './vectors.js';

const v = loadVectors<{ vectors: { section: string; key: string; plaintext: string; ciphertext: string }[] }>('rfc5794', 'aria-ecb.json');

for (const e of v.vectors) {
  test(`ARIA RFC 5794 ${e.section} (${hex(e.key).length * 8}-bit key)`, () => {
    const aria = createBlockCipher('ARIA', hex(e.key));
    assert.equal(aria.name, 'ARIA');
    assert.equal(toHex(aria.encryptBlock(hex(e.plaintext))), e.ciphertext);
    assert.equal(toHex(aria.decryptBlock(hex(e.ciphertext))), e.plaintext);
    const out = new Uint8Array(16);
    aria.encryptBlockInto(hex(e.plaintext), 0, out, 0);
    assert.equal(toHex(out), e.ciphertext);
  });
}
