/**
 * The MASA as a multi-node service: two `rootline masa serve` processes for one factory share one
 * PostgreSQL store. Two domains' registrars ask for the same device at the same moment, one at
 * each node, round after round: exactly one gets a voucher, the other 403
 * ERR_ONBOARDING_ALREADY_OWNED, and the store names the winner as owner.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { ownerKeyOf } from '../../src/onboarding/masa.js';
import { signVoucherRequest } from '../../src/onboarding/signed-voucher.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import { OnboardingWorld, postToMasa, type MasaProcess } from '../helpers/onboarding-world.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { createTestDomain, type TestDomain } from '../onboarding/brski-fixture.js';

const skip = postgresSkip();
const ROUNDS = 8;

function post(url: string, ca: string, body: Uint8Array): Promise<{ status: number; text: string }> {
  return postToMasa(url, ca, body, { 'content-type': 'application/voucher-cms+json' });
}

describe('two rootline masa serve nodes on one PostgreSQL', { skip }, () => {
  let server: PostgresServer | undefined;
  let world: OnboardingWorld | undefined;
  let dir: string;
  let cs: string;
  let caPem: string;
  const nodes: MasaProcess[] = [];
  let acme: TestDomain;
  let other: TestDomain;

  before(async () => {
    server = await startPostgres();
    cs = await server.createDatabase();
    world = OnboardingWorld.create('masa-nodes');
    dir = world.dir;
    const factory = await world.initFactory({ data: 'manufacturer', masaUrl: 'https://masa.acme.example', manufacturer: 'Acme', env: { ROOTLINE_STORE_URL: cs } });
    for (let i = 0; i < ROUNDS; i++) await factory.mint(`N-${i}`, 'Meter', `device-${i}`);
    const tls = await world.masaTls();
    caPem = tls.caPem;
    nodes.push(...(await Promise.all([world.startMasa({ factory, tls, store: cs }), world.startMasa({ factory, tls, store: cs })])));
    acme = await createTestDomain('acme');
    other = await createTestDomain('other');
  });

  after(async () => {
    try {
      await world?.close();
    } finally {
      await server?.stop();
    }
  });

  it('the same device asked for by two domains at two nodes: one voucher, one refusal, every round', async () => {
    const winners: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const serial = `N-${i}`;
      const idevidPem = readFileSync(join(dir, `device-${i}`, 'idevid.pem'), 'utf8');
      const signer = keyObjectSigner(createPrivateKey(readFileSync(join(dir, `device-${i}`, 'idevid.key'), 'utf8')));
      const requestFor = async (d: TestDomain): Promise<Uint8Array> => {
        const nonce = new Uint8Array(randomBytes(16));
        const pledge = await signVoucherRequest({ createdOn: new Date(), assertion: 'proximity', serialNumber: serial, nonce, proximityRegistrarCert: d.registrarCert.der }, { signer, certificates: [idevidPem] });
        return d.registrarRequest(pledge, { serialNumber: serial, nonce });
      };
      const [a, b] = [await requestFor(acme), await requestFor(other)];
      const [toAcme, toOther] = i % 2 === 0 ? [nodes[0]!, nodes[1]!] : [nodes[1]!, nodes[0]!];
      const [ra, rb] = await Promise.all([post(`${toAcme.url}/.well-known/brski/requestvoucher`, caPem, a), post(`${toOther.url}/.well-known/brski/requestvoucher`, caPem, b)]);
      const statuses = [ra.status, rb.status].sort();
      assert.deepEqual(statuses, [200, 403], `round ${i}: ${ra.status} ${ra.text.slice(0, 200)} / ${rb.status} ${rb.text.slice(0, 200)}`);
      const refused = ra.status === 403 ? ra : rb;
      assert.equal((JSON.parse(refused.text) as { code: string }).code, 'ERR_ONBOARDING_ALREADY_OWNED');
      winners.push(ra.status === 200 ? 'acme' : 'other');
    }
    const store = await openPostgresStore({ connectionString: cs });
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const claim = await store.masa.getClaim(`N-${i}`);
        const winner = winners[i] === 'acme' ? acme : other;
        assert.equal(claim?.owner, ownerKeyOf(winner.ca.certificate), `N-${i}`);
        const issued = await store.audit.list({ subject: `N-${i}`, action: 'masa.voucher.issue' });
        assert.equal(issued.length, 1, `N-${i}: one voucher issued`);
      }
      assert.equal((await store.audit.list({ action: 'masa.start' })).length, 2, 'two nodes started on this store');
    } finally {
      await store.close();
    }
  });
});
