// The table-driven GHASH against a direct bit-by-bit rendering of SP 800-38D Algorithm 1
// (multiplication in GF(2^128)) written with BigInt, on random keys and inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ghashDigest, ghashTable, ghashUpdate } from '../../src/crypto/ghash.js';
import { toHex } from './vectors.js';

const R = 0xe1n << 120n;
const toBig = (b: Uint8Array): bigint => BigInt('0x' + (toHex(b) || '0'));

/** SP 800-38D Algorithm 1: Z ← 0, V ← Y; for i = 0..127: if x_i = 1 then Z ← Z ⊕ V; V ← V·x. */
function gfMul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127; i >= 0; i--) {
    if ((x >> BigInt(i)) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}

function referenceGhash(h: Uint8Array, data: Uint8Array): string {
  const hb = toBig(h);
  let y = 0n;
  for (let o = 0; o < data.length; o += 16) {
    const block = new Uint8Array(16);
    block.set(data.subarray(o, o + 16));
    y = gfMul(y ^ toBig(block), hb);
  }
  return y.toString(16).padStart(32, '0');
}

test('table GHASH equals the bit-serial definition', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 100 }), (h, data) => {
      const s = new Int32Array(4);
      ghashUpdate(ghashTable(h), s, data, 0, data.length);
      const out = new Uint8Array(16);
      ghashDigest(s, out);
      assert.equal(toHex(out), referenceGhash(h, data));
    }),
    { numRuns: 150, seed: 38 },
  );
});

test('GHASH with H = 1 (the element x^0) is the XOR of the blocks', () => {
  const one = new Uint8Array(16);
  one[0] = 0x80;
  const s = new Int32Array(4);
  const data = Uint8Array.from({ length: 48 }, (_, i) => i);
  ghashUpdate(ghashTable(one), s, data, 0, 48);
  const out = new Uint8Array(16);
  ghashDigest(s, out);
  const expected = new Uint8Array(16);
  for (let i = 0; i < 48; i++) expected[i % 16] ^= data[i]!;
  assert.equal(toHex(out), toHex(expected));
});
