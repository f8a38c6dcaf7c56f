/**
 * Campaign control: automatic pause on the error threshold and on a wave below the success
 * threshold, resume, cancel, approval, the schedule window, late joiners, and what happens to
 * reports that do not fit (stale, invalid), rollbacks and silent devices.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CampaignInput } from '../../../src/fota/campaign/index.js';
import { FIRMWARE, allDevices, createHarness, drive, endpointOf } from './harness.js';

const base = (over: Partial<CampaignInput> = {}): CampaignInput => ({ id: 'c', name: 'n', firmwareId: FIRMWARE.id, target: {}, maxInFlight: 5, retry: { maxAttempts: 1 }, ...over });
const op = { actor: 'operator:ann' };

test('the error threshold pauses the campaign; resume continues; a new failure over the threshold pauses again', async (t) => {
  const h = await createHarness(t, { count: 20 });
  for (const i of [2, 5, 9, 14]) h.fleet.faults.set(endpointOf(i), { result: 8 });
  const states: string[] = [];
  h.engine.on('event', (e) => {
    if (e.type === 'campaign.state') states.push(`${String(e.details.to)}${e.details.automatic === true ? ' (auto)' : ''}`);
  });
  // One device at a time, so each failure is judged on its own.
  await h.engine.create(base({ errorThreshold: 10, maxInFlight: 1 }), op);
  await h.engine.start('c', op);
  // 2 of 20 failed is 10 %: not above the threshold; the 3rd failure is.
  const paused = await drive(h, 'c', (v) => v.state === 'paused');
  assert.match(paused.stateReason ?? '', /error rate 15\.0% \(3 of 20 devices failed\) exceeds the 10% threshold/);
  assert.equal(paused.progress.pausedBy, 'error-threshold');

  // Paused: nothing new starts.
  const calls = h.fleet.calls.length;
  for (let i = 0; i < 10; i++) {
    await h.engine.tick();
    await h.fleet.step();
    h.clock.advance(1000);
  }
  assert.equal(h.fleet.calls.length, calls, 'no attempt starts while paused');
  assert.equal((await h.engine.get('c')).state, 'paused');

  await h.engine.resume('c', op);
  const again = await drive(h, 'c', (v) => v.state !== 'running');
  assert.equal(again.state, 'paused', 'the 4th failure (20 %) is above the threshold and was not acknowledged');
  assert.equal(again.progress.acknowledgedFailures, 3);
  await h.engine.resume('c', op);
  const done = await drive(h, 'c', (v) => v.state === 'completed');
  assert.deepEqual([done.waves[0]!.succeeded, done.waves[0]!.failed], [16, 4]);
  assert.deepEqual(states, ['running', 'paused (auto)', 'running', 'paused (auto)', 'running', 'completed']);
  const actions = (await h.store.audit.list({ subject: 'c' })).map((a) => a.action);
  assert.deepEqual(actions, ['campaign.create', 'campaign.start', 'campaign.pause', 'campaign.resume', 'campaign.pause', 'campaign.resume', 'campaign.complete']);
});

test('a wave that ends below the success threshold pauses; resuming lets it pass', async (t) => {
  const h = await createHarness(t, { count: 10 });
  await h.engine.create(base({ waves: [4, 'all'], successThreshold: 100, errorThreshold: 100 }), op);
  const started = await h.engine.start('c', op);
  assert.deepEqual(started.progress.waveEnds, [4, 10]);
  const wave0 = (await allDevices(h.store, 'c')).filter((d) => d.wave === 0);
  h.fleet.faults.set(wave0[1]!.endpoint, { result: 2 });
  const paused = await drive(h, 'c', (v) => v.state === 'paused');
  assert.equal(paused.progress.pausedBy, 'success-threshold');
  assert.match(paused.stateReason ?? '', /wave 0 ended with 75\.0% succeeded, below the 100% success threshold/);
  assert.equal(paused.waves[1]!.inFlight + paused.waves[1]!.succeeded, 0, 'wave 1 has not started');
  await h.engine.resume('c', op);
  const done = await drive(h, 'c', (v) => v.state === 'completed');
  assert.equal(done.waves[1]!.succeeded, 6);
});

test('cancel stops new attempts, marks waiting devices cancelled and still tracks those in flight', async (t) => {
  const h = await createHarness(t, { count: 12 });
  await h.engine.create(base({ maxInFlight: 3 }), op);
  await h.engine.start('c', op);
  await h.engine.tick();
  await h.fleet.step();
  const inFlight = h.fleet.calls.map((c) => c.endpoint);
  assert.equal(inFlight.length, 3);
  const cancelled = await h.engine.cancel('c', { actor: 'operator:bob', reason: 'wrong image' });
  assert.equal(cancelled.state, 'cancelled');
  assert.equal(cancelled.stateReason, 'wrong image');
  assert.equal(cancelled.waves[0]!.cancelled, 9);
  // Run on: the three devices already updating finish (recorded), nothing else is started.
  for (let i = 0; i < 10; i++) {
    await h.engine.tick();
    await h.fleet.step();
    h.clock.advance(1000);
  }
  assert.deepEqual(h.fleet.calls.map((c) => c.endpoint), inFlight);
  const after = await h.engine.get('c');
  assert.deepEqual([after.state, after.waves[0]!.succeeded, after.waves[0]!.cancelled, after.waves[0]!.inFlight], ['cancelled', 3, 9, 0]);
  await assert.rejects(h.engine.resume('c', op), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION' });
  await assert.rejects(h.engine.cancel('c', op), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION' });
  await assert.rejects(h.engine.start('c', op), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION' });
  const audit = await h.store.audit.list({ action: 'campaign.cancel' });
  assert.deepEqual(audit.map((a) => [a.actor, a.details.reason]), [['operator:bob', 'wrong image']]);
});

test('illegal transitions are typed errors naming both states', async (t) => {
  const h = await createHarness(t, { count: 2 });
  await h.engine.create(base(), op);
  await assert.rejects(h.engine.pause('c', op), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION', from: 'draft', to: 'paused' });
  await assert.rejects(h.engine.resume('c', op), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION', from: 'draft', to: 'running' });
  await h.engine.start('c', op);
  await assert.rejects(h.engine.pause('c', { actor: 'operator:ann', reason: 'a\nb' }), { code: 'ERR_INVALID_ARGUMENT', argument: 'options.reason' });
  await assert.rejects(h.engine.cancel('c', { actor: 'operator:ann', reason: 5 as never }), { code: 'ERR_INVALID_ARGUMENT', argument: 'options.reason' });
  await assert.rejects(h.engine.approve('c', op), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION', from: 'running', to: 'approved' });
  await assert.rejects(h.engine.resume('c', op), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION' });
  await h.engine.pause('c', op);
  await assert.rejects(h.engine.start('c', op), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION', message: /resumed, not started/ });
  await assert.rejects(h.engine.get('nope'), { code: 'ERR_CAMPAIGN_NOT_FOUND' });
});

test('a campaign that requires approval does not start until approved', async (t) => {
  const h = await createHarness(t, { count: 3 });
  await h.engine.create(base({ requiresApproval: true }), op);
  await assert.rejects(h.engine.start('c', op), { code: 'ERR_CAMPAIGN_APPROVAL_REQUIRED' });
  await h.engine.tick();
  assert.equal(h.fleet.calls.length, 0);
  assert.equal((await h.engine.get('c')).state, 'draft');
  const approved = await h.engine.approve('c', { actor: 'operator:chief' });
  assert.equal(approved.state, 'approved');
  await h.engine.start('c', op);
  await drive(h, 'c', (v) => v.state === 'completed');
  const actions = (await h.store.audit.list({ subject: 'c' })).map((a) => `${a.action} by ${a.actor}`);
  assert.deepEqual(actions.slice(0, 3), ['campaign.create by operator:ann', 'campaign.approve by operator:chief', 'campaign.start by operator:ann']);
});

test('the schedule window: nothing before startAt, only inside the daily window, waiting devices skipped at endAt', async (t) => {
  const h = await createHarness(t, { count: 30, start: '2026-03-02T01:00:00.000Z' });
  await h.engine.create(base({
    maxInFlight: 5,
    schedule: { startAt: '2026-03-02T01:30:00Z', endAt: '2026-03-03T03:00:00Z', dailyWindow: { from: '02:00', to: '02:10' } },
  }), op);
  await h.engine.start('c', op);
  await h.engine.tick();
  assert.equal(h.fleet.calls.length, 0, 'before startAt');
  h.clock.set('2026-03-02T01:45:00.000Z');
  await h.engine.tick();
  assert.equal(h.fleet.calls.length, 0, 'after startAt, before the daily window');
  h.clock.set('2026-03-02T02:00:00.000Z');
  // 10 rounds of 1 minute: the window closes at 02:10 with devices still waiting.
  for (let i = 0; i < 10; i++) {
    await h.engine.tick();
    await h.fleet.step();
    h.clock.advance(60_000);
  }
  const inWindow = h.fleet.calls.length;
  assert.ok(inWindow > 5 && inWindow < 30, `some but not all started in the window (${inWindow})`);
  for (let i = 0; i < 20; i++) {
    await h.engine.tick();
    await h.fleet.step();
    h.clock.advance(60_000);
  }
  assert.equal(h.fleet.calls.length, inWindow, 'nothing starts outside the daily window');
  const between = await h.engine.get('c');
  assert.equal(between.waves[0]!.inFlight, 0, 'devices started inside the window finished');
  // Next day's window, then the end of the schedule.
  h.clock.set('2026-03-03T02:00:00.000Z');
  await h.engine.tick();
  assert.ok(h.fleet.calls.length > inWindow);
  assert.ok(h.fleet.calls.every((c, i) => i < inWindow || c.attempt === 1));
  for (let i = 0; i < 6; i++) {
    await h.fleet.step();
    await h.engine.tick();
  }
  // The window closes with attempts in flight; they finish, then the schedule ends.
  h.clock.set('2026-03-03T02:10:00.000Z');
  const closing = h.fleet.calls.length;
  for (let i = 0; i < 8; i++) {
    await h.fleet.step();
    await h.engine.tick();
  }
  assert.equal(h.fleet.calls.length, closing);
  h.clock.set('2026-03-03T03:00:00.000Z');
  const done = await drive(h, 'c', (v) => v.state === 'completed');
  assert.equal(done.waves[0]!.succeeded + done.waves[0]!.skipped, 30);
  assert.ok(done.waves[0]!.skipped > 0);
  const skipped = (await allDevices(h.store, 'c')).filter((d) => d.status === 'skipped');
  assert.ok(skipped.every((d) => d.failure === 'schedule-ended' && d.attempt === 0));
});

test('devices that match later join the running campaign in its current wave', async (t) => {
  const h = await createHarness(t, { count: 4 });
  await h.engine.create(base({ target: { tags: ['even'] }, waves: [1, 'all'], successThreshold: 100 }), op);
  const started = await h.engine.start('c', op);
  assert.equal(started.progress.targetCount, 2);
  await h.store.devices.create({ endpoint: 'late-even', model: 'TH-1', firmwareVersion: '1.0.0', tags: ['even'] });
  await h.store.devices.create({ endpoint: 'late-odd', model: 'TH-1', firmwareVersion: '1.0.0', tags: ['odd'] });
  await h.store.devices.create({ endpoint: 'late-other', model: 'TH-9', firmwareVersion: '1.0.0', tags: ['even'] });
  assert.deepEqual(await h.engine.onDeviceMatched('late-even'), ['c']);
  assert.deepEqual(await h.engine.onDeviceMatched('late-even'), [], 'joins once');
  assert.deepEqual(await h.engine.onDeviceMatched('late-odd'), []);
  assert.deepEqual(await h.engine.onDeviceMatched('late-other'), []);
  assert.deepEqual(await h.engine.onDeviceMatched('unknown'), []);
  assert.equal((await h.store.campaigns.getDevice('c', 'late-even'))?.wave, 0);
  // One registered without a notification: found by re-evaluation.
  await h.store.devices.create({ endpoint: 'quiet-even', model: 'TH-1', firmwareVersion: '1.1.0', tags: ['even'] });
  assert.equal(await h.engine.reevaluate('c'), 1);
  assert.equal(await h.engine.reevaluate('c'), 0);
  const done = await drive(h, 'c', (v) => v.state === 'completed');
  assert.equal(done.waves.reduce((n, w) => n + w.succeeded, 0), 4);
  assert.deepEqual((await h.store.campaigns.listEvents('c', { endpoint: 'late-even' })).map((e) => e.type)[0], 'device.joined');
});

test('reports for another attempt are stale; malformed reports are typed errors', async (t) => {
  const h = await createHarness(t, { count: 1 });
  await h.engine.create(base(), op);
  await h.engine.start('c', op);
  await h.engine.tick();
  const ep = endpointOf(0);
  assert.equal(await h.engine.onDeviceReport({ endpoint: ep, campaignId: 'c', attempt: 2, kind: 'state', state: 1 }), 'stale');
  assert.equal(await h.engine.onDeviceReport({ endpoint: ep, campaignId: 'c', attempt: 1, kind: 'progress', percent: 37 }), 'applied');
  assert.equal((await h.store.campaigns.getDevice('c', ep))?.progress, 37);
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ endpoint: ep, campaignId: 'c', attempt: 1, kind: 'state', state: 4 }, 'state'],
    [{ endpoint: ep, campaignId: 'c', attempt: 1, kind: 'result', result: 10 }, 'result'],
    [{ endpoint: ep, campaignId: 'c', attempt: 0, kind: 'state', state: 1 }, 'attempt'],
    [{ endpoint: ep, campaignId: 'c', attempt: 1, kind: 'reboot' }, 'kind'],
    [{ endpoint: '', campaignId: 'c', attempt: 1, kind: 'state', state: 1 }, 'endpoint'],
    [{ endpoint: ep, campaignId: 'c', attempt: 1, kind: 'progress', percent: 101 }, 'percent'],
  ];
  for (const [r, field] of bad) await assert.rejects(h.engine.onDeviceReport(r), { code: 'ERR_CAMPAIGN_INVALID_REPORT', field });
  await assert.rejects(h.engine.onDeviceReport({ endpoint: 'stranger', campaignId: 'c', attempt: 1, kind: 'state', state: 1 }), { code: 'ERR_CAMPAIGN_INVALID_REPORT', field: 'endpoint' });
  await assert.rejects(h.engine.onDeviceReport({ endpoint: ep, campaignId: 'zz', attempt: 1, kind: 'state', state: 1 }), { code: 'ERR_CAMPAIGN_NOT_FOUND' });
});

test('success needs the version proof: a rollback after result 1 fails the attempt; silence times out; refused delivery retries', async (t) => {
  const h = await createHarness(t, { count: 3 });
  const [rollback, silent, unreachable] = [endpointOf(0), endpointOf(1), endpointOf(2)];
  h.fleet.faults.set(rollback, { rollback: true });
  h.fleet.faults.set(silent, { silent: true });
  h.fleet.faults.set(unreachable, { rejectStart: true });
  const startedAt: number[] = [];
  const deliver = h.fleet.startUpdate.bind(h.fleet);
  h.fleet.startUpdate = async (r) => {
    if (r.endpoint === unreachable) startedAt.push(h.clock.now());
    return deliver(r);
  };
  await h.engine.create(base({ retry: { maxAttempts: 2, backoffMs: 5000 }, attemptTimeoutMs: 30_000, errorThreshold: 100 }), op);
  await h.engine.start('c', op);
  await drive(h, 'c', (v) => v.state === 'completed');
  const rows = new Map((await allDevices(h.store, 'c')).map((d) => [d.endpoint, d]));
  assert.deepEqual([rows.get(rollback)?.status, rows.get(rollback)?.failure, rows.get(rollback)?.reportedVersion, rows.get(rollback)?.attempt], ['failed', 'version-mismatch', '1.0.0', 2]);
  assert.deepEqual([rows.get(silent)?.status, rows.get(silent)?.failure, rows.get(silent)?.attempt], ['failed', 'timeout', 2]);
  assert.deepEqual([rows.get(unreachable)?.status, rows.get(unreachable)?.failure, rows.get(unreachable)?.attempt], ['failed', 'delivery-error', 2]);
  // The retry waited for its backoff: attempt 2 of the unreachable device came 5 s (of engine clock) after attempt 1.
  const retries = (await h.store.campaigns.listEvents('c', { endpoint: unreachable })).filter((e) => e.type === 'device.retry-scheduled');
  assert.equal(retries.length, 1);
  assert.equal(startedAt.length, 2);
  assert.equal(Date.parse(retries[0]!.details.nextAttemptAt as string), startedAt[0]! + 5000);
  assert.ok(startedAt[1]! >= startedAt[0]! + 5000);
  assert.deepEqual(h.fleet.duplicateAttempts(), []);
});

test('two campaigns never update one device at once; the second skips devices the first brought current', async (t) => {
  const h = await createHarness(t, { count: 4 });
  await h.engine.create(base({ id: 'a' }), op);
  await h.engine.create(base({ id: 'b' }), op);
  await h.engine.start('a', op);
  await h.engine.start('b', op);
  const b = await drive(h, 'b', (v) => v.state === 'completed');
  const a = await h.engine.get('a');
  assert.deepEqual([a.state, a.waves[0]!.succeeded], ['completed', 4]);
  assert.deepEqual([b.waves[0]!.skipped, b.waves[0]!.succeeded], [4, 0]);
  assert.ok(h.fleet.calls.every((c) => c.campaignId === 'a'));
  const skipped = await allDevices(h.store, 'b');
  assert.ok(skipped.every((d) => d.failure === 'already-current' && d.attempt === 0));
});

test('onDeviceVersion applies a version read at registration to the attempt in flight', async (t) => {
  const h = await createHarness(t, { count: 2 });
  await h.engine.create(base(), op);
  await h.engine.start('c', op);
  await h.engine.tick();
  assert.deepEqual(await h.engine.onDeviceVersion(endpointOf(0), '1.0.0'), ['c']);
  assert.equal((await h.store.campaigns.getDevice('c', endpointOf(0)))?.status, 'in-flight', 'the old version proves nothing');
  assert.deepEqual(await h.engine.onDeviceVersion(endpointOf(0), FIRMWARE.version), ['c']);
  assert.equal((await h.store.campaigns.getDevice('c', endpointOf(0)))?.status, 'succeeded');
  assert.deepEqual(await h.engine.onDeviceVersion(endpointOf(0), FIRMWARE.version), [], 'nothing in flight any more');
  assert.deepEqual(await h.engine.onDeviceVersion('nobody', FIRMWARE.version), []);
});
