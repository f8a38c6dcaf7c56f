/**
 * What the engine does with devices it cannot reach or could not hear from: a driver that says
 * a device is unreachable (no session since a server restart, server shutting down) gets no
 * attempt recorded and burns none; a device whose target version reached the registry while no
 * report could reach its attempt (timed out, or waiting for a retry) counts as succeeded, never
 * as "already current"; and the campaign's delivery method is handed to the driver.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CampaignInput } from '../../../src/fota/campaign/index.js';
import { FIRMWARE, createHarness, endpointOf } from './harness.js';

const base = (over: Partial<CampaignInput> = {}): CampaignInput => ({ id: 'c', name: 'n', firmwareId: FIRMWARE.id, target: {}, maxInFlight: 5, errorThreshold: 100, ...over });
const op = { actor: 'operator:ann' };

test('an unreachable device (canDeliver false) keeps its place and its attempts; it is started once reachable', async (t) => {
  const h = await createHarness(t, { count: 2 });
  const [away, here] = [endpointOf(0), endpointOf(1)];
  let reachable = false;
  const asked: string[] = [];
  h.fleet.canDeliver = async (endpoint: string) => {
    asked.push(endpoint);
    return endpoint !== away || reachable;
  };
  await h.engine.create(base({ retry: { maxAttempts: 1 } }), op);
  await h.engine.start('c', op);
  for (let i = 0; i < 5; i++) {
    await h.engine.tick();
    h.clock.advance(1000);
  }
  assert.ok(asked.includes(away));
  assert.deepEqual(h.fleet.calls.map((c) => c.endpoint), [here]);
  const waiting = await h.store.campaigns.getDevice('c', away);
  assert.deepEqual([waiting?.status, waiting?.attempt], ['pending', 0], 'no attempt recorded, none used up');
  assert.equal((await h.store.campaigns.listEvents('c', { endpoint: away })).filter((e) => e.type === 'device.attempt').length, 0);
  // A driver whose check throws is treated as "not reachable", not as a failed attempt.
  h.fleet.canDeliver = async () => {
    throw new Error('registry down');
  };
  await h.engine.tick();
  assert.equal((await h.store.campaigns.getDevice('c', away))?.status, 'pending');
  reachable = true;
  h.fleet.canDeliver = async (endpoint: string) => endpoint !== away || reachable;
  await h.engine.tick();
  const started = await h.store.campaigns.getDevice('c', away);
  assert.deepEqual([started?.status, started?.attempt], ['in-flight', 1]);
});

test('a timed-out attempt whose device already shows the target version in the registry succeeds', async (t) => {
  const h = await createHarness(t, { count: 1 });
  const ep = endpointOf(0);
  h.fleet.faults.set(ep, { silent: true });
  await h.engine.create(base({ retry: { maxAttempts: 3, backoffMs: 1000 }, attemptTimeoutMs: 5000 }), op);
  await h.engine.start('c', op);
  await h.engine.tick();
  assert.equal((await h.store.campaigns.getDevice('c', ep))?.status, 'in-flight');
  // The device rebooted into 2.0.0 while no report could reach the attempt; the driver recorded
  // its /3/0/3 in the registry.
  await h.store.devices.update(ep, { firmwareVersion: '2.0.0' });
  h.clock.advance(6000);
  await h.engine.tick();
  const row = await h.store.campaigns.getDevice('c', ep);
  assert.deepEqual([row?.status, row?.attempt, row?.reportedVersion, row?.failure], ['succeeded', 1, '2.0.0', null]);
  const succeeded = (await h.store.campaigns.listEvents('c', { endpoint: ep })).find((e) => e.type === 'device.succeeded');
  assert.equal(succeeded?.details.via, 'registry');
  assert.equal((await h.engine.get('c')).state, 'completed');
  const audit = await h.store.audit.list({ action: 'campaign.device.succeeded' });
  assert.equal(audit.filter((a) => a.subject === ep).length, 1);
});

test('a retry-waiting device that reached the target counts as succeeded, not "already current"', async (t) => {
  const h = await createHarness(t, { count: 1 });
  const ep = endpointOf(0);
  h.fleet.faults.set(ep, { silent: true });
  await h.engine.create(base({ retry: { maxAttempts: 3, backoffMs: 10_000 }, attemptTimeoutMs: 5000 }), op);
  await h.engine.start('c', op);
  await h.engine.tick();
  h.clock.advance(6000);
  await h.engine.tick();
  assert.equal((await h.store.campaigns.getDevice('c', ep))?.status, 'retry-wait');
  await h.store.devices.update(ep, { firmwareVersion: '2.0.0' });
  h.clock.advance(11_000);
  await h.engine.tick();
  const row = await h.store.campaigns.getDevice('c', ep);
  assert.deepEqual([row?.status, row?.attempt, row?.reportedVersion], ['succeeded', 1, '2.0.0']);
  assert.equal(h.fleet.calls.length, 1, 'no second attempt');
  await h.engine.tick(); // the next tick sees nobody left waiting
  const v = await h.engine.get('c');
  assert.deepEqual([v.state, v.waves[0]!.succeeded, v.waves[0]!.skipped], ['completed', 1, 0]);
});

test('the campaign\'s delivery method reaches the driver; absent means the driver\'s default (null)', async (t) => {
  const h = await createHarness(t, { count: 1, extra: [{ endpoint: 'other', model: 'TH-1', firmwareVersion: '1.0.0', tags: ['solo'] }] });
  await h.engine.create(base({ id: 'https', delivery: 'https-pull', target: { endpoints: [endpointOf(0)] } }), op);
  await h.engine.create(base({ id: 'default', target: { endpoints: ['other'] } }), op);
  assert.equal((await h.engine.get('https')).spec.delivery, 'https-pull');
  await h.engine.start('https', op);
  await h.engine.start('default', op);
  await h.engine.tick();
  const byEndpoint = new Map(h.fleet.calls.map((c) => [c.endpoint, c.delivery]));
  assert.equal(byEndpoint.get(endpointOf(0)), 'https-pull');
  assert.equal(byEndpoint.get('other'), null);
});
