/**
 * The MASA taking cBRSKI registrar voucher requests (draft-ietf-anima-constrained-voucher §7.1:
 * COSE_Sign1 RVR carrying the pledge's COSE PVR, registrar certificates as x5bag): the same
 * checks as for CMS — IDevID under the manufacturer, serial, nonce, proximity, first claim wins,
 * replay — each refusal typed and audited; and the HTTP route's content negotiation for them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { decodeCbor, type CborTag } from '../../src/cose/cbor.js';
import { createConstrainedPledgeVoucherRequest, decodeConstrainedVoucherRequest, looksLikeCoseSign1, verifyConstrainedVoucher, X5BAG } from '../../src/onboarding/constrained-voucher.js';
import { masaRoutes } from '../../src/onboarding/http/masa-routes.js';
import { acceptedVoucherFormat, requestFormatOf } from '../../src/onboarding/http/voucher-media-types.js';
import { createMasa, ownerKeyOf, type Masa } from '../../src/onboarding/masa.js';
import { verifyVoucher } from '../../src/onboarding/signed-voucher.js';
import { createRegistrarVoucherRequest } from '../../src/onboarding/voucher-requests.js';
import { createTestDomain, mintTestPledge, type TestDomain } from './brski-fixture.js';
import { createTestFactory, type TestFactory } from './helpers.js';

const CMS = 'application/voucher-cms+json';
const COSE = 'application/voucher+cose';
const hex = (name: string): Uint8Array => new Uint8Array(Buffer.from(readFileSync(join(import.meta.dirname, '../vectors/constrained-voucher', name), 'utf8').replace(/\s+/g, ''), 'hex'));

describe('MASA: COSE registrar voucher requests (cBRSKI §7.1)', () => {
  let t: TestFactory;
  let masa: Masa;
  let app: FastifyInstance;
  let acme: TestDomain;
  let other: TestDomain;

  beforeEach(async () => {
    t = await createTestFactory();
    masa = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] });
    app = Fastify();
    await app.register(masaRoutes, { masa, audit: t.store.audit });
    await app.ready();
    acme = await createTestDomain('acme');
    other = await createTestDomain('other');
  });
  afterEach(async () => {
    await app.close();
    await t.close();
  });

  /** A constrained pledge's PVR naming `seen`, and `by`'s COSE RVR around it (as the registrar builds it). */
  async function coseRequest(serial: string, by: TestDomain, seen: TestDomain = by): Promise<{ rvr: Uint8Array; nonce: Uint8Array }> {
    const pledge = await mintTestPledgeOnce(serial);
    const pvr = await createConstrainedPledgeVoucherRequest({ signer: pledge.signer, idevid: [pledge.idevidPem], registrarCertificate: seen.registrarCert.der });
    const built = await createRegistrarVoucherRequest({
      signer: by.registrarSigner,
      certificates: [by.registrarCert.der, by.ca.certificate.der],
      pledgeRequest: pvr.bytes,
      // The registrar's own proximity check is about the certificate it presented: a test of the
      // MASA's check has the pledge see `seen` and `by` sign.
      tlsCertificate: seen.registrarCert.der,
      manufacturerCas: [t.factory.manufacturerCaCertificate],
      format: 'cose',
    });
    return { rvr: built.der, nonce: pvr.request.nonce! };
  }
  const pledges = new Map<string, Awaited<ReturnType<typeof mintTestPledge>>>();
  async function mintTestPledgeOnce(serial: string): Promise<Awaited<ReturnType<typeof mintTestPledge>>> {
    const key = `${t.dir}:${serial}`;
    if (!pledges.has(key)) pledges.set(key, await mintTestPledge(t, serial));
    return pledges.get(key)!;
  }
  async function denials(subject: string): Promise<string[]> {
    return (await t.store.audit.list({ subject, action: 'masa.voucher.request' })).filter((r) => r.outcome === 'deny').map((r) => String(r.details.code));
  }

  it('the registrar signs a COSE_Sign1 RVR: SID-keyed payload with proximity and the PVR verbatim, certificates as protected x5bag', async () => {
    const pledge = await mintTestPledgeOnce('C-0');
    const pvr = await createConstrainedPledgeVoucherRequest({ signer: pledge.signer, idevid: [pledge.idevidPem], registrarCertificate: acme.registrarCert.der });
    const built = await createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: pvr.bytes, format: 'cose' });
    assert.ok(looksLikeCoseSign1(built.der));
    const [prot, unprot, payload] = (decodeCbor(built.der) as CborTag).contents as [Uint8Array, Map<number, unknown>, Uint8Array];
    const protectedHeader = decodeCbor(prot) as Map<number, unknown>;
    assert.deepEqual(protectedHeader.get(X5BAG), [acme.registrarCert.der, acme.ca.certificate.der]);
    assert.equal(unprot.size, 0);
    const decoded = decodeConstrainedVoucherRequest(payload);
    assert.equal(decoded.assertion, 'proximity', '§7.2: the PVR proximity assertion is propagated');
    assert.equal(decoded.serialNumber, 'C-0');
    assert.deepEqual(decoded.nonce, pvr.request.nonce);
    assert.deepEqual(decoded.priorSignedVoucherRequest, pvr.bytes);
    // A COSE RVR carries a COSE PVR only (§7.1: the same format).
    const cmsPvr = await pledge.request(acme);
    await assert.rejects(createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: cmsPvr.der, format: 'cose' }), { code: 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE' });
  });

  it('answers a COSE RVR with a COSE voucher (by default) pinning the domain CA; the claim is the domain’s', async () => {
    const { rvr, nonce } = await coseRequest('C-1', acme);
    const res = await masa.requestVoucher(rvr);
    assert.equal(res.format, 'cose');
    assert.equal(res.contentType, COSE);
    const v = await verifyConstrainedVoucher(res.voucher, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'C-1', nonce });
    assert.deepEqual(v.pinnedDomainCertificate, acme.ca.certificate.der);
    assert.equal((await t.store.masa.getClaim('C-1'))?.owner, ownerKeyOf(acme.ca.certificate));
    const issued = await t.store.audit.list({ subject: 'C-1', action: 'masa.voucher.issue' });
    assert.equal(issued[0]?.actor, 'registrar:CN=registrar.acme.example');
    assert.equal(issued[0]?.details.format, 'cose');
  });

  it('same checks as CMS: replay, another domain’s claim, proximity, declared format — refused and audited', async () => {
    const { rvr } = await coseRequest('C-2', acme);
    await masa.requestVoucher(rvr);
    await assert.rejects(masa.requestVoucher(rvr), { code: 'ERR_ONBOARDING_REPLAY' });
    const taken = await coseRequest('C-2', other);
    await assert.rejects(masa.requestVoucher(taken.rvr), { code: 'ERR_ONBOARDING_ALREADY_OWNED' });
    // The pledge saw other's registrar; acme signs the RVR.
    const relayed = await coseRequest('C-3', acme, other);
    await assert.rejects(masa.requestVoucher(relayed.rvr), { code: 'ERR_ONBOARDING_PROXIMITY_MISMATCH' });
    const fresh = await coseRequest('C-3', acme);
    await assert.rejects(masa.requestVoucher(fresh.rvr, { requestFormat: 'cms' }), { code: 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE' });
    assert.deepEqual(await denials('C-2'), ['ERR_ONBOARDING_REPLAY', 'ERR_ONBOARDING_ALREADY_OWNED']);
    assert.deepEqual(await denials('C-3'), ['ERR_ONBOARDING_PROXIMITY_MISMATCH']);
    assert.deepEqual(await denials('unknown'), ['ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE']);
    // Nothing was spent by the refusals: the right request still works.
    await masa.requestVoucher(fresh.rvr, { requestFormat: 'cose' });
  });

  it('refuses the draft’s Appendix C.4 RVR: its certificates ride unprotected, so nothing vouches for the signer', async () => {
    await assert.rejects(masa.requestVoucher(hex('c4-rvr.hex')), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    assert.deepEqual(await denials('unknown'), ['ERR_VOUCHER_UNTRUSTED_SIGNER']);
  });

  it('HTTP: Content-Type picks the request format, Accept the voucher format; 415, 406 and mislabelled bodies are refused and audited', async () => {
    const post = (payload: Uint8Array, headers: Record<string, string>) => app.inject({ method: 'POST', url: '/.well-known/brski/requestvoucher', headers, payload: Buffer.from(payload) });
    const a = await coseRequest('C-H', acme);
    const cose = await post(a.rvr, { 'content-type': COSE });
    assert.equal(cose.statusCode, 200, cose.body);
    assert.equal(cose.headers['content-type'], COSE);
    await verifyConstrainedVoucher(cose.rawPayload, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'C-H', nonce: a.nonce });
    const b = await coseRequest('C-H', acme);
    const cms = await post(b.rvr, { 'content-type': `${COSE}; charset=binary`, accept: `${COSE};q=0.5, ${CMS}` });
    assert.equal(cms.statusCode, 200, cms.body);
    assert.equal(cms.headers['content-type'], CMS);
    verifyVoucher(cms.rawPayload, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'C-H', nonce: b.nonce });

    const c = await coseRequest('C-H', acme);
    assert.equal((await post(c.rvr, { 'content-type': 'application/cbor' })).statusCode, 415);
    assert.equal((await post(c.rvr, { 'content-type': COSE, accept: `${COSE};q=0, ${CMS};q=0` })).statusCode, 406);
    assert.equal((await post(c.rvr, { 'content-type': COSE, accept: 'text/html, application/json' })).statusCode, 406);
    const mislabelled = await post(c.rvr, { 'content-type': CMS });
    assert.equal(mislabelled.statusCode, 400);
    assert.equal(mislabelled.json().code, 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE');
    assert.deepEqual(await denials('unknown'), ['ERR_ONBOARDING_UNSUPPORTED_MEDIA_TYPE', 'ERR_ONBOARDING_NOT_ACCEPTABLE', 'ERR_ONBOARDING_NOT_ACCEPTABLE', 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE']);
    // Owner requests stay CMS.
    assert.equal((await app.inject({ method: 'POST', url: '/.well-known/brski/release', headers: { 'content-type': COSE }, payload: Buffer.from(c.rvr) })).statusCode, 415);
    // The refusals spent nothing: the request is still good.
    assert.equal((await post(c.rvr, { 'content-type': COSE, accept: '*/*' })).headers['content-type'], COSE);
  });

  it('fuzz: random and mutated COSE RVRs are refused with typed errors only', async () => {
    const { rvr } = await coseRequest('C-Z', acme);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([0xd2, ...b])),
          fc.array(fc.tuple(fc.nat({ max: rvr.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }).map((edits) => {
            const bad = new Uint8Array(rvr);
            for (const [i, v] of edits) bad[i] = v;
            return bad;
          }),
        ),
        async (bytes) => {
          try {
            await masa.requestVoucher(bytes, { requestFormat: 'cose' });
          } catch (err) {
            assert.match(String((err as { code?: unknown }).code), /^ERR_(VOUCHER|ONBOARDING)_/);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('MASA voucher media types (content negotiation)', () => {
  it('picks the voucher format by Accept (RFC 9110 §12.5.1), the request format by Content-Type', () => {
    assert.equal(acceptedVoucherFormat(undefined, 'cose'), 'cose');
    assert.equal(acceptedVoucherFormat('', 'cms'), 'cms');
    assert.equal(acceptedVoucherFormat('*/*', 'cose'), 'cose');
    assert.equal(acceptedVoucherFormat('application/*;q=0.2, application/voucher-cms+json', 'cose'), 'cms');
    assert.equal(acceptedVoucherFormat('application/voucher+cose, application/voucher-cms+json', 'cms'), 'cms', 'ties go to the request format');
    assert.equal(acceptedVoucherFormat('Application/Voucher+COSE ; q=0.9', 'cms'), 'cose');
    assert.equal(acceptedVoucherFormat('*/*, application/voucher-cms+json;q=0', 'cms'), 'cose', 'a specific q=0 excludes the type a wildcard would allow');
    assert.equal(acceptedVoucherFormat('application/voucher+cose;q=2', 'cose'), undefined, 'malformed q');
    assert.equal(acceptedVoucherFormat('text/html', 'cms'), undefined);
    assert.equal(acceptedVoucherFormat(Array(40).fill('text/plain').join(','), 'cms'), undefined, 'too many ranges');
    assert.equal(requestFormatOf('application/voucher+cose; foo=bar'), 'cose');
    assert.equal(requestFormatOf(' APPLICATION/VOUCHER-CMS+JSON'), 'cms');
    assert.equal(requestFormatOf('application/voucher+cose/x'), undefined);
    assert.equal(requestFormatOf(undefined), undefined);
  });

  it('fuzz: any header text gives a format or undefined, never an exception; a lone specific type with q>0 is chosen', () => {
    const types = fc.constantFrom(CMS, COSE, '*/*', 'application/*', 'text/html', 'application/json', '', ' ');
    const range = fc.tuple(types, fc.option(fc.oneof(fc.constantFrom('0', '1', '0.5', '0.001', '1.000', '2', 'x', ''), fc.string({ maxLength: 6 })))).map(([t, q]) => (q === null ? t : `${t};q=${q}`));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.array(range, { maxLength: 8 }).map((r) => r.join(','))), fc.constantFrom('cms' as const, 'cose' as const), (accept, preferred) => {
        const f = acceptedVoucherFormat(accept, preferred);
        assert.ok(f === undefined || f === 'cms' || f === 'cose');
        const r = requestFormatOf(accept);
        assert.ok(r === undefined || r === 'cms' || r === 'cose');
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.constantFrom(CMS, COSE), fc.constantFrom('', ';q=1', ';q=0.5', ';q=0.001'), fc.constantFrom('cms' as const, 'cose' as const), (type, q, preferred) => {
        assert.equal(acceptedVoucherFormat(`${type}${q}`, preferred), type === CMS ? 'cms' : 'cose');
      }),
    );
  });
});
