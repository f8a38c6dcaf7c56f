// Property tests: random arguments to every public entry point of the room produce only typed
// errors (RootlineError subclasses with a stable code), never a TypeError or a crash; and
// seal/open round-trip random inputs for every AEAD algorithm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AEAD_ALGORITHMS, createAead, type AeadAlgorithm } from '../../src/crypto/aead.js';
import { createBlockCipher, type BlockCipherName } from '../../src/crypto/block-cipher.js';
import { createCcm } from '../../src/crypto/ccm.js';
import { createGcm } from '../../src/crypto/gcm.js';
import { ctrCrypt } from '../../src/crypto/ctr.js';
import { hkdf, hkdfExpand, hkdfExtract, type HkdfHash } from '../../src/crypto/hkdf.js';
import { constantTimeEqual } from '../../src/crypto/constant-time.js';
import { RootlineError } from '../../src/errors.js';
import { toHex } from './vectors.js';

/** Anything at all, biased towards near-misses of the valid shapes. */
const anything = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.integer({ min: 0, max: 40 }).map((n) => new Uint8Array(n)),
  fc.constantFrom(12, 13, 16, 7, 4, 8, -1, 1.5, NaN, 2 ** 40),
  fc.constantFrom(...AEAD_ALGORITHMS, 'LEA', 'ARIA', 'AES', 'SHA-256', 'SHA-1', 'aes-128-gcm', ''),
  fc.string({ maxLength: 12 }),
  fc.constantFrom(undefined, null, {}, [], true, () => 0, Symbol('x')),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }),
  fc.integer().map((n) => Buffer.alloc(Math.abs(n) % 33)),
);

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof RootlineError) || typeof e.code !== 'string' || !e.code.startsWith('ERR_')) {
      assert.fail(`untyped error escaped: ${String(e)}`);
    }
  }
}

const RUNS = { numRuns: 600, seed: 42 };

test('createBlockCipher and its methods: random arguments yield only typed errors', () => {
  fc.assert(
    fc.property(anything, anything, anything, (a, b, c) => {
      onlyTyped(() => createBlockCipher(a as BlockCipherName, b as Uint8Array));
      const lea = createBlockCipher('LEA', new Uint8Array(16));
      onlyTyped(() => lea.encryptBlock(c as Uint8Array));
      onlyTyped(() => lea.decryptBlock(c as Uint8Array));
      const aes = createBlockCipher('AES', new Uint8Array(16));
      onlyTyped(() => aes.encryptBlock(c as Uint8Array));
      onlyTyped(() => ctrCrypt(a as never, b as Uint8Array, c as Uint8Array));
      onlyTyped(() => ctrCrypt(lea, b as Uint8Array, c as Uint8Array));
    }),
    RUNS,
  );
});

test('createAead, seal and open: random arguments yield only typed errors', () => {
  fc.assert(
    fc.property(anything, anything, anything, anything, anything, (alg, key, nonce, data, aad) => {
      onlyTyped(() => createAead(alg as AeadAlgorithm, key as Uint8Array));
      onlyTyped(() => createAead('AES-128-CCM', new Uint8Array(16), { nonceLength: alg as number }));
      onlyTyped(() => createAead('LEA-128-GCM', new Uint8Array(16), alg as never));
      for (const a of ['LEA-128-GCM', 'LEA-128-CCM-8', 'AES-256-CCM', 'ARIA-128-GCM'] as const) {
        const aead = createAead(a, new Uint8Array(a.includes('256') ? 32 : 16));
        onlyTyped(() => aead.seal(nonce as Uint8Array, data as Uint8Array, aad as Uint8Array));
        onlyTyped(() => aead.open(nonce as Uint8Array, data as Uint8Array, aad as Uint8Array));
      }
    }),
    RUNS,
  );
});

test('generic createGcm / createCcm: random arguments (tag lengths included) yield only typed errors', () => {
  const gcm = createGcm(createBlockCipher('LEA', new Uint8Array(16)));
  const ccm = createCcm(createBlockCipher('LEA', new Uint8Array(16)));
  fc.assert(
    fc.property(anything, anything, anything, anything, (iv, data, aad, tagLength) => {
      onlyTyped(() => createGcm(iv as never));
      onlyTyped(() => createCcm(data as never));
      onlyTyped(() => gcm.seal(iv as Uint8Array, data as Uint8Array, aad as Uint8Array, tagLength as number));
      onlyTyped(() => gcm.open(iv as Uint8Array, data as Uint8Array, aad as Uint8Array, tagLength as number));
      onlyTyped(() => ccm.seal(iv as Uint8Array, data as Uint8Array, aad as Uint8Array, tagLength as number));
      onlyTyped(() => ccm.open(iv as Uint8Array, data as Uint8Array, aad as Uint8Array, tagLength as number));
    }),
    RUNS,
  );
});

test('HKDF and constantTimeEqual: random arguments yield only typed errors', () => {
  fc.assert(
    fc.property(anything, anything, anything, anything, anything, (hash, a, b, c, len) => {
      onlyTyped(() => hkdf(hash as HkdfHash, a as Uint8Array, b as Uint8Array, c as Uint8Array, len as number));
      onlyTyped(() => hkdf('SHA-256', a as Uint8Array, b as Uint8Array, c as Uint8Array, len as number));
      onlyTyped(() => hkdfExtract(hash as HkdfHash, a as Uint8Array, b as Uint8Array));
      onlyTyped(() => hkdfExpand('SHA-1', a as Uint8Array, b as Uint8Array, len as number));
      onlyTyped(() => constantTimeEqual(a as Uint8Array, b as Uint8Array));
    }),
    RUNS,
  );
});

test('every AEAD algorithm round-trips random keys, nonces, messages and AAD; a mutated input is rejected', () => {
  for (const alg of AEAD_ALGORITHMS) {
    const keyLength = alg.includes('-256-') ? 32 : 16;
    const nonceLength = alg.includes('CCM') ? fc.integer({ min: 7, max: 13 }) : fc.constant(12);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: keyLength, maxLength: keyLength }),
        nonceLength.chain((n) => fc.tuple(fc.constant(n), fc.uint8Array({ minLength: n, maxLength: n }))),
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.nat(),
        (key, [n, nonce], pt, aad, where) => {
          const aead = createAead(alg, key, { nonceLength: n });
          const sealed = aead.seal(nonce, pt, aad);
          assert.equal(toHex(aead.open(nonce, sealed, aad)), toHex(pt));
          const bad = Uint8Array.from(sealed);
          bad[where % bad.length] ^= 1 << (where % 8);
          assert.throws(() => aead.open(nonce, bad, aad), (e: unknown) => e instanceof RootlineError && e.code === 'ERR_AEAD_AUTH_FAILED');
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  }
});

test('constantTimeEqual compares contents; different lengths are unequal', () => {
  assert.equal(constantTimeEqual(Uint8Array.of(1, 2, 3), Buffer.from([1, 2, 3])), true);
  assert.equal(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)), false);
  assert.equal(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3)), false);
  assert.equal(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)), true);
});
