/**
 * Interop with the real openssl binary: certificates and CRLs we sign verify with openssl, and
 * our parser reads the same fields openssl prints.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa, type CertificateAuthority } from '../../src/pki/certificate-authority.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { encodePem } from '../../src/pki/pem.js';
import { openssl, opensslSkip, tempDir, type TempDir } from './openssl.js';

const p256 = () => keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const spki = (k: ReturnType<typeof generateKeyPairSync>['publicKey']) => new Uint8Array(k.export({ type: 'spki', format: 'der' }));

describe('CA certificates verify with openssl', { skip: opensslSkip }, () => {
  let dir: TempDir;
  let root: CertificateAuthority;
  let intermediate: CertificateAuthority;

  before(async () => {
    dir = tempDir();
    root = await createRootCa({ signer: p256(), subject: 'CN=Rootline Test Root,O=Rootline,C=DE', validityDays: 3650, pathLen: 1 });
    intermediate = await root.createIntermediateCa({ signer: p256(), subject: 'CN=Rootline Test Issuing CA,O=Rootline', validityDays: 1000, pathLen: 0 });
    dir.write('ca.pem', root.state.certificate);
    dir.write('int.pem', intermediate.state.certificate);
  });
  after(() => dir.cleanup());

  it('a root-issued leaf verifies with openssl verify -CAfile', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = await root.issueCertificate({ subject: 'CN=device-1', publicKey: spki(key.publicKey), extKeyUsage: ['clientAuth'] });
    dir.write('leaf1.pem', leaf.pem);
    const r = openssl(['verify', '-CAfile', 'ca.pem', '-purpose', 'sslclient', 'leaf1.pem'], dir.path);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /leaf1\.pem: OK/);
  });

  it('an intermediate-issued leaf verifies with -untrusted int.pem, and not without it', async () => {
    const key = generateKeyPairSync('ed25519');
    const leaf = await intermediate.issueCertificate({
      subject: 'CN=gw.example',
      publicKey: spki(key.publicKey),
      extKeyUsage: ['serverAuth'],
      subjectAltNames: { dns: ['gw.example'], ip: ['192.0.2.7'] },
    });
    dir.write('leaf2.pem', leaf.pem);
    const ok = openssl(['verify', '-CAfile', 'ca.pem', '-untrusted', 'int.pem', '-purpose', 'sslserver', 'leaf2.pem'], dir.path);
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    const missing = openssl(['verify', '-CAfile', 'ca.pem', 'leaf2.pem'], dir.path);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stdout + missing.stderr, /unable to get local issuer certificate/);
  });

  it('openssl refuses a leaf whose signature byte we flipped', async () => {
    const leaf = await root.issueCertificate({ subject: 'CN=tampered', publicKey: spki(generateKeyPairSync('ed25519').publicKey) });
    const der = leaf.der.slice();
    der[der.length - 5] ^= 0x01;
    dir.write('bad.pem', encodePem('CERTIFICATE', der));
    const r = openssl(['verify', '-CAfile', 'ca.pem', 'bad.pem'], dir.path);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, /signature failure|bad signature|asn1|decode/i);
  });

  it('our parser agrees with openssl x509 on serial, subject, issuer, dates, extensions', async () => {
    const leaf = await intermediate.issueCertificate({
      subject: 'CN=sensor 42,O=Acme\\, Inc.,serialNumber=SN-0042',
      publicKey: spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
      extKeyUsage: ['clientAuth', 'serverAuth'],
      subjectAltNames: { dns: ['s42.example'], uri: ['urn:dev:ops:acme-42'], ip: ['2001:db8::42'] },
      serialNumber: '00ff0102',
    });
    dir.write('leaf3.pem', leaf.pem);
    const c = parseCertificate(leaf.pem);
    const r = openssl(['x509', '-in', 'leaf3.pem', '-noout', '-serial', '-subject', '-issuer', '-startdate', '-enddate', '-nameopt', 'RFC2253,-dn_rev', '-fingerprint', '-sha256'], dir.path);
    assert.equal(r.status, 0, r.stderr);
    const field = (k: string) => r.stdout.split('\n').find((l) => l.startsWith(`${k}=`))!.slice(k.length + 1);
    assert.equal(field('serial').toLowerCase(), c.serialNumber);
    assert.equal(c.serialNumber, 'ff0102');
    assert.equal(field('subject'), c.subject);
    assert.equal(c.subject, 'CN=sensor 42,O=Acme\\, Inc.,serialNumber=SN-0042');
    assert.equal(field('issuer'), c.issuer);
    assert.equal(new Date(field('notBefore')).getTime(), c.notBefore.getTime());
    assert.equal(new Date(field('notAfter')).getTime(), c.notAfter.getTime());
    assert.equal(r.stdout.match(/Fingerprint=([0-9A-F:]+)/)![1]!.replace(/:/g, '').toLowerCase(), c.fingerprint256);

    const text = openssl(['x509', '-in', 'leaf3.pem', '-noout', '-text'], dir.path).stdout;
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /TLS Web Client Authentication, TLS Web Server Authentication/);
    assert.match(text, /DNS:s42\.example, URI:urn:dev:ops:acme-42, IP Address:2001:DB8:0:0:0:0:0:42/);
    const ski = text.match(/Subject Key Identifier:\s+([0-9A-F:]+)/)![1]!.replace(/:/g, '').toLowerCase();
    const aki = text.match(/Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/)![1]!.replace(/:/g, '').toLowerCase();
    assert.equal(c.subjectKeyIdentifier, ski);
    assert.equal(c.authorityKeyIdentifier, aki);
    assert.equal(aki, intermediate.certificate.subjectKeyIdentifier);
    assert.deepEqual(c.keyUsage, ['digitalSignature']);
    assert.deepEqual(c.extKeyUsage, ['clientAuth', 'serverAuth']);
    assert.deepEqual(c.basicConstraints, { ca: false });
    assert.deepEqual(c.subjectAltNames, { dns: ['s42.example'], uri: ['urn:dev:ops:acme-42'], ip: ['2001:db8::42'], email: [], other: 0 });
    assert.equal(c.version, 3);
    assert.equal(c.signatureAlgorithmName, 'ecdsa-with-SHA256');
  });

  it('the root and intermediate carry CA extensions openssl understands', () => {
    const text = openssl(['x509', '-in', 'int.pem', '-noout', '-text'], dir.path).stdout;
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    const rootText = openssl(['x509', '-in', 'ca.pem', '-noout', '-text'], dir.path).stdout;
    assert.match(rootText, /CA:TRUE, pathlen:1/);
    const selfCheck = openssl(['verify', '-CAfile', 'ca.pem', 'ca.pem'], dir.path);
    assert.equal(selfCheck.status, 0, selfCheck.stderr);
    assert.equal(root.certificate.selfIssued, true);
    assert.deepEqual(root.certificate.basicConstraints, { ca: true, pathLen: 1 });
    assert.deepEqual(intermediate.certificate.keyUsage, ['keyCertSign', 'cRLSign']);
  });

  it('dates from 2050 on are GeneralizedTime, earlier ones UTCTime (RFC 5280 §4.1.2.5)', async () => {
    const longRoot = await createRootCa({ signer: p256(), subject: 'CN=Long Root', validityDays: 40000, notBefore: new Date('2049-12-31T23:59:59Z') });
    dir.write('long.pem', longRoot.state.certificate);
    const asn1 = openssl(['asn1parse', '-in', 'long.pem'], dir.path).stdout;
    assert.match(asn1, /UTCTIME\s+:491231235959Z/);
    assert.match(asn1, /GENERALIZEDTIME\s+:2159\d{10}Z/);
    assert.equal(longRoot.certificate.notBefore.toISOString(), '2049-12-31T23:59:59.000Z');
    const r = openssl(['x509', '-in', 'long.pem', '-noout', '-enddate'], dir.path);
    assert.equal(new Date(r.stdout.trim().slice('notAfter='.length)).getTime(), longRoot.certificate.notAfter.getTime());
  });
});
