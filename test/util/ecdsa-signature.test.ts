import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { ecdsaDerToRaw, ecdsaRawToDer } from '../../src/crypto/ecdsa-signature.js';
import { isRootlineError } from '../../src/errors.js';

test('raw and DER ECDSA signatures convert both ways and verify with node:crypto', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (let i = 0; i < 50; i++) {
    const data = Buffer.from(`message ${i}`);
    const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const der = ecdsaRawToDer(raw);
    assert.ok(verify('sha256', data, publicKey, der));
    const derSig = sign('sha256', data, privateKey);
    assert.ok(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, ecdsaDerToRaw(derSig)));
    assert.deepEqual(Buffer.from(ecdsaDerToRaw(der)), raw);
  }
});

test('ecdsaDerToRaw: random bytes give only typed errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 90 }), (bytes) => {
      try {
        const raw = ecdsaDerToRaw(bytes);
        assert.equal(raw.length, 64);
      } catch (e) {
        assert.ok(isRootlineError(e, 'ERR_INVALID_ARGUMENT'), String(e));
      }
    }),
    { numRuns: 2000 },
  );
});
