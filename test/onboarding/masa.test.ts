import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { verifyConstrainedVoucher } from '../../src/onboarding/constrained-voucher.js';
import { openFactory } from '../../src/onboarding/factory.js';
import { createMasa, domainIdOf, ownerKeyOf, type Masa } from '../../src/onboarding/masa.js';
import { auditText, settingsMasaRegistry } from '../../src/onboarding/masa-registry.js';
import { signVoucherRequest, verifyVoucher } from '../../src/onboarding/signed-voucher.js';
import { createReleaseRequest } from '../../src/onboarding/voucher-requests.js';
import { createRootCa, manufacturerCaPolicy } from '../../src/pki/index.js';
import { openSqliteStore } from '../../src/store/index.js';
import { createTestDomain, mintTestPledge, type TestDomain } from './brski-fixture.js';
import { createTestFactory, opensslSkip, type TestFactory } from './helpers.js';

describe('MASA (RFC 8995 §5.5-§5.8)', () => {
  let t: TestFactory;
  let masa: Masa;
  /** Fixed only where a test needs it; otherwise real time (IDevIDs are valid from their minting second). */
  let clock: Date | undefined;
  let acme: TestDomain;
  let other: TestDomain;

  beforeEach(async () => {
    t = await createTestFactory();
    clock = undefined;
    masa = createMasa({
      registry: t.registry,
      claims: t.store.masa,
      audit: t.store.audit,
      signer: t.factory.masaSigner,
      certificates: [t.factory.masaCertificate],
      manufacturerCas: [t.factory.manufacturerCaCertificate],
      noncelessLifetimeSeconds: 3600,
      now: () => clock ?? new Date(),
    });
    acme = await createTestDomain('acme');
    other = await createTestDomain('other');
  });
  afterEach(() => t.close());

  async function active(serial: string): Promise<boolean> {
    const c = await t.store.masa.getClaim(serial);
    return c !== undefined && c.releasedAt === null;
  }

  const releaseBy = (d: TestDomain, serialNumber: string): Promise<Uint8Array> =>
    createReleaseRequest({ serialNumber, signer: d.registrarSigner, certificates: [d.registrarCert.der, d.ca.certificate.der] });

  async function denials(subject: string): Promise<string[]> {
    return (await t.store.audit.list({ subject, action: 'masa.voucher.request' })).filter((r) => r.outcome === 'deny').map((r) => String(r.details.code));
  }

  it('answers a proximity request with a voucher pinning the domain CA, which the pledge and openssl accept', { skip: opensslSkip }, async () => {
    const pledge = await mintTestPledge(t, 'P-1');
    const { der, nonce } = await pledge.request(acme);
    const res = await masa.requestVoucher(await acme.registrarRequest(der, { serialNumber: 'P-1', nonce }));
    assert.equal(res.contentType, 'application/voucher-cms+json');
    const v = verifyVoucher(res.voucher, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'P-1', nonce });
    assert.deepEqual(v.pinnedDomainCertificate, acme.ca.certificate.der);
    assert.equal(v.voucher.assertion, 'logged');
    assert.equal(res.domainId, domainIdOf(acme.ca.certificate));
    writeFileSync(join(t.dir, 'v.der'), res.voucher);
    const r = spawnSync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', join(t.dir, 'v.der'), '-CAfile', t.factory.files.masaCa, '-out', join(t.dir, 'v.json')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const claim = await t.store.masa.getClaim('P-1');
    assert.equal(claim?.domainId, res.domainId);
    // The owner is the pinned certificate's key, not its (self-asserted) SKI.
    assert.equal(claim?.owner, ownerKeyOf(acme.ca.certificate));
    assert.equal(claim?.nonce, Buffer.from(nonce).toString('base64'));
    assert.equal(claim?.releasedAt, null);
    const issued = await t.store.audit.list({ subject: 'P-1', action: 'masa.voucher.issue' });
    assert.equal(issued.length, 1);
    assert.equal(issued[0]!.actor, 'registrar:CN=registrar.acme.example');
    // The same owner may ask again with a fresh nonce (pledge rebooted mid-onboarding).
    const again = await pledge.request(acme);
    await masa.requestVoucher(await acme.registrarRequest(again.der, { serialNumber: 'P-1', nonce: again.nonce }));
  });

  it('issues COSE vouchers for constrained pledges', async () => {
    const pledge = await mintTestPledge(t, 'P-C');
    const { der, nonce } = await pledge.request(acme);
    const res = await masa.requestVoucher(await acme.registrarRequest(der, { serialNumber: 'P-C', nonce }), { format: 'cose' });
    assert.equal(res.contentType, 'application/voucher+cose');
    const v = await verifyConstrainedVoucher(res.voucher, { masaTrustAnchors: [t.factory.masaCaCertificate], serialNumber: 'P-C', nonce });
    assert.deepEqual(v.pinnedDomainCertificate, acme.ca.certificate.der);
  });

  it('refuses a replayed request', async () => {
    const pledge = await mintTestPledge(t, 'P-R');
    const { der, nonce } = await pledge.request(acme);
    const request = await acme.registrarRequest(der, { serialNumber: 'P-R', nonce });
    await masa.requestVoucher(request);
    await assert.rejects(masa.requestVoucher(request), { code: 'ERR_ONBOARDING_REPLAY' });
    assert.deepEqual(await denials('P-R'), ['ERR_ONBOARDING_REPLAY']);
  });

  it('one transaction per step (useNonceAndClaim, appendRequestLogAndAudit) or the separate calls: the same records, replays refused', async () => {
    const { useNonceAndClaim: _combined, ...separate } = Object.fromEntries(
      Object.getOwnPropertyNames(Object.getPrototypeOf(t.store.masa)).filter((k) => k !== 'constructor').map((k) => [k, (t.store.masa as unknown as Record<string, (...a: unknown[]) => unknown>)[k]!.bind(t.store.masa)]),
    );
    const variants = [
      createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, appendRequestLogAndAudit: t.store.appendRequestLogAndAudit!.bind(t.store), signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] }),
      createMasa({ registry: t.registry, claims: separate as unknown as typeof t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] }),
    ];
    assert.equal((separate as { useNonceAndClaim?: unknown }).useNonceAndClaim, undefined);
    const shapes: unknown[] = [];
    for (const [i, m] of variants.entries()) {
      const serial = `P-V${i}`;
      const pledge = await mintTestPledge(t, serial);
      const { der, nonce } = await pledge.request(acme);
      const request = await acme.registrarRequest(der, { serialNumber: serial, nonce });
      await m.requestVoucher(request, { format: 'cose' });
      await assert.rejects(m.requestVoucher(request, { format: 'cose' }), { code: 'ERR_ONBOARDING_REPLAY' });
      const log = await t.store.masa.requestLog(serial, 10);
      const records = (await t.store.audit.list({ subject: serial })).map((r) => [r.action, r.outcome, Object.keys(r.details).sort(), r.details.format ?? r.details.code]);
      shapes.push({ total: log.total, assertion: log.entries[0]?.assertion, records });
      assert.equal(await active(serial), true);
    }
    assert.deepEqual(shapes[0], shapes[1]);
  });

  it('first claim wins: a second domain is refused until the owner releases the device', async () => {
    const pledge = await mintTestPledge(t, 'P-O');
    const first = await pledge.request(acme);
    await masa.requestVoucher(await acme.registrarRequest(first.der, { serialNumber: 'P-O', nonce: first.nonce }));
    const second = await pledge.request(other);
    const otherRequest = await other.registrarRequest(second.der, { serialNumber: 'P-O', nonce: second.nonce });
    await assert.rejects(masa.requestVoucher(otherRequest), { code: 'ERR_ONBOARDING_ALREADY_OWNED' });
    assert.deepEqual(await denials('P-O'), ['ERR_ONBOARDING_ALREADY_OWNED']);
    // Only the owner may release, and only through a request signed by its domain.
    await assert.rejects(masa.releaseClaim(await releaseBy(other, 'P-O')), { code: 'ERR_ONBOARDING_NOT_OWNER' });
    // A release request needs created-on and a nonce (each works once).
    const bare = await signVoucherRequest({ serialNumber: 'P-O' }, { signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der] });
    await assert.rejects(masa.releaseClaim(bare), { code: 'ERR_ONBOARDING_BAD_REQUEST' });
    const release = await releaseBy(acme, 'P-O');
    await masa.releaseClaim(release);
    assert.equal(await active('P-O'), false);
    const released = (await t.store.audit.list({ subject: 'P-O', action: 'masa.claim.release' })).map((r) => r.outcome);
    assert.deepEqual(released, ['deny', 'deny', 'success']);
    // The refused request's nonce was never answered, so the same request now succeeds.
    const res = await masa.requestVoucher(otherRequest);
    assert.equal(res.domainId, domainIdOf(other.ca.certificate));
    // The audit log for the new owner lists both vouchers, and the old owner may no longer read it.
    const log = await masa.requestAuditLog(await signVoucherRequest({ serialNumber: 'P-O' }, { signer: other.registrarSigner, certificates: [other.registrarCert.der, other.ca.certificate.der] }));
    assert.equal(log.version, '1');
    assert.deepEqual(log.events.map((e) => e.domainID), [domainIdOf(acme.ca.certificate), domainIdOf(other.ca.certificate)]);
    assert.deepEqual(log.events.map((e) => e.nonce), [Buffer.from(first.nonce).toString('base64'), Buffer.from(second.nonce).toString('base64')]);
    await assert.rejects(masa.requestAuditLog(release), { code: 'ERR_ONBOARDING_NOT_OWNER' });
  });

  it('refuses a pledge whose IDevID comes from an unknown manufacturer', async () => {
    const rogueCa = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=Rogue Manufacturer', validityDays: 30 });
    const pledgeKey = keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    // Same serial as a real device: a cloned identity from another CA.
    await mintTestPledge(t, 'P-U');
    const idevid = await manufacturerCaPolicy.issueIdevid(rogueCa, { serialNumber: 'P-U', publicKey: pledgeKey.publicKey });
    const der = await signVoucherRequest({ assertion: 'proximity', serialNumber: 'P-U', nonce: new Uint8Array(16).fill(1), proximityRegistrarCert: acme.registrarCert.der }, { signer: pledgeKey, certificates: [idevid.der] });
    await assert.rejects(masa.requestVoucher(await acme.registrarRequest(der, { serialNumber: 'P-U', nonce: new Uint8Array(16).fill(1) })), { code: 'ERR_ONBOARDING_UNTRUSTED_PLEDGE' });
    assert.deepEqual(await denials('P-U'), ['ERR_ONBOARDING_UNTRUSTED_PLEDGE']);
    assert.equal(await t.store.masa.getClaim('P-U'), undefined, 'nothing claimed');
  });

  it('refuses a registrar request for another serial, a wrong nonce, a stale request and an unknown device', async () => {
    const a = await mintTestPledge(t, 'P-A');
    await mintTestPledge(t, 'P-B');
    const ra = await a.request(acme);
    await assert.rejects(masa.requestVoucher(await acme.registrarRequest(ra.der, { serialNumber: 'P-B', nonce: ra.nonce })), { code: 'ERR_ONBOARDING_BAD_REQUEST' });
    await assert.rejects(masa.requestVoucher(await acme.registrarRequest(ra.der, { serialNumber: 'P-A', nonce: new Uint8Array(16) })), { code: 'ERR_ONBOARDING_BAD_REQUEST' });
    await assert.rejects(masa.requestVoucher(await acme.registrarRequest(ra.der, { serialNumber: 'P-A', nonce: ra.nonce, createdOn: new Date(Date.now() - 2 * 3600_000) })), { code: 'ERR_ONBOARDING_BAD_REQUEST' });
    assert.deepEqual(await denials('P-B'), ['ERR_ONBOARDING_BAD_REQUEST']);
    assert.equal((await denials('P-A')).length, 2);
    // A genuine IDevID from this manufacturer CA that the MASA registry never recorded (minted
    // on a line writing to another registry): refused as unknown, nothing claimed.
    const elsewhere = await openSqliteStore({ file: ':memory:' });
    try {
      const line2 = await openFactory({ keyStore: t.keyStore, directory: join(t.dir, 'factory'), registry: settingsMasaRegistry(elsewhere.settings) });
      const minted = await line2.mintDevice({ serial: 'P-G', model: 'M', outDir: join(t.dir, 'ghost') });
      const ghost = keyObjectSigner(createPrivateKey(readFileSync(minted.files.key, 'utf8')));
      const nonce = new Uint8Array(16).fill(3);
      const req = await signVoucherRequest({ assertion: 'proximity', serialNumber: 'P-G', nonce, proximityRegistrarCert: acme.registrarCert.der }, { signer: ghost, certificates: [readFileSync(minted.files.certificate, 'utf8')] });
      await assert.rejects(masa.requestVoucher(await acme.registrarRequest(req, { serialNumber: 'P-G', nonce })), { code: 'ERR_ONBOARDING_UNKNOWN_DEVICE' });
      assert.deepEqual(await denials('P-G'), ['ERR_ONBOARDING_UNKNOWN_DEVICE']);
      assert.equal(await t.registry.getDevice('P-G'), undefined);
    } finally {
      await elsewhere.close();
    }
  });

  it('refuses when the registrar is not the one the pledge saw (proximity)', async () => {
    const pledge = await mintTestPledge(t, 'P-X');
    const sawAcme = await pledge.request(acme);
    await assert.rejects(masa.requestVoucher(await other.registrarRequest(sawAcme.der, { serialNumber: 'P-X', nonce: sawAcme.nonce })), { code: 'ERR_ONBOARDING_PROXIMITY_MISMATCH' });
    assert.deepEqual(await denials('P-X'), ['ERR_ONBOARDING_PROXIMITY_MISMATCH']);
  });

  it('refuses a registrar request whose signature is broken', async () => {
    const pledge = await mintTestPledge(t, 'P-S');
    const { der, nonce } = await pledge.request(acme);
    const good = await acme.registrarRequest(der, { serialNumber: 'P-S', nonce });
    const bad = new Uint8Array(good);
    bad[bad.length - 10] ^= 0x01;
    await assert.rejects(masa.requestVoucher(bad), { code: 'ERR_VOUCHER_BAD_SIGNATURE' });
    const denied = await t.store.audit.list({ action: 'masa.voucher.request' });
    assert.equal(denied.at(-1)?.details.code, 'ERR_VOUCHER_BAD_SIGNATURE');
    assert.equal(denied.at(-1)?.actor, 'registrar:unauthenticated');
  });

  it('nonceless requests get an expiring voucher, refused by the pledge once expired', async () => {
    const pledge = await mintTestPledge(t, 'P-N');
    const noNonce = await signVoucherRequest({ assertion: 'proximity', serialNumber: 'P-N', proximityRegistrarCert: acme.registrarCert.der }, { signer: pledge.signer, certificates: [pledge.idevidPem] });
    const now = new Date();
    clock = now;
    const res = await masa.requestVoucher(await acme.registrarRequest(noNonce, { serialNumber: 'P-N' }));
    const anchors = [t.factory.masaCaCertificate];
    const ok = verifyVoucher(res.voucher, { masaTrustAnchors: anchors, serialNumber: 'P-N', now });
    assert.equal(ok.voucher.nonce, undefined);
    assert.ok(ok.voucher.expiresOn !== undefined);
    assert.throws(() => verifyVoucher(res.voucher, { masaTrustAnchors: anchors, serialNumber: 'P-N', now: new Date(now.getTime() + 3601_000) }), { code: 'ERR_VOUCHER_EXPIRED' });
    // A MASA without a nonceless policy refuses them.
    const strict = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] });
    await assert.rejects(strict.requestVoucher(await acme.registrarRequest(noNonce, { serialNumber: 'P-N' })), { code: 'ERR_ONBOARDING_BAD_REQUEST' });
  });

  it('manufacturer force-release is audited', async () => {
    const pledge = await mintTestPledge(t, 'P-F');
    const { der, nonce } = await pledge.request(acme);
    await masa.requestVoucher(await acme.registrarRequest(der, { serialNumber: 'P-F', nonce }));
    await masa.forceRelease('P-F', 'operator:support', 'customer returned the device');
    assert.equal(await active('P-F'), false);
    const rec = await t.store.audit.list({ subject: 'P-F', action: 'masa.claim.force-release' });
    assert.equal(rec[0]?.actor, 'operator:support');
    await assert.rejects(masa.forceRelease('NOPE', 'operator:support', 'x'), { code: 'ERR_ONBOARDING_UNKNOWN_DEVICE' });
  });

  it('fuzz: random and mutated registrar requests are refused with typed errors only', async () => {
    const pledge = await mintTestPledge(t, 'P-Z');
    const { der, nonce } = await pledge.request(acme);
    const good = await acme.registrarRequest(der, { serialNumber: 'P-Z', nonce });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }).map((edits) => {
            const bad = new Uint8Array(good);
            for (const [i, b] of edits) bad[i] = b;
            return bad;
          }),
        ),
        async (bytes) => {
          try {
            await masa.requestVoucher(bytes);
          } catch (err) {
            assert.match(String((err as { code?: unknown }).code), /^ERR_(VOUCHER|ONBOARDING)_/);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('fuzz: random and mutated release and audit-log requests are refused with typed errors only', async () => {
    const pledge = await mintTestPledge(t, 'P-Q');
    const { der, nonce } = await pledge.request(acme);
    await masa.requestVoucher(await acme.registrarRequest(der, { serialNumber: 'P-Q', nonce }));
    const good = await releaseBy(acme, 'P-Q');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }).map((edits) => {
            const bad = new Uint8Array(good);
            for (const [i, b] of edits) bad[i] = b;
            return bad;
          }),
        ),
        fc.boolean(),
        async (bytes, release) => {
          try {
            if (release) await masa.releaseClaim(bytes);
            else await masa.requestAuditLog(bytes);
          } catch (err) {
            assert.match(String((err as { code?: unknown }).code), /^ERR_(VOUCHER|ONBOARDING)_/);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('domainID is the pinned certificate SKI, else RFC 7093 method 1 over its key', async () => {
    const { createHash } = await import('node:crypto');
    assert.equal(domainIdOf(acme.ca.certificate), Buffer.from(acme.ca.certificate.subjectKeyIdentifier!, 'hex').toString('base64'));
    const noSki = { ...acme.ca.certificate, subjectKeyIdentifier: undefined };
    // P-256 SPKI: 25 bytes up to the BIT STRING's unused-bits octet, then the 65-byte point.
    const point = acme.ca.certificate.publicKey.subarray(26);
    assert.equal(point.length, 65);
    assert.equal(domainIdOf(noSki), createHash('sha256').update(point).digest().subarray(0, 20).toString('base64'));
    // Our CAs write SKIs by the same method, so both routes agree for them.
    assert.equal(domainIdOf(noSki), domainIdOf(acme.ca.certificate));
  });

  it('request text reaching the audit log is made safe (controls, lone surrogates, length)', () => {
    assert.equal(auditText('registrar:\u007fevil\u0000\ud800x'), 'registrar:\ufffdevil\ufffd\ufffdx');
    assert.equal(auditText('x'.repeat(400)).length, 255);
  });

  it('refuses a registrar whose certificate does not chain to the domain CA it carries', async () => {
    const pledge = await mintTestPledge(t, 'P-K');
    const { der, nonce } = await pledge.request(acme);
    const good = Buffer.from(await acme.registrarRequest(der, { serialNumber: 'P-K', nonce }));
    // Alter the registrar certificate's subject (outside the CMS signature, inside the CA's).
    const name = Buffer.from('registrar.acme.example');
    const at = good.lastIndexOf(name);
    assert.ok(at > 0);
    good[at] = 0x7f;
    await assert.rejects(masa.requestVoucher(new Uint8Array(good)), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    const denied = await t.store.audit.list({ action: 'masa.voucher.request' });
    assert.equal(denied.at(-1)?.actor, 'registrar:CN=\ufffdegistrar.acme.example');
    assert.equal(await t.store.masa.getClaim('P-K'), undefined);
  });

  it('a release request works once, and a stale one not at all', async () => {
    const pledge = await mintTestPledge(t, 'P-X');
    const first = await pledge.request(acme);
    await masa.requestVoucher(await acme.registrarRequest(first.der, { serialNumber: 'P-X', nonce: first.nonce }));
    const release = await releaseBy(acme, 'P-X');
    await masa.releaseClaim(release);
    // Claimed again by the same domain: the captured release request must not release it.
    const again = await pledge.request(acme);
    await masa.requestVoucher(await acme.registrarRequest(again.der, { serialNumber: 'P-X', nonce: again.nonce }));
    await assert.rejects(masa.releaseClaim(release), { code: 'ERR_ONBOARDING_REPLAY' });
    assert.equal(await active('P-X'), true);
    const stale = await createReleaseRequest({ serialNumber: 'P-X', signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der], now: new Date(Date.now() - 2 * 3600_000) });
    await assert.rejects(masa.releaseClaim(stale), { code: 'ERR_ONBOARDING_BAD_REQUEST' });
    assert.equal(await active('P-X'), true);
  });

  it('a TLS client certificate on an owner request must hold the key that signed it', async () => {
    const pledge = await mintTestPledge(t, 'P-B');
    const first = await pledge.request(acme);
    await masa.requestVoucher(await acme.registrarRequest(first.der, { serialNumber: 'P-B', nonce: first.nonce }));
    const ownerRequest = await signVoucherRequest({ serialNumber: 'P-B', createdOn: new Date() }, { signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der] });
    await assert.rejects(masa.requestAuditLog(ownerRequest, { tlsClientCertificate: other.registrarCert.der }), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    await assert.rejects(masa.requestAuditLog(ownerRequest, { tlsClientCertificate: new Uint8Array([1, 2, 3]) }), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    assert.equal((await masa.requestAuditLog(ownerRequest, { tlsClientCertificate: acme.registrarCert.der })).events.length, 1);
    await assert.rejects(masa.releaseClaim(await releaseBy(acme, 'P-B'), { tlsClientCertificate: other.registrarCert.der }), { code: 'ERR_VOUCHER_UNTRUSTED_SIGNER' });
    assert.equal(await active('P-B'), true);
    await masa.releaseClaim(await releaseBy(acme, 'P-B'), { tlsClientCertificate: acme.registrarCert.der });
    assert.equal(await active('P-B'), false);
    const release = (await t.store.audit.list({ subject: 'P-B', action: 'masa.claim.release' })).map((r) => [r.outcome, r.details.code ?? r.details.tlsClientCertificate]);
    assert.deepEqual(release, [['deny', 'ERR_VOUCHER_UNTRUSTED_SIGNER'], ['success', true]]);
  });

  it('two MASA instances on one store: a device is claimed by exactly one domain', async () => {
    const twin = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate] });
    for (let i = 0; i < 5; i++) {
      const serial = `P-T${i}`;
      const pledge = await mintTestPledge(t, serial);
      const a = await pledge.request(acme);
      const b = await pledge.request(other);
      const results = await Promise.allSettled([
        masa.requestVoucher(await acme.registrarRequest(a.der, { serialNumber: serial, nonce: a.nonce })),
        twin.requestVoucher(await other.registrarRequest(b.der, { serialNumber: serial, nonce: b.nonce })),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, serial);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.equal(refused.reason.code, 'ERR_ONBOARDING_ALREADY_OWNED');
    }
  });

  it('claims lapse after claimLifetimeSeconds when the MASA is configured so', async () => {
    const start = new Date();
    let at = start;
    const lapsing = createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate], claimLifetimeSeconds: 600, now: () => at });
    assert.throws(() => createMasa({ registry: t.registry, claims: t.store.masa, audit: t.store.audit, signer: t.factory.masaSigner, certificates: [t.factory.masaCertificate], manufacturerCas: [t.factory.manufacturerCaCertificate], claimLifetimeSeconds: 1 }), { code: 'ERR_INVALID_ARGUMENT' });
    const pledge = await mintTestPledge(t, 'P-L');
    const a = await pledge.request(acme);
    await lapsing.requestVoucher(await acme.registrarRequest(a.der, { serialNumber: 'P-L', nonce: a.nonce }));
    assert.equal((await t.store.masa.getClaim('P-L'))?.expiresAt, new Date(start.getTime() + 600_000).toISOString());
    const b = await pledge.request(other);
    await assert.rejects(lapsing.requestVoucher(await other.registrarRequest(b.der, { serialNumber: 'P-L', nonce: b.nonce })), { code: 'ERR_ONBOARDING_ALREADY_OWNED' });
    at = new Date(start.getTime() + 601_000);
    const c = await pledge.request(other, { createdOn: at });
    const res = await lapsing.requestVoucher(await other.registrarRequest(c.der, { serialNumber: 'P-L', nonce: c.nonce, createdOn: at }));
    assert.equal(res.domainId, domainIdOf(other.ca.certificate));
  });

  it('a claim an earlier rootline kept in the device record is carried over once', async () => {
    await mintTestPledge(t, 'P-Y');
    const record = (await t.registry.getDevice('P-Y'))!;
    await t.store.settings.set('masa.device.P-Y', JSON.stringify({ ...record, owner: { domainId: domainIdOf(acme.ca.certificate), pinnedDomainCert: Buffer.from(acme.ca.certificate.der).toString('base64'), claimedAt: '2026-01-01T00:00:00.000Z' } }));
    // The legacy owner may fetch its log and release; others may not.
    await assert.rejects(masa.releaseClaim(await releaseBy(other, 'P-Y')), { code: 'ERR_ONBOARDING_NOT_OWNER' });
    const claim = await t.store.masa.getClaim('P-Y');
    assert.equal(claim?.owner, ownerKeyOf(acme.ca.certificate));
    assert.equal(claim?.claimedAt, '2026-01-01T00:00:00.000Z');
    await masa.releaseClaim(await releaseBy(acme, 'P-Y'));
    // Released: the legacy field no longer counts.
    assert.equal(await active('P-Y'), false);
    await assert.rejects(masa.releaseClaim(await releaseBy(acme, 'P-Y')), { code: 'ERR_ONBOARDING_NOT_OWNER' });
    assert.equal((await t.store.audit.list({ subject: 'P-Y', action: 'masa.claim.import' })).length, 1);
  });
});
