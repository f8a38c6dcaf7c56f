// createAead: shape, round trips for every algorithm, rejection of every single flipped bit,
// argument validation with typed errors, and the key-copy / no-plaintext-on-failure guarantees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AEAD_ALGORITHMS, createAead, type AeadAlgorithm } from '../../src/crypto/aead.js';
import { AeadAuthenticationError, CryptoMessageTooLongError } from '../../src/crypto/errors.js';
import { InvalidArgumentError, isRootlineError } from '../../src/errors.js';
import { toHex } from './vectors.js';

const keyFor = (alg: AeadAlgorithm) => new Uint8Array(randomBytes(alg.includes('-256-') ? 32 : 16));

test('AEAD_ALGORITHMS lists the 18 names and each reports its parameters', () => {
  assert.equal(AEAD_ALGORITHMS.length, 18);
  for (const alg of AEAD_ALGORITHMS) {
    const aead = createAead(alg, keyFor(alg));
    assert.equal(aead.alg, alg);
    assert.equal(aead.keyLength, alg.includes('-256-') ? 32 : 16);
    assert.equal(aead.tagLength, alg.endsWith('-8') ? 8 : 16);
    assert.equal(aead.nonceLength, 12);
  }
});

test('every algorithm round-trips and rejects a changed ciphertext, tag, nonce or AAD', () => {
  for (const alg of AEAD_ALGORITHMS) {
    const aead = createAead(alg, keyFor(alg));
    for (const len of [0, 1, 15, 16, 17, 100]) {
      const nonce = randomBytes(12);
      const pt = randomBytes(len);
      const aad = randomBytes(len % 7);
      const sealed = aead.seal(nonce, pt, aad);
      assert.equal(sealed.length, len + aead.tagLength);
      assert.equal(toHex(aead.open(nonce, sealed, aad)), toHex(pt), `${alg} len ${len}`);
      const otherNonce = Uint8Array.from(nonce);
      otherNonce[0] ^= 1;
      assert.throws(() => aead.open(otherNonce, sealed, aad), AeadAuthenticationError);
      assert.throws(() => aead.open(nonce, sealed, Uint8Array.of(...aad, 0)), AeadAuthenticationError);
      for (const i of [0, sealed.length - 1]) {
        const bad = Uint8Array.from(sealed);
        bad[i] ^= 0x01;
        assert.throws(() => aead.open(nonce, bad, aad), (e: unknown) => isRootlineError(e, 'ERR_AEAD_AUTH_FAILED'));
      }
    }
  }
});

test('LEA-128-GCM rejects every single flipped bit of ciphertext and tag', () => {
  const aead = createAead('LEA-128-GCM', keyFor('LEA-128-GCM'));
  const nonce = randomBytes(12);
  const aad = Buffer.from('header');
  const pt = Buffer.from('short message!!!!'); // 17 bytes: one full block and a partial one
  const sealed = aead.seal(nonce, pt, aad);
  let rejected = 0;
  for (let bit = 0; bit < sealed.length * 8; bit++) {
    const bad = Uint8Array.from(sealed);
    bad[bit >> 3] ^= 1 << (bit & 7);
    assert.throws(() => aead.open(nonce, bad, aad), AeadAuthenticationError, `bit ${bit} accepted`);
    rejected++;
  }
  assert.equal(rejected, (17 + 16) * 8);
  assert.equal(Buffer.from(aead.open(nonce, sealed, aad)).toString(), 'short message!!!!');
});

test('LEA-128-CCM-8 rejects every single flipped bit of ciphertext, tag and AAD', () => {
  const aead = createAead('LEA-128-CCM-8', keyFor('LEA-128-CCM-8'), { nonceLength: 13 });
  const nonce = randomBytes(13);
  const aad = randomBytes(5);
  const sealed = aead.seal(nonce, randomBytes(20), aad);
  for (let bit = 0; bit < sealed.length * 8; bit++) {
    const bad = Uint8Array.from(sealed);
    bad[bit >> 3] ^= 1 << (bit & 7);
    assert.throws(() => aead.open(nonce, bad, aad), AeadAuthenticationError);
  }
  for (let bit = 0; bit < aad.length * 8; bit++) {
    const bad = Uint8Array.from(aad);
    bad[bit >> 3] ^= 1 << (bit & 7);
    assert.throws(() => aead.open(nonce, sealed, bad), AeadAuthenticationError);
  }
});

test('inputs shorter than the tag are authentication failures, not crashes', () => {
  for (const alg of ['LEA-128-GCM', 'AES-128-CCM-8', 'ARIA-256-GCM'] as const) {
    const aead = createAead(alg, keyFor(alg));
    for (const len of [0, 1, aead.tagLength - 1]) {
      assert.throws(() => aead.open(new Uint8Array(12), new Uint8Array(len)), AeadAuthenticationError);
    }
  }
});

test('CCM nonce length option: 7..13 accepted, message length limited by L = 15 − nonce length', () => {
  for (let n = 7; n <= 13; n++) {
    const aead = createAead('LEA-128-CCM', new Uint8Array(16), { nonceLength: n });
    const nonce = new Uint8Array(n).fill(n);
    assert.equal(toHex(aead.open(nonce, aead.seal(nonce, Uint8Array.of(1, 2, 3)))), '010203');
  }
  // L = 2 → at most 65535 bytes (RFC 3610 §2.1: 0 ≤ l(m) < 2^(8L)).
  const aead = createAead('AES-128-CCM', new Uint8Array(16), { nonceLength: 13 });
  assert.equal(aead.seal(new Uint8Array(13), new Uint8Array(65535)).length, 65535 + 16);
  assert.throws(() => aead.seal(new Uint8Array(13), new Uint8Array(65536)), (e: unknown) => e instanceof CryptoMessageTooLongError && e.code === 'ERR_CRYPTO_MESSAGE_TOO_LONG');
  const lea = createAead('LEA-128-CCM', new Uint8Array(16), { nonceLength: 13 });
  assert.throws(() => lea.seal(new Uint8Array(13), new Uint8Array(65536)), CryptoMessageTooLongError);
});

test('arguments are validated with typed errors naming the argument', () => {
  const expectArg = (fn: () => unknown, argument: string) =>
    assert.throws(fn, (e: unknown) => e instanceof InvalidArgumentError && e.code === 'ERR_INVALID_ARGUMENT' && e.argument === argument);
  expectArg(() => createAead('DES-128-GCM' as AeadAlgorithm, new Uint8Array(16)), 'alg');
  expectArg(() => createAead('AES-128-GCM', new Uint8Array(32)), 'key');
  expectArg(() => createAead('LEA-256-GCM', new Uint8Array(16)), 'key');
  expectArg(() => createAead('AES-128-GCM', 'secret' as unknown as Uint8Array), 'key');
  expectArg(() => createAead('AES-128-GCM', new Uint8Array(16), { nonceLength: 13 }), 'options.nonceLength');
  expectArg(() => createAead('AES-128-CCM', new Uint8Array(16), { nonceLength: 6 }), 'options.nonceLength');
  expectArg(() => createAead('AES-128-CCM', new Uint8Array(16), { nonceLength: 14 }), 'options.nonceLength');
  const aead = createAead('LEA-128-GCM', new Uint8Array(16));
  expectArg(() => aead.seal(new Uint8Array(11), new Uint8Array(1)), 'nonce');
  expectArg(() => aead.seal(new Uint8Array(12), [1, 2] as unknown as Uint8Array), 'plaintext');
  expectArg(() => aead.seal(new Uint8Array(12), new Uint8Array(1), 'x' as unknown as Uint8Array), 'aad');
  expectArg(() => aead.open(new Uint8Array(12), null as unknown as Uint8Array), 'ciphertext');
});

test('createAead copies the key: changing the caller array afterwards changes nothing', () => {
  for (const alg of ['LEA-128-GCM', 'AES-128-GCM', 'ARIA-128-CCM-8'] as const) {
    const key = new Uint8Array(16).fill(5);
    const aead = createAead(alg, key);
    const nonce = new Uint8Array(12);
    const sealed = aead.seal(nonce, Uint8Array.of(1, 2, 3));
    key.fill(0);
    assert.equal(toHex(aead.open(nonce, sealed)), '010203');
    assert.equal(toHex(aead.seal(nonce, Uint8Array.of(1, 2, 3))), toHex(sealed));
  }
});

test('LEA and the OpenSSL-backed ciphers differ (no accidental aliasing of implementations)', () => {
  const key = new Uint8Array(16).fill(1);
  const nonce = new Uint8Array(12);
  const pt = new Uint8Array(16);
  const outs = (['LEA-128-GCM', 'ARIA-128-GCM', 'AES-128-GCM'] as const).map((a) => toHex(createAead(a, key).seal(nonce, pt)));
  assert.equal(new Set(outs).size, 3);
});

test('empty inputs without a backing store (randomBytes(0)) work with the OpenSSL-backed modes', () => {
  for (const alg of ['AES-128-CCM', 'AES-128-GCM', 'ARIA-256-CCM-8'] as const) {
    const aead = createAead(alg, keyFor(alg));
    const nonce = randomBytes(12);
    for (const [pt, aad] of [[randomBytes(0), randomBytes(0)], [randomBytes(5), randomBytes(0)], [randomBytes(0), randomBytes(3)]] as const) {
      const sealed = aead.seal(nonce, pt, aad);
      assert.equal(toHex(aead.open(nonce, sealed, aad)), toHex(pt));
      // and the same bytes as with ordinary empty arrays
      assert.equal(toHex(aead.seal(nonce, Uint8Array.from(pt), Uint8Array.from(aad))), toHex(sealed));
    }
  }
});
