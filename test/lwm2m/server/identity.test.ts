/**
 * certificateLookup: the store's lookup for a client certificate (CN, else the whole subject),
 * answered from a bytes-keyed cache after the first time — the same answer as a fresh read, and
 * never another certificate's answer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { certificateFacts, certificateLookup, identityFromDtls } from '../../../src/lwm2m/server/identity.js';
import { createRootCa } from '../../../src/pki/certificate-authority.js';

const signer = () => keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);

describe('certificateLookup', () => {
  it('answers CN, or the subject without a CN, the same on every call, per exact bytes', async () => {
    const ca = await createRootCa({ signer: signer(), subject: 'CN=Lookup CA', validityDays: 2 });
    const a = await ca.issueCertificate({ subject: 'CN=device-a,O=Acme', publicKey: signer().publicKey });
    const b = await ca.issueCertificate({ subject: 'O=Acme,OU=no common name', publicKey: signer().publicKey, subjectAltNames: { dns: ['b.example'] } });
    for (let i = 0; i < 3; i++) {
      assert.equal(certificateLookup(a.der), 'device-a');
      assert.equal(certificateLookup(b.der), 'O=Acme, OU=no common name');
      // A copy of the bytes (another buffer) gets the same answer.
      assert.equal(certificateLookup(Uint8Array.from(a.der)), 'device-a');
    }
    assert.equal(certificateLookup(a.der), new X509Certificate(a.der).subject.split('\n').find((l) => l.startsWith('CN='))!.slice(3));
    assert.deepEqual(identityFromDtls({ type: 'x509', chain: [b.der] }), { kind: 'x509', lookup: 'O=Acme, OU=no common name' });
  });

  it('a certificate node cannot read has no lookup, also after a readable one with the same prefix', async () => {
    const ca = await createRootCa({ signer: signer(), subject: 'CN=Lookup CA 2', validityDays: 2 });
    const a = await ca.issueCertificate({ subject: 'CN=device-c', publicKey: signer().publicKey });
    assert.equal(certificateLookup(a.der), 'device-c');
    assert.equal(certificateLookup(a.der.subarray(0, a.der.length - 1)), undefined);
    assert.equal(certificateLookup(new Uint8Array([0x30, 0x00])), undefined);
    assert.equal(identityFromDtls({ type: 'x509', chain: [new Uint8Array([1, 2, 3])] }), undefined);
  });

  it('certificateFacts gives the lookup and the validity X509Certificate reads, one entry for both questions', async () => {
    const ca = await createRootCa({ signer: signer(), subject: 'CN=Facts CA', validityDays: 2 });
    const a = await ca.issueCertificate({ subject: 'CN=device-f', publicKey: signer().publicKey });
    const x = new X509Certificate(a.der);
    const facts = certificateFacts(a.der);
    assert.deepEqual(facts, { lookup: 'device-f', validFrom: Date.parse(x.validFrom), validTo: Date.parse(x.validTo) });
    assert.ok(Number.isFinite(facts!.validFrom) && facts!.validTo > facts!.validFrom);
    // The same entry answers the lookup (and a copy of the bytes).
    assert.equal(certificateFacts(Uint8Array.from(a.der)), facts);
    assert.equal(certificateLookup(a.der), facts!.lookup);
    assert.equal(certificateFacts(a.der.subarray(1)), undefined);
  });
});
