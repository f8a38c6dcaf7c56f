/**
 * The registrar under attack and under policy, over real HTTPS on loopback: each refusal has its
 * code, its audit record, and leaves nothing in the registry.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { estClient } from '../../../src/onboarding/est/client.js';
import { runPledge } from '../../../src/onboarding/pledge/pledge.js';
import { createRegistrar } from '../../../src/onboarding/registrar/registrar.js';
import type { MasaClient } from '../../../src/onboarding/registrar/masa-client.js';
import { createPledgeVoucherRequest } from '../../../src/onboarding/voucher-requests.js';
import { createCsr } from '../../../src/pki/create-csr.js';
import { createRootCa, parseCertificate } from '../../../src/pki/index.js';
import { openSignedVoucherRequest, signVoucher } from '../../../src/onboarding/signed-voucher.js';
import { openSqliteStore } from '../../../src/store/index.js';
import type { BootstrapConfigRepository, Store } from '../../../src/store/types.js';
import { forgeCsr, p256 as estKey } from '../est/helpers.js';
import { createTestFactory } from '../helpers.js';
import { createWorld, startDomain, type Domain, type World } from './fixture.js';

const code = (expected: string, field: 'code' | 'serverCode' = 'code') => (err: unknown) => {
  assert.equal((err as Record<string, unknown>)[field], expected, String(err));
  return true;
};

async function pledgeRequest(dir: string, registrarCert: Uint8Array): Promise<{ der: Uint8Array; idevid: Uint8Array }> {
  const idevid = parseCertificate(readFileSync(join(dir, 'idevid.pem'), 'utf8'));
  const signer = keyObjectSigner(createPrivateKey(readFileSync(join(dir, 'idevid.key'), 'utf8')));
  const { der } = await createPledgeVoucherRequest({ signer, idevid: [idevid], registrarCertificate: registrarCert });
  return { der, idevid: idevid.der };
}

describe('registrar refusals', () => {
  let w: World;
  let d: Domain;

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Example', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  it('refuses a pledge whose IDevID is from an unknown manufacturer (403, audited, nothing stored)', async () => {
    const rogue = await createTestFactory('https://masa.rogue.example');
    try {
      const dir = join(rogue.dir, 'rogue-1');
      await rogue.factory.mintDevice({ serial: 'RG-1', model: 'Evil', outDir: dir });
      await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: d.url }), (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'ERR_PLEDGE_PROTOCOL');
        assert.equal((err as { status?: number }).status, 403);
        assert.equal((err as { serverCode?: string }).serverCode, 'ERR_REGISTRAR_REFUSED');
        return true;
      });
      const denied = await d.store.audit.list({ subject: 'RG-1', action: 'registrar.voucher.request' });
      assert.equal(denied.length, 1);
      assert.equal(denied[0]!.outcome, 'deny');
      assert.equal(denied[0]!.details.code, 'ERR_REGISTRAR_REFUSED');
      assert.equal(await d.store.devices.count(), 0);
      // Nor may it enroll without a voucher.
      await assert.rejects(
        estClient({ baseUrl: d.url, ca: d.ca.certificate.der, clientCert: readFileSync(join(dir, 'idevid-chain.pem'), 'utf8'), clientKey: readFileSync(join(dir, 'idevid.key'), 'utf8') }).simpleEnroll({ signer: estKey().signer, subject: 'CN=x' }),
        code('ERR_EST_FORBIDDEN', 'serverCode'),
      );
    } finally {
      await rogue.close();
    }
  });

  it('refuses a replayed voucher request (registrar memory, then the MASA for a registrar without it)', async () => {
    const dir = await w.mint('RP-1');
    const { der, idevid } = await pledgeRequest(dir, d.registrarCert.der);
    const context = { clientCertificates: [idevid], serverCertificate: d.registrarCert.der };
    const first = await d.registrar.requestVoucher(context, der);
    assert.equal(first.status, 'voucher');
    await assert.rejects(d.registrar.requestVoucher(context, der), code('ERR_REGISTRAR_REPLAY'));
    const denied = (await d.store.audit.list({ subject: 'RP-1', action: 'registrar.voucher.request' })).filter((r) => r.outcome === 'deny');
    assert.equal(denied.at(-1)!.details.code, 'ERR_REGISTRAR_REPLAY');
    // A second registrar of the same domain (another node, restarted) has no memory: the MASA refuses.
    const fresh = createRegistrar({
      store: d.store,
      audit: d.store.audit,
      domainCa: { ca: d.ca },
      registrar: { signer: d.registrarKey.signer, certificate: d.registrarCert.der },
      manufacturers: [{ ca: w.t.factory.manufacturerCaCertificate, masaTrustAnchors: [w.t.factory.masaCaCertificate] }],
      masaClient: w.inProcessMasa,
      lwm2m: { uri: 'coaps://lwm2m.example:5684', serverCertificate: d.lwm2mServerCert.der },
    });
    await assert.rejects(fresh.requestVoucher(context, der), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'ERR_REGISTRAR_MASA_FAILED');
      assert.equal((err as { masaCode?: string }).masaCode, 'ERR_ONBOARDING_REPLAY');
      return true;
    });
    assert.equal(await d.store.devices.count(), 0);
  });

  it('refuses a voucher request signed by another device than the TLS client', async () => {
    const a = await w.mint('ID-A');
    const b = await w.mint('ID-B');
    const fromA = await pledgeRequest(a, d.registrarCert.der);
    const tlsB = await pledgeRequest(b, d.registrarCert.der);
    // B's TLS connection relaying A's (validly signed) request: A must not get vouched on it.
    await assert.rejects(d.registrar.requestVoucher({ clientCertificates: [tlsB.idevid], serverCertificate: d.registrarCert.der }, fromA.der), code('ERR_REGISTRAR_IDENTITY_MISMATCH'));
    const denied = (await d.store.audit.list({ subject: 'ID-B', action: 'registrar.voucher.request' })).at(-1)!;
    assert.equal(denied.details.code, 'ERR_REGISTRAR_IDENTITY_MISMATCH');
  });

  it('refuses a MASA voucher for another serial, or one pinning another domain', async () => {
    const victim = await w.mint('VX-1');
    const other = await w.mint('VX-2');
    // Get a genuine voucher for VX-2 to this domain.
    const o = await pledgeRequest(other, d.registrarCert.der);
    const genuine = await d.registrar.requestVoucher({ clientCertificates: [o.idevid], serverCertificate: d.registrarCert.der }, o.der);
    assert.equal(genuine.status, 'voucher');
    const lying: MasaClient = { requestVoucher: async () => (genuine.status === 'voucher' ? genuine.voucher : new Uint8Array(0)) };
    const registrarBase = () => ({
      store: d.store,
      audit: d.store.audit,
      domainCa: { ca: d.ca },
      registrar: { signer: d.registrarKey.signer, certificate: d.registrarCert.der },
      manufacturers: [{ ca: w.t.factory.manufacturerCaCertificate, masaTrustAnchors: [w.t.factory.masaCaCertificate], masaUrl: 'https://masa.example.com' }],
      lwm2m: { uri: 'coaps://lwm2m.example:5684', serverCertificate: d.lwm2mServerCert.der },
    });
    const r = createRegistrar({ ...registrarBase(), masaClient: lying });
    const v = await pledgeRequest(victim, d.registrarCert.der);
    await assert.rejects(r.requestVoucher({ clientCertificates: [v.idevid], serverCertificate: d.registrarCert.der }, v.der), code('ERR_REGISTRAR_BAD_VOUCHER'));
    // Signed by the real MASA key, for the right serial and nonce, but pinning someone else's CA.
    const elsewhere = await createRootCa({ signer: estKey().signer, subject: 'CN=Elsewhere CA', validityDays: 30 });
    const pinsOther: MasaClient = {
      requestVoucher: async (call) => {
        const nonce = openSignedVoucherRequest(call.request).request.nonce!;
        return signVoucher({ createdOn: new Date(), assertion: 'logged', serialNumber: call.serialNumber, nonce, pinnedDomainCert: elsewhere.certificate.der }, { signer: w.t.factory.masaSigner, certificates: [w.t.factory.masaCertificate] });
      },
    };
    const r2 = createRegistrar({ ...registrarBase(), masaClient: pinsOther });
    const v2 = await pledgeRequest(victim, d.registrarCert.der);
    await assert.rejects(r2.requestVoucher({ clientCertificates: [v2.idevid], serverCertificate: d.registrarCert.der }, v2.der), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'ERR_REGISTRAR_BAD_VOUCHER');
      assert.match(String((err as Error).message), /another domain/);
      return true;
    });
  });

  it('refuses a CSR without proof of possession: 400, no device, no certificate', async () => {
    const dir = await w.mint('CSR-1');
    const { der, idevid } = await pledgeRequest(dir, d.registrarCert.der);
    assert.equal((await d.registrar.requestVoucher({ clientCertificates: [idevid], serverCertificate: d.registrarCert.der }, der)).status, 'voucher');
    const issuedBefore = Object.keys(d.ca.state.issued).length;
    const client = estClient({ baseUrl: d.url, ca: d.ca.certificate.der, clientCert: readFileSync(join(dir, 'idevid-chain.pem'), 'utf8'), clientKey: readFileSync(join(dir, 'idevid.key'), 'utf8') });
    const key = estKey();
    const forged = await forgeCsr(key, estKey(), 'CN=CSR-1');
    await assert.rejects(client.simpleEnroll(forged), code('ERR_EST_BAD_CSR', 'serverCode'));
    // A well-formed CSR whose signature bytes were flipped.
    const good = await createCsr({ signer: key.signer, subject: 'CN=CSR-1' });
    const broken = good.slice();
    broken[broken.length - 5]! ^= 0x01;
    await assert.rejects(client.simpleEnroll(broken), code('ERR_EST_BAD_CSR', 'serverCode'));
    assert.equal(Object.keys(d.ca.state.issued).length, issuedBefore);
    assert.equal((await d.store.devices.list({ search: 'CSR-1' })).length, 0);
    const est = await d.store.audit.list({ subject: 'CSR-1', action: 'est.simpleenroll' });
    assert.ok(est.length >= 2 && est.every((r) => r.outcome === 'deny' && r.details.code === 'ERR_EST_BAD_CSR'));
  });
});

describe('registrar provisioning is all or nothing', () => {
  let w: World;
  let d: Domain;
  let store: Store;

  before(async () => {
    w = await createWorld();
    store = await openSqliteStore({ file: ':memory:' });
    const failing: BootstrapConfigRepository = {
      get: (e) => store.bootstrapConfigs.get(e),
      delete: (e) => store.bootstrapConfigs.delete(e),
      set: async () => {
        throw new Error('disk full');
      },
    };
    d = await startDomain(w.t, 'Broken', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com', store, overrides: { store: { devices: store.devices, settings: store.settings, bootstrapConfigs: failing } } });
  });
  after(async () => {
    await d?.close();
    await store?.close();
    await w?.close();
  });

  it('a failure after the certificate was signed deletes the device and revokes the LDevID', async () => {
    const dir = await w.mint('HC-1');
    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: d.url }), code('ERR_EST_ISSUE_FAILED', 'serverCode'));
    assert.equal(await store.devices.count(), 0);
    assert.equal(await store.devices.findCredential('x509', 'urn:dev:ops:Acme-Sensor-HC-1'), undefined);
    const revoked = Object.keys(d.ca.state.revoked);
    assert.equal(revoked.length, 1, 'the signed LDevID is revoked');
    const failure = await store.audit.list({ action: 'registrar.provision' });
    assert.equal(failure.length, 1);
    assert.equal(failure[0]!.outcome, 'failure');
    assert.deepEqual(failure[0]!.details.undone, ['device']);
    assert.equal(failure[0]!.details.step, 'bootstrap-config.set');
    // The pledge told the registrar (enrollstatus false), which audited it.
    const told = await store.audit.list({ action: 'registrar.enroll-status' });
    assert.equal(told.length, 1);
    assert.equal(told[0]!.outcome, 'failure');
  });
});

describe('a second domain claiming an owned device', () => {
  let w: World;
  let first: Domain;
  let second: Domain;

  before(async () => {
    w = await createWorld();
    first = await startDomain(w.t, 'First', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
    second = await startDomain(w.t, 'Second', { masaClient: w.httpsMasa, masaUrl: w.masa.url });
  });
  after(async () => {
    await second?.close();
    await first?.close();
    await w?.close();
  });

  it('is refused by the MASA; the refusal is relayed and audited on both sides', async () => {
    const dir = await w.mint('OWN-1');
    const ok = await runPledge({ idevidDir: dir, registrarUrl: first.url });
    assert.equal(ok.serialNumber, 'OWN-1');
    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: second.url }), (err: unknown) => {
      assert.equal((err as { status?: number }).status, 502);
      assert.equal((err as { serverCode?: string }).serverCode, 'ERR_REGISTRAR_MASA_FAILED');
      return true;
    });
    const relayed = (await second.store.audit.list({ subject: 'OWN-1', action: 'registrar.voucher.request' })).at(-1)!;
    assert.equal(relayed.outcome, 'deny');
    assert.equal(relayed.details.masaCode, 'ERR_ONBOARDING_ALREADY_OWNED');
    assert.equal(relayed.details.masaStatus, 403);
    const masa = (await w.t.store.audit.list({ subject: 'OWN-1', action: 'masa.voucher.request' })).at(-1)!;
    assert.equal(masa.details.code, 'ERR_ONBOARDING_ALREADY_OWNED');
    assert.equal(await second.store.devices.count(), 0);
    assert.equal((await first.store.devices.get('urn:dev:ops:Acme-Sensor-OWN-1'))?.ownershipState, 'RFPRO');
  });
});

describe('operator approval policy', () => {
  let w: World;
  let d: Domain;

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Manual', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com', overrides: { policy: { approval: 'manual', retryAfterSeconds: 7, serials: ['LISTED-1'] } } });
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  it('holds an unknown pledge pending (202 Retry-After) until an operator approves it', async () => {
    const dir = await w.mint('MAN-1');
    const waits: number[] = [];
    const seen: string[] = [];
    const result = await runPledge({
      idevidDir: dir,
      registrarUrl: d.url,
      sleep: async (ms) => {
        waits.push(ms);
        const pending = await d.registrar.pending();
        seen.push(...pending.map((p) => `${p.serial}:${p.status}`));
        await d.registrar.approve('MAN-1', 'operator:alice');
      },
    });
    assert.deepEqual(waits, [7000]);
    assert.deepEqual(seen, ['MAN-1:pending']);
    assert.equal(result.endpoint, 'urn:dev:ops:Acme-Sensor-MAN-1');
    assert.equal((await d.store.devices.get('urn:dev:ops:Acme-Sensor-MAN-1'))?.ownershipState, 'RFPRO');
    const approval = await d.store.audit.list({ subject: 'MAN-1', action: 'registrar.approval' });
    assert.equal(approval.length, 1);
    assert.equal(approval[0]!.actor, 'operator:alice');
    // A listed serial needs nobody.
    const listed = await runPledge({ idevidDir: await w.mint('LISTED-1'), registrarUrl: d.url, sleep: async () => assert.fail('a listed serial must not wait') });
    assert.equal(listed.serialNumber, 'LISTED-1');
  });

  it('refuses once an operator rejected it', async () => {
    const dir = await w.mint('MAN-2');
    await assert.rejects(
      runPledge({ idevidDir: dir, registrarUrl: d.url, sleep: async () => void (await d.registrar.reject('MAN-2', 'operator:bob')) }),
      code('ERR_REGISTRAR_REFUSED', 'serverCode'),
    );
    await assert.rejects(d.registrar.approve('NEVER-SEEN', 'operator:bob'), code('ERR_REGISTRAR_NOT_PENDING'));
    assert.equal((await d.store.devices.list({ search: 'MAN-2' })).length, 0);
  });

  it('a pending answer that outlasts the pledge ends with ERR_PLEDGE_PENDING', async () => {
    const dir = await w.mint('MAN-3');
    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: d.url, maxPendingAttempts: 2, sleep: async () => undefined }), (err: unknown) => {
      assert.equal((err as { code?: string }).code, 'ERR_PLEDGE_PENDING');
      assert.equal((err as { retryAfterSeconds?: number }).retryAfterSeconds, 7);
      return true;
    });
  });
});
