import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { RootlineError } from '../../src/errors.js';
import { CertificateAuthority, createRootCa } from '../../src/pki/certificate-authority.js';
import { masaUrlExtension } from '../../src/pki/extensions.js';
import { parseCrl } from '../../src/pki/parse-crl.js';
import { verifyChain } from '../../src/pki/verify-chain.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { p256Signer } from './forge.js';

const code = (c: string) => (err: unknown) => {
  assert.ok(err instanceof RootlineError, `expected ${c}, got ${String(err)}`);
  assert.equal(err.code, c, err.message);
  return true;
};
const DAY = 86_400_000;

describe('CertificateAuthority', () => {
  it('reopens from JSON state with its signer and keeps issuing; serials stay unique', async () => {
    const signer = p256Signer();
    const ca = await createRootCa({ signer, subject: { CN: 'State Root', O: 'Rootline' }, validityDays: 30 });
    const first = await ca.issueCertificate({ subject: 'CN=a', publicKey: p256Signer().publicKey, serialNumber: '0x01ab' });
    assert.equal(first.serialNumber, '01ab');
    const reopened = CertificateAuthority.open(signer, JSON.parse(JSON.stringify(ca.state)));
    assert.equal(reopened.certificate.fingerprint256, ca.certificate.fingerprint256);
    await assert.rejects(reopened.issueCertificate({ subject: 'CN=b', publicKey: p256Signer().publicKey, serialNumber: '1ab' }), code('ERR_PKI_DUPLICATE_SERIAL'));
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const c = await reopened.issueCertificate({ subject: `CN=d${i}`, publicKey: p256Signer().publicKey });
      assert.equal(c.serialNumber.length, 32, 'random serials are 16 octets');
      assert.ok(Number.parseInt(c.serialNumber[0]!, 16) < 8, 'and positive');
      serials.add(c.serialNumber);
    }
    assert.equal(serials.size, 20);
    assert.equal(Object.keys(reopened.state.issued).length, 22, 'root + a + 20');
    assert.equal(reopened.state.issued['01ab']!.subject, 'CN=a');
    // The state is a copy: changing it does not change the CA.
    const s = reopened.state;
    s.crlNumber = 99;
    assert.equal(reopened.state.crlNumber, 0);
  });

  it('concurrent issuance and CRLs never share a serial or a CRL number', async () => {
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=Concurrent', validityDays: 2 });
    const pk = p256Signer().publicKey;
    const results = await Promise.allSettled([
      ca.issueCertificate({ subject: 'CN=one', publicKey: pk, serialNumber: '77' }),
      ca.issueCertificate({ subject: 'CN=two', publicKey: pk, serialNumber: '77' }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((rejected.reason as RootlineError).code, 'ERR_PKI_DUPLICATE_SERIAL');
    const crls = await Promise.all([ca.createCrl(), ca.createCrl(), ca.createCrl()]);
    const numbers = crls.map((c) => parseCrl(c).crlNumber);
    assert.deepEqual(new Set(numbers).size, 3);
    assert.equal(ca.state.crlNumber, 3);
  });

  it('refuses a signer that does not hold the CA key, and a state that is not one', async () => {
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=Mismatch', validityDays: 1 });
    assert.throws(() => CertificateAuthority.open(p256Signer(), ca.state), code('ERR_PKI_SIGNER_MISMATCH'));
    assert.throws(() => CertificateAuthority.open(p256Signer(), { ...ca.state, version: 2 } as never), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => CertificateAuthority.open(p256Signer(), { ...ca.state, issued: { zz: {} } } as never), code('ERR_INVALID_ARGUMENT'));
  });

  it('refuses to open an end-entity certificate as a CA', async () => {
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=Parent', validityDays: 5 });
    const eeSigner = p256Signer();
    const ee = await ca.issueCertificate({ subject: 'CN=not a ca', publicKey: eeSigner.publicKey });
    assert.throws(
      () => CertificateAuthority.open(eeSigner, { version: 1, certificate: ee.pem, chain: [], issued: {}, revoked: {}, crlNumber: 0 }),
      code('ERR_PKI_NOT_A_CA'),
    );
  });

  it('enforces RFC 5280 profile rules when issuing', async () => {
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=Rules', validityDays: 10, pathLen: 0 });
    const pk = p256Signer().publicKey;
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, keyUsage: ['keyCertSign'] }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, pathLen: 1 }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, isCa: true }), code('ERR_PKI_PATH_LENGTH_EXCEEDED'));
    await assert.rejects(ca.issueCertificate({ subject: '', publicKey: pk }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, validity: { days: 11 } }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, serialNumber: '00' }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, serialNumber: 'ff'.repeat(21) }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: Uint8Array.of(1, 2, 3) }), code('ERR_PKI_MALFORMED_PUBLIC_KEY'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x' }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'C=Germany', publicKey: pk }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, subjectAltNames: { dns: ['bad name'] } }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, subjectAltNames: { uri: ['relative/path'] } }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(ca.issueCertificate({ subject: 'CN=x', publicKey: pk, subjectAltNames: { ip: ['300.1.1.1'] } }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(
      ca.issueCertificate({ subject: 'CN=x', publicKey: pk, extensions: [{ oid: '2.5.29.15', value: Uint8Array.of(3, 1, 0) }] }),
      code('ERR_INVALID_ARGUMENT'),
    );
    const failingState = ca.state;
    assert.equal(Object.keys(failingState.issued).length, 1, 'refused requests reserve no serial');
  });

  it('an empty subject gets a critical SAN (RFC 5280 §4.1.2.6)', async () => {
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=SAN only', validityDays: 2 });
    const c = await ca.issueCertificate({ subject: '', publicKey: p256Signer().publicKey, subjectAltNames: { uri: ['urn:ietf:params:xml:ns:x'] } });
    assert.equal(c.certificate.subject, '');
    assert.deepEqual(c.certificate.extensions.find((e) => e.oid === '2.5.29.17')?.critical, true);
  });

  it('carries extra extensions such as the BRSKI MASA URL (RFC 8995 §2.3.2)', async () => {
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=MASA issuer', validityDays: 2 });
    const c = await ca.issueCertificate({ subject: 'CN=p', publicKey: p256Signer().publicKey, extensions: [masaUrlExtension('https://masa.example.com')] });
    assert.equal(c.certificate.masaUrl, 'https://masa.example.com');
    const ext = c.certificate.extensions.find((e) => e.oid === '1.3.6.1.5.5.7.1.32')!;
    assert.equal(ext.critical, false);
    assert.deepEqual(Buffer.from(ext.value), Buffer.concat([Buffer.from([0x16, 24]), Buffer.from('https://masa.example.com')]));
  });

  it('signs with Ed25519 CA keys too, and defaults clamp to the CA lifetime', async () => {
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ed25519').privateKey), subject: 'CN=Ed Root', validityDays: 100 });
    assert.equal(ca.certificate.signatureAlgorithmName, 'Ed25519');
    const sub = await ca.createIntermediateCa({ signer: p256Signer(), subject: 'CN=Ed Sub', validityDays: 50 });
    const leaf = await sub.issueCertificate({ subject: 'CN=short', publicKey: p256Signer().publicKey });
    assert.equal(leaf.certificate.notAfter.getTime(), sub.certificate.notAfter.getTime(), 'default 365 days stop at the CA notAfter');
    assert.equal(verifyChain(leaf.der, [sub.certificate], [ca.certificate]).chain.length, 3);
    assert.ok(sub.chainPem.startsWith(sub.state.certificate) && sub.chainPem.endsWith(ca.state.certificate));
    assert.ok(leaf.certificate.notBefore.getTime() <= Date.now() && leaf.certificate.notBefore.getTime() > Date.now() - DAY);
  });

  it('refuses CRLs from a CA without cRLSign', async () => {
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=No CRL', validityDays: 2 });
    const signer = p256Signer();
    const issued = await ca.issueCertificate({ subject: 'CN=cert-only CA', publicKey: signer.publicKey, isCa: true, keyUsage: ['keyCertSign'] });
    const sub = CertificateAuthority.open(signer, { version: 1, certificate: issued.pem, chain: [ca.state.certificate], issued: {}, revoked: {}, crlNumber: 0 });
    await assert.rejects(sub.createCrl(), code('ERR_PKI_KEY_USAGE'));
  });

  it('checks each signature against the signer key before using it (a faulty or mismatched token)', async () => {
    const honest = p256Signer();
    const other = p256Signer();
    const lying = { algorithm: 'ES256' as const, publicKey: honest.publicKey, sign: other.sign };
    await assert.rejects(createRootCa({ signer: lying, subject: 'CN=Liar', validityDays: 1 }), code('ERR_PKI_BAD_SIGNATURE'));
    const short = { ...honest, sign: async () => new Uint8Array(10) };
    await assert.rejects(createRootCa({ signer: short, subject: 'CN=Short', validityDays: 1 }), code('ERR_INVALID_ARGUMENT'));
    const ca = await createRootCa({ signer: honest, subject: 'CN=Honest', validityDays: 1 });
    const broken = CertificateAuthority.open({ ...honest, sign: async () => new Uint8Array(64) }, ca.state);
    await assert.rejects(broken.issueCertificate({ subject: 'CN=x', publicKey: other.publicKey, serialNumber: '05' }), code('ERR_PKI_BAD_SIGNATURE'));
    assert.equal(broken.state.issued['05'], undefined, 'a failed signature releases the reserved serial');
    await assert.rejects(broken.createCrl(), code('ERR_PKI_BAD_SIGNATURE'));
  });

  it('validates its arguments', async () => {
    await assert.rejects(createRootCa({ signer: {} as never, subject: 'CN=x', validityDays: 1 }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(createRootCa({ signer: p256Signer(), subject: 'CN=x' }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(createRootCa({ signer: p256Signer(), subject: 'CN=x', validityDays: 0 }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(createRootCa({ signer: p256Signer(), subject: '', validityDays: 1 }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(createRootCa(null as never), code('ERR_INVALID_ARGUMENT'));
  });
});

describe('CertificateAuthority with a parsed CSR', () => {
  it('issues from the parseCsr view without parsing it again, and still checks its self-signature', async () => {
    const { createCsr } = await import('../../src/pki/create-csr.js');
    const { parseCsr } = await import('../../src/pki/parse-csr.js');
    const ca = await createRootCa({ signer: p256Signer(), subject: 'CN=View Root', validityDays: 30 });
    const key = p256Signer();
    const view = parseCsr(await createCsr({ signer: key, subject: 'CN=from-view' }));
    const issued = await ca.issueCertificate({ csr: view });
    assert.equal(issued.certificate.subject, 'CN=from-view');
    assert.deepEqual(issued.certificate.publicKey, key.publicKey);
    // A view whose signed part was changed no longer verifies with its own key.
    const info = view.info.slice();
    info[info.length - 1] ^= 1;
    await assert.rejects(ca.issueCertificate({ csr: { ...view, info } }), code('ERR_PKI_BAD_CSR_SIGNATURE'));
    // Another key in the view than the one that signed: refused as well.
    await assert.rejects(ca.issueCertificate({ csr: { ...view, publicKey: p256Signer().publicKey } }), code('ERR_PKI_BAD_CSR_SIGNATURE'));
  });
});
