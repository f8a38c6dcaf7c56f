import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RootlineError } from '../../src/errors.js';
import { createRootCa, type CertificateAuthority, type IssuedCertificate } from '../../src/pki/certificate-authority.js';
import { parseCertificate } from '../../src/pki/certificate.js';
import { parseCrl } from '../../src/pki/parse-crl.js';
import { verifyChain } from '../../src/pki/verify-chain.js';
import { forge, p256Signer } from './forge.js';

const code = (c: string) => (err: unknown) => {
  assert.ok(err instanceof RootlineError, `expected ${c}, got ${String(err)}`);
  assert.equal(err.code, c, err.message);
  return true;
};
const DAY = 86_400_000;

describe('verifyChain', () => {
  let root: CertificateAuthority;
  let int: CertificateAuthority;
  let leaf: IssuedCertificate;

  before(async () => {
    root = await createRootCa({ signer: p256Signer(), subject: 'CN=Chain Root', validityDays: 3650, pathLen: 1 });
    int = await root.createIntermediateCa({ signer: p256Signer(), subject: 'CN=Chain Issuing', validityDays: 365 });
    leaf = await int.issueCertificate({ subject: 'CN=leaf', publicKey: p256Signer().publicKey, extKeyUsage: ['clientAuth'], validity: { days: 30 } });
  });

  it('accepts root → intermediate → leaf and returns the path leaf first', () => {
    const r = verifyChain(leaf.pem, [int.state.certificate], [root.state.certificate], { purpose: 'clientAuth' });
    assert.deepEqual(r.chain.map((c) => c.subject), ['CN=leaf', 'CN=Chain Issuing', 'CN=Chain Root']);
    assert.equal(r.trustAnchor.subject, 'CN=Chain Root');
  });

  it('picks the right intermediate among decoys and accepts parsed inputs', async () => {
    const decoy = await root.createIntermediateCa({ signer: p256Signer(), subject: 'CN=Chain Issuing', validityDays: 10 });
    const r = verifyChain(parseCertificate(leaf.der), [decoy.state.certificate, int.certificate], [root.certificate]);
    assert.equal(r.chain[1]!.fingerprint256, int.certificate.fingerprint256);
  });

  it('accepts a trust anchor given as the leaf itself', () => {
    assert.equal(verifyChain(root.state.certificate, [], [root.state.certificate]).chain.length, 1);
  });

  it('ERR_PKI_UNTRUSTED without the intermediate or with another root', async () => {
    assert.throws(() => verifyChain(leaf.der, [], [root.certificate]), code('ERR_PKI_UNTRUSTED'));
    const other = await createRootCa({ signer: p256Signer(), subject: 'CN=Other Root', validityDays: 10 });
    assert.throws(() => verifyChain(leaf.der, [int.certificate], [other.certificate]), code('ERR_PKI_UNTRUSTED'));
  });

  it('ERR_PKI_EXPIRED and ERR_PKI_NOT_YET_VALID by the `at` option', () => {
    assert.throws(() => verifyChain(leaf.der, [int.certificate], [root.certificate], { at: new Date(Date.now() + 31 * DAY) }), code('ERR_PKI_EXPIRED'));
    assert.throws(() => verifyChain(leaf.der, [int.certificate], [root.certificate], { at: new Date(Date.now() - DAY) }), code('ERR_PKI_NOT_YET_VALID'));
  });

  it('ERR_PKI_BAD_SIGNATURE when the signature or the TBS was altered', () => {
    const sig = leaf.der.slice();
    sig[sig.length - 3] ^= 0x40;
    assert.throws(() => verifyChain(sig, [int.certificate], [root.certificate]), code('ERR_PKI_BAD_SIGNATURE'));
    // CN=leaf → CN=meaf: still a well-formed certificate, but not the bytes that were signed.
    const body = leaf.der.slice();
    body[Buffer.from(body).indexOf('leaf')] = 0x6d;
    assert.equal(parseCertificate(body).subject, 'CN=meaf');
    assert.throws(() => verifyChain(body, [int.certificate], [root.certificate]), code('ERR_PKI_BAD_SIGNATURE'));
  });

  it('ERR_PKI_NOT_A_CA when an end-entity certificate issues another', async () => {
    const r = await forge({ subject: 'CN=F Root', ca: true });
    const ee = await forge({ subject: 'CN=F EE', issuer: r });
    const victim = await forge({ subject: 'CN=F victim', issuer: ee });
    assert.throws(() => verifyChain(victim.cert, [ee.cert], [r.cert]), code('ERR_PKI_NOT_A_CA'));
  });

  it('ERR_PKI_PATH_LENGTH_EXCEEDED past a pathLen 0 issuer', async () => {
    const r = await forge({ subject: 'CN=P Root', ca: true, pathLen: 0 });
    const i1 = await forge({ subject: 'CN=P Int', ca: true, issuer: r });
    const ee = await forge({ subject: 'CN=P EE', issuer: i1 });
    assert.throws(() => verifyChain(ee.cert, [i1.cert], [r.cert]), code('ERR_PKI_PATH_LENGTH_EXCEEDED'));
    const ok = await forge({ subject: 'CN=P EE2', issuer: r });
    assert.equal(verifyChain(ok.cert, [], [r.cert]).chain.length, 2);
  });

  it('ERR_PKI_KEY_USAGE when the issuer lacks keyCertSign', async () => {
    const r = await forge({ subject: 'CN=K Root', ca: true });
    const i1 = await forge({ subject: 'CN=K Int', ca: true, keyUsage: ['digitalSignature', 'cRLSign'], issuer: r });
    const ee = await forge({ subject: 'CN=K EE', issuer: i1 });
    assert.throws(() => verifyChain(ee.cert, [i1.cert], [r.cert]), code('ERR_PKI_KEY_USAGE'));
  });

  it('ERR_PKI_UNKNOWN_CRITICAL_EXTENSION for a critical extension we do not process', async () => {
    const r = await forge({ subject: 'CN=X Root', ca: true });
    const ee = await forge({ subject: 'CN=X EE', issuer: r, extra: [{ oid: '1.3.6.1.4.1.55555.1', critical: true, value: Uint8Array.of(5, 0) }] });
    assert.throws(() => verifyChain(ee.cert, [], [r.cert]), code('ERR_PKI_UNKNOWN_CRITICAL_EXTENSION'));
    const ee2 = await forge({ subject: 'CN=X EE2', issuer: r, extra: [{ oid: '1.3.6.1.4.1.55555.1', critical: false, value: Uint8Array.of(5, 0) }] });
    assert.equal(verifyChain(ee2.cert, [], [r.cert]).chain.length, 2);
  });

  it('ERR_PKI_WRONG_PURPOSE when the leaf EKU lacks the purpose', () => {
    assert.throws(() => verifyChain(leaf.der, [int.certificate], [root.certificate], { purpose: 'serverAuth' }), code('ERR_PKI_WRONG_PURPOSE'));
  });

  it('ERR_PKI_REVOKED from the issuer CRL, with the reason', async () => {
    const victim = await int.issueCertificate({ subject: 'CN=revoked one', publicKey: p256Signer().publicKey });
    const crl0 = await int.createCrl();
    assert.equal(verifyChain(victim.der, [int.certificate], [root.certificate], { crls: [crl0] }).chain.length, 3);
    int.revoke(victim.serialNumber, 'keyCompromise');
    const crl = await int.createCrl();
    const rootCrl = await root.createCrl();
    assert.throws(
      () => verifyChain(victim.der, [int.certificate], [root.certificate], { crls: [crl, rootCrl] }),
      (err: unknown) => code('ERR_PKI_REVOKED')(err) && (err as { reason: string }).reason === 'keyCompromise',
    );
    // The leaf is not on the list, so it still verifies against the same CRL.
    assert.equal(verifyChain(leaf.der, [int.certificate], [root.certificate], { crls: [crl] }).chain.length, 3);
  });

  it('a revoked intermediate fails every leaf under it', async () => {
    const sub = await root.createIntermediateCa({ signer: p256Signer(), subject: 'CN=Doomed Issuing', validityDays: 30 });
    const ee = await sub.issueCertificate({ subject: 'CN=under doomed', publicKey: p256Signer().publicKey });
    root.revoke(sub.certificate.serialNumber, 'cACompromise');
    const rootCrl = await root.createCrl();
    assert.throws(() => verifyChain(ee.der, [sub.certificate], [root.certificate], { crls: [rootCrl] }), code('ERR_PKI_REVOKED'));
    assert.ok(parseCrl(rootCrl).revoked.some((e) => e.serialNumber === sub.certificate.serialNumber && e.reason === 'cACompromise'));
  });

  it('ERR_PKI_CRL_UNUSABLE for a tampered, stale or missing CRL', async () => {
    const crl = await int.createCrl({ nextUpdateDays: 1 });
    const bad = crl.slice();
    bad[bad.length - 2] ^= 0x10;
    assert.throws(() => verifyChain(leaf.der, [int.certificate], [root.certificate], { crls: [bad] }), code('ERR_PKI_CRL_UNUSABLE'));
    assert.throws(
      () => verifyChain(leaf.der, [int.certificate], [root.certificate], { crls: [crl], at: new Date(Date.now() + 2 * DAY) }),
      code('ERR_PKI_CRL_UNUSABLE'),
    );
    assert.throws(() => verifyChain(leaf.der, [int.certificate], [root.certificate], { crls: [crl], requireCrl: true }), code('ERR_PKI_CRL_UNUSABLE'));
  });

  it('path building stays bounded with many same-named intermediates and no key identifiers', async () => {
    const anchor = await forge({ subject: 'CN=Loop Anchor', ca: true });
    const loops = await Promise.all(Array.from({ length: 24 }, () => forge({ subject: 'CN=Loop', ca: true, noKeyIds: true })));
    // Each "CN=Loop" is self-signed, so by name any of them may have issued any other.
    const leafUnderLoop = await forge({ subject: 'CN=loop leaf', issuer: loops[0]!, noKeyIds: true });
    assert.throws(() => verifyChain(leafUnderLoop.cert, loops.map((l) => l.cert), [anchor.cert]), code('ERR_PKI_UNTRUSTED'));
  });

  it('validates its arguments', () => {
    assert.throws(() => verifyChain(leaf.der, [], []), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => verifyChain(leaf.der, 'x' as never, [root.certificate]), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => verifyChain(42 as never, [], [root.certificate]), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => verifyChain(leaf.der, [], [root.certificate], { at: new Date(NaN) }), code('ERR_INVALID_ARGUMENT'));
    assert.throws(() => verifyChain(leaf.der, [], [root.certificate], { purpose: 'flying' }), code('ERR_INVALID_ARGUMENT'));
  });

  it('refuses a signature BIT STRING with unused bits (the same signature under another encoding)', () => {
    const der = leaf.der;
    // The signature BIT STRING is the outer SEQUENCE's last element: find its header from the end.
    let at = -1;
    for (let i = der.length - 3; i > 0; i--) {
      if (der[i] === 0x03 && der[i + 1]! + i + 2 === der.length) {
        at = i + 2;
        break;
      }
    }
    assert.ok(at > 0, 'signature BIT STRING found');
    assert.equal(der[at], 0);
    for (const unused of [1, 2, 7]) {
      const m = der.slice();
      m[at] = unused;
      assert.throws(() => verifyChain(m, [int.certificate], [root.certificate]), code('ERR_PKI_MALFORMED_CERTIFICATE'));
    }
  });

  it('fuzz: any single changed byte in the certificate makes verification fail with a typed error', () => {
    const der = leaf.der;
    fc.assert(
      fc.property(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 }), (pos, x) => {
        const m = der.slice();
        m[pos] ^= x;
        assert.throws(() => verifyChain(m, [int.certificate], [root.certificate]), (err: unknown) => err instanceof RootlineError);
      }),
      { numRuns: 600 },
    );
  });
});
