/** Pledge → registrar → MASA → pledge with the request builders, as a registrar and pledge will run it. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMasa, type Masa } from '../../src/onboarding/masa.js';
import { verifyVoucher } from '../../src/onboarding/signed-voucher.js';
import { createPledgeVoucherRequest, createRegistrarVoucherRequest } from '../../src/onboarding/voucher-requests.js';
import { createTestDomain, mintTestPledge, type TestDomain } from './brski-fixture.js';
import { createTestFactory, type TestFactory } from './helpers.js';

describe('voucher flow with the request builders', () => {
  let t: TestFactory;
  let masa: Masa;
  let acme: TestDomain;
  let other: TestDomain;
  before(async () => {
    t = await createTestFactory();
    masa = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] });
    acme = await createTestDomain('acme');
    other = await createTestDomain('other');
  });
  after(() => t.close());

  it('a pledge obtains a voucher pinning the domain CA through its registrar', async () => {
    const p = await mintTestPledge(t, 'F-1');
    const pledgeReq = await createPledgeVoucherRequest({ signer: p.signer, idevid: [p.idevidPem], registrarCertificate: acme.registrarCert.der });
    assert.equal(pledgeReq.request.serialNumber, 'F-1');
    const reg = await createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: pledgeReq.der, manufacturerCas: [t.factory.manufacturerCaCertificate] });
    assert.deepEqual(reg.request.nonce, pledgeReq.request.nonce);
    assert.equal(Buffer.from(reg.request.idevidIssuer!).toString('hex'), t.factory.manufacturerCaCertificate.subjectKeyIdentifier);
    const res = await masa.requestVoucher(reg.der);
    const v = verifyVoucher(res.voucher, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'F-1', nonce: pledgeReq.request.nonce! });
    assert.deepEqual(v.pinnedDomainCertificate, acme.ca.certificate.der);
    assert.deepEqual(v.voucher.idevidIssuer, reg.request.idevidIssuer);
  });

  it('the registrar refuses a pledge that saw another registrar, or from an unaccepted manufacturer', async () => {
    const p = await mintTestPledge(t, 'F-2');
    const sawOther = await createPledgeVoucherRequest({ signer: p.signer, idevid: [p.idevidPem], registrarCertificate: other.registrarCert.der });
    await assert.rejects(createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: sawOther.der }), { code: 'ERR_ONBOARDING_PROXIMITY_MISMATCH' });
    const sawAcme = await createPledgeVoucherRequest({ signer: p.signer, idevid: [p.idevidPem], registrarCertificate: acme.registrarCert.der });
    await assert.rejects(createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der], pledgeRequest: sawAcme.der, manufacturerCas: [other.ca.certificate] }), { code: 'ERR_ONBOARDING_UNTRUSTED_PLEDGE' });
    const bad = new Uint8Array(sawAcme.der);
    bad[bad.length - 5] ^= 1;
    await assert.rejects(createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der], pledgeRequest: bad }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
  });
});
