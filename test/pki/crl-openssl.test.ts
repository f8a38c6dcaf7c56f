/** CRLs we sign, checked by the real openssl: signature, fields, and revocation in `verify -crl_check`. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RootlineError } from '../../src/errors.js';
import { createRootCa, type CertificateAuthority, type IssuedCertificate } from '../../src/pki/certificate-authority.js';
import { parseCrl } from '../../src/pki/parse-crl.js';
import { encodePem } from '../../src/pki/pem.js';
import { p256Signer } from './forge.js';
import { openssl, opensslSkip, tempDir, type TempDir } from './openssl.js';

const code = (c: string) => (err: unknown) => err instanceof RootlineError && err.code === c;

describe('CRLs with openssl', { skip: opensslSkip }, () => {
  let dir: TempDir;
  let root: CertificateAuthority;
  let int: CertificateAuthority;
  let good: IssuedCertificate;
  let bad: IssuedCertificate;

  before(async () => {
    dir = tempDir();
    root = await createRootCa({ signer: p256Signer(), subject: 'CN=CRL Root', validityDays: 100 });
    int = await root.createIntermediateCa({ signer: p256Signer(), subject: 'CN=CRL Issuing', validityDays: 50 });
    good = await int.issueCertificate({ subject: 'CN=good', publicKey: p256Signer().publicKey });
    bad = await int.issueCertificate({ subject: 'CN=bad', publicKey: p256Signer().publicKey });
    dir.write('ca.pem', root.state.certificate);
    dir.write('int.pem', int.state.certificate);
    dir.write('chain.pem', root.state.certificate + int.state.certificate);
    dir.write('good.pem', good.pem);
    dir.write('bad.pem', bad.pem);
  });
  after(() => dir.cleanup());

  it('an empty CRL: openssl crl -CAfile verifies it, no revoked list, CRL number 1', async () => {
    const der = await int.createCrl();
    dir.write('empty.pem', encodePem('X509 CRL', der));
    const r = openssl(['crl', '-in', 'empty.pem', '-CAfile', 'chain.pem', '-noout', '-text'], dir.path);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /verify OK/);
    assert.match(r.stdout, /No Revoked Certificates/);
    assert.match(r.stdout, /CRL Number:\s+1\n/);
    const crl = parseCrl(der);
    assert.equal(crl.version, 2);
    assert.equal(crl.crlNumber, 1n);
    assert.deepEqual(crl.revoked, []);
    assert.equal(crl.issuer, 'CN=CRL Issuing');
    assert.equal(crl.authorityKeyIdentifier, int.certificate.subjectKeyIdentifier);
    assert.ok(crl.nextUpdate! > crl.thisUpdate);
  });

  it('after revoke(): openssl lists the serial and reason; verify -crl_check says revoked', async () => {
    int.revoke(bad.serialNumber, 'keyCompromise');
    const der = await int.createCrl({ nextUpdateDays: 2 });
    const rootCrl = await root.createCrl();
    dir.write('int-crl.pem', encodePem('X509 CRL', der));
    dir.write('root-crl.pem', encodePem('X509 CRL', rootCrl));
    dir.write('crls.pem', encodePem('X509 CRL', der) + encodePem('X509 CRL', rootCrl));

    const text = openssl(['crl', '-in', 'int-crl.pem', '-CAfile', 'chain.pem', '-noout', '-text'], dir.path);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stderr + text.stdout, /verify OK/);
    assert.match(text.stdout, new RegExp(`Serial Number: ${bad.serialNumber.toUpperCase()}`));
    assert.match(text.stdout, /Key Compromise/);
    assert.match(text.stdout, /CRL Number:\s+2\n/);

    const revoked = openssl(['verify', '-crl_check', '-CRLfile', 'int-crl.pem', '-CAfile', 'ca.pem', '-untrusted', 'int.pem', 'bad.pem'], dir.path);
    assert.notEqual(revoked.status, 0);
    assert.match(revoked.stdout + revoked.stderr, /certificate revoked/);
    const fine = openssl(['verify', '-crl_check', '-CRLfile', 'int-crl.pem', '-CAfile', 'ca.pem', '-untrusted', 'int.pem', 'good.pem'], dir.path);
    assert.equal(fine.status, 0, fine.stdout + fine.stderr);
    const all = openssl(['verify', '-crl_check_all', '-CRLfile', 'crls.pem', '-CAfile', 'ca.pem', '-untrusted', 'int.pem', 'good.pem'], dir.path);
    assert.equal(all.status, 0, all.stdout + all.stderr);

    const crl = parseCrl(encodePem('X509 CRL', der));
    assert.equal(crl.crlNumber, 2n);
    assert.deepEqual(
      crl.revoked.map((e) => [e.serialNumber, e.reason]),
      [[bad.serialNumber, 'keyCompromise']],
    );
    const serialLine = openssl(['crl', '-in', 'int-crl.pem', '-noout', '-crlnumber', '-lastupdate', '-nextupdate'], dir.path).stdout;
    assert.equal(new Date(serialLine.match(/lastUpdate=(.*)/)![1]!).getTime(), crl.thisUpdate.getTime());
    assert.equal(new Date(serialLine.match(/nextUpdate=(.*)/)![1]!).getTime(), crl.nextUpdate!.getTime());
  });

  it('CA state keeps revocations and CRL numbers across a JSON round trip', async () => {
    const saved = JSON.parse(JSON.stringify(int.state));
    assert.equal(saved.crlNumber, 2);
    assert.equal(saved.revoked[bad.serialNumber].reason, 'keyCompromise');
    assert.equal(int.isRevoked(bad.serialNumber), true);
    assert.equal(int.isRevoked(good.serialNumber), false);
    assert.throws(() => int.revoke(bad.serialNumber), code('ERR_PKI_ALREADY_REVOKED'));
    assert.throws(() => int.revoke('0badc0de'), code('ERR_PKI_UNKNOWN_SERIAL'));
    assert.throws(() => int.revoke(good.serialNumber, 'removeFromCRL' as never), code('ERR_INVALID_ARGUMENT'));
  });

  it('parseCrl refuses junk and non-CRLs with ERR_PKI_MALFORMED_CRL', () => {
    assert.throws(() => parseCrl(good.der), code('ERR_PKI_MALFORMED_CRL'));
    assert.throws(() => parseCrl(Uint8Array.of(0x30, 0x80, 0, 0)), code('ERR_PKI_MALFORMED_CRL'));
    assert.throws(() => parseCrl(good.pem), code('ERR_PKI_MALFORMED_PEM'));
  });
});
