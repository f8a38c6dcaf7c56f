/** LwM2M push delivery: the package written to /5/0/0 (Block1), then the same Object 5 handling as pull. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { createWorld } from './harness.js';

const op = { actor: 'operator:test' };

test('push: a delta and a tampered delta through a campaign; /fw is not served by a push driver', async (t) => {
  const w = await createWorld(t, { delivery: 'push' });
  await w.deltas.prepare(w.img2.id, ['1.0.0']);
  const good = await w.addDevice('dev-push-ok');
  const bad = await w.addDevice('dev-push-bad', { faults: { corruptDownload: true } });
  await w.engine.create({ id: 'c-push', name: 'push', firmwareId: w.img2.id, target: { model: 'TH-1' }, waves: ['all'], errorThreshold: 100, maxInFlight: 10, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c-push', op);
  const rows = await w.runUntilDone('c-push', ['dev-push-ok', 'dev-push-bad']);
  assert.equal(rows.get('dev-push-ok')!.status, 'succeeded');
  assert.equal(rows.get('dev-push-ok')!.packageKind, 'delta');
  assert.equal(rows.get('dev-push-ok')!.reportedVersion, '2.0.0');
  const image = await good.bank.activeSlot.read(0, good.bank.installed.size);
  assert.equal(createHash('sha256').update(image).digest('hex'), w.img2.sha256);
  assert.equal(rows.get('dev-push-bad')!.status, 'failed');
  assert.equal(rows.get('dev-push-bad')!.updateResult, 5);
  assert.equal(bad.bank.installed.version, '1.0.0');
  // Nothing was written to /5/0/1 by a push driver.
  assert.equal((good.client.tree.get(5, 0, 1) as { value: unknown }).value, '');
  const starts = await w.store.audit.list({ action: 'fota.delivery.start' });
  assert.ok(starts.every((a) => a.details.method === 'lwm2m-push'));
});
