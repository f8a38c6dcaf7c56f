import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { sign1 } from '../../src/cose/sign1.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import {
  decodeConstrainedVoucher,
  decodeConstrainedVoucherRequest,
  encodeConstrainedVoucher,
  encodeConstrainedVoucherRequest,
  openConstrainedVoucherRequest,
  signConstrainedVoucher,
  signConstrainedVoucherRequest,
  verifyConstrainedVoucher,
  VOUCHER_REQUEST_SID,
  VOUCHER_SID,
  X5BAG,
  X5CHAIN,
} from '../../src/onboarding/constrained-voucher.js';
import { signVoucher } from '../../src/onboarding/signed-voucher.js';
import type { Voucher } from '../../src/onboarding/voucher.js';
import { createRootCa } from '../../src/pki/index.js';
import { createTestFactory, type TestFactory } from './helpers.js';

describe('constrained (COSE_Sign1, SID-keyed CBOR) vouchers', () => {
  let t: TestFactory;
  let voucher: Voucher;
  before(async () => {
    t = await createTestFactory();
    const domain = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=Domain', validityDays: 30 });
    voucher = { createdOn: new Date('2026-11-22T00:00:00Z'), assertion: 'logged', serialNumber: 'C-1', pinnedDomainCert: domain.certificate.der, nonce: new Uint8Array(randomBytes(16)) };
  });
  after(() => t.close());
  const masa = () => ({ signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate] });

  it('signs through the KeyStore signer, carries a protected x5bag, and verifies against masa-ca', async () => {
    const cose = await signConstrainedVoucher(voucher, masa());
    const ok = await verifyConstrainedVoucher(cose, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'C-1', nonce: voucher.nonce! });
    assert.deepEqual(ok.voucher, voucher);
    assert.equal(ok.masaCertificate.fingerprint256, t.factory.masaCertificate.fingerprint256);
    // RFC 9254 SID encoding: {2451: {delta: value}}, assertion as its enum integer (logged = 1).
    const msg = decodeCbor(cose) as { contents: [Uint8Array, Map<number, unknown>, Uint8Array, Uint8Array] };
    const payload = decodeCbor(msg.contents[2]) as Map<number, Map<number, unknown>>;
    assert.deepEqual([...payload.keys()], [VOUCHER_SID]);
    const inner = payload.get(VOUCHER_SID)!;
    assert.deepEqual([...inner.keys()], [1, 2, 7, 8, 11]);
    assert.equal(inner.get(1), 1);
    assert.equal(inner.get(2), '2026-11-22T00:00:00Z');
    assert.deepEqual(inner.get(7), voucher.nonce);
    assert.equal(inner.get(11), 'C-1');
    const protectedHeader = decodeCbor(msg.contents[0]) as Map<number, unknown>;
    assert.deepEqual(protectedHeader.get(X5BAG), t.factory.masaCertificate.der);
    assert.equal(msg.contents[1].size, 0);
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
    // The MASA's own certificate in x5chain or x5bag, but signed by another key.
    const genuine = decodeCbor(await signConstrainedVoucher(voucher, masa())) as { contents: unknown[] };
    for (const label of [X5CHAIN, X5BAG]) {
      const forged = await sign1({ payload: genuine.contents[2] as Uint8Array, signer: rogueLeaf, protectedHeader: new Map<number, unknown>([[label, t.factory.masaCertificate.der]]) });
      await assert.rejects(verifyConstrainedVoucher(forged, { masaTrustAnchors: anchors, serialNumber: 'C-1' }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
      // A rogue certificate next to the MASA's in a bag: the one whose key verifies must chain.
      const bagged = await sign1({ payload: genuine.contents[2] as Uint8Array, signer: rogueLeaf, protectedHeader: new Map<number, unknown>([[X5BAG, [t.factory.masaCertificate.der, rogueCert.der]]]) });
      await assert.rejects(verifyConstrainedVoucher(bagged, { masaTrustAnchors: anchors, serialNumber: 'C-1' }), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    }
    // Certificates in the unprotected bucket are not used: the rogue's own certificate there
    // does not make its signature trusted.
    const unprotected = await sign1({ payload: genuine.contents[2] as Uint8Array, signer: rogueLeaf, unprotectedHeader: new Map<number, unknown>([[X5BAG, rogueCert.der]]) });
    await assert.rejects(verifyConstrainedVoucher(unprotected, { masaTrustAnchors: [...anchors, rogueCa.certificate], serialNumber: 'C-1' }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
    // Both x5chain and x5bag protected: malformed.
    const both = await sign1({ payload: genuine.contents[2] as Uint8Array, signer: t.factory.masaSigner, protectedHeader: new Map<number, unknown>([[X5BAG, t.factory.masaCertificate.der], [X5CHAIN, t.factory.masaCertificate.der]]) });
    await assert.rejects(verifyConstrainedVoucher(both, { masaTrustAnchors: anchors, serialNumber: 'C-1' }), { code: 'ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE' });
    const good = await signConstrainedVoucher(voucher, masa());
    await assert.rejects(verifyConstrainedVoucher(good, { masaTrustAnchors: anchors, serialNumber: 'C-2' }), { code: 'ERR_VOUCHER_WRONG_SERIAL' });
    await assert.rejects(verifyConstrainedVoucher(good, { masaTrustAnchors: anchors, serialNumber: 'C-1', nonce: new Uint8Array(16) }), { code: 'ERR_VOUCHER_NONCE_MISMATCH' });
    const { nonce: _n, ...rest } = voucher;
    void _n;
    // Relative to the run: the MASA CA is valid from the moment the test made it.
    const expiresOn = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000);
    const expiring = await signConstrainedVoucher({ ...rest, expiresOn }, masa());
    await assert.rejects(verifyConstrainedVoucher(expiring, { masaTrustAnchors: anchors, serialNumber: 'C-1', now: new Date(expiresOn.getTime() + 86_400_000) }), { code: 'ERR_VOUCHER_EXPIRED' });
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
  it('a voucher with no certificates verifies under the pinned MASA certificate itself (draft §9.2.3)', async () => {
    const payload = encodeConstrainedVoucher(voucher);
    const bare = await sign1({ payload, signer: t.factory.masaSigner });
    const ok = await verifyConstrainedVoucher(bare, { masaTrustAnchors: [t.factory.masaCertificate], serialNumber: 'C-1', nonce: voucher.nonce! });
    assert.equal(ok.masaCertificate.fingerprint256, t.factory.masaCertificate.fingerprint256);
    // The MASA CA did not sign it; with the CA alone there is nothing to chain.
    await assert.rejects(verifyConstrainedVoucher(bare, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'C-1' }), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
  });

  it('codec: SID deltas round-trip, names are read, strict on SIDs, types and mandatory leaves', () => {
    const bytes = encodeConstrainedVoucher(voucher);
    assert.deepEqual(decodeConstrainedVoucher(bytes), voucher);
    const request = { serialNumber: 'R-1', assertion: 'proximity' as const, nonce: new Uint8Array(8).fill(7), proximityRegistrarPubk: new Uint8Array(91).fill(1), createdOn: new Date('2026-11-22T01:02:03.456Z') };
    const reqBytes = encodeConstrainedVoucherRequest(request);
    assert.deepEqual([...((decodeCbor(reqBytes) as Map<number, Map<number, unknown>>).get(VOUCHER_REQUEST_SID)!.keys())], [1, 2, 7, 12, 13]);
    assert.deepEqual(decodeConstrainedVoucherRequest(reqBytes), request);
    // Name-keyed (RFC 9254 §3.3), as the draft's §9.1.2 registrar request is written.
    const named = encodeCbor(new Map([['ietf-voucher-request:voucher', new Map<string, unknown>([['assertion', 2], ['serial-number', 'R-1'], ['nonce', new Uint8Array(8)]])]]));
    assert.equal(decodeConstrainedVoucherRequest(named).assertion, 'proximity');
    // An absolute SID as tag 47 (RFC 9254 §3.2) names a leaf too; twice is refused.
    const tagged = (extra: [unknown, unknown][]) => encodeCbor(new Map([[VOUCHER_REQUEST_SID, new Map<unknown, unknown>([[13, 'R-1'], ...extra])]]));
    assert.deepEqual(decodeConstrainedVoucherRequest(tagged([[new CborTag(47, 2508), new Uint8Array(8)]])).nonce, new Uint8Array(8));
    const malformed = (b: Uint8Array, re: RegExp, decode: (b: Uint8Array) => unknown = decodeConstrainedVoucherRequest) =>
      assert.throws(() => decode(b), (err: { code?: string; message?: string }) => err.code === 'ERR_VOUCHER_MALFORMED' && re.test(err.message ?? ''));
    malformed(tagged([[7, new Uint8Array(8)], [new CborTag(47, 2508), new Uint8Array(8)]]), /nonce appears twice/);
    malformed(tagged([[40, 1]]), /unknown SID 2541/);
    malformed(tagged([[20, 'x']]), /est-domain \(SID 2521\) is not supported/);
    malformed(tagged([['nonce', new Uint8Array(8)]]), /SID deltas/);
    malformed(tagged([[7, 'AAAA']]), /nonce: expected a byte string/);
    malformed(tagged([[1, 3]]), /assertion: expected an enumeration/);
    malformed(tagged([[1, 'proximity']]), /assertion: expected an enumeration/);
    malformed(tagged([[2, new CborTag(1, 0)]]), /created-on: expected a text string/);
    malformed(tagged([[2, '2026-13-01T00:00:00Z']]), /created-on/);
    malformed(tagged([[3, 1]]), /expected true or false/);
    malformed(tagged([[12, new Uint8Array(0)]]), /proximity-registrar-pubk: expected 1\.\.1024 bytes/);
    malformed(tagged([[11, new Uint8Array(31)]]), /sha256: expected 32 bytes/);
    malformed(encodeCbor(new Map([[VOUCHER_REQUEST_SID, new Map([[7, new Uint8Array(8)]])]])), /serial-number is mandatory/);
    // A request is not a voucher and the other way round.
    malformed(reqBytes, /expected the voucher container \(SID 2451/, decodeConstrainedVoucher);
    malformed(bytes, /expected the voucher request container \(SID 2501/);
    const voucherWith = (m: Map<number, unknown>) => encodeCbor(new Map([[VOUCHER_SID, m]]));
    const base = (): Map<number, unknown> => new Map<number, unknown>([[1, 0], [2, '2026-11-22T00:00:00Z'], [8, voucher.pinnedDomainCert], [11, 'C-1']]);
    assert.equal(decodeConstrainedVoucher(voucherWith(base())).assertion, 'verified');
    for (const [drop, re] of [[1, /assertion is mandatory/], [2, /created-on is mandatory/], [8, /pins nothing/], [11, /serial-number is mandatory/]] as const) {
      const m = base();
      m.delete(drop);
      malformed(voucherWith(m), re, decodeConstrainedVoucher);
    }
    const both = base();
    both.set(4, '2026-12-01T00:00:00Z');
    both.set(7, new Uint8Array(8));
    malformed(voucherWith(both), /mutually exclusive/, decodeConstrainedVoucher);
    // The request-only leaves do not exist in a voucher: delta 10 is pinned-domain-pubk-sha256 there.
    const spki = base();
    spki.delete(8);
    spki.set(9, new Uint8Array(91));
    assert.deepEqual(decodeConstrainedVoucher(voucherWith(spki)).pinnedDomainPubk, new Uint8Array(91));
    malformed(voucherWith(new Map([...base(), [14, 'x']])), /manufacturer-private \(SID 2465\) is not supported/, decodeConstrainedVoucher);
    malformed(encodeCbor(new Map([[VOUCHER_SID, base()], [VOUCHER_REQUEST_SID, base()]])), /one-entry/, decodeConstrainedVoucher);
    // Encoding refuses what decoding would.
    assert.throws(() => encodeConstrainedVoucher({ ...voucher, pinnedDomainCert: undefined }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => encodeConstrainedVoucherRequest({ serialNumber: 'x', proximityRegistrarPubkSha256: new Uint8Array(5) }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  it('a voucher pinning only a raw public key is refused by this (certificate-pinning) pledge', async () => {
    const { pinnedDomainCert: _p, ...rest } = voucher;
    void _p;
    const cose = await signConstrainedVoucher({ ...rest, pinnedDomainPubk: new Uint8Array(91).fill(4) }, masa());
    await assert.rejects(verifyConstrainedVoucher(cose, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'C-1' }), { code: 'ERR_VOUCHER_MALFORMED' });
  });

  it('fuzz: the SID codec only raises ERR_VOUCHER_MALFORMED on random and near-valid payloads', () => {
    const leafValue = fc.oneof(fc.string({ maxLength: 30 }), fc.uint8Array({ maxLength: 40 }), fc.boolean(), fc.integer({ min: -3, max: 5 }), fc.constant(null), fc.constant('2026-11-22T00:00:00Z'));
    const key = fc.oneof(fc.integer({ min: -3, max: 25 }), fc.string({ maxLength: 12 }), fc.constantFrom('serial-number', 'nonce', 'assertion'), fc.integer({ min: 2440, max: 2530 }).map((n) => new CborTag(47, n)));
    const container = fc.tuple(fc.constantFrom<unknown>(VOUCHER_SID, VOUCHER_REQUEST_SID, 'ietf-voucher:voucher', 'ietf-voucher-request:voucher', 0, 'x'), fc.array(fc.tuple(key, leafValue), { maxLength: 10 }));
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      container.map(([top, entries]) => {
        const m = new Map<unknown, unknown>();
        for (const [k, v] of entries) if (![...m.keys()].some((x) => x instanceof CborTag && k instanceof CborTag ? x.tag === k.tag && x.contents === k.contents : x === k)) m.set(k, v);
        return encodeCbor(new Map([[top, m]]));
      }),
    );
    fc.assert(
      fc.property(payload, (bytes) => {
        for (const decode of [decodeConstrainedVoucher, decodeConstrainedVoucherRequest]) {
          try {
            decode(bytes);
          } catch (err) {
            if ((err as { code?: string }).code !== 'ERR_VOUCHER_MALFORMED') throw err;
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
});
