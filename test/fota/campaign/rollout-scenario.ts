/**
 * The acceptance scenario of issue 5 against the engine, for any store: 100 devices, a 3-wave
 * campaign with injected faults, then the same with a restart (new engine and store on the same
 * database) in the middle — including a device whose attempt was recorded but never delivered.
 * Registered by rollout.test.ts (SQLite) and rollout-postgres.test.ts.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Store } from '../../../src/store/types.js';
import type { CampaignInput } from '../../../src/fota/campaign/index.js';
import type { UpdateResult } from '../../../src/fota/campaign/object5.js';
import { rolloutKey } from '../../../src/fota/campaign/target.js';
import { FIRMWARE, allDevices, allEvents, createHarness, drive, endpointOf, type Harness } from './harness.js';

const ID = 'spring-rollout';

const SPEC: CampaignInput = {
  id: ID,
  name: 'TH-1 2.0.0',
  firmwareId: FIRMWARE.id,
  target: { versionRange: '>=1.0.0 <2.0.0' },
  waves: ['1%', '10%', 'all'],
  successThreshold: 80,
  errorThreshold: 20,
  maxInFlight: 10,
  retry: { maxAttempts: 3, backoffMs: 2000, backoffFactor: 2 },
  attemptTimeoutMs: 60_000,
};

/** Faulty devices sit at these rollout positions (all in the last wave), each with its code. */
const FAULTS: Array<[number, UpdateResult]> = [[15, 2], [35, 5], [55, 6], [75, 7], [95, 9]];

const EXTRA = [
  { endpoint: 'other-model', model: 'TH-2', firmwareVersion: '1.0.0' },
  { endpoint: 'too-old', model: 'TH-1', firmwareVersion: '0.9.0' },
  { endpoint: 'no-version', model: 'TH-1', firmwareVersion: null },
  { endpoint: 'already-new', model: 'TH-1', firmwareVersion: '2.0.0' },
];

function rolloutOrder(): string[] {
  return Array.from({ length: 100 }, (_, i) => endpointOf(i)).sort((a, b) => (rolloutKey(ID, a) < rolloutKey(ID, b) ? -1 : 1));
}

async function setup(t: TestContext, openStore: (() => Promise<Store>) | undefined): Promise<{ h: Harness; faulty: Map<string, UpdateResult> }> {
  const h = await createHarness(t, { count: 100, extra: EXTRA, openStore });
  const order = rolloutOrder();
  const faulty = new Map(FAULTS.map(([pos, code]) => [order[pos]!, code]));
  for (const [endpoint, result] of faulty) h.fleet.faults.set(endpoint, { result });
  return { h, faulty };
}

interface Snapshot {
  [endpoint: string]: { status: string; updateResult: number | null; reportedVersion: string | null; failure: string | null };
}

async function assertOutcome(h: Harness, faulty: Map<string, UpdateResult>): Promise<Snapshot> {
  const view = await h.engine.get(ID);
  assert.equal(view.state, 'completed', view.stateReason ?? '');
  assert.equal(view.progress.targetCount, 100, 'only the 100 matching devices are targeted');
  const devices = await allDevices(h.store, ID);
  assert.equal(devices.length, 100);
  const snapshot: Snapshot = {};
  for (const d of devices) {
    snapshot[d.endpoint] = { status: d.status, updateResult: d.updateResult, reportedVersion: d.reportedVersion, failure: d.failure };
    const code = faulty.get(d.endpoint);
    if (code === undefined) {
      assert.equal(d.status, 'succeeded', `${d.endpoint}: ${JSON.stringify(d)}`);
      assert.equal(d.reportedVersion, FIRMWARE.version);
      assert.equal(d.updateResult, 1);
      assert.equal((await h.store.devices.get(d.endpoint))?.firmwareVersion, FIRMWARE.version);
    } else {
      assert.equal(d.status, 'failed', `${d.endpoint}: ${JSON.stringify(d)}`);
      assert.equal(d.updateResult, code, `${d.endpoint} fails with its own code`);
      assert.equal(d.failure, 'result-code');
      assert.notEqual(d.reportedVersion, FIRMWARE.version);
    }
  }
  const waves = view.waves.map((w) => [w.total, w.succeeded, w.failed]);
  assert.deepEqual(waves, [[1, 1, 0], [9, 9, 0], [90, 85, 5]]);
  return snapshot;
}

/** `newDatabase` makes a fresh empty database and returns how to open a store on it (default: SQLite file). */
export function registerRolloutScenario(name: string, skip: string | false, newDatabase?: () => Promise<() => Promise<Store>>): void {
  test(`${name}: a 3-wave campaign over 100 devices: healthy ones succeed, faulty ones fail with their code`, { skip }, async (t) => {
    const { h, faulty } = await setup(t, await newDatabase?.());
    const events: string[] = [];
    const waveProgress = new Map<number, Record<string, unknown>>();
    h.engine.on('event', (e) => {
      events.push(e.type);
      if (e.type === 'wave.progress') waveProgress.set(e.details.wave as number, e.details);
    });
    await h.engine.create(SPEC, { actor: 'operator:ann' });
    const started = await h.engine.start(ID, { actor: 'operator:ann' });
    assert.deepEqual(started.progress.waveEnds, [1, 10, 100]);
    await drive(h, ID, (v) => v.state === 'completed');
    await assertOutcome(h, faulty);

    // Retries follow the policy: 5 (integrity failure) is retried up to 3 attempts, the others are final at once.
    for (const [endpoint, code] of faulty) {
      const attempts = h.fleet.calls.filter((c) => c.endpoint === endpoint).map((c) => c.attempt);
      assert.deepEqual(attempts, code === 5 ? [1, 2, 3] : [1], `${endpoint} (code ${code})`);
    }
    // A delta where the catalog has one for the device's version (1.0.0), the full image otherwise (1.1.0).
    for (const c of h.fleet.calls) assert.equal(c.packageKind, c.fromVersion === '1.0.0' ? 'delta' : 'full', c.endpoint);
    assert.ok(h.fleet.calls.some((c) => c.packageKind === 'full') && h.fleet.calls.some((c) => c.packageKind === 'delta'));
    assert.deepEqual(h.fleet.duplicateAttempts(), []);
    assert.ok(h.fleet.maxActive <= 10, `max in flight respected (saw ${h.fleet.maxActive})`);
    assert.equal(h.fleet.maxActive, 10, 'and used');

    // Waves in order: no device of wave n got an attempt before wave n started.
    const timeline = await allEvents(h.store, ID);
    const waveStart = new Map<number, number>();
    for (const e of timeline) if (e.type === 'wave.started') waveStart.set(e.details.wave as number, e.id);
    assert.deepEqual([...waveStart.keys()], [0, 1, 2]);
    for (const e of timeline.filter((x) => x.type === 'device.attempt')) {
      assert.ok(e.id > waveStart.get(e.details.wave as number)!, `${e.endpoint} started before its wave`);
    }
    // One device's timeline: every Object 5 step, ending in the version proof.
    const healthy = rolloutOrder()[0]!;
    const steps = timeline.filter((e) => e.endpoint === healthy).map((e) => e.type === 'device.state' ? `state ${e.details.state}` : e.type === 'device.result' ? `result ${e.details.updateResult}` : e.type);
    assert.deepEqual(steps, ['device.attempt', 'device.delivery-started', 'state 1', 'result 0', 'device.progress', 'device.progress', 'state 2', 'state 3', 'state 0', 'result 1', 'device.succeeded']);
    assert.ok(events.includes('campaign.state') && events.includes('device.failed') && events.includes('wave.started'));
    // The last progress report of each wave is its final tally.
    assert.deepEqual([0, 1, 2].map((w) => [waveProgress.get(w)?.succeeded, waveProgress.get(w)?.failed, waveProgress.get(w)?.total]), [[1, 0, 1], [9, 0, 9], [85, 5, 90]]);

    const audit = await h.store.audit.list({ subject: ID, limit: 1000 });
    assert.deepEqual(audit.map((a) => a.action), ['campaign.create', 'campaign.start', 'campaign.wave', 'campaign.wave', 'campaign.complete']);
    const verified = await h.store.audit.verify();
    assert.ok(verified.ok);
  });

  test(`${name}: a restart in the middle changes nothing of the outcome, and no attempt is delivered twice`, { skip }, async (t) => {
    const { h, faulty } = await setup(t, await newDatabase?.());
    await h.engine.create(SPEC, { actor: 'operator:ann' });
    await h.engine.start(ID, { actor: 'operator:ann' });
    const mid = await drive(h, ID, (v) => v.progress.wave === 2 && (v.waves[2]?.inFlight ?? 0) > 0 && (v.waves[2]?.pending ?? 0) > 20);
    assert.equal(mid.state, 'running');

    // The crash instant: an attempt recorded (exactly as the engine records one) but the process
    // died before the driver was called.
    const crashed = (await h.store.campaigns.listDevices(ID, { status: 'pending', maxWave: 2, limit: 1 }))[0]!;
    assert.ok(!faulty.has(crashed.endpoint));
    await h.store.campaigns.updateDevice(ID, crashed.endpoint, { status: 'pending', attempt: 0 }, { status: 'in-flight', attempt: 1, packageKind: 'delta', dueAt: new Date(h.clock.now() + 60_000).toISOString() }, {
      endpoint: crashed.endpoint,
      type: 'device.attempt',
      details: { attempt: 1, wave: 2 },
    });
    const callsBefore = h.fleet.calls.length;
    await h.restart();
    const resumed = await h.engine.get(ID);
    assert.equal(resumed.state, 'running');
    assert.equal(resumed.progress.wave, 2);

    await drive(h, ID, (v) => v.state === 'completed');
    assert.ok(h.fleet.calls.length > callsBefore, 'the new engine carried on');
    const snapshot = await assertOutcome(h, faulty);
    assert.deepEqual(h.fleet.duplicateAttempts(), []);
    // The recorded-but-undelivered attempt 1 was never sent; it timed out and attempt 2 did the job.
    assert.deepEqual(h.fleet.calls.filter((c) => c.endpoint === crashed.endpoint).map((c) => c.attempt), [2]);
    const row = await h.store.campaigns.getDevice(ID, crashed.endpoint);
    assert.equal(row?.attempt, 2);
    assert.equal(snapshot[crashed.endpoint]?.status, 'succeeded');
    const timeline = (await h.store.campaigns.listEvents(ID, { endpoint: crashed.endpoint })).map((e) => e.type);
    assert.deepEqual(timeline.slice(0, 3), ['device.attempt', 'device.retry-scheduled', 'device.attempt']);
    assert.ok((await h.store.audit.verify()).ok);
  });
}
