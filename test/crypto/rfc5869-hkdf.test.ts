// HKDF against RFC 5869 Appendix A (test/vectors/rfc5869/hkdf.json), Extract and Expand
// separately and combined; plus argument checks and the long-info path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hkdf, hkdfExpand, hkdfExtract, hkdfHashLength, type HkdfHash } from '../../src/crypto/hkdf.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { hex, loadVectors, toHex } from './vectors.js';

interface Case { case: number; hash: HkdfHash; ikm: string; salt: string | null; info: string; L: number; prk: string; okm: string }
const { vectors } = loadVectors<{ vectors: Case[] }>('rfc5869', 'hkdf.json');

test('all seven test cases are present', () => {
  assert.deepEqual(vectors.map((v) => v.case), [1, 2, 3, 4, 5, 6, 7]);
});

for (const v of vectors) {
  test(`RFC 5869 test case ${v.case} (${v.hash})`, () => {
    const salt = v.salt === null ? undefined : hex(v.salt);
    const prk = hkdfExtract(v.hash, salt, hex(v.ikm));
    assert.equal(toHex(prk), v.prk);
    assert.equal(prk.length, hkdfHashLength(v.hash));
    assert.equal(toHex(hkdfExpand(v.hash, prk, hex(v.info), v.L)), v.okm);
    assert.equal(toHex(hkdf(v.hash, hex(v.ikm), salt, hex(v.info), v.L)), v.okm);
    // a zero-length salt is the same as no salt (HashLen zeros)
    if (v.salt === '' || v.salt === null) assert.equal(toHex(hkdfExtract(v.hash, new Uint8Array(hkdfHashLength(v.hash)), hex(v.ikm))), v.prk);
  });
}

test('hkdf (node hkdfSync) and hkdfExtract+hkdfExpand agree on random inputs, and on info longer than 1024 bytes', () => {
  fc.assert(
    fc.property(
      fc.constantFrom<HkdfHash>('SHA-256', 'SHA-384', 'SHA-512', 'SHA-1'),
      fc.uint8Array({ maxLength: 80 }),
      fc.option(fc.uint8Array({ maxLength: 80 }), { nil: undefined }),
      fc.uint8Array({ maxLength: 1100 }),
      fc.integer({ min: 1, max: 300 }),
      (hash, ikm, salt, info, length) => {
        const a = hkdf(hash, ikm, salt, info, length);
        const b = hkdfExpand(hash, hkdfExtract(hash, salt, ikm), info, length);
        assert.equal(toHex(a), toHex(b));
      },
    ),
    { numRuns: 200, seed: 5869 },
  );
});

test('bad arguments are InvalidArgumentError naming the argument', () => {
  const arg = (fn: () => unknown, argument: string) => assert.throws(fn, (e: unknown) => e instanceof InvalidArgumentError && e.argument === argument);
  arg(() => hkdf('MD5' as HkdfHash, new Uint8Array(1), undefined, undefined, 16), 'hash');
  arg(() => hkdf('SHA-256', 'ikm' as unknown as Uint8Array, undefined, undefined, 16), 'ikm');
  arg(() => hkdf('SHA-256', new Uint8Array(1), 5 as unknown as Uint8Array, undefined, 16), 'salt');
  arg(() => hkdf('SHA-256', new Uint8Array(1), undefined, {} as unknown as Uint8Array, 16), 'info');
  // L <= 255*HashLen
  arg(() => hkdf('SHA-256', new Uint8Array(1), undefined, undefined, 255 * 32 + 1), 'length');
  arg(() => hkdf('SHA-1', new Uint8Array(1), undefined, undefined, 0), 'length');
  arg(() => hkdfExpand('SHA-256', new Uint8Array(31), undefined, 16), 'prk');
  arg(() => hkdfExpand('SHA-256', new Uint8Array(32), undefined, 1.5), 'length');
  assert.equal(hkdfExpand('SHA-256', new Uint8Array(32), undefined, 255 * 32).length, 8160);
});
