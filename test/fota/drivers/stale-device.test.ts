/**
 * A device still busy with an earlier package refuses a new Package URI (4.05): e.g. it was
 * mid-download when serve was killed and keeps counting itself Downloading from the dead
 * server. The driver then resets its Firmware Update state machine (Appendix E.6, an empty
 * Package URI), audits it and offers the package again, so the attempt is not lost to a refusal.
 * A device that is installing (Updating) is never reset: the refusal stands.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWorld } from './harness.js';

const op = { actor: 'operator:test' };

test('a device Downloading an earlier package is reset (audited) and updated by the new attempt', async (t) => {
  const w = await createWorld(t);
  const d = await w.addDevice('dev-stale');
  // The device believes it is still downloading something (an earlier attempt, a dead server).
  d.client.tree.set(5, 0, 3, { type: 'integer', value: 1 });
  await w.engine.create({ id: 'c', name: 'c', firmwareId: w.img2.id, target: { endpoints: ['dev-stale'] }, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c', op);
  const rows = await w.runUntilDone('c', ['dev-stale']);
  assert.deepEqual([rows.get('dev-stale')!.status, rows.get('dev-stale')!.attempt, rows.get('dev-stale')!.reportedVersion], ['succeeded', 1, '2.0.0']);
  assert.equal(d.bank.installed.version, '2.0.0');
  const resets = (await w.store.audit.list({ action: 'fota.delivery.reset' })).filter((a) => a.subject === 'dev-stale');
  assert.equal(resets.length, 1);
  assert.equal(resets[0]!.details.state, 1);
});

test('a device that is installing (Updating) is not reset: the attempt fails on its refusal', async (t) => {
  const w = await createWorld(t);
  const d = await w.addDevice('dev-busy');
  d.client.tree.set(5, 0, 3, { type: 'integer', value: 3 });
  await w.engine.create({ id: 'c', name: 'c', firmwareId: w.img2.id, target: { endpoints: ['dev-busy'] }, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c', op);
  const rows = await w.runUntilDone('c', ['dev-busy']);
  assert.equal(rows.get('dev-busy')!.status, 'failed');
  assert.equal((await w.store.audit.list({ action: 'fota.delivery.reset' })).filter((a) => a.subject === 'dev-busy').length, 0);
  assert.equal((d.client.tree.get(5, 0, 3) as { value: unknown }).value, 3, 'still Updating');
  assert.equal(d.bank.installed.version, '1.0.0');
});

test('a device that already runs the target (installed while nobody listened) is confirmed from /3/0/3, not sent the package again', async (t) => {
  const w = await createWorld(t);
  const d = await w.addDevice('dev-done', { image: w.v2, sequence: w.img2.sequence });
  // It runs 2.0.0 (the harness's bank names every image 1.0.0; /3/0/3 is what the server reads).
  d.client.tree.set(3, 0, 3, { type: 'string', value: '2.0.0' });
  await w.engine.create({ id: 'c', name: 'c', firmwareId: w.img2.id, target: { endpoints: ['dev-done'] }, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c', op);
  const rows = await w.runUntilDone('c', ['dev-done']);
  assert.deepEqual([rows.get('dev-done')!.status, rows.get('dev-done')!.reportedVersion], ['succeeded', '2.0.0']);
  assert.equal((d.client.tree.get(5, 0, 1) as { value: unknown }).value, '', 'no Package URI was written');
  assert.equal((d.client.tree.get(5, 0, 5) as { value: unknown }).value, 0, 'no download, no result on the device');
  const started = (await w.store.audit.list({ action: 'fota.delivery.start' })).filter((a) => a.subject === 'dev-done');
  assert.equal(started.length, 1);
  assert.equal(started[0]!.details.alreadyRunning, '2.0.0');
});
