/**
 * Draft-built constrained pledges (draft-ietf-anima-constrained-voucher §9.2.2, Appendix C.3):
 * their voucher request carries no certificate — the registrar verifies it under the DTLS client
 * certificate of the same session, the MASA under the IDevID minted for the serial — and names the
 * registrar by proximity-registrar-pubk / -pubk-sha256 instead of the certificate.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeCbor, type CborTag } from '../../src/cose/cbor.js';
import { sign1 } from '../../src/cose/sign1.js';
import { decodeConstrainedVoucherRequest, encodeConstrainedVoucherRequest, verifyConstrainedVoucher, X5BAG, type ConstrainedVoucherRequest } from '../../src/onboarding/constrained-voucher.js';
import { createMasa, type Masa } from '../../src/onboarding/masa.js';
import { coseCarriesCertificates, createRegistrarVoucherRequest, namesRegistrar } from '../../src/onboarding/voucher-requests.js';
import { parseCertificate } from '../../src/pki/index.js';
import { createTestDomain, mintTestPledge, type TestDomain, type TestPledge } from './brski-fixture.js';
import { createTestFactory, type TestFactory } from './helpers.js';

const vectors = join(import.meta.dirname, '../vectors/constrained-voucher');
const hex = (name: string): Uint8Array => new Uint8Array(Buffer.from(readFileSync(join(vectors, name), 'utf8').replace(/\s+/g, ''), 'hex'));
const c3Pvr = hex('c3-pvr.hex');
const c4Rvr = hex('c4-rvr.hex');
const c21Idevid = hex('c2-1-pledge-idevid.hex');
/** The registrar certificate of C.4 (first in its unprotected x5bag): its key is C.3's proximity-registrar-pubk. */
const c4Registrar = ((decodeCbor(c4Rvr) as CborTag).contents as [Uint8Array, Map<number, unknown>])[1].get(X5BAG) as Uint8Array[];
// The examples were made in December 2022.
const at = new Date('2023-01-15T00:00:00Z');

describe('draft-built constrained pledges: certificate-less requests, registrar named by its key', () => {
  let t: TestFactory;
  let masa: Masa;
  let acme: TestDomain;
  let other: TestDomain;

  beforeEach(async () => {
    t = await createTestFactory();
    masa = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] });
    acme = await createTestDomain('acme');
    other = await createTestDomain('other');
  });
  afterEach(() => t.close());

  /** A PVR as the draft's pledge makes it (C.3): proximity, nonce, serial, the registrar by key; no certificate. */
  async function draftPvr(pledge: TestPledge, naming: Partial<ConstrainedVoucherRequest>): Promise<{ bytes: Uint8Array; nonce: Uint8Array }> {
    const nonce = new Uint8Array(randomBytes(8));
    const payload = encodeConstrainedVoucherRequest({ assertion: 'proximity', nonce, serialNumber: pledge.serial, ...naming });
    return { bytes: await sign1({ payload, signer: pledge.signer }), nonce };
  }
  const registrarRequest = (d: TestDomain, pvr: Uint8Array, pledge: TestPledge, tls: TestDomain = d) =>
    createRegistrarVoucherRequest({
      signer: d.registrarSigner,
      certificates: [d.registrarCert.der, d.ca.certificate.der],
      pledgeRequest: pvr,
      pledgeCertificates: [pledge.idevidPem],
      tlsCertificate: tls.registrarCert.der,
      manufacturerCas: [t.factory.manufacturerCaCertificate],
      format: 'cose',
    });

  it('registrar: the draft’s C.3 PVR verifies under the C.2.1 IDevID as DTLS client certificate and names the C.4 registrar by its key', async () => {
    assert.equal(coseCarriesCertificates(c3Pvr), false);
    const built = await createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: c3Pvr, pledgeCertificates: [c21Idevid], tlsCertificate: c4Registrar[0]!, format: 'cose', now: at });
    assert.deepEqual(built.pledge.signerCertificate.der, c21Idevid);
    assert.equal(built.request.serialNumber, 'JADA123456789');
    assert.equal(built.request.assertion, 'proximity');
    assert.deepEqual(built.request.nonce, new Uint8Array(Buffer.from('23bfbbc9c2bcf213', 'hex')));
    const [, , payload] = (decodeCbor(built.der) as CborTag).contents as [Uint8Array, Map<number, unknown>, Uint8Array];
    assert.deepEqual(decodeConstrainedVoucherRequest(payload).priorSignedVoucherRequest, c3Pvr, 'the PVR travels verbatim');
    // Another registrar certificate than the one the pledge named: refused.
    await assert.rejects(createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: c3Pvr, pledgeCertificates: [c21Idevid], format: 'cose', now: at }), { code: 'ERR_ONBOARDING_PROXIMITY_MISMATCH' });
    // Another client certificate than the key that signed: the signature does not verify.
    await assert.rejects(createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: c3Pvr, pledgeCertificates: [c4Registrar[0]!], tlsCertificate: c4Registrar[0]!, format: 'cose', now: at }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
    // An IDevID of a manufacturer not accepted here.
    await assert.rejects(createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: c3Pvr, pledgeCertificates: [c21Idevid], tlsCertificate: c4Registrar[0]!, manufacturerCas: [acme.ca.certificate], format: 'cose', now: at }), { code: 'ERR_ONBOARDING_UNTRUSTED_PLEDGE' });
  });

  it('fuzz: random and mutated certificate-less requests only ever raise typed errors at the registrar', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([0xd2, ...b])),
          fc.uint8Array({ maxLength: 300 }).map((b) => new Uint8Array([0x84, ...b])),
          fc.array(fc.tuple(fc.nat({ max: c3Pvr.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }).map((edits) => {
            const bad = new Uint8Array(c3Pvr);
            for (const [i, v] of edits) bad[i] = v;
            return bad;
          }),
        ),
        async (bytes) => {
          assert.equal(typeof coseCarriesCertificates(bytes), 'boolean');
          try {
            await createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: bytes, pledgeCertificates: [c21Idevid], tlsCertificate: c4Registrar[0]!, format: 'cose', now: at });
          } catch (err) {
            assert.match(String((err as { code?: unknown }).code), /^ERR_(VOUCHER|ONBOARDING)_/, String(err));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('namesRegistrar: the certificate, its SPKI or the SPKI’s SHA-256 — exactly one of them', () => {
    const reg = parseCertificate(c4Registrar[0]!);
    const base = { serialNumber: 'X' };
    assert.equal(namesRegistrar({ ...base, proximityRegistrarCert: reg.der }, reg), true);
    assert.equal(namesRegistrar({ ...base, proximityRegistrarPubk: reg.publicKey } as ConstrainedVoucherRequest, reg), true);
    assert.equal(namesRegistrar({ ...base, proximityRegistrarPubkSha256: new Uint8Array(createHash('sha256').update(reg.publicKey).digest()) } as ConstrainedVoucherRequest, reg), true);
    assert.equal(namesRegistrar({ ...base, proximityRegistrarPubkSha256: new Uint8Array(32) } as ConstrainedVoucherRequest, reg), false);
    assert.equal(namesRegistrar({ ...base, proximityRegistrarCert: reg.der, proximityRegistrarPubk: reg.publicKey } as ConstrainedVoucherRequest, reg), false);
    assert.equal(namesRegistrar(base, reg), false);
  });

  it('MASA: a certificate-less PVR naming the registrar by -pubk or -pubk-sha256 gets a voucher through the same checks', async () => {
    const pledge = await mintTestPledge(t, 'D-1');
    const byKey = await draftPvr(pledge, { proximityRegistrarPubk: acme.registrarCert.certificate.publicKey });
    const res = await masa.requestVoucher((await registrarRequest(acme, byKey.bytes, pledge)).der);
    assert.equal(res.contentType, 'application/voucher+cose');
    const v = await verifyConstrainedVoucher(res.voucher, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'D-1', nonce: byKey.nonce });
    assert.deepEqual(v.pinnedDomainCertificate, acme.ca.certificate.der);
    const byHash = await draftPvr(pledge, { proximityRegistrarPubkSha256: new Uint8Array(createHash('sha256').update(acme.registrarCert.certificate.publicKey).digest()) });
    await masa.requestVoucher((await registrarRequest(acme, byHash.bytes, pledge)).der);
    // Another domain is still refused: the claim is acme's.
    const taken = await draftPvr(pledge, { proximityRegistrarPubk: other.registrarCert.certificate.publicKey });
    await assert.rejects(masa.requestVoucher((await registrarRequest(other, taken.bytes, pledge)).der), { code: 'ERR_ONBOARDING_ALREADY_OWNED' });
  });

  it('MASA: proximity by key must be the signing registrar’s; the wrong pledge key and legacy records are refused, all audited', async () => {
    const pledge = await mintTestPledge(t, 'D-2');
    // The pledge saw (named) other's registrar; acme signs the RVR.
    const saw = await draftPvr(pledge, { proximityRegistrarPubk: other.registrarCert.certificate.publicKey });
    await assert.rejects(masa.requestVoucher((await registrarRequest(acme, saw.bytes, pledge, other)).der), { code: 'ERR_ONBOARDING_PROXIMITY_MISMATCH' });
    const hashed = await draftPvr(pledge, { proximityRegistrarPubkSha256: new Uint8Array(createHash('sha256').update(other.registrarCert.certificate.publicKey).digest()) });
    await assert.rejects(masa.requestVoucher((await registrarRequest(acme, hashed.bytes, pledge, other)).der), { code: 'ERR_ONBOARDING_PROXIMITY_MISMATCH' });
    // Signed by another device's key but sent under D-2's serial: the minted IDevID does not verify it.
    const intruder = await mintTestPledge(t, 'D-3');
    const forged = await sign1({ payload: encodeConstrainedVoucherRequest({ assertion: 'proximity', nonce: new Uint8Array(8).fill(1), serialNumber: 'D-2', proximityRegistrarPubk: acme.registrarCert.certificate.publicKey }), signer: intruder.signer });
    // (The registrar would refuse it too, under the DTLS certificate; the RVR is built around D-3's session to reach the MASA.)
    await assert.rejects(createRegistrarVoucherRequest({ signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], pledgeRequest: forged, pledgeCertificates: [intruder.idevidPem], manufacturerCas: [t.factory.manufacturerCaCertificate], format: 'cose' }), { code: 'ERR_ONBOARDING_BAD_REQUEST' });
    const rvr = await sign1({
      payload: encodeConstrainedVoucherRequest({ assertion: 'proximity', createdOn: new Date(Math.floor(Date.now() / 1000) * 1000), serialNumber: 'D-2', nonce: new Uint8Array(8).fill(1), priorSignedVoucherRequest: forged }),
      signer: acme.registrarSigner,
      protectedHeader: new Map<number, unknown>([[X5BAG, [acme.registrarCert.der, acme.ca.certificate.der]]]),
    });
    await assert.rejects(masa.requestVoucher(rvr), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
    // A device minted before the MASA kept IDevIDs: its certificate-less requests cannot be checked.
    const legacy = JSON.parse((await t.store.settings.get('masa.device.D-2'))!) as Record<string, unknown>;
    delete legacy.idevid;
    await t.store.settings.set('masa.device.D-2', JSON.stringify(legacy));
    const fine = await draftPvr(pledge, { proximityRegistrarPubk: acme.registrarCert.certificate.publicKey });
    await assert.rejects(masa.requestVoucher((await registrarRequest(acme, fine.bytes, pledge)).der), { code: 'ERR_ONBOARDING_UNTRUSTED_PLEDGE' });
    const denied = (await t.store.audit.list({ subject: 'D-2', action: 'masa.voucher.request' })).filter((r) => r.outcome === 'deny').map((r) => r.details.code);
    assert.deepEqual(denied, ['ERR_ONBOARDING_PROXIMITY_MISMATCH', 'ERR_ONBOARDING_PROXIMITY_MISMATCH', 'ERR_VOUCHER_BAD_SIGNATURE', 'ERR_ONBOARDING_UNTRUSTED_PLEDGE']);
  });
});
