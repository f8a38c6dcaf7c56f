// LEA-128/192/256 against KISA's published vectors (test/vectors/kisa-lea/lea-block.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBlockCipher } from '../../src/crypto/block-cipher.js';
import { hex, loadVectors, toHex } from './vectors.js';

interface BlockVector { key: string; plaintext: string; ciphertext: string }
const v = loadVectors<{ spec: BlockVector[]; ecb: BlockVector[] }>('kisa-lea', 'lea-block.json');

test('LEA: the specification vector for each key size', () => {
  assert.deepEqual(v.spec.map((e) => hex(e.key).length), [16, 24, 32]);
  for (const e of v.spec) {
    const lea = createBlockCipher('LEA', hex(e.key));
    assert.equal(lea.keyLength, hex(e.key).length);
    assert.equal(toHex(lea.encryptBlock(hex(e.plaintext))), e.ciphertext.toLowerCase());
    assert.equal(toHex(lea.decryptBlock(hex(e.ciphertext))), e.plaintext.toLowerCase());
  }
});

test('LEA: lea_vs.c ECB known answers (10 per key size), encrypt and decrypt block by block', () => {
  const sizes = new Map<number, number>();
  for (const e of v.ecb) {
    const key = hex(e.key);
    sizes.set(key.length, (sizes.get(key.length) ?? 0) + 1);
    const pt = hex(e.plaintext);
    const ct = hex(e.ciphertext);
    assert.equal(pt.length, ct.length);
    const lea = createBlockCipher('LEA', key);
    const out = new Uint8Array(pt.length);
    lea.encryptBlocks(pt, out);
    assert.equal(toHex(out), toHex(ct));
    const back = new Uint8Array(ct.length);
    for (let o = 0; o < ct.length; o += 16) lea.decryptBlockInto(ct, o, back, o);
    assert.equal(toHex(back), toHex(pt));
  }
  assert.deepEqual([...sizes.entries()].sort(), [[16, 10], [24, 10], [32, 10]]);
});

test('LEA: in-place encryptBlockInto / encryptBlocks give the same answer as the copying form', () => {
  const e = v.ecb[3]!;
  const lea = createBlockCipher('LEA', hex(e.key));
  const buf = hex(e.plaintext);
  lea.encryptBlocks(buf, buf);
  assert.equal(toHex(buf), e.ciphertext.toLowerCase());
  const one = hex(e.plaintext);
  lea.encryptBlockInto(one, 16, one, 16);
  assert.equal(toHex(one.subarray(16, 32)), e.ciphertext.toLowerCase().slice(32, 64));
});

test('LEA: encryptBlocks on unaligned views (byte path) equals the aligned (word path) result', () => {
  for (const e of [v.ecb[4]!, v.ecb[14]!, v.ecb[25]!]) {
    const lea = createBlockCipher('LEA', hex(e.key));
    const pt = hex(e.plaintext);
    const inBacking = new Uint8Array(pt.length + 1);
    inBacking.set(pt, 1);
    const outBacking = new Uint8Array(pt.length + 3);
    const out = outBacking.subarray(3);
    lea.encryptBlocks(inBacking.subarray(1), out);
    assert.equal(toHex(out), e.ciphertext.toLowerCase());
  }
});
