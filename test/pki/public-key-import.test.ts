/**
 * publicKeyFromSpki imports P-256 keys from their coordinates (JWK) instead of through OpenSSL's
 * SPKI decoder: the same keys must come out, and the same inputs must be refused.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { RootlineError } from '../../src/errors.js';
import { publicKeyFromSpki, publicKeyFromSpkiByDecoder } from '../../src/pki/algorithms.js';

const PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04', 'hex');
const PRIME = Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex');

function outcome(f: () => KeyObject): KeyObject | string {
  try {
    return f();
  } catch (err) {
    assert.ok(err instanceof RootlineError, `untyped ${String(err)}`);
    return `${err.code}: ${err.message}`;
  }
}

/** Both imports accept with equal keys, or both refuse with the same typed error. */
function same(spki: Uint8Array): 'accepted' | 'refused' {
  const a = outcome(() => publicKeyFromSpki(spki));
  const b = outcome(() => publicKeyFromSpkiByDecoder(spki));
  if (typeof a === 'string' || typeof b === 'string') {
    assert.equal(a, b);
    return 'refused';
  }
  assert.ok(a.equals(b));
  assert.equal(a.asymmetricKeyType, b.asymmetricKeyType);
  assert.deepEqual(a.asymmetricKeyDetails, b.asymmetricKeyDetails);
  assert.ok(Buffer.from(spki).equals(a.export({ type: 'spki', format: 'der' })));
  return 'accepted';
}

describe('publicKeyFromSpki (P-256 from coordinates)', () => {
  it('gives the key the SPKI decoder gives, which verifies the same signatures', () => {
    for (let i = 0; i < 50; i++) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
      assert.equal(same(spki), 'accepted');
      const data = Buffer.from(`message ${i}`);
      const sig = sign('sha256', data, privateKey);
      assert.ok(verify('sha256', data, publicKeyFromSpki(Uint8Array.from(spki)), sig));
    }
  });

  it('refuses what the decoder refuses: off-curve points, coordinates at or above the prime', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const good = Buffer.from(publicKey.export({ type: 'spki', format: 'der' }));
    const offCurve = Buffer.from(good);
    offCurve[90]! ^= 1;
    assert.equal(same(offCurve), 'refused');
    const xIsPrime = Buffer.concat([PREFIX, PRIME, good.subarray(59)]);
    assert.equal(same(xIsPrime), 'refused');
    const yIsPrime = Buffer.concat([PREFIX, good.subarray(27, 59), PRIME]);
    assert.equal(same(yIsPrime), 'refused');
    const allOnes = Buffer.concat([PREFIX, Buffer.alloc(64, 0xff)]);
    assert.equal(same(allOnes), 'refused');
    const zero = Buffer.concat([PREFIX, Buffer.alloc(64, 0)]);
    assert.equal(same(zero), 'refused');
    // Other key types and encodings still go through the decoder.
    const ed = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal(same(ed), 'accepted');
    const compressed = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal(same(compressed.subarray(0, 90)), 'refused');
  });

  it('fast-check: random coordinates and byte flips agree with the decoder', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const good = Buffer.from(publicKey.export({ type: 'spki', format: 'der' }));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 64, maxLength: 64 }).map((xy) => Buffer.concat([PREFIX, xy])),
          fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, v]) => {
            const m = Buffer.from(good);
            m[i]! ^= v;
            return m;
          }),
        ),
        (spki) => {
          same(new Uint8Array(spki));
        },
      ),
      { numRuns: 500 },
    );
  });
});
