/**
 * The LwM2M pull driver with the SDK's Object 5 and the campaign engine, over DTLS-PSK on
 * loopback: updates by delta and by full image proven by /3/0/3, and every refusal the device
 * must make (tampered image, foreign signer, downgrade, wrong delta base), boot-failure
 * rollback, resume after a lost link, and the token bound to its device.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { parseCoapUri } from '../../../src/coap/coap-request.js';
import { CoapCode } from '../../../src/coap/codec.js';
import { attachFirmwareUpdater, connectWithAccount } from '../../../src/client/index.js';
import { lwm2mValue, singleResource } from '../../../src/lwm2m/model/node.js';
import { parsePath } from '../../../src/lwm2m/model/path.js';
import { createWorld, type Device } from './harness.js';

const op = { actor: 'operator:test' };

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function slotImage(d: Device): Promise<Uint8Array> {
  return d.bank.activeSlot.read(0, d.bank.installed.size);
}

function firmwareVersionOf(d: Device): unknown {
  return (d.client.tree.get(3, 0, 3) as { value: unknown }).value;
}

test('delta update: verified, applied into the spare slot, rebooted, /3/0/3 reports 2.0.0', async (t) => {
  const w = await createWorld(t);
  await w.deltas.prepare(w.img2.id, ['1.0.0']);
  const good = await w.addDevice('dev-delta');
  // Runs 1.0.0 per the registry, but its slot holds something else: the delta's base check fails.
  const other = new Uint8Array(w.v1);
  other[5]! ^= 0xff;
  const wrongBase = await w.addDevice('dev-wrong-base', { image: other });
  const powerLoss = await w.addDevice('dev-power', { faults: { powerLossAtByte: 4000 } });
  const corrupt = await w.addDevice('dev-delta-corrupt', { faults: { corruptDownload: true } });
  const lossy = await w.addDevice('dev-delta-lossy', { faults: { connectionLossAtBlock: 0 } });
  await w.engine.create({ id: 'c-delta', name: 'delta', firmwareId: w.img2.id, target: { model: 'TH-1' }, waves: ['all'], errorThreshold: 100, maxInFlight: 10, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c-delta', op);
  const rows = await w.runUntilDone('c-delta', ['dev-delta', 'dev-wrong-base', 'dev-power', 'dev-delta-corrupt', 'dev-delta-lossy']);

  // A flipped byte in the delta stream: the patcher or the digest catches it.
  assert.equal(rows.get('dev-delta-corrupt')!.status, 'failed');
  assert.equal(rows.get('dev-delta-corrupt')!.updateResult, 5);
  assert.equal(sha(await slotImage(corrupt)), sha(w.v1));
  assert.equal(corrupt.bank.spareImage, undefined);
  // The link dropped before the first block: reconnected and fetched it all.
  assert.equal(rows.get('dev-delta-lossy')!.status, 'succeeded');
  assert.equal(sha(await slotImage(lossy)), sha(w.v2));

  const ok = rows.get('dev-delta')!;
  assert.equal(ok.status, 'succeeded');
  assert.equal(ok.packageKind, 'delta');
  assert.equal(ok.reportedVersion, '2.0.0');
  assert.equal(firmwareVersionOf(good), '2.0.0');
  assert.equal(good.bank.installed.version, '2.0.0');
  assert.equal(good.bank.installed.sequence, w.img2.sequence);
  assert.equal(sha(await slotImage(good)), sha(w.v2));
  assert.equal((await w.store.devices.get('dev-delta'))?.firmwareVersion, '2.0.0');

  const wb = rows.get('dev-wrong-base')!;
  assert.equal(wb.status, 'failed');
  assert.equal(wb.updateResult, 5, 'delta for another base: integrity check failure');
  assert.equal(wrongBase.bank.installed.version, '1.0.0');
  assert.equal(sha(await slotImage(wrongBase)), sha(other), 'the running image is untouched');
  assert.equal(wrongBase.bank.spareImage, undefined);
  assert.equal(firmwareVersionOf(wrongBase), '1.0.0');

  const pl = rows.get('dev-power')!;
  assert.equal(pl.status, 'failed');
  assert.equal(pl.updateResult, 8, 'power lost while writing the spare slot: update failed');
  assert.equal(powerLoss.bank.installed.version, '1.0.0');
  assert.equal(sha(await slotImage(powerLoss)), sha(w.v1));

  const audit = await w.store.audit.list({ action: 'fota.delivery.start' });
  assert.ok(audit.some((a) => a.subject === 'dev-delta' && a.outcome === 'success' && a.details.packageKind === 'delta'));
  assert.ok((await w.store.audit.list({ action: 'fota.delivery.update' })).some((a) => a.subject === 'dev-delta' && a.outcome === 'success'));
});

test('full image: success, tampered download, foreign signer, downgrade, boot failure, lost link', async (t) => {
  const w = await createWorld(t);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
  const devices = {
    full: await w.addDevice('dev-full'),
    tampered: await w.addDevice('dev-tampered', { faults: { corruptDownload: true } }),
    badSig: await w.addDevice('dev-bad-sig', { faults: { wrongSignature: true } }),
    foreign: await w.addDevice('dev-foreign', { trustedKeys: [new Uint8Array(other)] }),
    downgrade: await w.addDevice('dev-downgrade', { sequence: w.img2.sequence + 3 }),
    boot: await w.addDevice('dev-boot', { faults: { bootFailure: true } }),
    lossy: await w.addDevice('dev-lossy', { faults: { connectionLossAtBlock: 3 } }),
    // The same lost link without permission to reconnect: "4: Connection lost during downloading process".
    lost: await w.addDevice('dev-lost', { faults: { connectionLossAtBlock: 3 }, maxResumes: 0 }),
  };
  const endpoints = Object.values(devices).map((d) => d.endpoint);
  await w.engine.create({ id: 'c-full', name: 'full', firmwareId: w.img2.id, target: { model: 'TH-1' }, waves: ['all'], errorThreshold: 100, maxInFlight: 10, retry: { maxAttempts: 1 }, packagePolicy: 'full' }, op);
  await w.engine.start('c-full', op);
  const rows = await w.runUntilDone('c-full', endpoints);

  for (const d of [devices.full, devices.lossy]) {
    const row = rows.get(d.endpoint)!;
    assert.equal(row.status, 'succeeded', d.endpoint);
    assert.equal(row.packageKind, 'full');
    assert.equal(row.reportedVersion, '2.0.0');
    assert.equal(firmwareVersionOf(d), '2.0.0');
    assert.equal(sha(await slotImage(d)), sha(w.v2));
  }
  const expected: Array<[Device, number]> = [
    [devices.tampered, 5],
    [devices.badSig, 5],
    [devices.foreign, 5],
    [devices.downgrade, 6],
    [devices.boot, 8],
    [devices.lost, 4],
  ];
  for (const [d, result] of expected) {
    const row = rows.get(d.endpoint)!;
    assert.equal(row.status, 'failed', d.endpoint);
    assert.equal(row.updateResult, result, d.endpoint);
    assert.equal(d.bank.installed.version, '1.0.0', `${d.endpoint} still runs the old image`);
    assert.equal(sha(await slotImage(d)), sha(w.v1), d.endpoint);
    assert.equal(firmwareVersionOf(d), '1.0.0', d.endpoint);
    assert.equal(d.bank.spareImage, undefined, `${d.endpoint}: nothing left armed in the spare slot`);
  }
  // The boot failure got as far as a verified image in the spare slot and rolled back from it.
  assert.ok((await w.store.audit.list({ action: 'fota.delivery.update' })).some((a) => a.subject === 'dev-boot'));
});

test('a package token serves only its own device; unknown tokens are refused; both audited', async (t) => {
  const w = await createWorld(t);
  const a = await w.addDevice('dev-a', { noUpdater: true });
  const b = await w.addDevice('dev-b', { noUpdater: true });
  await w.driver.startUpdate({ endpoint: 'dev-a', campaignId: 'manual', attempt: 1, firmware: { id: w.img2.id, version: '2.0.0', model: 'TH-1' }, packageKind: 'full', fromVersion: '1.0.0' });
  const uri = (a.client.tree.get(5, 0, 1) as { value: string }).value;
  assert.match(uri, /^coaps:\/\/127\.0\.0\.1:\d+\/fw\/[A-Za-z0-9_-]{20,}$/);
  const target = parseCoapUri(uri);

  const fetch = async (d: Device, path: string[]): Promise<number> => {
    const conn = await connectWithAccount(d.client.tree, target, { coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 3 } } });
    try {
      return (await conn.coap.request(conn.peer, { path, block2Szx: 4 })).code;
    } finally {
      await conn.close();
    }
  };
  assert.equal(await fetch(b, target.path), CoapCode.Forbidden);
  assert.equal(await fetch(a, ['fw', 'no-such-token']), CoapCode.NotFound);
  assert.equal(await fetch(a, target.path), CoapCode.Content);
  const denied = await w.store.audit.list({ action: 'fota.package.fetch' });
  assert.ok(denied.some((r) => r.outcome === 'deny' && r.subject === 'dev-a' && r.details.reason === 'token-of-another-device' && r.details.requestedBy === 'dev-b'));
  assert.ok(denied.some((r) => r.outcome === 'deny' && r.details.reason === 'unknown-or-expired-token'));

  // Cancel: an empty Package URI resets the device, and the token stops working.
  await w.driver.cancelUpdate({ endpoint: 'dev-a', campaignId: 'manual', attempt: 1 });
  assert.equal((a.client.tree.get(5, 0, 1) as { value: string }).value, '');
  assert.equal(await fetch(a, target.path), CoapCode.NotFound);
});

test('after a driver restart the device\'s re-registration still proves the update (/3/0/3 → onDeviceVersion)', async (t) => {
  const w = await createWorld(t);
  // No updater: the Package URI is accepted and nothing happens, so the attempt stays in flight.
  const d = await w.addDevice('dev-restart', { noUpdater: true });
  await w.engine.create({ id: 'c-restart', name: 'restart', firmwareId: w.img2.id, target: { endpoints: ['dev-restart'] }, waves: ['all'], maxInFlight: 1, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c-restart', op);
  await w.engine.tick();
  assert.equal((await w.store.campaigns.getDevice('c-restart', 'dev-restart'))?.status, 'in-flight');
  assert.equal(w.driver.inFlight, 1);
  const fresh = await w.restartDriver();
  assert.equal(fresh.inFlight, 0);
  // The device comes back (out of our sight) running 2.0.0 and registers again.
  d.client.tree.set(3, 0, 3, { type: 'string', value: '2.0.0' });
  await d.client.stop();
  await d.client.start();
  const rows = await w.runUntilDone('c-restart', ['dev-restart']);
  assert.equal(rows.get('dev-restart')!.status, 'succeeded');
  assert.equal(rows.get('dev-restart')!.reportedVersion, '2.0.0');
  assert.equal((await w.store.devices.get('dev-restart'))?.firmwareVersion, '2.0.0');
});

test('a download begun before a driver restart is recognised by its token and completes on the new driver', async (t) => {
  const w = await createWorld(t);
  const d = await w.addDevice('dev-resume', { noUpdater: true });
  await w.engine.create({ id: 'c-resume', name: 'resume', firmwareId: w.img2.id, target: { endpoints: ['dev-resume'] }, waves: ['all'], maxInFlight: 1, retry: { maxAttempts: 1 } }, op);
  await w.engine.start('c-resume', op);
  await w.engine.tick();
  const uri = (d.client.tree.get(5, 0, 1) as { value: string }).value;
  assert.match(uri, /\/fw\//);
  await w.restartDriver();
  // The device only now gets to its download, with the token the old driver handed out.
  const updater = attachFirmwareUpdater(d.client, { bank: d.bank, trustedKeys: [w.firmware.signingPublicKey], vendor: 'example.com', model: 'TH-1', connection: { coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 3 } } } });
  d.client.tree.write(parsePath('/5/0/1'), singleResource(1, lwm2mValue.string(uri)), 'server', false);
  const rows = await w.runUntilDone('c-resume', ['dev-resume']);
  await updater.idle();
  assert.equal(rows.get('dev-resume')!.status, 'succeeded');
  assert.equal(d.bank.installed.version, '2.0.0');
  assert.ok((await w.store.audit.list({ action: 'fota.delivery.resume' })).some((a) => a.subject === 'dev-resume' && a.outcome === 'success'));
});
