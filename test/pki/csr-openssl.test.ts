/** PKCS#10 both ways with the real openssl: our CSRs pass `openssl req -verify`, openssl's pass ours. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { RootlineError } from '../../src/errors.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa, type CertificateAuthority } from '../../src/pki/certificate-authority.js';
import { createCsr } from '../../src/pki/create-csr.js';
import { parseCsr, verifyCsr } from '../../src/pki/parse-csr.js';
import { encodePem } from '../../src/pki/pem.js';
import { openssl, opensslSkip, tempDir, type TempDir } from './openssl.js';

const code = (c: string) => (err: unknown) => err instanceof RootlineError && err.code === c;

describe('CSR interop with openssl', { skip: opensslSkip }, () => {
  let dir: TempDir;
  let ca: CertificateAuthority;
  before(async () => {
    dir = tempDir();
    ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), subject: 'CN=CSR Test CA', validityDays: 30 });
    dir.write('ca.pem', ca.state.certificate);
  });
  after(() => dir.cleanup());

  for (const kind of ['P-256', 'Ed25519'] as const) {
    it(`openssl req -verify accepts our ${kind} CSR and prints its subject and extensions`, async () => {
      const key = kind === 'P-256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const csr = await createCsr({
        signer: keyObjectSigner(key.privateKey),
        subject: 'CN=pledge-7,serialNumber=PID-7',
        subjectAltNames: { dns: ['pledge-7.local'] },
        extKeyUsage: ['clientAuth'],
        challengePassword: 'one-time',
      });
      const f = `csr-${kind}.pem`;
      dir.write(f, encodePem('CERTIFICATE REQUEST', csr));
      const r = openssl(['req', '-in', f, '-verify', '-noout', '-text', '-nameopt', 'RFC2253,-dn_rev'], dir.path);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr + r.stdout, /verify OK/i);
      assert.match(r.stdout, /Subject: CN=pledge-7,serialNumber=PID-7/);
      assert.match(r.stdout, /DNS:pledge-7\.local/);
      assert.match(r.stdout, /challengePassword\s*:\s*one-time/);
      const parsed = verifyCsr(csr);
      assert.equal(parsed.subject, 'CN=pledge-7,serialNumber=PID-7');
      assert.deepEqual(parsed.subjectAltNames?.dns, ['pledge-7.local']);
      assert.deepEqual(parsed.extKeyUsage, ['clientAuth']);
      assert.equal(parsed.challengePassword, 'one-time');
      assert.equal(parsed.publicKeyAlgorithm, kind === 'P-256' ? 'ec-p256' : 'ed25519');
    });
  }

  it('a CSR made by openssl req -new is accepted by issueCertificate, and the result verifies', async () => {
    const gen = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'dev.key', '-subj', '/CN=from-openssl/O=Acme', '-addext', 'subjectAltName=DNS:dev.example', '-out', 'dev.csr'], dir.path);
    assert.equal(gen.status, 0, gen.stderr);
    const csrPem = dir.read('dev.csr').toString();
    const parsed = verifyCsr(csrPem);
    assert.equal(parsed.subject, 'CN=from-openssl,O=Acme');
    assert.deepEqual(parsed.subjectAltNames?.dns, ['dev.example']);
    const issued = await ca.issueCertificate({ csr: csrPem, extKeyUsage: ['clientAuth'] });
    assert.equal(issued.certificate.subject, 'CN=from-openssl,O=Acme');
    assert.deepEqual(issued.certificate.subjectDer, parsed.subjectDer, 'the subject is copied byte for byte');
    assert.deepEqual(issued.certificate.publicKey, parsed.publicKey);
    dir.write('dev.pem', issued.pem);
    const v = openssl(['verify', '-CAfile', 'ca.pem', 'dev.pem'], dir.path);
    assert.equal(v.status, 0, v.stderr + v.stdout);
    // The certificate certifies the key openssl generated.
    const pub = openssl(['pkey', '-in', 'dev.key', '-pubout', '-outform', 'DER'], dir.path);
    assert.equal(pub.status, 0);
    const mod = openssl(['x509', '-in', 'dev.pem', '-noout', '-pubkey'], dir.path).stdout;
    const fromKey = openssl(['pkey', '-in', 'dev.key', '-pubout'], dir.path).stdout;
    assert.equal(mod, fromKey);
  });

  it('a CSR whose signature was tampered with is refused with ERR_PKI_BAD_CSR_SIGNATURE', async () => {
    const csr = await createCsr({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), subject: 'CN=honest' });
    const forged = csr.slice();
    forged[Buffer.from(forged).indexOf('honest')] = 0x48; // 'Honest': someone else's name, same signature
    assert.equal(parseCsr(forged).subject, 'CN=Honest');
    await assert.rejects(ca.issueCertificate({ csr: forged }), code('ERR_PKI_BAD_CSR_SIGNATURE'));
    dir.write('forged.pem', encodePem('CERTIFICATE REQUEST', forged));
    const r = openssl(['req', '-in', 'forged.pem', '-verify', '-noout'], dir.path);
    // OpenSSL 3.0's `req -verify` reports the failure in its output but still exits 0.
    assert.match(r.stdout + r.stderr, /verify failure/i);
    assert.doesNotMatch(r.stdout + r.stderr, /verify OK/i);
  });

  it('requests extra extensions; the CA copies none of them unless told to', async () => {
    const signer = keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    const csr = await createCsr({ signer, subject: 'CN=ext', extensions: [{ oid: '1.3.6.1.4.1.55555.7', value: Uint8Array.of(0x05, 0x00), critical: true }] });
    const parsed = verifyCsr(csr);
    assert.deepEqual(parsed.extensions, [{ oid: '1.3.6.1.4.1.55555.7', critical: true, value: Uint8Array.of(0x05, 0x00) }]);
    dir.write('ext.csr', encodePem('CERTIFICATE REQUEST', csr));
    assert.match(openssl(['req', '-in', 'ext.csr', '-noout', '-text'], dir.path).stdout, /1\.3\.6\.1\.4\.1\.55555\.7: critical/);
    const issued = await ca.issueCertificate({ csr });
    assert.equal(issued.certificate.extensions.some((e) => e.oid === '1.3.6.1.4.1.55555.7'), false);
    await assert.rejects(
      createCsr({ signer, subject: 'CN=x', keyUsage: ['digitalSignature'], extensions: [{ oid: '2.5.29.15', value: Uint8Array.of(3, 1, 0) }] }),
      code('ERR_INVALID_ARGUMENT'),
    );
    await assert.rejects(createCsr({ signer, subject: 'CN=x', extensions: [{ oid: 'not-an-oid', value: Uint8Array.of(5, 0) }] }), code('ERR_INVALID_ARGUMENT'));
    await assert.rejects(createCsr(null as never), code('ERR_INVALID_ARGUMENT'));
  });

  it('refuses malformed CSRs with ERR_PKI_MALFORMED_CSR', () => {
    assert.throws(() => parseCsr(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00)), code('ERR_PKI_MALFORMED_CSR'));
    assert.throws(() => parseCsr(ca.certificate.der), code('ERR_PKI_MALFORMED_CSR'));
    assert.throws(() => parseCsr('-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n'), code('ERR_PKI_MALFORMED_PEM'));
  });
});
