/**
 * Every voucher parser faces hostile input: random bytes, random JSON, and mutations of valid
 * artifacts may only ever produce typed ERR_VOUCHER_* errors (or a valid result).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { ID_CT_ANIMA_JSON_VOUCHER, verifyCms } from '../../src/onboarding/cms.js';
import { signVoucher } from '../../src/onboarding/signed-voucher.js';
import { encodeVoucher, encodeVoucherRequest, parseVoucher, parseVoucherRequest, type Voucher } from '../../src/onboarding/voucher.js';
import { createRootCa } from '../../src/pki/index.js';

function typed(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^ERR_VOUCHER_/.test(code);
}

function only<T>(fn: () => T): void {
  try {
    fn();
  } catch (err) {
    if (!typed(err)) throw err;
  }
}

const sample: Voucher = {
  createdOn: new Date('2026-01-02T03:04:05Z'),
  assertion: 'proximity',
  serialNumber: 'SN-1',
  pinnedDomainCert: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
  nonce: new Uint8Array(16).fill(7),
  idevidIssuer: new Uint8Array(20).fill(9),
  domainCertRevocationChecks: false,
};

describe('voucher JSON', () => {
  it('round-trips and keeps its mandatory fields and rules', () => {
    assert.deepEqual(parseVoucher(encodeVoucher(sample)), sample);
    const text = new TextDecoder().decode(encodeVoucher(sample));
    assert.match(text, /^\{"ietf-voucher:voucher":\{"created-on":"2026-01-02T03:04:05Z","assertion":"proximity","serial-number":"SN-1"/);
    const cases: Array<[string, RegExp]> = [
      ['{"ietf-voucher:voucher":{"assertion":"logged","serial-number":"x","pinned-domain-cert":"AA=="}}', /created-on is mandatory/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","serial-number":"x","pinned-domain-cert":"AA=="}}', /assertion is mandatory/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"logged","serial-number":"x"}}', /pinned-domain-cert is mandatory/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"logged","pinned-domain-cert":"AA=="}}', /serial-number is mandatory/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"logged","serial-number":"x","pinned-domain-cert":"AA==","nonce":"AA==","expires-on":"2027-01-01T00:00:00Z"}}', /mutually exclusive/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-13-01T00:00:00Z","assertion":"logged","serial-number":"x","pinned-domain-cert":"AA=="}}', /out of range/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-01-01","assertion":"logged","serial-number":"x","pinned-domain-cert":"AA=="}}', /yang:date-and-time/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"owned","serial-number":"x","pinned-domain-cert":"AA=="}}', /assertion/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"logged","serial-number":"x","pinned-domain-cert":"A*=="}}', /base64/],
      ['{"ietf-voucher:voucher":{"created-on":"2026-01-01T00:00:00Z","assertion":"logged","serial-number":"x","pinned-domain-cert":"AA==","extra":1}}', /unknown member/],
      ['{"ietf-voucher-request:voucher":{"serial-number":"x"}}', /exactly one member/],
      ['{"ietf-voucher:voucher":{},"more":{}}', /exactly one member/],
      ['[1]', /not a JSON object/],
    ];
    for (const [text, message] of cases) assert.throws(() => parseVoucher(text), { code: 'ERR_VOUCHER_MALFORMED', message }, text);
    // prior-signed-voucher-request belongs to requests only.
    const req = encodeVoucherRequest({ serialNumber: 'x', priorSignedVoucherRequest: new Uint8Array([1, 2, 3]) });
    assert.deepEqual(parseVoucherRequest(req).priorSignedVoucherRequest, new Uint8Array([1, 2, 3]));
    assert.throws(() => parseVoucher(new TextDecoder().decode(req).replace('ietf-voucher-request:voucher', 'ietf-voucher:voucher')), { code: 'ERR_VOUCHER_MALFORMED' });
    assert.throws(() => encodeVoucher({ ...sample, expiresOn: new Date() }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  it('fuzz: random bytes, random JSON and mutated vouchers only ever raise ERR_VOUCHER_*', () => {
    const valid = encodeVoucher(sample);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        only(() => parseVoucher(bytes));
        only(() => parseVoucherRequest(bytes));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        only(() => parseVoucher(JSON.stringify({ 'ietf-voucher:voucher': value })));
        only(() => parseVoucherRequest(JSON.stringify({ 'ietf-voucher-request:voucher': value })));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const bad = new Uint8Array(valid);
        for (const [i, b] of edits) bad[i] = b;
        only(() => parseVoucher(bad));
      }),
      { numRuns: 400 },
    );
  });

  it('fuzz: random and mutated CMS input to verifyCms only raises ERR_VOUCHER_*', async () => {
    const p256 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const ca = await createRootCa({ signer: keyObjectSigner(p256()), subject: 'CN=fuzz MASA CA', validityDays: 30 });
    const masa = keyObjectSigner(p256());
    const cert = await ca.issueCertificate({ subject: 'CN=fuzz MASA', publicKey: masa.publicKey });
    const der = await signVoucher(sample, { signer: masa, certificates: [cert.der] });
    assert.equal(parseVoucher(verifyCms(der, { contentType: ID_CT_ANIMA_JSON_VOUCHER, trustAnchors: [ca.certificate] }).content).serialNumber, 'SN-1');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => only(() => verifyCms(bytes, { contentType: ID_CT_ANIMA_JSON_VOUCHER }))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: der.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), fc.nat({ max: der.length }), (edits, cut) => {
        const bad = new Uint8Array(der);
        for (const [i, b] of edits) bad[i] = b;
        only(() => verifyCms(bad, { contentType: ID_CT_ANIMA_JSON_VOUCHER, trustAnchors: [ca.certificate] }));
        only(() => verifyCms(der.subarray(0, cut), { contentType: ID_CT_ANIMA_JSON_VOUCHER }));
      }),
      { numRuns: 400 },
    );
  });
});
