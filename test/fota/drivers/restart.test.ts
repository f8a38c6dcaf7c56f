/**
 * The driver after a restart (its attempts in memory gone, the engine's rows still in flight):
 * a device's registration Update or Register makes it adopt the attempt and continue from the
 * device's Object 5 — Update executed for a package downloaded while no driver listened, the
 * download restarted for a device that lost it, a failure reported — and nothing is executed
 * twice. Also: a closed driver refuses attempts, and reachability (canDeliver).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attachFirmwareUpdater } from '../../../src/client/index.js';
import { createWorld } from './harness.js';

const op = { actor: 'operator:test' };
const FAST = { coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 3 } } };

async function auditCount(w: { store: { audit: { list(q: { action: string; limit?: number }): Promise<Array<{ subject: string; outcome: string; details: Record<string, unknown> }>> } } }, action: string, subject: string): Promise<number> {
  return (await w.store.audit.list({ action, limit: 1000 })).filter((a) => a.subject === subject && a.outcome === 'success').length;
}

test('a package downloaded while no driver listened is installed after the device\'s registration Update', async (t) => {
  const w = await createWorld(t);
  const d = await w.addDevice('dev-dl');
  await w.engine.create({ id: 'c', name: 'c', firmwareId: w.img2.id, target: { endpoints: ['dev-dl'] }, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c', op);
  // The driver goes away the instant the device has the package: the Downloaded notification
  // finds no attempt, so nobody executes the Update (what a server restart at that moment does).
  let closing: Promise<void> | undefined;
  const stopWatching = d.client.tree.onChange((c) => {
    if (c.path.objectId === 5 && c.path.resourceId === 3 && (d.client.tree.get(5, 0, 3) as { value: unknown }).value === 2) closing ??= w.driver.close();
  });
  await w.engine.tick();
  await d.updater!.idle();
  stopWatching();
  assert.ok(closing !== undefined, 'the device reached Downloaded');
  await closing;
  assert.equal((d.client.tree.get(5, 0, 3) as { value: unknown }).value, 2, 'Downloaded, waiting for an Update nobody sends');
  assert.equal(d.bank.installed.version, '1.0.0');
  const fresh = await w.restartDriver();
  assert.equal(fresh.inFlight, 0);
  await d.client.update();
  const rows = await w.runUntilDone('c', ['dev-dl']);
  assert.deepEqual([rows.get('dev-dl')!.status, rows.get('dev-dl')!.attempt, rows.get('dev-dl')!.reportedVersion], ['succeeded', 1, '2.0.0']);
  assert.equal(d.bank.installed.version, '2.0.0');
  assert.equal(await auditCount(w, 'fota.delivery.update', 'dev-dl'), 1, 'the Update executed once');
  const resumed = (await w.store.audit.list({ action: 'fota.delivery.resume' })).filter((a) => a.subject === 'dev-dl');
  assert.deepEqual(resumed.map((a) => a.details.trigger), ['registration']);
});

test('a device that lost its package (Idle, nothing to show) gets the same attempt again; a failure is reported', async (t) => {
  const w = await createWorld(t);
  // No updater yet: the Package URI is stored and nothing downloads (a device that rebooted and lost it).
  const lost = await w.addDevice('dev-lost', { noUpdater: true });
  const failed = await w.addDevice('dev-failed', { noUpdater: true });
  await w.engine.create({ id: 'c', name: 'c', firmwareId: w.img2.id, target: { endpoints: ['dev-lost', 'dev-failed'] }, maxInFlight: 2, errorThreshold: 100, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c', op);
  await w.engine.tick();
  const firstUri = (lost.client.tree.get(5, 0, 1) as { value: string }).value;
  await w.restartDriver();
  attachFirmwareUpdater(lost.client, { bank: lost.bank, trustedKeys: [w.firmware.signingPublicKey], vendor: 'example.com', model: 'TH-1', connection: FAST });
  // The other one failed its integrity check while the driver was away.
  failed.client.tree.set(5, 0, 5, { type: 'integer', value: 5 });
  await lost.client.update();
  await failed.client.update();
  const rows = await w.runUntilDone('c', ['dev-lost', 'dev-failed']);
  assert.deepEqual([rows.get('dev-lost')!.status, rows.get('dev-lost')!.attempt], ['succeeded', 1]);
  assert.equal(lost.bank.installed.version, '2.0.0');
  assert.equal((lost.client.tree.get(5, 0, 1) as { value: string }).value, firstUri, 'the same attempt, the same token');
  assert.equal(await auditCount(w, 'fota.delivery.redeliver', 'dev-lost'), 1);
  assert.deepEqual([rows.get('dev-failed')!.status, rows.get('dev-failed')!.updateResult, rows.get('dev-failed')!.failure], ['failed', 5, 'result-code']);
  assert.equal(await auditCount(w, 'fota.delivery.redeliver', 'dev-failed'), 0);
});

test('a closed driver refuses attempts (typed) and reports nobody reachable; methods it does not offer are refused', async (t) => {
  const w = await createWorld(t);
  await w.addDevice('dev-a', { noUpdater: true });
  const request = { endpoint: 'dev-a', campaignId: 'manual', attempt: 1, firmware: { id: w.img2.id, version: '2.0.0', model: 'TH-1' }, packageKind: 'full' as const, fromVersion: '1.0.0' };
  assert.equal(await w.driver.canDeliver('dev-a'), true, 'registered, with a live DTLS session');
  assert.equal(await w.driver.canDeliver('nobody'), false);
  assert.deepEqual(w.driver.methods, ['lwm2m-pull']);
  assert.equal(w.driver.supports(null), true);
  assert.equal(w.driver.supports('lwm2m-push'), false);
  await assert.rejects(w.driver.startUpdate({ ...request, delivery: 'lwm2m-push' }), { code: 'ERR_FOTA_DELIVERY_UNSUPPORTED' });
  await assert.rejects(w.driver.startUpdate({ ...request, delivery: 'https-pull' }), { code: 'ERR_FOTA_DELIVERY_UNSUPPORTED' });
  await w.driver.close();
  await w.driver.close();
  await assert.rejects(w.driver.startUpdate(request), { code: 'ERR_FOTA_DRIVER_CLOSED' });
  assert.equal(await w.driver.canDeliver('dev-a'), false);
  assert.equal(w.driver.inFlight, 0);
});

test('https pull after a driver restart: the adopted attempt grants the device\'s key again; every end revokes it', async (t) => {
  const w = await createWorld(t, { delivery: 'https-pull', httpsKeyCache: true });
  const cache = w.pskCache!;
  const d = await w.addDevice('dev-hk', { noUpdater: true });
  await w.engine.create({ id: 'c', name: 'c', firmwareId: w.img2.id, target: { endpoints: ['dev-hk'] }, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c', op);
  await w.engine.tick();
  assert.match((d.client.tree.get(5, 0, 1) as { value: string }).value, /^https:\/\//);
  assert.equal(cache.size, 1, 'granted while the attempt is open');
  assert.ok(cache.lookup('dev-hk-psk') !== undefined);
  await w.restartDriver();
  assert.equal(cache.size, 0, 'the closed driver revoked it');
  attachFirmwareUpdater(d.client, { bank: d.bank, trustedKeys: [w.firmware.signingPublicKey], vendor: 'example.com', model: 'TH-1', connection: FAST });
  await d.client.update();
  const rows = await w.runUntilDone('c', ['dev-hk']);
  assert.deepEqual([rows.get('dev-hk')!.status, rows.get('dev-hk')!.attempt], ['succeeded', 1]);
  assert.equal(d.bank.installed.version, '2.0.0');
  assert.equal(await auditCount(w, 'fota.delivery.redeliver', 'dev-hk'), 1);
  assert.equal(cache.size, 0, 'revoked when the attempt ended');
  assert.equal(cache.lookup('dev-hk-psk'), undefined);
});
