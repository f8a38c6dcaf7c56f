import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeCbor } from '../../src/cose/cbor.js';
import { sign1 } from '../../src/cose/sign1.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { openConstrainedVoucherRequest, signConstrainedVoucher, signConstrainedVoucherRequest, verifyConstrainedVoucher, X5CHAIN } from '../../src/onboarding/constrained-voucher.js';
import { signVoucher } from '../../src/onboarding/signed-voucher.js';
import type { Voucher } from '../../src/onboarding/voucher.js';
import { createRootCa } from '../../src/pki/index.js';
import { createTestFactory, type TestFactory } from './helpers.js';

describe('constrained (COSE_Sign1, name-keyed CBOR) vouchers', () => {
  let t: TestFactory;
  let voucher: Voucher;
  before(async () => {
    t = await createTestFactory();
    const domain = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=Domain', validityDays: 30 });
    voucher = { createdOn: new Date('2026-11-22T00:00:00Z'), assertion: 'logged', serialNumber: 'C-1', pinnedDomainCert: domain.certificate.der, nonce: new Uint8Array(randomBytes(16)) };
  });
  after(() => t.close());
  const masa = () => ({ signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] });

  it('signs through the KeyStore signer, carries x5chain, and verifies against masa-ca', async () => {
    const cose = await signConstrainedVoucher(voucher, masa());
    const ok = await verifyConstrainedVoucher(cose, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'C-1', nonce: voucher.nonce! });
    assert.deepEqual(ok.voucher, voucher);
    assert.equal(ok.masaCertificate.fingerprint256, t.factory.masaCertificate.fingerprint256);
    // The payload really is CBOR with YANG names as keys and byte strings for binary leaves.
    const msg = decodeCbor(cose) as { contents: [Uint8Array, Map<number, unknown>, Uint8Array, Uint8Array] };
    const payload = decodeCbor(msg.contents[2]) as Map<string, Map<string, unknown>>;
    const inner = payload.get('ietf-voucher:voucher')!;
    assert.deepEqual(inner.get('nonce'), voucher.nonce);
    assert.equal(inner.get('serial-number'), 'C-1');
    const protectedHeader = decodeCbor(msg.contents[0]) as Map<number, unknown>;
    assert.deepEqual(protectedHeader.get(X5CHAIN), t.factory.masaCertificate.der);
    // Smaller than the CMS form of the same voucher (what it exists for).
    assert.ok(cose.length < (await signVoucher(voucher, masa())).length);
  });

  it('refuses the wrong signer, another serial, another nonce, expiry and tampering', async () => {
    const anchors = [t.factory.masaCaCertificate];
    const rogueKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const rogueCa = await createRootCa({ signer: keyObjectSigner(rogueKey), subject: 'CN=Rogue MASA', validityDays: 30 });
    const rogueLeaf = keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    const rogueCert = await rogueCa.issueCertificate({ subject: 'CN=Rogue', publicKey: rogueLeaf.publicKey });
    const rogue = await signConstrainedVoucher(voucher, { signer: rogueLeaf, certificates: [rogueCert.der] });
    await assert.rejects(verifyConstrainedVoucher(rogue, { masaTrustAnchors: anchors, serialNumber: 'C-1' }), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    // The MASA's own certificate in x5chain, but signed by another key.
    const genuine = decodeCbor(await signConstrainedVoucher(voucher, masa())) as { contents: unknown[] };
    const forged = await sign1({ payload: genuine.contents[2] as Uint8Array, signer: rogueLeaf, protectedHeader: new Map<number, unknown>([[X5CHAIN, t.factory.masaCertificate.der]]) });
    await assert.rejects(verifyConstrainedVoucher(forged, { masaTrustAnchors: anchors, serialNumber: 'C-1' }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
    const good = await signConstrainedVoucher(voucher, masa());
    await assert.rejects(verifyConstrainedVoucher(good, { masaTrustAnchors: anchors, serialNumber: 'C-2' }), { code: 'ERR_VOUCHER_WRONG_SERIAL' });
    await assert.rejects(verifyConstrainedVoucher(good, { masaTrustAnchors: anchors, serialNumber: 'C-1', nonce: new Uint8Array(16) }), { code: 'ERR_VOUCHER_NONCE_MISMATCH' });
    const { nonce: _n, ...rest } = voucher;
    void _n;
    const expiring = await signConstrainedVoucher({ ...rest, expiresOn: new Date('2026-11-23T00:00:00Z') }, masa());
    await assert.rejects(verifyConstrainedVoucher(expiring, { masaTrustAnchors: anchors, serialNumber: 'C-1', now: new Date('2026-11-24T00:00:00Z') }), { code: 'ERR_VOUCHER_EXPIRED' });
    const flipped = new Uint8Array(good);
    flipped[flipped.length - 70] ^= 0x04;
    await assert.rejects(verifyConstrainedVoucher(flipped, { masaTrustAnchors: anchors, serialNumber: 'C-1' }), (err: { code?: string }) => /^ERR_VOUCHER_/.test(err.code ?? ''));
  });

  it('voucher requests round-trip and are checked against the IDevID issuer', async () => {
    const minted = await t.factory.mintDevice({ serial: 'C-REQ', model: 'M', outDir: `${t.dir}/creq` });
    const pledge = keyObjectSigner(createPrivateKey(readFileSync(minted.files.key, 'utf8')));
    const req = await signConstrainedVoucherRequest({ serialNumber: 'C-REQ', assertion: 'proximity', nonce: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }, { signer: pledge, certificates: [readFileSync(minted.files.certificate, 'utf8')] });
    const opened = await openConstrainedVoucherRequest(req, { trustAnchors: [t.factory.manufacturerCaCertificate] });
    assert.equal(opened.request.serialNumber, 'C-REQ');
    await assert.rejects(openConstrainedVoucherRequest(req, { trustAnchors: [t.factory.masaCaCertificate] }), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
  });

  it('fuzz: random and mutated COSE input only raises ERR_VOUCHER_*', async () => {
    const good = await signConstrainedVoucher(voucher, masa());
    const anchors = [t.factory.masaCaCertificate];
    const typed = (err: unknown): boolean => /^ERR_VOUCHER_/.test(String((err as { code?: unknown }).code));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }).map((edits) => {
        const bad = new Uint8Array(good);
        for (const [i, b] of edits) bad[i] = b;
        return bad;
      })), async (bytes) => {
        try {
          await verifyConstrainedVoucher(bytes, { masaTrustAnchors: anchors, serialNumber: 'C-1' });
        } catch (err) {
          if (!typed(err)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });
});
