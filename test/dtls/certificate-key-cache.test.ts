/**
 * publicKeyFromCertificate caches parsed keys by the certificate's exact bytes: a hit must be
 * what a fresh parse gives, a bad certificate must fail every time, and the cache stays bounded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { CERTIFICATE_KEY_CACHE_ENTRIES, certificateKeyCacheSize, publicKeyFromCertificate } from '../../src/dtls/key-exchange.js';
import { isRootlineError } from '../../src/errors.js';
import { selfSigned } from './helpers.js';

function spki(der: Uint8Array): Buffer {
  return new X509Certificate(Buffer.from(der)).publicKey.export({ type: 'spki', format: 'der' });
}

describe('certificate public key cache', () => {
  it('returns the key of exactly these bytes, from the cache on a repeat', async () => {
    const a = await selfSigned('cache-a');
    const b = await selfSigned('cache-b');
    const ka = publicKeyFromCertificate(a.der);
    // A copy of the bytes (another buffer, another offset) hits the same entry.
    const padded = new Uint8Array(a.der.length + 3);
    padded.set(a.der, 3);
    assert.equal(publicKeyFromCertificate(padded.subarray(3)), ka);
    assert.deepEqual(ka.export({ type: 'spki', format: 'der' }), spki(a.der));
    assert.deepEqual(Buffer.from(ka.export({ type: 'spki', format: 'der' })), Buffer.from(a.signer.publicKey));
    const kb = publicKeyFromCertificate(b.der);
    assert.notEqual(kb, ka);
    assert.deepEqual(kb.export({ type: 'spki', format: 'der' }), spki(b.der));
  });

  it('never caches a failure: a malformed certificate throws every time, a one-byte change is another certificate', async () => {
    const a = await selfSigned('cache-bad');
    publicKeyFromCertificate(a.der);
    const broken = Uint8Array.from(a.der);
    broken[broken.length - 1]! ^= 0xff; // the signature's last byte: still parses, another entry
    const corrupted = Uint8Array.from(a.der).subarray(0, a.der.length - 10); // truncated: does not parse
    const bad = (e: unknown) => isRootlineError(e, 'ERR_DTLS_BAD_CERTIFICATE');
    for (let i = 0; i < 3; i++) assert.throws(() => publicKeyFromCertificate(corrupted), bad);
    assert.deepEqual(publicKeyFromCertificate(broken).export({ type: 'spki', format: 'der' }), spki(a.der));
  });

  it('stays bounded', async () => {
    const certs = [];
    for (let i = 0; i < CERTIFICATE_KEY_CACHE_ENTRIES + 20; i++) certs.push((await selfSigned(`bound-${i}`)).der);
    for (const der of certs) publicKeyFromCertificate(der);
    assert.equal(certificateKeyCacheSize(), CERTIFICATE_KEY_CACHE_ENTRIES);
    // The oldest went first; the newest is still there and still right.
    const last = certs.at(-1)!;
    assert.deepEqual(publicKeyFromCertificate(last).export({ type: 'spki', format: 'der' }), spki(last));
  });
});
