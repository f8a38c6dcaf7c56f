/**
 * parseCertificate and publicKeyFromSpki keep results by the exact input bytes: a repeated parse
 * gives what a fresh one would, each caller gets its own view, and one changed byte is never
 * served from the cache.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { publicKeyFromSpki, verifySignature } from '../../src/pki/algorithms.js';
import { BytesKeyedCache } from '../../src/util/bytes-cache.js';
import { createRootCa, encodePem, parseCertificate } from '../../src/pki/index.js';

describe('caches keyed by exact bytes', () => {
  it('parseCertificate: same view again, own objects and byte arrays, changed bytes parsed afresh', async () => {
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=Cache CA', validityDays: 30 });
    const der = ca.certificate.der.slice();
    const a = parseCertificate(der);
    const b = parseCertificate(der);
    assert.deepEqual(a, b);
    assert.notEqual(a, b);
    assert.notEqual(a.der, b.der);
    a.der[0] = 0;
    a.publicKey[0] = 0;
    assert.deepEqual(parseCertificate(der), b);
    assert.equal(parseCertificate(encodePem('CERTIFICATE', der)).fingerprint256, b.fingerprint256);
    // The caller's buffer changing afterwards changes nothing either.
    const mine = der.slice();
    const c = parseCertificate(mine);
    mine.fill(0);
    assert.deepEqual(c, b);
    // One byte changed in the signature: not the cached certificate any more.
    const other = der.slice();
    other[other.length - 1] ^= 1;
    assert.notEqual(parseCertificate(other).fingerprint256, b.fingerprint256);
    // Limits are checked before the cache is asked.
    assert.throws(() => parseCertificate(der, { maxLength: 10 }), { code: 'ERR_PKI_MALFORMED_CERTIFICATE' });
    assert.throws(() => parseCertificate(der.subarray(0, der.length - 1)), { code: 'ERR_PKI_MALFORMED_CERTIFICATE' });
  });

  it('publicKeyFromSpki: the same KeyObject for the same bytes; malformed keys refused every time', () => {
    const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal(publicKeyFromSpki(spki), publicKeyFromSpki(spki.slice()));
    const bad = spki.slice(0, 20);
    assert.throws(() => publicKeyFromSpki(bad), { code: 'ERR_PKI_MALFORMED_PUBLIC_KEY' });
    assert.throws(() => publicKeyFromSpki(bad), { code: 'ERR_PKI_MALFORMED_PUBLIC_KEY' });
  });

  it('BytesKeyedCache evicts the least recently used entry', () => {
    const cache = new BytesKeyedCache<number>(2);
    const k = (s: string) => BytesKeyedCache.keyOf(Buffer.from(s));
    cache.set(k('a'), 1);
    cache.set(k('b'), 2);
    assert.equal(cache.get(k('a')), 1);
    cache.set(k('c'), 3);
    assert.equal(cache.get(k('b')), undefined);
    assert.equal(cache.get(k('a')), 1);
    assert.equal(cache.size, 2);
  });

  it('verifySignature: a success is kept by the exact bytes; any changed byte, key or algorithm is checked afresh and refused', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const signer = keyObjectSigner(privateKey);
    const other = keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey).publicKey;
    const ES256 = '1.2.840.10045.4.3.2';
    const ES384 = '1.2.840.10045.4.3.3';
    for (const size of [100, 9000]) {
      const data = randomBytes(size);
      const sig = sign('sha256', data, privateKey);
      assert.equal(verifySignature(signer.publicKey, ES256, data, sig), true);
      assert.equal(verifySignature(signer.publicKey, ES256, data.slice(), sig.slice()), true, 'again, from the memo when small');
      const flipped = data.slice();
      flipped[size - 1]! ^= 1;
      assert.equal(verifySignature(signer.publicKey, ES256, flipped, sig), false);
      const badSig = sig.slice();
      badSig[badSig.length - 1]! ^= 1;
      assert.equal(verifySignature(signer.publicKey, ES256, data, badSig), false);
      assert.equal(verifySignature(other, ES256, data, sig), false);
      assert.equal(verifySignature(signer.publicKey, ES384, data, sig), false, 'another hash');
      // Bytes moved between the signature and the data (same concatenation) are not the same entry.
      assert.equal(verifySignature(signer.publicKey, ES256, Buffer.concat([sig.subarray(sig.length - 1), data]), sig.subarray(0, sig.length - 1)), false);
    }
  });
});
