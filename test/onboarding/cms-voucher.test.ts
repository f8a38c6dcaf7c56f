import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { ID_CT_ANIMA_JSON_VOUCHER, verifyCms } from '../../src/onboarding/cms.js';
import { signVoucher, signVoucherRequest, openSignedVoucherRequest, verifyVoucher } from '../../src/onboarding/signed-voucher.js';
import { encodeVoucher, parseVoucher, type Voucher } from '../../src/onboarding/voucher.js';
import { createRootCa, type CertificateAuthority } from '../../src/pki/index.js';
import { createTestFactory, opensslSkip, type TestFactory } from './helpers.js';

function p256() {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
}


/** A Date on a whole second (voucher dates carry no fractions). */
function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

describe('CMS-signed vouchers (RFC 8366 §5.4) against the real openssl', { skip: opensslSkip }, () => {
  let t: TestFactory;
  let domainCa: CertificateAuthority;
  let voucher: Voucher;
  before(async () => {
    t = await createTestFactory();
    domainCa = await createRootCa({ signer: keyObjectSigner(p256()), subject: 'CN=Domain CA,O=Operator', validityDays: 365 });
    voucher = { createdOn: wholeSeconds(Date.now() - 3_600_000), assertion: 'logged', serialNumber: 'SN-7', pinnedDomainCert: domainCa.certificate.der, nonce: new Uint8Array(randomBytes(16)), idevidIssuer: new Uint8Array(randomBytes(20)) };
  });
  after(() => t.close());

  it('openssl cms -verify accepts our voucher with masa-ca.pem and outputs our JSON', async () => {
    const der = await signVoucher(voucher, { signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] });
    const file = join(t.dir, 'voucher.der');
    const out = join(t.dir, 'payload.json');
    writeFileSync(file, der);
    const r = spawnSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', t.factory.files.masaCa, '-out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /Verification successful/);
    const payload = readFileSync(out);
    assert.deepEqual(new Uint8Array(payload), encodeVoucher(voucher));
    assert.deepEqual(parseVoucher(payload), voucher);
    // openssl agrees on the content type.
    const printed = spawnSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', file], { encoding: 'utf8' });
    assert.match(printed.stdout, /eContentType: .*\(1\.2\.840\.113549\.1\.9\.16\.1\.40\)/);
    // And the pledge-side check accepts it.
    const ok = verifyVoucher(der, { masaTrustAnchors: [readFileSync(t.factory.files.masaCa, 'utf8')], serialNumber: 'SN-7', nonce: voucher.nonce! });
    assert.deepEqual(ok.pinnedDomainCertificate, domainCa.certificate.der);
  });

  it('a voucher signed by another key fails in openssl and in verifyVoucher', async () => {
    const rogueKey = p256();
    const rogueCa = await createRootCa({ signer: keyObjectSigner(rogueKey), subject: 'CN=Acme MASA,O=Acme', validityDays: 365 });
    const der = await signVoucher(voucher, { signer: keyObjectSigner(rogueKey), certificates: [rogueCa.certificate] });
    const file = join(t.dir, 'rogue.der');
    writeFileSync(file, der);
    const r = spawnSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', t.factory.files.masaCa, '-out', join(t.dir, 'rogue.json')], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Verification failure|certificate verify error/);
    assert.throws(() => verifyVoucher(der, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'SN-7' }), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    // A single changed byte of the signed content: the digest no longer matches.
    const tampered = Buffer.from(await signVoucher(voucher, { signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] }));
    const json = Buffer.from(encodeVoucher(voucher));
    const pos = tampered.indexOf(json);
    tampered[pos + json.indexOf('logged')] = 'L'.charCodeAt(0);
    assert.throws(() => verifyVoucher(tampered, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'SN-7' }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
    const tf = join(t.dir, 'tampered.der');
    writeFileSync(tf, tampered);
    assert.notEqual(spawnSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', tf, '-CAfile', t.factory.files.masaCa, '-out', join(t.dir, 't.json')]).status, 0);
  });

  it('refuses a voucher for another serial, without the pledge nonce, or expired', async () => {
    const anchors = [t.factory.masaCaCertificate];
    const der = await signVoucher(voucher, { signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] });
    assert.throws(() => verifyVoucher(der, { masaTrustAnchors: anchors, serialNumber: 'SN-8' }), { code: 'ERR_VOUCHER_WRONG_SERIAL' });
    assert.throws(() => verifyVoucher(der, { masaTrustAnchors: anchors, serialNumber: 'SN-7', nonce: randomBytes(16) }), { code: 'ERR_VOUCHER_NONCE_MISMATCH' });
    const { nonce: _n, ...nonceless } = voucher;
    void _n;
    // Dates relative to the run: the MASA CA of the test factory is valid from the moment it is made.
    const expiresOn = wholeSeconds(Date.now() + 12 * 3_600_000);
    const expiring = await signVoucher({ ...nonceless, expiresOn }, { signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] });
    assert.equal(verifyVoucher(expiring, { masaTrustAnchors: anchors, serialNumber: 'SN-7', now: new Date() }).voucher.serialNumber, 'SN-7');
    assert.throws(() => verifyVoucher(expiring, { masaTrustAnchors: anchors, serialNumber: 'SN-7', now: new Date(expiresOn.getTime() + 1000) }), { code: 'ERR_VOUCHER_EXPIRED' });
  });

  it('verifies what openssl cms -sign makes (id-ct-animaJSONVoucher, real peer as signer)', async () => {
    const key = p256();
    const ca = await createRootCa({ signer: keyObjectSigner(p256()), subject: 'CN=Peer CA', validityDays: 365 });
    const ee = await ca.issueCertificate({ subject: 'CN=Peer MASA', publicKey: new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })) });
    writeFileSync(join(t.dir, 'peer.key'), key.export({ type: 'pkcs8', format: 'pem' }) as string);
    writeFileSync(join(t.dir, 'peer.pem'), ee.pem);
    writeFileSync(join(t.dir, 'peer-voucher.json'), encodeVoucher(voucher));
    const r = spawnSync('openssl', ['cms', '-sign', '-nodetach', '-binary', '-outform', 'DER', '-econtent_type', ID_CT_ANIMA_JSON_VOUCHER, '-md', 'sha256', '-signer', join(t.dir, 'peer.pem'), '-inkey', join(t.dir, 'peer.key'), '-in', join(t.dir, 'peer-voucher.json'), '-out', join(t.dir, 'peer.der')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const v = verifyCms(readFileSync(join(t.dir, 'peer.der')), { contentType: ID_CT_ANIMA_JSON_VOUCHER, trustAnchors: [ca.certificate] });
    assert.deepEqual(parseVoucher(v.content), voucher);
    assert.equal(v.signerCertificate.subject, 'CN=Peer MASA');
    assert.throws(() => verifyCms(readFileSync(join(t.dir, 'peer.der')), { contentType: '1.2.840.113549.1.7.1' }), { code: 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE' });
  });

  it('signs and opens voucher requests the same way', async () => {
    const der = await signVoucherRequest({ serialNumber: 'SN-7', nonce: voucher.nonce!, assertion: 'proximity', createdOn: voucher.createdOn, proximityRegistrarCert: domainCa.certificate.der }, { signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] });
    const opened = openSignedVoucherRequest(der, { trustAnchors: [t.factory.masaCaCertificate] });
    assert.equal(opened.request.assertion, 'proximity');
    assert.deepEqual(opened.request.proximityRegistrarCert, domainCa.certificate.der);
    assert.equal(opened.chain?.length, 2);
  });
});
