/**
 * draft-ietf-anima-constrained-voucher-29 (cBRSKI) Appendix C examples and the rfc8366bis SID
 * files, stored in test/vectors/constrained-voucher/ (see PROVENANCE.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeCbor, type CborTag } from '../../src/cose/cbor.js';
import {
  constrainedVoucherSids,
  decodeConstrainedVoucher,
  decodeConstrainedVoucherRequest,
  encodeConstrainedVoucher,
  encodeConstrainedVoucherRequest,
  openConstrainedVoucherRequest,
  openCoseSignedVoucherRequest,
  verifyConstrainedVoucher,
  X5BAG,
} from '../../src/onboarding/constrained-voucher.js';
import { parseCertificate } from '../../src/pki/index.js';

const dir = join(import.meta.dirname, '..', 'vectors', 'constrained-voucher');
const hex = (file: string): Uint8Array => new Uint8Array(Buffer.from(readFileSync(join(dir, file), 'utf8').replace(/\s+/g, ''), 'hex'));
const cose = (bytes: Uint8Array) => (decodeCbor(bytes) as CborTag).contents as [Uint8Array, Map<number, unknown>, Uint8Array, Uint8Array];
const h = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

const pvr = hex('c3-pvr.hex');
const rvr = hex('c4-rvr.hex');
const voucher = hex('c5-voucher.hex');
const idevid = hex('c2-1-pledge-idevid.hex');
const masa = hex('c2-4-masa.hex');
// The examples were made in December 2022; the registrar certificate of C.4 expired in 2025.
const at = new Date('2023-01-15T00:00:00Z');

describe('cBRSKI (draft-ietf-anima-constrained-voucher-29) Appendix C and the rfc8366bis SIDs', () => {
  it('our SID tables are the .sid files', () => {
    const sids = JSON.parse(readFileSync(join(dir, 'sids.json'), 'utf8')) as { 'ietf-voucher': Record<string, number>; 'ietf-voucher-request': Record<string, number> };
    const ours = constrainedVoucherSids();
    assert.deepEqual(ours.voucher, sids['ietf-voucher']);
    assert.deepEqual(ours.voucherRequest, sids['ietf-voucher-request']);
  });

  it('C.3: the pledge voucher request decodes, re-encodes byte for byte and verifies under the IDevID', async () => {
    const [prot, unprot, payload] = cose(pvr);
    assert.deepEqual(prot, h('a10126'));
    assert.equal(unprot.size, 0);
    const request = decodeConstrainedVoucherRequest(payload);
    assert.deepEqual(request, {
      assertion: 'proximity',
      nonce: h('23bfbbc9c2bcf213'),
      // The registrar's key (SubjectPublicKeyInfo), the one its C.4 certificate holds.
      proximityRegistrarPubk: parseCertificate(registrarCertOf(rvr)).publicKey,
      serialNumber: 'JADA123456789',
    });
    assert.deepEqual(encodeConstrainedVoucherRequest(request), payload);
    // The draft's pledge carries no certificate (§9.2.2): the registrar knows the IDevID from DTLS.
    const opened = await openConstrainedVoucherRequest(pvr, { trustAnchors: [idevid], at });
    assert.equal(opened.signerCertificate.subject, 'CN=Stok IoT sensor Y-42,serialNumber=JADA123456789');
    await assert.rejects(openConstrainedVoucherRequest(pvr, { trustAnchors: [masa], at }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
    assert.throws(() => openCoseSignedVoucherRequest(pvr), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
  });

  it('C.4: the registrar voucher request decodes and re-encodes byte for byte; its PVR is C.3', async () => {
    const [prot, unprot, payload, signature] = cose(rvr);
    assert.deepEqual(prot, h('a10126'));
    assert.ok(Array.isArray(unprot.get(X5BAG)));
    const request = decodeConstrainedVoucherRequest(payload);
    assert.deepEqual(request, {
      assertion: 'proximity',
      createdOn: new Date('2022-12-06T20:04:15.754Z'),
      idevidIssuer: h('041830168014cb8d98ca74c51b58dde7acef869a9443a8d666a6'),
      nonce: h('23bfbbc9c2bcf213'),
      priorSignedVoucherRequest: pvr,
      serialNumber: 'JADA123456789',
    });
    assert.deepEqual(encodeConstrainedVoucherRequest(request), payload);
    assert.equal(signature.length, 64);
    // Its x5bag is unprotected, so it is not used; the registrar certificate verifies it as a known key.
    assert.throws(() => openCoseSignedVoucherRequest(rvr, { at }), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    const opened = await openConstrainedVoucherRequest(rvr, { trustAnchors: [registrarCertOf(rvr)], at });
    assert.match(opened.signerCertificate.subject, /^CN=Custom-ER Commercial Buildings Registrar/);
  });

  it('C.5: the voucher decodes, re-encodes byte for byte and verifies under the stored MASA certificate', async () => {
    const [prot, unprot, payload] = cose(voucher);
    assert.deepEqual(prot, h('a10126'));
    assert.equal(unprot.size, 0);
    const decoded = decodeConstrainedVoucher(payload);
    assert.equal(decoded.assertion, 'proximity');
    assert.deepEqual(decoded.createdOn, new Date('2022-12-06T20:23:30.708Z'));
    assert.equal(decoded.domainCertRevocationChecks, false);
    assert.deepEqual(decoded.nonce, h('57eed786ad404907'));
    assert.equal(parseCertificate(decoded.pinnedDomainCert!).subject, 'CN=Custom-ER Global CA,OU=IT,O=Custom-ER\\, Inc.,L=San Jose,ST=CA,C=US');
    assert.equal(decoded.serialNumber, 'JADA123456789');
    assert.deepEqual(encodeConstrainedVoucher(decoded), payload);
    const verified = await verifyConstrainedVoucher(voucher, { masaTrustAnchors: [masa], serialNumber: 'JADA123456789', nonce: h('57eed786ad404907'), now: at });
    assert.equal(verified.masaCertificate.subject, 'CN=masa.stok.nl,O=vanderstok,L=Helmond,C=NL');
    await assert.rejects(verifyConstrainedVoucher(voucher, { masaTrustAnchors: [masa], serialNumber: 'JADA123456789', nonce: h('23bfbbc9c2bcf213'), now: at }), { code: 'ERR_VOUCHER_NONCE_MISMATCH' });
    await assert.rejects(verifyConstrainedVoucher(voucher, { masaTrustAnchors: [idevid], serialNumber: 'JADA123456789', now: at }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
  });

  it('every single-byte change of C.3 and C.5 is refused with a typed error', async () => {
    for (const [bytes, check] of [
      [pvr, (b: Uint8Array) => openConstrainedVoucherRequest(b, { trustAnchors: [idevid], at })],
      [voucher, (b: Uint8Array) => verifyConstrainedVoucher(b, { masaTrustAnchors: [masa], serialNumber: 'JADA123456789', now: at })],
    ] as const) {
      for (let i = 0; i < bytes.length; i++) {
        const bad = new Uint8Array(bytes);
        bad[i] ^= 0x01;
        await assert.rejects(check(bad), (err: { code?: string }) => /^ERR_VOUCHER_/.test(err.code ?? ''), `byte ${i}`);
      }
    }
  });
});

/** The registrar certificate the RVR carries (C.4's x5bag, first entry): its key is C.3's proximity-registrar-pubk. */
function registrarCertOf(rvrBytes: Uint8Array): Uint8Array {
  return (cose(rvrBytes)[1].get(X5BAG) as Uint8Array[])[0]!;
}
