// CCM against NIST SP 800-38C Appendix C examples (test/vectors/nist-sp800-38c/), including
// Example 4's 65536-byte associated data (the 0xff 0xfe long-AAD length encoding).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBlockCipher } from '../../src/crypto/block-cipher.js';
import { createCcm } from '../../src/crypto/ccm.js';
import { AeadAuthenticationError } from '../../src/crypto/errors.js';
import { hex, loadVectors, toHex } from './vectors.js';

interface Example { example: string; key: string; nonce: string; aad?: string; aadPattern?: string; aadRepeat?: number; plaintext: string; tagLength: number; sealed: string }
const { vectors } = loadVectors<{ vectors: Example[] }>('nist-sp800-38c', 'examples.json');

function aadOf(v: Example): Uint8Array {
  if (v.aad !== undefined) return hex(v.aad);
  const pattern = hex(v.aadPattern!);
  const out = new Uint8Array(pattern.length * v.aadRepeat!);
  for (let i = 0; i < v.aadRepeat!; i++) out.set(pattern, i * pattern.length);
  return out;
}

for (const v of vectors) {
  test(`SP 800-38C Example ${v.example} (Tlen=${v.tagLength * 8}, Nlen=${hex(v.nonce).length * 8}, Alen=${aadOf(v).length * 8})`, () => {
    const ccm = createCcm(createBlockCipher('AES', hex(v.key)));
    const aad = aadOf(v);
    const sealed = ccm.seal(hex(v.nonce), hex(v.plaintext), aad, v.tagLength);
    assert.equal(toHex(sealed), v.sealed);
    assert.equal(toHex(ccm.open(hex(v.nonce), sealed, aad, v.tagLength)), v.plaintext);
    const badAad = Uint8Array.from(aad);
    badAad[badAad.length - 1] ^= 1;
    assert.throws(() => ccm.open(hex(v.nonce), sealed, badAad, v.tagLength), AeadAuthenticationError);
  });
}

test('Example 4 uses the 0xff 0xfe long-AAD encoding (65536 ≥ 2^16 − 2^8)', () => {
  assert.equal(aadOf(vectors[3]!).length, 65536);
});
