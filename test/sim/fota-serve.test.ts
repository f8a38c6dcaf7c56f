/**
 * The fleet simulator's firmware updaters against a real server (startServer, what `rootline
 * serve` runs, with its LwM2M pull delivery driver): twelve devices, one of each fault kind,
 * a one-wave campaign. Healthy devices and the one whose link drops run the new image (the
 * latter after resuming on a new connection); each other faulty device is failed with the
 * Update Result its fault gives; slots share the pooled image buffers afterwards.
 */
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Fleet, FAULT_RESULT, generateCredentials, provisionCredentials } from '../../src/sim/index.js';
import { request, startTestServer } from '../server/harness.js';

const MODEL = 'SIM-FW';
const VENDOR = 'sim.example';

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, rounds = 2400): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await probe();
    if (done(v)) return v;
    assert.ok(i < rounds, `${what}: still not reached, last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('sim fleet with firmware: a campaign through serve updates the healthy devices, each injected fault ends in its result code', async (t) => {
  const srv = await startTestServer({ start: { deliveryDriver: 'lwm2m-pull', fota: { campaignTickMs: 20 } } });
  t.after(() => srv.close());
  const api = `${srv.url}/api/v1`;
  const v1 = new Uint8Array(randomBytes(24 * 1024));
  const v2 = Uint8Array.from(v1);
  for (let i = 100; i < v2.length; i += 2000) v2[i]! ^= 0xa5;
  // New code too: the delta spans several blocks, so the link-loss fault (before block 1) bites.
  v2.set(randomBytes(4096), 8000);
  const up = async (bytes: Uint8Array, version: string): Promise<{ id: string; sequence: number }> => {
    const res = await fetch(`${api}/firmware?model=${MODEL}&version=${version}&vendor=${VENDOR}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal(res.status, 201);
    return (await res.json()) as { id: string; sequence: number };
  };
  const img1 = await up(v1, '1.0.0');
  const img2 = await up(v2, '2.0.0');
  const pem = ((await request(`${api}/firmware/signing-key`)).body as { publicKey: string }).publicKey;
  const trusted = new Uint8Array(createPublicKey(pem).export({ type: 'spki', format: 'der' }));

  const creds = generateCredentials('simfw', 12);
  await provisionCredentials(creds, { api: srv.url, model: MODEL, firmwareVersion: '1.0.0' });
  const fleet = new Fleet({
    server: srv.server.addresses.coaps!.url,
    credentials: creds,
    model: MODEL,
    firmwareVersion: '1.0.0',
    clockTickMs: 0,
    coap: { ackTimeoutMs: 500, maxRetransmit: 3 },
    firmware: { image: v1, sequence: img1.sequence, vendor: VENDOR, trustedKeys: [trusted], faults: { corrupt: { count: 1 }, signature: { count: 1 }, 'power-loss': { count: 1 }, 'boot-failure': { count: 1 }, 'connection-loss': { count: 1 } }, faultSeed: 'fota-serve' },
  });
  t.after(() => fleet.stop());
  await fleet.start();
  assert.equal(fleet.summary().registered, 12);
  const fw = fleet.firmware!;
  assert.equal(fw.faults.size, 5);

  const created = await request(`${api}/campaigns`, {
    method: 'POST',
    body: { id: 'simfw', name: 'sim fw', firmwareId: img2.id, target: { model: MODEL }, waves: ['all'], successThreshold: 0, errorThreshold: 100, maxInFlight: 12, retry: { maxAttempts: 1 }, attemptTimeoutMs: 60_000 },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal((await request(`${api}/campaigns/simfw/start`, { method: 'POST' })).status, 200);
  const final = await until('campaign over', async () => (await request(`${api}/campaigns/simfw`)).body as { state: string }, (c) => c.state === 'completed' || c.state === 'paused');
  assert.equal(final.state, 'completed', JSON.stringify(final));
  const rows = ((await request(`${api}/campaigns/simfw/devices?limit=100`)).body as { devices: { endpoint: string; status: string; updateResult: number | null; attempt: number }[] }).devices;
  assert.equal(rows.length, 12);

  const byEp = new Map(fw.records().map((r) => [r.endpoint, r]));
  for (const row of rows) {
    const fault = fw.faults.get(row.endpoint);
    const rec = byEp.get(row.endpoint)!;
    const expected = fault === undefined ? 1 : FAULT_RESULT[fault];
    if (expected === 1) {
      assert.equal(row.status, 'succeeded', `${row.endpoint} (${fault ?? 'healthy'}): ${JSON.stringify(row)}`);
      assert.equal(rec.version, '2.0.0');
      assert.equal(rec.result, 1);
      // The device's own timeline of the update, in order.
      const tl = rec.timeline!;
      assert.ok(tl.asked! <= tl.downloaded! && tl.downloaded! <= tl.executed! && tl.executed! <= tl.registered!, JSON.stringify(rec));
    } else {
      assert.equal(row.status, 'failed', `${row.endpoint} (${fault}): ${JSON.stringify(row)}`);
      assert.equal(row.updateResult, expected, `${row.endpoint} (${fault})`);
      assert.equal(rec.result, expected);
      assert.equal(rec.version, '1.0.0');
    }
    assert.equal(row.attempt, 1);
    if (fault === 'connection-loss') assert.ok(rec.connections > rec.downloads, `${row.endpoint} resumed: ${JSON.stringify(rec)}`);
  }
  const s = fleet.firmwareSummary()!;
  assert.equal(s.updated, 8, JSON.stringify(s));
  assert.deepEqual(s.failedByResult, { 5: 2, 8: 2 });
  assert.equal(s.resumed, 1);
  // Two images in the pool (1.0.0 and 2.0.0), whatever the number of devices running them.
  assert.equal(s.sharedImages, 2);
  assert.equal(s.sharedImageBytes, v1.length + v2.length);
  const healthy = creds.find((c) => !fw.faults.has(c.endpoint))!.endpoint;
  const read = await request(`${api}/devices/${healthy}/objects/3/0/3?format=text`);
  assert.equal((read.body as { node: { value: string } }).node.value, '2.0.0');
});
