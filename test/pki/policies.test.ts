/** The two CA roles' profiles, checked with openssl where a peer can say more than our parser. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RootlineError } from '../../src/errors.js';
import { createRootCa, type CertificateAuthority } from '../../src/pki/certificate-authority.js';
import { createCsr } from '../../src/pki/create-csr.js';
import { domainCaPolicy } from '../../src/pki/domain-policy.js';
import { manufacturerCaPolicy } from '../../src/pki/manufacturer-policy.js';
import { NO_WELL_DEFINED_EXPIRATION } from '../../src/pki/time.js';
import { verifyChain } from '../../src/pki/verify-chain.js';
import { p256Signer } from './forge.js';
import { openssl, opensslSkip, tempDir, type TempDir } from './openssl.js';

const code = (c: string) => (err: unknown) => err instanceof RootlineError && err.code === c;

describe('manufacturer and domain CA policies', { skip: opensslSkip }, () => {
  let dir: TempDir;
  let manufacturer: CertificateAuthority;
  let domain: CertificateAuthority;

  before(async () => {
    dir = tempDir();
    manufacturer = await createRootCa({ signer: p256Signer(), subject: 'CN=Acme Manufacturer CA,O=Acme', notAfter: NO_WELL_DEFINED_EXPIRATION });
    domain = await createRootCa({ signer: p256Signer(), subject: 'CN=Operator Domain CA,O=Operator', validityDays: 3650 });
    dir.write('mfg.pem', manufacturer.state.certificate);
    dir.write('domain.pem', domain.state.certificate);
  });
  after(() => dir.cleanup());

  it('IDevID: serialNumber in the subject, digitalSignature + clientAuth, 99991231235959Z, MASA URL', async () => {
    const device = p256Signer();
    const idevid = await manufacturerCaPolicy.issueIdevid(manufacturer, {
      serialNumber: 'ACME-000123',
      subject: 'CN=Acme Sensor,O=Acme',
      publicKey: device.publicKey,
      masaUrl: 'https://masa.acme.example/.well-known/brski',
    });
    const c = idevid.certificate;
    assert.equal(c.subject, 'CN=Acme Sensor,O=Acme,serialNumber=ACME-000123');
    assert.deepEqual(c.keyUsage, ['digitalSignature']);
    assert.deepEqual(c.extKeyUsage, ['clientAuth']);
    assert.equal(c.notAfter.toISOString(), '9999-12-31T23:59:59.000Z');
    assert.equal(c.masaUrl, 'https://masa.acme.example/.well-known/brski');
    dir.write('idevid.pem', idevid.pem);
    const end = openssl(['x509', '-in', 'idevid.pem', '-noout', '-enddate', '-subject', '-nameopt', 'RFC2253,-dn_rev'], dir.path);
    assert.match(end.stdout, /notAfter=Dec 31 23:59:59 9999 GMT/);
    assert.match(end.stdout, /subject=CN=Acme Sensor,O=Acme,serialNumber=ACME-000123/);
    const asn1 = openssl(['asn1parse', '-in', 'idevid.pem'], dir.path).stdout;
    assert.match(asn1, /GENERALIZEDTIME\s+:99991231235959Z/);
    const text = openssl(['x509', '-in', 'idevid.pem', '-noout', '-text'], dir.path).stdout;
    // openssl shows the unknown extension raw: IA5String tag (as ".") and length byte, then the URL.
    assert.match(text, /1\.3\.6\.1\.5\.5\.7\.1\.32:\s+\..https:\/\/masa\.acme\.example\/\.well-known\/brski/);
    const v = openssl(['verify', '-CAfile', 'mfg.pem', '-purpose', 'sslclient', 'idevid.pem'], dir.path);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.equal(verifyChain(idevid.der, [], [manufacturer.certificate], { purpose: 'clientAuth' }).chain.length, 2);
  });

  it('IDevID refuses a subject whose serialNumber disagrees', () => {
    assert.throws(
      () => manufacturerCaPolicy.idevidOptions(manufacturer, { serialNumber: 'A', subject: 'CN=x,serialNumber=B', publicKey: p256Signer().publicKey }),
      code('ERR_INVALID_ARGUMENT'),
    );
    const o = manufacturerCaPolicy.idevidOptions(manufacturer, { serialNumber: 'A', subject: { CN: 'x', serialNumber: 'A' }, publicKey: p256Signer().publicKey });
    assert.deepEqual(o.subject, [[{ type: 'CN', value: 'x' }], [{ type: 'serialNumber', value: 'A' }]]);
  });

  it('LDevID from a device CSR (the EST path): subject from the CSR, clientAuth', async () => {
    const device = p256Signer();
    const csr = await createCsr({ signer: device, subject: 'CN=ACME-000123,serialNumber=ACME-000123' });
    const ldevid = await domainCaPolicy.issueLdevid(domain, { csr, validityDays: 90 });
    assert.equal(ldevid.certificate.subject, 'CN=ACME-000123,serialNumber=ACME-000123');
    assert.deepEqual(ldevid.certificate.publicKey, device.publicKey);
    assert.deepEqual(ldevid.certificate.extKeyUsage, ['clientAuth']);
    assert.equal(Math.round((ldevid.certificate.notAfter.getTime() - ldevid.certificate.notBefore.getTime()) / 86_400_000), 90);
  });

  it('server certificate: serverAuth + SAN; openssl verify -verify_hostname / -verify_ip agree', async () => {
    const srv = await domainCaPolicy.issueServerCertificate(domain, {
      subjectAltNames: { dns: ['rootline.example', 'coaps.rootline.example'], ip: ['192.0.2.10'] },
      publicKey: p256Signer().publicKey,
      extraExtKeyUsage: ['cmcRA'],
    });
    assert.equal(srv.certificate.subject, 'CN=rootline.example');
    assert.deepEqual(srv.certificate.extKeyUsage, ['serverAuth', 'cmcRA']);
    dir.write('srv.pem', srv.pem);
    const host = openssl(['verify', '-CAfile', 'domain.pem', '-purpose', 'sslserver', '-verify_hostname', 'coaps.rootline.example', 'srv.pem'], dir.path);
    assert.equal(host.status, 0, host.stdout + host.stderr);
    const ip = openssl(['verify', '-CAfile', 'domain.pem', '-verify_ip', '192.0.2.10', 'srv.pem'], dir.path);
    assert.equal(ip.status, 0, ip.stdout + ip.stderr);
    const wrong = openssl(['verify', '-CAfile', 'domain.pem', '-verify_hostname', 'evil.example', 'srv.pem'], dir.path);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stdout + wrong.stderr, /hostname mismatch/);
    assert.throws(() => domainCaPolicy.serverOptions({ subjectAltNames: {}, publicKey: p256Signer().publicKey }), code('ERR_INVALID_ARGUMENT'));
  });
});
