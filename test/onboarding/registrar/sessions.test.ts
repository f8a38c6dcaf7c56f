/**
 * What a voucher entitles a pledge to, and for how long: one enrollment within the vouched
 * window, none after it expired or after the pledge refused the voucher; operator approvals
 * outlive the registrar instance (they are in the store); pledges onboard side by side.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { estClient } from '../../../src/onboarding/est/client.js';
import { runPledge } from '../../../src/onboarding/pledge/pledge.js';
import { createOwnershipService, type OwnershipService } from '../../../src/onboarding/ownership-service.js';
import { createRegistrar } from '../../../src/onboarding/registrar/registrar.js';
import { encodeStatusTelemetry } from '../../../src/onboarding/registrar/status-telemetry.js';
import { createPledgeVoucherRequest } from '../../../src/onboarding/voucher-requests.js';
import { parseCertificate } from '../../../src/pki/index.js';
import { openSqliteStore } from '../../../src/store/index.js';
import type { BootstrapConfigRepository, Store } from '../../../src/store/types.js';
import { p256 as estKey } from '../est/helpers.js';
import { createWorld, startDomain, type Domain, type World } from './fixture.js';

const forbidden = (err: unknown) => {
  assert.equal((err as { serverCode?: string }).serverCode, 'ERR_EST_FORBIDDEN', String(err));
  return true;
};

describe('vouched sessions', () => {
  let w: World;
  let d: Domain;
  let clock = new Date();

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Clock', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com', overrides: { now: () => clock, vouchedTtlSeconds: 600 } });
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  it('refuses enrollment once the vouched window has passed', async () => {
    const dir = await w.mint('TTL-1');
    clock = new Date();
    await assert.rejects(
      runPledge({
        idevidDir: dir,
        registrarUrl: d.url,
        onStep: (step) => {
          // Between the voucher and the enrollment, 11 minutes pass on the registrar's clock.
          if (step === 'voucher-status') clock = new Date(Date.now() + 11 * 60_000);
        },
      }),
      forbidden,
    );
    clock = new Date();
    assert.equal(await d.store.devices.count(), 0);
    const est = (await d.store.audit.list({ subject: 'TTL-1', action: 'est.simpleenroll' })).at(-1)!;
    assert.equal(est.outcome, 'deny');
    assert.match(String(est.details.reason), /no voucher was relayed/);
  });

  it('refuses enrollment after the pledge reported that it refused the voucher, and a second enrollment under one voucher', async () => {
    clock = new Date();
    const dir = await w.mint('NEG-1');
    const idevid = parseCertificate(readFileSync(join(dir, 'idevid.pem'), 'utf8'));
    const signer = keyObjectSigner(createPrivateKey(readFileSync(join(dir, 'idevid.key'), 'utf8')));
    const context = { clientCertificates: [idevid.der], serverCertificate: d.registrarCert.der };
    const client = estClient({ baseUrl: d.url, ca: d.ca.certificate.der, clientCert: readFileSync(join(dir, 'idevid-chain.pem'), 'utf8'), clientKey: readFileSync(join(dir, 'idevid.key'), 'utf8') });

    const first = await createPledgeVoucherRequest({ signer, idevid: [idevid], registrarCertificate: d.registrarCert.der });
    assert.equal((await d.registrar.requestVoucher(context, first.der)).status, 'voucher');
    await d.registrar.voucherStatus(context, encodeStatusTelemetry(false, 'ERR_VOUCHER_EXPIRED: clock skew'));
    await assert.rejects(client.simpleEnroll({ signer: estKey().signer, subject: 'CN=NEG-1' }), forbidden);
    const told = (await d.store.audit.list({ subject: 'NEG-1', action: 'registrar.voucher-status' })).at(-1)!;
    assert.equal(told.outcome, 'failure');
    assert.match(String(told.details.reason), /ERR_VOUCHER_EXPIRED/);

    const second = await createPledgeVoucherRequest({ signer, idevid: [idevid], registrarCertificate: d.registrarCert.der });
    assert.equal((await d.registrar.requestVoucher(context, second.der)).status, 'voucher');
    const enrolled = await client.simpleEnroll({ signer: estKey().signer, subject: 'CN=NEG-1' });
    assert.equal(enrolled.parsed.subject.includes('urn:dev:ops:Acme-Sensor-NEG-1'), true, enrolled.parsed.subject);
    await assert.rejects(client.simpleEnroll({ signer: estKey().signer, subject: 'CN=NEG-1' }), forbidden);
    assert.equal((await d.store.devices.get('urn:dev:ops:Acme-Sensor-NEG-1'))?.ownershipState, 'RFPRO');
  });
});

describe('approvals and concurrency', () => {
  let w: World;
  let d: Domain;

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Busy', { masaClient: w.httpsMasa, masaUrl: w.masa.url });
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  it('an approval given through another registrar instance on the same store is honoured', async () => {
    const base = {
      store: d.store,
      audit: d.store.audit,
      domainCa: { ca: d.ca },
      registrar: { signer: d.registrarKey.signer, certificate: d.registrarCert.der },
      manufacturers: [{ ca: w.t.factory.manufacturerCaCertificate, masaTrustAnchors: [w.t.factory.masaCaCertificate], masaUrl: w.masa.url }],
      masaClient: w.httpsMasa,
      lwm2m: { uri: 'coaps://lwm2m.example:5684', serverCertificate: d.lwm2mServerCert.der },
      policy: { approval: 'manual' as const },
    };
    const nodeA = createRegistrar(base);
    const nodeB = createRegistrar(base);
    const dir = await w.mint('APP-1');
    const idevid = parseCertificate(readFileSync(join(dir, 'idevid.pem'), 'utf8'));
    const signer = keyObjectSigner(createPrivateKey(readFileSync(join(dir, 'idevid.key'), 'utf8')));
    const req = await createPledgeVoucherRequest({ signer, idevid: [idevid], registrarCertificate: d.registrarCert.der });
    const context = { clientCertificates: [idevid.der], serverCertificate: d.registrarCert.der };
    assert.equal((await nodeA.requestVoucher(context, req.der)).status, 'pending');
    assert.deepEqual((await nodeB.pending()).map((p) => [p.serial, p.status]), [['APP-1', 'pending']]);
    await nodeB.approve('APP-1', 'operator:carol');
    assert.equal((await nodeA.requestVoucher(context, req.der)).status, 'voucher');
  });

  it('onboards several pledges at once', async () => {
    const dirs = await Promise.all(['PAR-1', 'PAR-2', 'PAR-3', 'PAR-4'].map((s) => w.mint(s)));
    const results = await Promise.all(dirs.map((idevidDir) => runPledge({ idevidDir, registrarUrl: d.url })));
    assert.deepEqual(results.map((r) => r.serialNumber).sort(), ['PAR-1', 'PAR-2', 'PAR-3', 'PAR-4']);
    for (const r of results) assert.equal((await d.store.devices.get(r.endpoint!))?.ownershipState, 'RFPRO');
    assert.equal(new Set(results.map((r) => r.ldevid.certificate.serialNumber)).size, 4);
  });
});

describe('onboarding a device again', () => {
  let w: World;
  let d: Domain;

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Again', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  it('refuses while the device is owned and provisioned (certificate revoked, device untouched), accepts after a hard reset', async () => {
    const dir = await w.mint('AGAIN-1');
    const first = await runPledge({ idevidDir: dir, registrarUrl: d.url });
    const endpoint = first.endpoint!;
    const revokedBefore = Object.keys(d.ca.state.revoked).length;

    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: d.url }), (err: unknown) => (err as { serverCode?: string }).serverCode === 'ERR_EST_ISSUE_FAILED');
    assert.equal(Object.keys(d.ca.state.revoked).length, revokedBefore + 1);
    const untouched = await d.store.devices.credentials(endpoint);
    assert.equal(untouched.length, 1);
    assert.equal(Buffer.compare(Buffer.from(untouched[0]!.material), Buffer.from(first.ldevid.der)), 0);
    assert.equal((await d.store.devices.get(endpoint))?.ownershipState, 'RFPRO');

    const ownership = createOwnershipService({ devices: d.store.devices, audit: d.store.audit });
    await ownership.transition(endpoint, 'hard-reset', { actor: 'operator:dave' });
    const again = await runPledge({ idevidDir: dir, registrarUrl: d.url });
    assert.equal(again.endpoint, endpoint);
    const device = await d.store.devices.get(endpoint);
    assert.equal(device?.ownershipState, 'RFPRO');
    assert.equal(device?.attributes.ldevidSerial, again.ldevid.certificate.serialNumber);
    const creds = await d.store.devices.credentials(endpoint);
    assert.equal(creds.length, 1);
    assert.equal(Buffer.compare(Buffer.from(creds[0]!.material), Buffer.from(again.ldevid.der)), 0);
    const bs = await d.store.bootstrapConfigs.get(endpoint);
    assert.equal((bs?.config.servers as Array<Record<string, unknown>>)[0]!.clientPublicKey, Buffer.from(again.ldevid.der).toString('hex'));
    assert.equal((await d.store.audit.list({ subject: endpoint, action: 'registrar.device.reonboard' })).length, 1);
  });

  it('does not take over a record someone added by hand under the same endpoint', async () => {
    const dir = await w.mint('HAND-1');
    const endpoint = 'urn:dev:ops:Acme-Sensor-HAND-1';
    await d.store.devices.create({ endpoint, model: 'handmade', attributes: { note: 'added by an operator' } });
    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: d.url }), (err: unknown) => (err as { serverCode?: string }).serverCode === 'ERR_EST_ISSUE_FAILED');
    const device = await d.store.devices.get(endpoint);
    assert.deepEqual(device?.attributes, { note: 'added by an operator' });
    assert.equal(device?.model, 'handmade');
    assert.equal((await d.store.devices.credentials(endpoint)).length, 0);
    assert.equal(await d.store.bootstrapConfigs.get(endpoint), undefined);
  });
});

describe('onboarding again fails half way', () => {
  let w: World;
  let d: Domain;
  let store: Store;
  let failAt: 'none' | 'bootstrap' | 'owner-established' = 'none';

  before(async () => {
    w = await createWorld();
    store = await openSqliteStore({ file: ':memory:' });
    const bootstrapConfigs: BootstrapConfigRepository = {
      get: (e) => store.bootstrapConfigs.get(e),
      delete: (e) => store.bootstrapConfigs.delete(e),
      set: (e, c) => (failAt === 'bootstrap' ? Promise.reject(new Error('disk full')) : store.bootstrapConfigs.set(e, c)),
    };
    const real = createOwnershipService({ devices: store.devices, audit: store.audit });
    const ownership: OwnershipService = {
      transition: (e, ev, o) => (failAt === 'owner-established' && ev === 'owner-established' ? Promise.reject(new Error('store went away')) : real.transition(e, ev, o)),
      deviceRegistered: (e, o) => real.deviceRegistered(e, o),
    };
    d = await startDomain(w.t, 'Half', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com', store, overrides: { store: { devices: store.devices, settings: store.settings, bootstrapConfigs }, ownership } });
  });
  after(async () => {
    await d?.close();
    await store?.close();
    await w?.close();
  });

  for (const where of ['bootstrap', 'owner-established'] as const) {
    it(`restores the earlier credential, attributes, bootstrap configuration and RESET when ${where} fails`, async () => {
      failAt = 'none';
      const serial = `HALF-${where}`;
      const dir = await w.mint(serial);
      const first = await runPledge({ idevidDir: dir, registrarUrl: d.url });
      const endpoint = first.endpoint!;
      await createOwnershipService({ devices: store.devices, audit: store.audit }).transition(endpoint, 'hard-reset', { actor: 'operator:erin' });
      const before = { device: await store.devices.get(endpoint), creds: await store.devices.credentials(endpoint), config: await store.bootstrapConfigs.get(endpoint) };
      failAt = where;
      await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: d.url }), (err: unknown) => (err as { serverCode?: string }).serverCode === 'ERR_EST_ISSUE_FAILED');
      failAt = 'none';
      const after = { device: await store.devices.get(endpoint), creds: await store.devices.credentials(endpoint), config: await store.bootstrapConfigs.get(endpoint) };
      assert.equal(after.device?.ownershipState, 'RESET');
      assert.deepEqual(after.device?.attributes, before.device?.attributes);
      assert.deepEqual(after.creds.map((c) => Buffer.from(c.material).toString('hex')), before.creds.map((c) => Buffer.from(c.material).toString('hex')));
      assert.deepEqual(after.config?.config, before.config?.config);
      const failure = (await store.audit.list({ subject: endpoint, action: 'registrar.provision' })).at(-1)!;
      assert.equal(failure.outcome, 'failure');
      assert.equal(failure.details.undoFailed, undefined);
      assert.deepEqual(failure.details.undone, where === 'bootstrap' ? ['attributes', 'credential', 'credential-restored'] : ['ownership', 'bootstrap-config', 'attributes', 'credential', 'credential-restored']);
    });
  }
});

describe('re-enrollment keeps the registry binding current', () => {
  let w: World;
  let d: Domain;

  before(async () => {
    w = await createWorld();
    d = await startDomain(w.t, 'Renew', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
  });
  after(async () => {
    await d?.close();
    await w?.close();
  });

  it('rebinds the x509 credential and bootstrap configuration to the renewed LDevID; unbound certificates may not renew', async () => {
    const first = await runPledge({ idevidDir: await w.mint('REN-1'), registrarUrl: d.url });
    const endpoint = first.endpoint!;
    const subject = [[{ type: 'CN', value: endpoint }], [{ type: 'serialNumber', value: 'REN-1' }]];
    const clientFor = (chain: Uint8Array[], key: string) =>
      estClient({ baseUrl: d.url, ca: d.ca.certificate.der, clientCert: chain, clientKey: key });
    const firstKey = String(first.key.export({ type: 'pkcs8', format: 'pem' }));
    const next = estKey();
    const renewed = await clientFor(first.ldevid.chain, firstKey).simpleReenroll({ signer: next.signer, subject });
    const creds = await d.store.devices.credentials(endpoint);
    assert.equal(creds.length, 1);
    assert.equal(Buffer.compare(Buffer.from(creds[0]!.material), Buffer.from(renewed.certificate)), 0);
    const device = await d.store.devices.get(endpoint);
    assert.equal(device?.attributes.ldevidSerial, renewed.parsed.serialNumber);
    assert.equal(device?.attributes.previousLdevidSerial, first.ldevid.certificate.serialNumber);
    const bs = await d.store.bootstrapConfigs.get(endpoint);
    assert.equal((bs?.config.servers as Array<Record<string, unknown>>)[0]!.clientPublicKey, Buffer.from(renewed.certificate).toString('hex'));
    assert.equal((await d.store.audit.list({ subject: endpoint, action: 'registrar.credential.rotate' })).at(-1)?.outcome, 'success');

    // The replaced certificate may renew once more (a lost answer must not lock the device out) ...
    const again = await clientFor(first.ldevid.chain, firstKey).simpleReenroll({ signer: estKey().signer, subject });
    assert.equal(Buffer.compare(Buffer.from((await d.store.devices.credentials(endpoint))[0]!.material), Buffer.from(again.certificate)), 0);
    // ... but not after the next renewal replaced its successor.
    await assert.rejects(clientFor(first.ldevid.chain, firstKey).simpleReenroll({ signer: estKey().signer, subject }), forbidden);
    // A current certificate of this CA that no device is bound to may not renew either.
    const stray = estKey();
    const strayCert = await d.ca.issueCertificate({ subject: 'CN=urn:dev:ops:nobody', publicKey: stray.signer.publicKey, extKeyUsage: ['clientAuth'], validity: { days: 5 } });
    await assert.rejects(clientFor([strayCert.der, d.ca.certificate.der], stray.keyPem).simpleReenroll({ signer: estKey().signer, subject: 'CN=urn:dev:ops:nobody' }), forbidden);
  });
});
