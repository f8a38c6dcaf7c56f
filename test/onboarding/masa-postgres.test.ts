/**
 * Two MASA instances, each with its own PostgreSQL connection pool on one database (two nodes of
 * one manufacturer), race to claim the same device for two different domains, many times: the
 * claim is one atomic statement in the database, so exactly one domain gets a voucher each time
 * and the other is refused with ERR_ONBOARDING_ALREADY_OWNED (and an audit record).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSoftwareKeyStore } from '../../src/crypto/keystore/index.js';
import { initFactory } from '../../src/onboarding/factory.js';
import { createMasa, ownerKeyOf, type Masa } from '../../src/onboarding/masa.js';
import { settingsMasaRegistry } from '../../src/onboarding/masa-registry.js';
import { createReleaseRequest } from '../../src/onboarding/voucher-requests.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import type { Store } from '../../src/store/types.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { createTestDomain, mintTestPledge, type TestDomain } from './brski-fixture.js';
import type { TestFactory } from './helpers.js';

const skip = postgresSkip();

describe('MASA on PostgreSQL: two nodes, one device, one owner', { skip }, () => {
  let server: PostgresServer;
  let nodes: Store[] = [];
  let t: TestFactory;
  let masas: Masa[];
  let acme: TestDomain;
  let other: TestDomain;

  before(async () => {
    server = await startPostgres();
    const cs = await server.createDatabase();
    nodes = [await openPostgresStore({ connectionString: cs }), await openPostgresStore({ connectionString: cs })];
    const dir = mkdtempSync(join(tmpdir(), 'rootline-masa-pg-'));
    const keyStore = await openSoftwareKeyStore({ directory: join(dir, 'keys'), masterKey: randomBytes(32) });
    const registry = settingsMasaRegistry(nodes[0]!.settings);
    const factory = await initFactory({ keyStore, directory: join(dir, 'factory'), registry, masaUrl: 'https://masa.example.com', manufacturer: 'Acme', audit: nodes[0]!.audit });
    t = {
      dir,
      keyStore,
      store: nodes[0]!,
      registry,
      factory,
      async close() {
        await keyStore.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    masas = nodes.map((store) =>
      createMasa({ registry: settingsMasaRegistry(store.settings), claims: store.masa, audit: store.audit, signer: factory.masaSigner, certificates: [factory.masaCertificate], manufacturerCas: [factory.manufacturerCaCertificate] }),
    );
    acme = await createTestDomain('acme');
    other = await createTestDomain('other');
  });

  after(async () => {
    for (const s of nodes) await s.close();
    await t?.close();
    await server?.stop();
  });

  it('races on the same serial: exactly one domain wins every round, on either node', async () => {
    const wins = { acme: 0, other: 0 };
    const rounds = 25;
    for (let i = 0; i < rounds; i++) {
      const serial = `PG-${i}`;
      const pledge = await mintTestPledge(t, serial);
      const a = await pledge.request(acme);
      const b = await pledge.request(other);
      const requests = [await acme.registrarRequest(a.der, { serialNumber: serial, nonce: a.nonce }), await other.registrarRequest(b.der, { serialNumber: serial, nonce: b.nonce })];
      // Alternate which node answers which domain.
      const [forAcme, forOther] = i % 2 === 0 ? [masas[0]!, masas[1]!] : [masas[1]!, masas[0]!];
      const results = await Promise.allSettled([forAcme.requestVoucher(requests[0]!), forOther.requestVoucher(requests[1]!)]);
      const won = results.map((r) => r.status === 'fulfilled');
      assert.equal(won.filter(Boolean).length, 1, `round ${i}: exactly one voucher`);
      const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.equal((loser.reason as { code: string }).code, 'ERR_ONBOARDING_ALREADY_OWNED', `round ${i}`);
      const winner = won[0] ? acme : other;
      wins[won[0] ? 'acme' : 'other']++;
      const claim = await nodes[1]!.masa.getClaim(serial);
      assert.equal(claim?.owner, ownerKeyOf(winner.ca.certificate), `round ${i}: the stored owner is the winner`);
      const denied = (await nodes[0]!.audit.list({ subject: serial, action: 'masa.voucher.request' })).filter((r) => r.outcome === 'deny');
      assert.deepEqual(denied.map((r) => r.details.code), ['ERR_ONBOARDING_ALREADY_OWNED'], `round ${i}: the refusal is audited`);
    }
    assert.equal(wins.acme + wins.other, rounds);
  });

  it('a release on one node frees the device for a claim through the other', async () => {
    const pledge = await mintTestPledge(t, 'PG-R');
    const a = await pledge.request(acme);
    await masas[0]!.requestVoucher(await acme.registrarRequest(a.der, { serialNumber: 'PG-R', nonce: a.nonce }));
    const b = await pledge.request(other);
    const otherRequest = await other.registrarRequest(b.der, { serialNumber: 'PG-R', nonce: b.nonce });
    await assert.rejects(masas[1]!.requestVoucher(otherRequest), { code: 'ERR_ONBOARDING_ALREADY_OWNED' });
    await masas[1]!.releaseClaim(await createReleaseRequest({ serialNumber: 'PG-R', signer: acme.registrarSigner, certificates: [acme.registrarCert.der, acme.ca.certificate.der] }));
    const res = await masas[0]!.requestVoucher(otherRequest);
    assert.equal(res.serialNumber, 'PG-R');
    assert.equal((await nodes[0]!.masa.getClaim('PG-R'))?.owner, ownerKeyOf(other.ca.certificate));
  });
});
