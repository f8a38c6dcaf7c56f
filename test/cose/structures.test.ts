/**
 * The hand-written Sig/MAC/Enc structure encoder (src/cose/structures.ts) against the general
 * deterministic encoder it replaced, and the SPKI key cache of signature-keys.ts against OpenSSL's
 * DER import: same bytes, same keys, same refusals.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeCbor } from '../../src/cose/cbor.js';
import { sign1, verifySign1 } from '../../src/cose/sign1.js';
import { SPKI_KEY_CACHE_ENTRIES, assertKeyFitsSignatureAlgorithm, publicKeyFromSpkiByDecoder, spkiKeyCacheSize, toPublicKeyObject } from '../../src/cose/signature-keys.js';
import { SIGNATURE_ALGORITHMS, CoseAlgorithm } from '../../src/cose/algorithms.js';
import { encodeStructure, sigStructure1 } from '../../src/cose/structures.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';

/** Byte strings with lengths around every CBOR head boundary. */
const bytesNearHeads = fc.oneof(
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom(23, 24, 255, 256, 257, 65_535, 65_536, 70_000).chain((n) => fc.integer({ min: Math.max(0, n - 1), max: n + 1 }).map((m) => new Uint8Array(m).fill(m & 0xff))),
);

test('encodeStructure writes exactly what encodeCbor writes for the three contexts', () => {
  fc.assert(
    fc.property(fc.constantFrom('Signature1', 'MAC0', 'Encrypt0') as fc.Arbitrary<'Signature1' | 'MAC0' | 'Encrypt0'>, fc.array(bytesNearHeads, { minLength: 1, maxLength: 3 }), (context, fields) => {
      assert.deepEqual(encodeStructure(context, fields), encodeCbor([context, ...fields]));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(bytesNearHeads, bytesNearHeads, bytesNearHeads, (p, a, m) => {
      assert.deepEqual(sigStructure1(p, a, m), encodeCbor(['Signature1', p, a, m]));
    }),
    { numRuns: 200 },
  );
  // Views into larger buffers (and Buffers) are written as their bytes only.
  const big = Buffer.from('xxhelloyy');
  assert.deepEqual(sigStructure1(big.subarray(2, 7), new Uint8Array(0), new Uint8Array([1])), encodeCbor(['Signature1', new Uint8Array(big.subarray(2, 7)), new Uint8Array(0), new Uint8Array([1])]));
  assert.throws(() => encodeStructure('MAC0', ['x' as unknown as Uint8Array]), { code: 'ERR_INVALID_ARGUMENT' });
});

test('a COSE_Sign1 made and checked with the structure encoder verifies, and a flipped payload bit does not', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const msg = await sign1({ payload: new Uint8Array(300).fill(7), signer: keyObjectSigner(privateKey) });
  assert.equal((await verifySign1(msg, { key: spki })).payload.length, 300);
  const bad = msg.slice();
  bad[bad.length - 80]! ^= 1;
  await assert.rejects(verifySign1(bad, { key: spki }), { code: 'ERR_COSE_SIGNATURE_INVALID' });
});

test('SPKI keys: the cached import is the key OpenSSL decodes; refusals are the same error, never kept; bounded', () => {
  const es256 = SIGNATURE_ALGORITHMS.get(CoseAlgorithm.ES256)!;
  const p256 = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
  const ed = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));
  const p384 = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'der' }));
  for (const spki of [p256, ed, p384]) {
    const a = toPublicKeyObject(spki, 'k');
    assert.ok(a.equals(publicKeyFromSpkiByDecoder(spki)));
    assert.equal(toPublicKeyObject(spki.slice(), 'k'), a, 'a hit for the same bytes in another buffer');
  }
  assertKeyFitsSignatureAlgorithm(toPublicKeyObject(p256, 'k'), es256);
  assert.throws(() => assertKeyFitsSignatureAlgorithm(toPublicKeyObject(p384, 'k'), es256), { code: 'ERR_COSE_KEY_MISMATCH' });
  assert.throws(() => assertKeyFitsSignatureAlgorithm(toPublicKeyObject(ed, 'k'), es256), { code: 'ERR_COSE_KEY_MISMATCH' });
  // Mutations of a P-256 SPKI (prefix, coordinates off the curve or beyond the prime, length):
  // accepted exactly when OpenSSL's decoder accepts, as the same key; else ERR_INVALID_ARGUMENT.
  const before = spkiKeyCacheSize();
  let refused = 0;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: p256.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, truncate) => {
      const m = truncate ? p256.slice(0, at) : p256.slice();
      if (!truncate) m[at]! ^= xor;
      let expected: ReturnType<typeof publicKeyFromSpkiByDecoder> | undefined;
      try {
        expected = publicKeyFromSpkiByDecoder(m);
      } catch {
        expected = undefined;
      }
      if (expected === undefined) {
        refused++;
        assert.throws(() => toPublicKeyObject(m, 'options.key'), (err: { code?: string; message?: string }) => err.code === 'ERR_INVALID_ARGUMENT' && /options\.key/.test(err.message ?? ''));
      } else {
        assert.ok(toPublicKeyObject(m, 'options.key').equals(expected));
      }
    }),
    { numRuns: 300 },
  );
  assert.ok(refused > 0);
  // Coordinates at or above the field prime: refused by both.
  const high = p256.slice();
  high.fill(0xff, 27, 59);
  assert.throws(() => publicKeyFromSpkiByDecoder(high));
  assert.throws(() => toPublicKeyObject(high, 'k'), { code: 'ERR_INVALID_ARGUMENT' });
  assert.ok(spkiKeyCacheSize() >= before);
  for (let i = 0; i < SPKI_KEY_CACHE_ENTRIES + 10; i++) toPublicKeyObject(new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' })), 'k');
  assert.equal(spkiKeyCacheSize(), SPKI_KEY_CACHE_ENTRIES);
});
