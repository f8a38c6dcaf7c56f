/**
 * The other direction: certificates and CRLs made by openssl (ECDSA and RSA) are read by our
 * parsers with the fields openssl prints, and verifyChain accepts or rejects them as openssl does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RootlineError } from '../../src/errors.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { parseCrl } from '../../src/pki/parse-crl.js';
import { verifyChain } from '../../src/pki/verify-chain.js';
import { openssl, opensslSkip, tempDir, type TempDir } from './openssl.js';

const code = (c: string) => (err: unknown) => err instanceof RootlineError && err.code === c;

function run(dir: TempDir, args: string[]): string {
  const r = openssl(args, dir.path);
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('openssl-made certificates and CRLs', { skip: opensslSkip }, () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir();
    dir.write(
      'ext.cnf',
      [
        '[req]',
        'distinguished_name = dn',
        '[dn]',
        '[ca_ext]',
        'basicConstraints = critical, CA:TRUE, pathlen:0',
        'keyUsage = critical, keyCertSign, cRLSign',
        'subjectKeyIdentifier = hash',
        '[leaf_ext]',
        'basicConstraints = CA:FALSE',
        'keyUsage = critical, digitalSignature, keyAgreement',
        'extendedKeyUsage = serverAuth, clientAuth',
        'subjectAltName = DNS:node.example, IP:10.9.8.7, URI:coaps://node.example:5684, email:ops@node.example',
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        '',
      ].join('\n'),
    );
    for (const [name, alg] of [['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']], ['rsa', ['-newkey', 'rsa:2048']]] as const) {
      run(dir, ['req', '-x509', ...alg, '-nodes', '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`, '-subj', `/C=DE/O=Peer/CN=Peer ${name} CA`, '-days', '30', '-config', 'ext.cnf', '-extensions', 'ca_ext']);
      run(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}-leaf.key`, '-out', `${name}-leaf.csr`, '-subj', `/CN=node ${name}/O=Peer`]);
      run(dir, ['x509', '-req', '-in', `${name}-leaf.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-set_serial', '0x0a0b0c', '-days', '10', '-extfile', 'ext.cnf', '-extensions', 'leaf_ext', '-out', `${name}-leaf.pem`]);
    }
  });
  after(() => dir.cleanup());

  for (const name of ['ec', 'rsa']) {
    it(`${name}: parseCertificate reads what openssl wrote`, () => {
      const c = parseCertificate(dir.read(`${name}-leaf.pem`).toString());
      const out = run(dir, ['x509', '-in', `${name}-leaf.pem`, '-noout', '-serial', '-subject', '-issuer', '-nameopt', 'RFC2253,-dn_rev']);
      assert.match(out, new RegExp(`serial=${c.serialNumber.toUpperCase()}\\n`));
      assert.equal(c.serialNumber, '0a0b0c');
      assert.match(out, new RegExp(`subject=${c.subject}\\n`));
      assert.equal(c.subject, `CN=node ${name},O=Peer`);
      assert.equal(c.issuer, `C=DE,O=Peer,CN=Peer ${name} CA`);
      assert.deepEqual(c.keyUsage, ['digitalSignature', 'keyAgreement']);
      assert.deepEqual(c.extKeyUsage, ['serverAuth', 'clientAuth']);
      assert.deepEqual(c.subjectAltNames, { dns: ['node.example'], ip: ['10.9.8.7'], uri: ['coaps://node.example:5684'], email: ['ops@node.example'], other: 0 });
      assert.deepEqual(c.basicConstraints, { ca: false });
      const ca = parseCertificate(dir.read(`${name}-ca.pem`));
      assert.equal(c.authorityKeyIdentifier, ca.subjectKeyIdentifier);
      assert.equal(ca.publicKeyAlgorithm, name === 'ec' ? 'ec-p256' : 'rsa');
      assert.equal(c.signatureAlgorithmName, name === 'ec' ? 'ecdsa-with-SHA256' : 'sha256WithRSAEncryption');
    });

    it(`${name}: verifyChain accepts the openssl chain for serverAuth and refuses it under another anchor`, () => {
      const leaf = dir.read(`${name}-leaf.pem`).toString();
      const anchor = dir.read(`${name}-ca.pem`).toString();
      assert.equal(verifyChain(leaf, [], [anchor], { purpose: 'serverAuth' }).chain.length, 2);
      const other = dir.read(`${name === 'ec' ? 'rsa' : 'ec'}-ca.pem`).toString();
      assert.throws(() => verifyChain(leaf, [], [other]), code('ERR_PKI_UNTRUSTED'));
    });
  }

  it('an openssl CRL (openssl ca) revoking the leaf: parseCrl reads it and verifyChain reports ERR_PKI_REVOKED', () => {
    dir.write('index.txt', '');
    dir.write('crlnumber', '1000\n');
    dir.write(
      'ca.cnf',
      ['[ca]', 'default_ca = d', '[d]', 'database = index.txt', 'crlnumber = crlnumber', 'default_md = sha256', 'default_crl_days = 3', ''].join('\n'),
    );
    run(dir, ['ca', '-config', 'ca.cnf', '-keyfile', 'ec-ca.key', '-cert', 'ec-ca.pem', '-revoke', 'ec-leaf.pem', '-crl_reason', 'superseded']);
    run(dir, ['ca', '-config', 'ca.cnf', '-keyfile', 'ec-ca.key', '-cert', 'ec-ca.pem', '-gencrl', '-out', 'ec.crl']);
    const crl = parseCrl(dir.read('ec.crl').toString());
    assert.equal(crl.crlNumber, 0x1000n);
    assert.equal(crl.issuer, 'C=DE,O=Peer,CN=Peer ec CA');
    assert.deepEqual(crl.revoked.map((e) => [e.serialNumber, e.reason]), [['0a0b0c', 'superseded']]);
    const leaf = dir.read('ec-leaf.pem').toString();
    assert.throws(() => verifyChain(leaf, [], [dir.read('ec-ca.pem').toString()], { crls: [crl] }), code('ERR_PKI_REVOKED'));
  });
});
