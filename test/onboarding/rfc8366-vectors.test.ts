/**
 * Published voucher examples (test/vectors/rfc8366/PROVENANCE.md): vouchers and voucher requests
 * made by another implementation must verify and parse here, field by field.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ID_CT_ANIMA_JSON_VOUCHER, ID_DATA, verifyCms } from '../../src/onboarding/cms.js';
import { parseVoucher, parseVoucherRequest } from '../../src/onboarding/voucher.js';
import { findAttribute, parseCertificate } from '../../src/pki/index.js';

function vector(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(new URL(`../vectors/rfc8366/${name}`, import.meta.url), 'utf8'), 'base64'));
}

describe('anima-wg voucher examples (draft-ietf-anima-rfc8366bis)', () => {
  it('the MASA voucher for 00-D0-E5-F2-00-02 verifies and parses', () => {
    const der = vector('voucher_00-D0-E5-F2-00-02.b64');
    const v = verifyCms(der, { contentType: [ID_CT_ANIMA_JSON_VOUCHER, ID_DATA] });
    assert.equal(v.signerCertificate.subject, 'CN=highway-test.example.com MASA');
    assert.equal(v.signingTime?.toISOString(), '2022-07-10T21:08:18.000Z');
    const voucher = parseVoucher(v.content);
    assert.equal(voucher.assertion, 'logged');
    assert.equal(voucher.serialNumber, '00-D0-E5-F2-00-02');
    assert.equal(voucher.createdOn.toISOString(), '2022-07-10T21:08:18.720Z');
    assert.equal(Buffer.from(voucher.nonce!).toString('base64'), '4vTsppS2CeqBzhEdoifM2g==');
    assert.equal(voucher.expiresOn, undefined);
    const pinned = parseCertificate(voucher.pinnedDomainCert);
    assert.equal(findAttribute(pinned.subjectRdns, 'CN'), 'fountain-test.example.com');
    // Only id-data or the voucher type, as asked: id-ct-animaJSONVoucher alone refuses it.
    assert.throws(() => verifyCms(der, { contentType: ID_CT_ANIMA_JSON_VOUCHER }), { code: 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE' });
  });

  it("the pledge's voucher request verifies with its IDevID and names the registrar it saw", () => {
    const der = vector('vr_00-D0-E5-F2-00-02.b64');
    const v = verifyCms(der, { contentType: ID_DATA });
    assert.equal(findAttribute(v.signerCertificate.subjectRdns, 'serialNumber'), '00-D0-E5-F2-00-02');
    assert.equal(v.signerCertificate.masaUrl, 'highway-test.example.com:9443');
    const request = parseVoucherRequest(v.content);
    assert.equal(request.assertion, 'proximity');
    assert.equal(request.serialNumber, '00-D0-E5-F2-00-02');
    assert.equal(request.createdOn?.toISOString(), '2022-07-10T21:08:18.598Z');
    // The registrar the pledge saw is the domain certificate the MASA later pinned.
    const voucher = parseVoucher(verifyCms(vector('voucher_00-D0-E5-F2-00-02.b64'), { contentType: ID_DATA }).content);
    assert.deepEqual(request.proximityRegistrarCert, voucher.pinnedDomainCert);
    assert.deepEqual(request.nonce, voucher.nonce);
  });

  it('every single-byte change in the signed parts is refused with a typed error', () => {
    const der = vector('voucher_00-D0-E5-F2-00-02.b64');
    const content = Buffer.from(verifyCms(der, { contentType: ID_DATA }).content);
    const start = Buffer.from(der).indexOf(content);
    // Stepping through the JSON content and the signer info at the end.
    const positions = [...Array.from({ length: 40 }, (_, i) => start + i * 20), ...Array.from({ length: 60 }, (_, i) => der.length - 1 - i * 3)];
    for (const pos of positions) {
      const bad = new Uint8Array(der);
      bad[pos] ^= 0x01;
      assert.throws(() => verifyCms(bad, { contentType: ID_DATA }), (err: { code?: string }) => typeof err.code === 'string' && /^ERR_VOUCHER_/.test(err.code), `byte ${pos}`);
    }
  });
});
