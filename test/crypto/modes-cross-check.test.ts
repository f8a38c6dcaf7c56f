// The generic modes, written once over BlockCipher, must reproduce OpenSSL bit for bit: GCM and
// CCM over an AES BlockCipher against node:crypto's aes-*-gcm / aes-*-ccm, and CTR against
// aes-128-ctr / aria-128-ctr, over many random inputs (lengths 0..several blocks, AAD, tag and
// nonce lengths varied). Random but reproducible: fast-check with a fixed seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, type CipherCCMTypes, type CipherGCMTypes } from 'node:crypto';
import fc from 'fast-check';
import { createBlockCipher } from '../../src/crypto/block-cipher.js';
import { createGcm } from '../../src/crypto/gcm.js';
import { createCcm } from '../../src/crypto/ccm.js';
import { ctrCrypt, ctrXorInto } from '../../src/crypto/ctr.js';
import { toHex } from './vectors.js';

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const RUNS = { numRuns: 300, seed: 20261122 };

function nodeGcm(key: Uint8Array, iv: Uint8Array, pt: Uint8Array, aad: Uint8Array, tagLength: number): string {
  const c = createCipheriv(`aes-${key.length * 8}-gcm` as CipherGCMTypes, key, iv, { authTagLength: tagLength });
  c.setAAD(aad);
  return toHex(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}

function nodeCcm(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array, tagLength: number): string {
  const c = createCipheriv(`aes-${key.length * 8}-ccm` as CipherCCMTypes, key, nonce, { authTagLength: tagLength });
  c.setAAD(aad, { plaintextLength: pt.length });
  return toHex(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}

test('generic GCM over AES reproduces node:crypto aes-128/256-gcm', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(16, 32),
      fc.oneof(fc.constant(12), fc.integer({ min: 1, max: 40 })),
      bytes(0, 100),
      bytes(0, 70),
      fc.integer({ min: 12, max: 16 }),
      bytes(32, 32),
      bytes(40, 40),
      (keyLength, ivLength, pt, aad, tagLength, keyMaterial, ivMaterial) => {
        const key = keyMaterial.subarray(0, keyLength);
        const iv = ivMaterial.subarray(0, ivLength);
        const gcm = createGcm(createBlockCipher('AES', key));
        const sealed = gcm.seal(iv, pt, aad, tagLength);
        assert.equal(toHex(sealed), nodeGcm(key, iv, pt, aad, tagLength));
        assert.equal(toHex(gcm.open(iv, sealed, aad, tagLength)), toHex(pt));
      },
    ),
    RUNS,
  );
});

test('generic CCM over AES reproduces node:crypto aes-128/256-ccm', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(16, 32),
      fc.integer({ min: 7, max: 13 }),
      bytes(0, 100),
      bytes(0, 70),
      fc.constantFrom(4, 6, 8, 10, 12, 14, 16),
      bytes(32, 32),
      bytes(13, 13),
      (keyLength, nonceLength, pt, aad, tagLength, keyMaterial, nonceMaterial) => {
        const key = keyMaterial.subarray(0, keyLength);
        const nonce = nonceMaterial.subarray(0, nonceLength);
        const ccm = createCcm(createBlockCipher('AES', key));
        const sealed = ccm.seal(nonce, pt, aad, tagLength);
        assert.equal(toHex(sealed), nodeCcm(key, nonce, pt, aad, tagLength));
        assert.equal(toHex(ccm.open(nonce, sealed, aad, tagLength)), toHex(pt));
      },
    ),
    RUNS,
  );
});

test('generic GCM and CCM agree with OpenSSL on long inputs (several keystream batches, 0xff00+ AAD)', () => {
  const key = new Uint8Array(16).fill(7);
  const pt = Uint8Array.from({ length: 9000 }, (_, i) => (i * 31) & 0xff);
  const aad = Uint8Array.from({ length: 0xff00 + 5 }, (_, i) => i & 0xff);
  const iv = new Uint8Array(12).fill(9);
  assert.equal(toHex(createGcm(createBlockCipher('AES', key)).seal(iv, pt, aad)), nodeGcm(key, iv, pt, aad, 16));
  const nonce = new Uint8Array(11).fill(3);
  assert.equal(toHex(createCcm(createBlockCipher('AES', key)).seal(nonce, pt, aad, 16)), nodeCcm(key, nonce, pt, aad, 16));
});

test('CTR over AES and ARIA reproduces node:crypto aes-128-ctr / aria-128-ctr, counter wrap included', () => {
  fc.assert(
    fc.property(fc.constantFrom('AES', 'ARIA'), bytes(16, 16), bytes(16, 16), bytes(0, 300), fc.boolean(), (name, key, iv, data, nearWrap) => {
      if (nearWrap) iv.fill(0xff, 8); // carry across the low 64 bits
      const c = createCipheriv(`${name.toLowerCase()}-128-ctr`, key, iv);
      const expected = toHex(Buffer.concat([c.update(data), c.final()]));
      assert.equal(toHex(ctrCrypt(createBlockCipher(name as 'AES' | 'ARIA', key), iv, data)), expected);
    }),
    RUNS,
  );
});

test('CTR is its own inverse for LEA', () => {
  const lea = createBlockCipher('LEA', new Uint8Array(16).fill(1));
  const iv = new Uint8Array(16).fill(0xfe);
  const data = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff);
  const ct = ctrCrypt(lea, iv, data);
  assert.notEqual(toHex(ct), toHex(data));
  assert.equal(toHex(ctrCrypt(lea, iv, ct)), toHex(data));
});

test('inc32 (GCM) wraps only the low 32 bits; the 128-bit increment carries into the upper words', () => {
  const aes = createBlockCipher('AES', new Uint8Array(16).fill(4));
  const start = Uint8Array.from([...new Uint8Array(12).fill(0xab), 0xff, 0xff, 0xff, 0xfe]);
  const data = new Uint8Array(64);
  const expectKeystream = (next: (b: Uint8Array) => void): string => {
    const block = Uint8Array.from(start);
    const out: string[] = [];
    for (let i = 0; i < 4; i++) {
      out.push(toHex(aes.encryptBlock(block)));
      next(block);
    }
    return out.join('');
  };
  const inc32 = (b: Uint8Array) => new DataView(b.buffer).setUint32(12, (new DataView(b.buffer).getUint32(12) + 1) >>> 0);
  const inc128 = (b: Uint8Array) => {
    for (let i = 15; i >= 0; i--) if ((b[i] = (b[i]! + 1) & 0xff) !== 0) break;
  };
  const c32 = Uint8Array.from(start);
  const ks32 = new Uint8Array(64);
  ctrXorInto(aes, c32, data, ks32, 32);
  assert.equal(toHex(ks32), expectKeystream(inc32));
  assert.equal(toHex(c32), 'ab'.repeat(12) + '00000002');
  const c128 = Uint8Array.from(start);
  const ks128 = new Uint8Array(64);
  ctrXorInto(aes, c128, data, ks128, 128);
  assert.equal(toHex(ks128), expectKeystream(inc128));
  assert.equal(toHex(c128), 'ab'.repeat(11) + 'ac' + '00000002');
});

test('unaligned views (odd byteOffset) encrypt the same as aligned copies', () => {
  const lea = createBlockCipher('LEA', new Uint8Array(16).fill(2));
  const backing = new Uint8Array(5001 + 3);
  backing.forEach((_, i) => (backing[i] = (i * 7) & 0xff));
  const view = backing.subarray(3);
  const iv = new Uint8Array(16).fill(9);
  assert.equal(toHex(ctrCrypt(lea, iv, view)), toHex(ctrCrypt(lea, iv, Uint8Array.from(view))));
  const gcm = createGcm(lea);
  assert.equal(toHex(gcm.seal(iv.subarray(0, 12), view)), toHex(gcm.seal(iv.subarray(0, 12), Uint8Array.from(view))));
});
