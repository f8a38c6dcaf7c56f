/**
 * Several engines on one store (what scale-out will look like), the leadership hook, the timer
 * loop, and the engine's own argument checks.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { CampaignEngine, type CampaignEngineEvent, type CampaignInput } from '../../../src/fota/campaign/index.js';
import { openSqliteStore } from '../../../src/store/sqlite/store.js';
import { FIRMWARE, allDevices, createHarness, endpointOf } from './harness.js';

const op = { actor: 'operator:ann' };
const spec = (over: Partial<CampaignInput> = {}): CampaignInput => ({ id: 'c', name: 'n', firmwareId: FIRMWARE.id, target: {}, waves: [3, 'all'], successThreshold: 50, maxInFlight: 8, ...over });

test('two engines on one database, both acting as leader, still start every attempt once', async (t) => {
  const h = await createHarness(t, { count: 40 });
  for (const i of [7, 21]) h.fleet.faults.set(endpointOf(i), { failAttempts: 1, result: 4 });
  // A second process on the same SQLite file with a lock that (wrongly) also says "leader":
  // the store's compare-and-set is what keeps the two from both delivering one attempt. (Max in
  // flight is the leader's to keep — two leaders may each fill it, which is what the lock prevents.)
  const otherStore = await openSqliteStore({ file: h.file });
  const other = new CampaignEngine({ store: otherStore, driver: h.fleet, firmware: h.catalog, clock: h.clock, lock: { isLeader: async () => true } });
  t.after(async () => {
    await other.close();
    await otherStore.close();
  });
  let n = 0;
  h.fleet.report = (r) => (n++ % 2 === 0 ? h.engine : other).onDeviceReport(r);
  await h.engine.create(spec({ retry: { maxAttempts: 2, backoffMs: 1000 } }), op);
  await other.start('c', op);
  for (let round = 0; round < 200; round++) {
    await Promise.all([h.engine.tick(), other.tick(), h.fleet.step()]);
    h.clock.advance(1000);
    if ((await h.engine.get('c')).state === 'completed') break;
  }
  const v = await other.get('c');
  assert.equal(v.state, 'completed');
  assert.equal(v.waves.reduce((s, w) => s + w.succeeded, 0), 40);
  assert.deepEqual(h.fleet.duplicateAttempts(), []);
  const retried = (await allDevices(h.store, 'c')).filter((d) => d.attempt === 2).map((d) => d.endpoint).sort();
  assert.deepEqual(retried, [endpointOf(7), endpointOf(21)]);
  assert.ok((await h.store.audit.verify()).ok);
});

test('a node that is not the leader starts nothing but still records reports', async (t) => {
  const h = await createHarness(t, { count: 3 });
  let leader = false;
  const follower = new CampaignEngine({ store: h.store, driver: h.fleet, firmware: h.catalog, clock: h.clock, lock: { isLeader: async () => leader } });
  t.after(() => follower.close());
  await follower.create(spec(), op);
  await follower.start('c', op);
  assert.deepEqual(await follower.tick(), { leader: false, campaigns: 0, started: 0, expired: 0 });
  assert.equal(h.fleet.calls.length, 0);
  leader = true;
  const summary = await follower.tick();
  assert.deepEqual([summary.leader, summary.started], [true, 3]);
  leader = false;
  h.fleet.report = (r) => follower.onDeviceReport(r);
  await h.fleet.step();
  assert.equal((await h.store.campaigns.getDevice('c', endpointOf(0)))?.fwState, 1);
});

test('run() ticks on a timer until close(); a closed engine refuses work', async (t) => {
  const h = await createHarness(t, { count: 2 });
  await h.engine.create(spec(), op);
  await h.engine.start('c', op);
  const attempt = new Promise<CampaignEngineEvent>((resolve) => {
    h.engine.on('event', (e) => {
      if (e.type === 'device.attempt') resolve(e);
    });
  });
  h.engine.run({ intervalMs: 10 });
  assert.equal((await attempt).campaignId, 'c');
  await h.engine.close();
  await assert.rejects(h.engine.tick(), { code: 'ERR_CAMPAIGN_ENGINE_CLOSED' });
  await assert.rejects(h.engine.pause('c', op), { code: 'ERR_CAMPAIGN_ENGINE_CLOSED' });
  assert.throws(() => h.engine.run({ intervalMs: 10 }), { code: 'ERR_CAMPAIGN_ENGINE_CLOSED' });
});

test('run() reports a failing tick as tickError instead of crashing', async (t) => {
  const h = await createHarness(t, { count: 1 });
  const broken = new CampaignEngine({ store: h.store, driver: h.fleet, firmware: h.catalog, clock: h.clock, lock: { isLeader: async () => { throw new Error('lock backend down'); } } });
  t.after(() => broken.close());
  broken.run({ intervalMs: 10 });
  const [err] = await once(broken, 'tickError');
  assert.match((err as Error).message, /lock backend down/);
});

test('create checks the firmware and the target; commands check their arguments', async (t) => {
  const h = await createHarness(t, { count: 1 });
  h.catalog.add({ id: 'fw-any', version: '3.0.0', model: null });
  await assert.rejects(h.engine.create(spec({ firmwareId: 'fw-missing' }), op), { code: 'ERR_CAMPAIGN_UNKNOWN_FIRMWARE' });
  await assert.rejects(h.engine.create(spec({ target: { model: 'TH-2' } }), op), { code: 'ERR_CAMPAIGN_INVALID_SPEC', field: 'target.model' });
  await assert.rejects(h.engine.create(spec({ firmwareId: 'fw-any' }), op), { code: 'ERR_CAMPAIGN_INVALID_SPEC', field: 'target' });
  await assert.rejects(h.engine.create(spec({ waves: ['5%', '1%'] }), op), { code: 'ERR_CAMPAIGN_INVALID_SPEC', field: 'waves[1]' });
  await assert.rejects(h.engine.create(spec(), { actor: '' }), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(h.engine.create(spec(), undefined as never), { code: 'ERR_INVALID_ARGUMENT' });
  const created = await h.engine.create(spec({ firmwareId: 'fw-any', target: { tags: ['even'] } }), op);
  assert.equal(created.state, 'draft');
  assert.equal(created.progress.firmware.version, '3.0.0');
  await assert.rejects(h.engine.create(spec(), op), { code: 'ERR_CAMPAIGN_INVALID_SPEC', field: 'id' });
  await assert.rejects(h.engine.onDeviceMatched(42 as never), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => new CampaignEngine({ store: h.store, driver: {} as never, firmware: h.catalog }), { code: 'ERR_INVALID_ARGUMENT', argument: 'options.driver' });
  assert.throws(() => new CampaignEngine({ store: h.store, driver: h.fleet, firmware: {} as never }), { code: 'ERR_INVALID_ARGUMENT', argument: 'options.firmware' });
  assert.throws(() => new CampaignEngine(null as never), { code: 'ERR_INVALID_ARGUMENT', argument: 'options' });
  assert.throws(() => h.engine.run({ intervalMs: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  const listed = await h.engine.list();
  assert.deepEqual(listed.map((c) => c.id), ['c']);
  await h.engine.tick();
  assert.equal(h.fleet.calls.length, 0, 'a draft campaign starts nothing');
});

test('a process that dies inside driver.startUpdate: the recorded attempt is never re-sent, the next one is', async (t) => {
  const h = await createHarness(t, { count: 3 });
  const victim = endpointOf(1);
  let dying = true;
  let inside = false;
  const deliver = h.fleet.startUpdate.bind(h.fleet);
  // The call for the victim never returns and never reaches the device: the process is dying.
  h.fleet.startUpdate = (r) => {
    if (!dying || r.endpoint !== victim) return deliver(r);
    inside = true;
    return new Promise<void>(() => undefined);
  };
  await h.engine.create(spec({ waves: ['all'], maxInFlight: 3, retry: { maxAttempts: 2, backoffMs: 1000 }, attemptTimeoutMs: 20_000 }), op);
  await h.engine.start('c', op);
  const stuck = h.engine.tick();
  // Let the tick run until it is inside the victim's driver call (where the process dies). Waiting
  // for the driver call itself, not for the attempt's row: the engine commits the row, appends
  // its audit record and only then calls the driver, and how many event-loop turns lie between
  // the two depends on the store's audit commit window, not on what this test checks.
  for (let i = 0; i < 1000 && !inside; i++) await new Promise((r) => setImmediate(r));
  assert.equal(inside, true);
  assert.equal((await h.store.campaigns.getDevice('c', victim))?.attempt, 1);
  dying = false;
  await h.crash();
  void stuck;
  for (let round = 0; round < 100 && (await h.engine.get('c')).state !== 'completed'; round++) {
    await h.engine.tick();
    await h.fleet.step();
    h.clock.advance(1000);
  }
  const v = await h.engine.get('c');
  assert.deepEqual([v.state, v.waves[0]!.succeeded], ['completed', 3]);
  assert.deepEqual(h.fleet.calls.filter((c) => c.endpoint === victim).map((c) => c.attempt), [2]);
  assert.deepEqual(h.fleet.duplicateAttempts(), []);
  const reasons = (await h.store.campaigns.listEvents('c', { endpoint: victim })).filter((e) => e.type === 'device.retry-scheduled').map((e) => e.details.reason);
  assert.deepEqual(reasons, ['timeout']);
});
