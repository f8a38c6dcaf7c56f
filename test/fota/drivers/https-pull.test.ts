/** HTTPS pull over TLS-PSK: the same campaign flow, resume with Range after a dropped connection, tokens bound to the device. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { lwm2mValue, singleResource } from '../../../src/lwm2m/model/node.js';
import { parsePath } from '../../../src/lwm2m/model/path.js';
import { createWorld } from './harness.js';

const op = { actor: 'operator:test' };

test('https pull: delta and full through a campaign, a dropped connection resumed with Range, a lost one reported as 4', async (t) => {
  const w = await createWorld(t, { delivery: 'https-pull' });
  const ok = await w.addDevice('dev-https');
  const lossy = await w.addDevice('dev-https-lossy', { faults: { connectionLossAtBlock: 2 } });
  const lost = await w.addDevice('dev-https-lost', { faults: { connectionLossAtBlock: 2 }, maxResumes: 0 });
  await w.engine.create({ id: 'c-https', name: 'https', firmwareId: w.img2.id, target: { model: 'TH-1' }, waves: ['all'], errorThreshold: 100, maxInFlight: 10, retry: { maxAttempts: 1 }, packagePolicy: 'full' }, op);
  await w.engine.start('c-https', op);
  const rows = await w.runUntilDone('c-https', ['dev-https', 'dev-https-lossy', 'dev-https-lost']);
  for (const d of [ok, lossy]) {
    assert.equal(rows.get(d.endpoint)!.status, 'succeeded', d.endpoint);
    assert.equal(rows.get(d.endpoint)!.reportedVersion, '2.0.0');
    assert.equal(createHash('sha256').update(await d.bank.activeSlot.read(0, d.bank.installed.size)).digest('hex'), w.img2.sha256);
    assert.match((d.client.tree.get(5, 0, 1) as { value: string }).value, /^https:\/\/127\.0\.0\.1:\d+\/fw\//);
  }
  assert.equal(rows.get('dev-https-lost')!.status, 'failed');
  assert.equal(rows.get('dev-https-lost')!.updateResult, 4);
  assert.equal(lost.bank.installed.version, '1.0.0');
  const starts = await w.store.audit.list({ action: 'fota.delivery.start' });
  assert.ok(starts.some((a) => a.subject === 'dev-https' && a.details.method === 'https-pull'));
});

test('https pull: another device\'s token is refused with 403 and audited', async (t) => {
  const w = await createWorld(t, { delivery: 'https-pull' });
  const a = await w.addDevice('dev-ha', { noUpdater: true });
  const b = await w.addDevice('dev-hb');
  await w.driver.startUpdate({ endpoint: 'dev-ha', campaignId: 'manual', attempt: 1, firmware: { id: w.img2.id, version: '2.0.0', model: 'TH-1' }, packageKind: 'full', fromVersion: '1.0.0' });
  const uri = (a.client.tree.get(5, 0, 1) as { value: string }).value;
  // Device B is told A's URI: its own TLS-PSK session names it, so the server refuses.
  b.client.tree.write(parsePath('/5/0/1'), singleResource(1, lwm2mValue.string(uri)), 'server', false);
  await b.updater!.idle();
  assert.deepEqual([(b.client.tree.get(5, 0, 3) as { value: unknown }).value, (b.client.tree.get(5, 0, 5) as { value: unknown }).value], [0, 7]);
  const denied = await w.store.audit.list({ action: 'fota.package.fetch' });
  assert.ok(denied.some((r) => r.outcome === 'deny' && r.subject === 'dev-ha' && r.details.requestedBy === 'dev-hb'));
});
