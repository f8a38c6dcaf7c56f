import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { verifyConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import { masaRoutes } from '../../src/onboarding/http/masa-routes.js';
import { createMasa } from '../../src/onboarding/masa.js';
import { signVoucherRequest, verifyVoucher } from '../../src/onboarding/signed-voucher.js';
import { createReleaseRequest } from '../../src/onboarding/voucher-requests.js';
import { createTestDomain, mintTestPledge, type TestDomain } from './brski-fixture.js';
import { createTestFactory, type TestFactory } from './helpers.js';

const CMS = 'application/voucher-cms+json';

describe('MASA HTTP routes (fastify inject)', () => {
  let t: TestFactory;
  let app: FastifyInstance;
  let acme: TestDomain;
  let other: TestDomain;

  beforeEach(async () => {
    t = await createTestFactory();
    const masa = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] });
    app = Fastify();
    await app.register(masaRoutes, { masa });
    await app.ready();
    acme = await createTestDomain('acme');
    other = await createTestDomain('other');
  });
  afterEach(async () => {
    await app.close();
    await t.close();
  });

  it('requestvoucher answers CMS or COSE by Accept, and maps refusals to RFC 8995 §5.6 statuses', async () => {
    const pledge = await mintTestPledge(t, 'H-1');
    const first = await pledge.request(acme);
    const ok = await app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers: { 'content-type': CMS, accept: CMS }, payload: Buffer.from(await acme.registrarRequest(first.der, { serialNumber: 'H-1', nonce: first.nonce })) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.headers['content-type'], CMS);
    verifyVoucher(ok.rawPayload, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'H-1', nonce: first.nonce });

    const second = await pledge.request(acme);
    const cose = await app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers: { 'content-type': CMS, accept: 'application/voucher+cose' }, payload: Buffer.from(await acme.registrarRequest(second.der, { serialNumber: 'H-1', nonce: second.nonce })) });
    assert.equal(cose.statusCode, 200, cose.body);
    assert.equal(cose.headers['content-type'], 'application/voucher+cose');
    await verifyConstrainedVoucher(cose.rawPayload, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'H-1', nonce: second.nonce });

    const third = await pledge.request(other);
    const owned = await app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers: { 'content-type': CMS }, payload: Buffer.from(await other.registrarRequest(third.der, { serialNumber: 'H-1', nonce: third.nonce })) });
    assert.equal(owned.statusCode, 403);
    assert.equal(owned.json().code, 'ERR_ONBOARDING_ALREADY_OWNED');

    const garbage = await app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers: { 'content-type': CMS }, payload: Buffer.from('not cms') });
    assert.equal(garbage.statusCode, 400);
    assert.equal(garbage.json().code, 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE');
    const wrongType = await app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers: { 'content-type': 'application/json' }, payload: '{}' });
    assert.equal(wrongType.statusCode, 415);
    const notAcceptable = await app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers: { 'content-type': CMS, accept: 'text/html' }, payload: Buffer.from([0x30]) });
    assert.equal(notAcceptable.statusCode, 406);
  });

  it('requestauditlog serves the owner only; release frees the device for another domain', async () => {
    const pledge = await mintTestPledge(t, 'H-2');
    const r = await pledge.request(acme);
    assert.equal((await app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers: { 'content-type': CMS }, payload: Buffer.from(await acme.registrarRequest(r.der, { serialNumber: 'H-2', nonce: r.nonce })) })).statusCode, 200);
    const asAcme = Buffer.from(await signVoucherRequest({ serialNumber: 'H-2' }, { signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der] }));
    const asOther = Buffer.from(await signVoucherRequest({ serialNumber: 'H-2' }, { signer: other.registrarSigner, certificates: [other.registrarCert.der, other.ca.certificate.der] }));
    const log = await app.inject({ method: 'POST', url: '/.well-known/brski/requestauditlog', headers: { 'content-type': CMS }, payload: asAcme });
    assert.equal(log.statusCode, 200);
    assert.equal(log.json().version, '1');
    assert.equal(log.json().events.length, 1);
    assert.equal((await app.inject({ method: 'POST', url: '/.well-known/brski/requestauditlog', headers: { 'content-type': CMS }, payload: asOther })).statusCode, 403);
    const releaseBy = async (d: typeof acme): Promise<Buffer> => Buffer.from(await createReleaseRequest({ serialNumber: 'H-2', signer: d.registrarSigner, certificates: [d.registrarCert.der, d.ca.certificate.der] }));
    assert.equal((await app.inject({ method: 'POST', url: '/.well-known/brski/release', headers: { 'content-type': CMS }, payload: await releaseBy(other) })).statusCode, 403);
    // Without created-on and nonce a release request is malformed.
    assert.equal((await app.inject({ method: 'POST', url: '/.well-known/brski/release', headers: { 'content-type': CMS }, payload: asAcme })).statusCode, 400);
    const release = await releaseBy(acme);
    assert.equal((await app.inject({ method: 'POST', url: '/.well-known/brski/release', headers: { 'content-type': CMS }, payload: release })).statusCode, 204);
    // Released: the same request again finds no claim of acme's.
    assert.equal((await app.inject({ method: 'POST', url: '/.well-known/brski/release', headers: { 'content-type': CMS }, payload: release })).statusCode, 403);
    const r2 = await pledge.request(other);
    const taken = await app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers: { 'content-type': CMS }, payload: Buffer.from(await other.registrarRequest(r2.der, { serialNumber: 'H-2', nonce: r2.nonce })) });
    assert.equal(taken.statusCode, 200, taken.body);
    const unknown = Buffer.from(await signVoucherRequest({ serialNumber: 'NOPE' }, { signer: acme.registrarSigner, certificates: [acme.registrarCert.der] }));
    assert.equal((await app.inject({ method: 'POST', url: '/.well-known/brski/requestauditlog', headers: { 'content-type': CMS }, payload: unknown })).statusCode, 404);
  });
});
