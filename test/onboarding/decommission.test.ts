/**
 * One-step decommission on a real BRSKI world: a device onboarded to domain First is
 * decommissioned there (LDevID revoked and on the CRL openssl reads, accounts deleted, MASA claim
 * released, state DECOMMISSIONED) and is then onboarded to domain Second, which the MASA refused
 * while First owned it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import Fastify from 'fastify';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createDecommissioner, type Decommissioner } from '../../src/onboarding/decommission.js';
import { masaRoutes } from '../../src/onboarding/http/masa-routes.js';
import { httpsMasaClient } from '../../src/onboarding/registrar/masa-client.js';
import { createOwnershipService } from '../../src/onboarding/ownership-service.js';
import { runPledge } from '../../src/onboarding/pledge/pledge.js';
import { createRootCa, domainCaPolicy, parseCrl } from '../../src/pki/index.js';
import { opensslSkip, run } from './est/helpers.js';
import { createWorld, startDomain, type Domain, type World } from './registrar/fixture.js';

function decommissionerFor(d: Domain, releaseClaim?: (serial: string, request: Uint8Array) => Promise<'released' | undefined>): Decommissioner {
  return createDecommissioner({
    store: d.store,
    audit: d.store.audit,
    ownership: createOwnershipService({ devices: d.store.devices, audit: d.store.audit }),
    domainCa: { ca: d.ca },
    registrar: { signer: d.registrarKey.signer, certificate: d.registrarCert.der, chain: [d.ca.certificate] },
    ...(releaseClaim !== undefined ? { releaseClaim } : {}),
  });
}

describe('decommission in one step', () => {
  let w: World;
  let first: Domain;
  let second: Domain;

  before(async () => {
    w = await createWorld();
    first = await startDomain(w.t, 'First', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
    second = await startDomain(w.t, 'Second', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
  });
  after(async () => {
    await second?.close();
    await first?.close();
    await w?.close();
  });

  it('revokes, deletes, releases and moves to DECOMMISSIONED; another domain can then onboard the device', { skip: opensslSkip }, async () => {
    const dir = await w.mint('DEC-1');
    const onboarded = await runPledge({ idevidDir: dir, registrarUrl: first.url });
    const endpoint = onboarded.endpoint!;
    const ldevidSerial = onboarded.ldevid.certificate.serialNumber;
    // While First owns it, Second's claim is refused by the MASA.
    await assert.rejects(runPledge({ idevidDir: dir, registrarUrl: second.url }), (err: unknown) => (err as { serverCode?: string }).serverCode === 'ERR_REGISTRAR_MASA_FAILED');
    // An LwM2M registration as the server would keep it.
    const now = new Date();
    await first.store.registrations.put({ id: 'r1', endpoint, lifetime: 300, lwm2mVersion: '1.1', binding: 'U', queueMode: false, smsNumber: null, objectLinks: '</3/0>', security: 'x509', peer: '127.0.0.1:5000', registeredAt: now.toISOString(), updatedAt: now.toISOString(), expiresAt: new Date(now.getTime() + 300_000).toISOString() });

    const d = decommissionerFor(first, async (_serial, request) => {
      await w.masa.masa.releaseClaim(request);
      return 'released';
    });
    const result = await d.decommissionDevice({ endpoint, actor: 'operator:alice' });
    assert.deepEqual(result, { endpoint, revoked: [ldevidSerial], registrationDeleted: true, bootstrapConfigDeleted: true, credentialsRemoved: 1, masaClaim: 'released', ownershipState: 'DECOMMISSIONED' });

    assert.equal((await first.store.devices.get(endpoint))?.ownershipState, 'DECOMMISSIONED');
    assert.deepEqual(await first.store.devices.credentials(endpoint), []);
    assert.equal(await first.store.bootstrapConfigs.get(endpoint), undefined);
    assert.equal(await first.store.registrations.getByEndpoint(endpoint), undefined);
    assert.ok(first.ca.isRevoked(ldevidSerial));

    // The CRL lists the serial, as openssl reads it.
    const crl = await d.currentCrl();
    assert.deepEqual(parseCrl(crl).revoked.map((r) => r.serialNumber.toLowerCase()), [ldevidSerial.toLowerCase()]);
    const file = join(w.t.dir, 'first.crl');
    writeFileSync(file, crl);
    const text = await run('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text'], w.t.dir);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`Serial Number: 0*${ldevidSerial.replace(/^0+(?=.)/, '')}\\s`, 'i'));
    assert.match(text.stdout, /Cessation Of Operation/);

    const steps = (await first.store.audit.list({ subject: endpoint })).filter((r) => r.action.startsWith('onboarding.decommission') || r.action === 'ownership.transition').slice(-5).map((r) => `${r.action}:${r.outcome}`);
    assert.deepEqual(steps, ['onboarding.decommission.revoke:success', 'onboarding.decommission.accounts:success', 'onboarding.decommission.masa:success', 'ownership.transition:success', 'onboarding.decommission:success']);
    const release = (await w.t.store.audit.list({ subject: 'DEC-1', action: 'masa.claim.release' })).at(-1);
    assert.equal(release?.outcome, 'success');

    // Now the second domain's claim succeeds at the MASA and the device is onboarded there.
    const again = await runPledge({ idevidDir: dir, registrarUrl: second.url });
    assert.equal(again.serialNumber, 'DEC-1');
    assert.equal((await second.store.devices.get(again.endpoint!))?.ownershipState, 'RFPRO');
    const issued = (await w.t.store.audit.list({ subject: 'DEC-1', action: 'masa.voucher.issue' })).map((r) => r.details.domainId);
    assert.equal(new Set(issued).size, 2, 'vouchers went to two domains');
  });

  it('refuses a device that is not in a state that may be decommissioned, changing nothing', async () => {
    const d = decommissionerFor(first);
    await first.store.devices.create({ endpoint: 'fresh-1', ownershipState: 'RESET' });
    await first.store.devices.addCredential({ endpoint: 'fresh-1', kind: 'psk', lookup: 'fresh-1-id', material: new Uint8Array(16) });
    await assert.rejects(d.decommissionDevice({ endpoint: 'fresh-1', actor: 'operator:alice' }), { code: 'ERR_ONBOARDING_ILLEGAL_TRANSITION' });
    assert.equal((await first.store.devices.credentials('fresh-1')).length, 1);
    const last = (await first.store.audit.list({ subject: 'fresh-1', action: 'onboarding.decommission' })).at(-1);
    assert.equal(last?.outcome, 'deny');
    assert.equal(last?.details.code, 'ERR_ONBOARDING_ILLEGAL_TRANSITION');
    await assert.rejects(d.decommissionDevice({ endpoint: 'nope', actor: 'operator:alice' }), { code: 'ERR_ONBOARDING_UNKNOWN_DEVICE' });
  });

  it('records that the owner must release the claim when no MASA is reachable, and finishes after a failed step when called again', async () => {
    const dir = await w.mint('DEC-2');
    const third = await startDomain(w.t, 'Third', { masaClient: w.inProcessMasa, masaUrl: 'https://masa.example.com' });
    try {
      const onboarded = await runPledge({ idevidDir: dir, registrarUrl: third.url });
      let calls = 0;
      const d = decommissionerFor(third, async () => {
        calls++;
        if (calls === 1) throw new Error('MASA connection reset');
        return undefined;
      });
      await assert.rejects(d.decommissionDevice({ endpoint: onboarded.endpoint!, actor: 'operator:bob' }), /MASA connection reset/);
      const failed = (await third.store.audit.list({ subject: onboarded.endpoint!, action: 'onboarding.decommission' })).at(-1);
      assert.equal(failed?.outcome, 'failure');
      assert.equal(failed?.details.stage, 'masa');
      // Access was withdrawn before the failing step: nothing to log in with is left.
      assert.ok(third.ca.isRevoked(onboarded.ldevid.certificate.serialNumber));
      assert.deepEqual(await third.store.devices.credentials(onboarded.endpoint!), []);

      const result = await d.decommissionDevice({ endpoint: onboarded.endpoint!, actor: 'operator:bob' });
      assert.equal(result.masaClaim, 'owner-must-release');
      assert.deepEqual(result.revoked, [], 'already revoked on the first call');
      assert.equal(result.ownershipState, 'DECOMMISSIONED');
      const masaStep = (await third.store.audit.list({ subject: onboarded.endpoint!, action: 'onboarding.decommission.masa' })).at(-1);
      assert.equal(masaStep?.outcome, 'allow');
      assert.equal(masaStep?.details.masaClaim, 'owner-must-release');
      await assert.rejects(d.decommissionDevice({ endpoint: onboarded.endpoint!, actor: 'operator:bob' }), { code: 'ERR_ONBOARDING_ILLEGAL_TRANSITION' });
    } finally {
      await third.close();
    }
  });

  it('remote MASA unreachable: decommission completes, the release is a durable pending row, retried until the MASA answers', async () => {
    // A port nothing listens on (yet): the MASA is down.
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const a = probe.address();
        probe.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
      });
    });
    const masaUrl = `https://127.0.0.1:${port}`;
    const tlsCa = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=Remote MASA TLS CA', validityDays: 30 });
    const dir = await w.mint('DEC-3');
    const fourth = await startDomain(w.t, 'Fourth', { masaClient: w.httpsMasa, masaUrl: w.masa.url });
    let front: { close(): Promise<void> } | undefined;
    const d = createDecommissioner({
      store: fourth.store,
      audit: fourth.store.audit,
      ownership: createOwnershipService({ devices: fourth.store.devices, audit: fourth.store.audit }),
      domainCa: { ca: fourth.ca },
      registrar: { signer: fourth.registrarKey.signer, certificate: fourth.registrarCert.der, chain: [fourth.ca.certificate] },
      remoteMasa: { client: httpsMasaClient({ trustAnchors: [tlsCa.certificate.der], timeoutMs: 5000 }), masaUrlFor: async (serial) => (serial === 'DEC-3' ? masaUrl : undefined), pending: fourth.store.masa, retryIntervalMs: 0, initialBackoffMs: 0 },
    });
    try {
      const onboarded = await runPledge({ idevidDir: dir, registrarUrl: fourth.url });
      const endpoint = onboarded.endpoint!;
      const result = await d.decommissionDevice({ endpoint, actor: 'operator:carol' });
      assert.equal(result.masaClaim, 'pending');
      assert.equal(result.ownershipState, 'DECOMMISSIONED', 'finished locally');
      const row = await fourth.store.masa.getPendingRelease('DEC-3');
      assert.equal(row?.masaUrl, masaUrl);
      assert.equal(row?.endpoint, endpoint);
      assert.match(row?.lastError ?? '', /cannot reach the MASA/);
      const pendingAudit = (await fourth.store.audit.list({ subject: endpoint, action: 'onboarding.decommission.masa.pending' })).at(-1);
      assert.equal(pendingAudit?.outcome, 'failure');
      assert.equal((await fourth.store.audit.list({ subject: endpoint, action: 'onboarding.decommission.masa' })).at(-1)?.outcome, 'allow');
      const claim = await w.t.store.masa.getClaim('DEC-3');
      assert.equal(claim?.releasedAt, null, 'still claimed at the MASA');

      // Still down: the retry counts the attempt and keeps the row.
      assert.deepEqual(await d.retryPendingReleases(), [{ serial: 'DEC-3', outcome: 'pending' }]);
      assert.equal((await fourth.store.masa.getPendingRelease('DEC-3'))?.attempts, 1);

      // The MASA comes up at that address: the next pass releases the claim.
      const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
      const cert = await domainCaPolicy.issueServerCertificate(tlsCa, { publicKey: keyObjectSigner(key).publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 10 });
      const app = Fastify({ logger: false, https: { key: key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: cert.pem } });
      await app.register(masaRoutes, { masa: w.masa.masa });
      await app.listen({ host: '127.0.0.1', port });
      front = app;
      assert.deepEqual(await d.retryPendingReleases(), [{ serial: 'DEC-3', outcome: 'released' }]);
      assert.equal(await fourth.store.masa.getPendingRelease('DEC-3'), undefined);
      assert.notEqual((await w.t.store.masa.getClaim('DEC-3'))?.releasedAt, null, 'released at the MASA');
      assert.equal(((await fourth.store.devices.get(endpoint))?.attributes.decommission as { masaClaim?: string }).masaClaim, 'released');
      const retried = (await fourth.store.audit.list({ subject: endpoint, action: 'onboarding.decommission.masa.retry' })).map((r) => r.outcome);
      assert.deepEqual(retried, ['failure', 'success']);
      assert.equal((await w.t.store.audit.list({ subject: 'DEC-3', action: 'masa.claim.release' })).at(-1)?.outcome, 'success');
      assert.deepEqual(await d.retryPendingReleases(), [], 'nothing left');
    } finally {
      d.close();
      await front?.close();
      await fourth.close();
    }
  });

  it('a pending release is dropped, not delivered, once the device was reset and onboarded again', async () => {
    const dir = await w.mint('DEC-4');
    const fifth = await startDomain(w.t, 'Fifth', { masaClient: w.httpsMasa, masaUrl: w.masa.url });
    const ownership = createOwnershipService({ devices: fifth.store.devices, audit: fifth.store.audit });
    const d = createDecommissioner({
      store: fifth.store,
      audit: fifth.store.audit,
      ownership,
      domainCa: { ca: fifth.ca },
      registrar: { signer: fifth.registrarKey.signer, certificate: fifth.registrarCert.der, chain: [fifth.ca.certificate] },
      // The release goes to a MASA address that answers nothing.
      remoteMasa: { client: httpsMasaClient({ trustAnchors: [w.masa.tlsCa.certificate.der], timeoutMs: 5000 }), masaUrlFor: async () => 'https://127.0.0.1:1', pending: fifth.store.masa, retryIntervalMs: 0, initialBackoffMs: 0 },
    });
    try {
      const onboarded = await runPledge({ idevidDir: dir, registrarUrl: fifth.url });
      const endpoint = onboarded.endpoint!;
      assert.equal((await d.decommissionDevice({ endpoint, actor: 'operator:dan' })).masaClaim, 'pending');
      // Hard reset and onboarded to the same domain again: the MASA claim is Fifth's new claim.
      await ownership.transition(endpoint, 'hard-reset', { actor: 'operator:dan' });
      await runPledge({ idevidDir: dir, registrarUrl: fifth.url });
      assert.deepEqual(await d.retryPendingReleases(), [{ serial: 'DEC-4', outcome: 'superseded' }]);
      assert.equal(await fifth.store.masa.getPendingRelease('DEC-4'), undefined);
      assert.equal((await w.t.store.masa.getClaim('DEC-4'))?.releasedAt, null, 'the new claim stands');
    } finally {
      d.close();
      await fifth.close();
    }
  });
});
