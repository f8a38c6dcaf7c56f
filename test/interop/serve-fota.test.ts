/**
 * Firmware over the air end to end through `rootline serve` (startServer on ports 0, a temp data
 * dir, the LwM2M pull driver it wires): two images uploaded through the API, ten SDK devices with
 * A/B memory slots registered over DTLS-PSK with credentials added through the API (one of them
 * with an injected fault), a two-wave campaign started through the API. At the end every healthy
 * device runs 2.0.0 (its slot, /3/0/3 read through the API, the registry), the faulty one is
 * failed with its Update Result, and the package kind each device got is what the audit says.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { addServerAccount, attachFirmwareUpdater, createLwm2mClient, SlotBank, type FirmwareFaults, type Lwm2mClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/server/config.js';
import { resolvePackageBaseUri } from '../../src/server/fota-driver.js';
import { makeTempDir, request, startTestServer, type TestServer } from '../server/harness.js';
import { stablePort } from '../helpers/stable-port.js';

const FAST = { transmission: { ackTimeoutMs: 300, maxRetransmit: 3 } };
const MODEL = 'FOTA-M';
const VENDOR = 'example.com';

interface Image {
  id: string;
  version: string;
  sequence: number;
  sha256: string;
}

interface CampaignDeviceView {
  endpoint: string;
  wave: number;
  status: string;
  attempt: number;
  updateResult: number | null;
  reportedVersion: string | null;
  packageKind: 'delta' | 'full' | null;
  failure: unknown;
}

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function images(): { v1: Uint8Array; v2: Uint8Array } {
  const v1 = new Uint8Array(randomBytes(40 * 1024));
  const v2 = new Uint8Array(v1);
  // A "fix": scattered byte changes and a few new bytes at the end.
  for (let i = 64; i < v2.length; i += 1500) v2[i]! ^= 0x5a;
  const grown = new Uint8Array(v2.length + 300);
  grown.set(v2);
  grown.set(randomBytes(300), v2.length);
  return { v1, v2: grown };
}

async function upload(url: string, bytes: Uint8Array, version: string): Promise<Image> {
  const res = await fetch(`${url}/api/v1/firmware?model=${MODEL}&version=${version}&vendor=${VENDOR}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text) as Image;
}

/** Polls until `done` holds, in bounded rounds (the runner's timeout is the other guard). */
async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, rounds = 3000): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await probe();
    if (done(v)) return v;
    assert.ok(i < rounds, `${what}: still not reached, last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Device {
  endpoint: string;
  client: Lwm2mClient;
  bank: SlotBank;
  /** Update (Execute /5/0/2) received: Object 5 State went to 3 Updating. */
  readonly updates: { count: number };
}

async function addDevice(t: TestContext, srv: TestServer, endpoint: string, o: { v1: Uint8Array; img1: Image; trusted: Uint8Array; faults?: FirmwareFaults }): Promise<Device> {
  const key = randomBytes(16);
  const created = await request(`${srv.url}/api/v1/devices`, { method: 'POST', body: { endpoint, model: MODEL, firmwareVersion: '1.0.0', credentials: { psk: { identity: `${endpoint}-id`, key: key.toString('hex') } } } });
  assert.equal(created.status, 201, created.text);
  const client = createLwm2mClient({ endpointName: endpoint, device: { manufacturer: 'ACME', modelNumber: MODEL, serialNumber: endpoint, firmwareVersion: '1.0.0' }, coap: FAST });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri: srv.server.addresses.coaps!.url, security: { mode: 'psk', identity: `${endpoint}-id`, key: new Uint8Array(key) }, lifetime: 300 });
  const bank = await SlotBank.inMemory(o.v1, { version: '1.0.0', sequence: o.img1.sequence }, 128 * 1024);
  attachFirmwareUpdater(client, { bank, vendor: VENDOR, model: MODEL, trustedKeys: [o.trusted], faults: o.faults ?? {}, connection: { coap: FAST } });
  await client.start();
  const updates = { count: 0 };
  client.tree.onChange((c) => {
    if (c.path.objectId === 5 && c.path.resourceId === 3 && (client.tree.get(5, 0, 3) as { value: unknown } | undefined)?.value === 3) updates.count++;
  });
  return { endpoint, client, bank, updates };
}

test('serve: a two-wave campaign over LwM2M pull updates ten DTLS-PSK devices; the faulty one fails with its result code', async (t) => {
  const srv = await startTestServer({ start: { deliveryDriver: 'lwm2m-pull', fota: { campaignTickMs: 20 } } });
  t.after(() => srv.close());
  const api = `${srv.url}/api/v1`;
  assert.equal(srv.server.fota.hasDeliveryDriver, true);
  const attach = await srv.server.store.audit.list({ action: 'fota.driver.attach' });
  assert.equal(attach.length, 1);
  assert.equal(attach[0]!.details.packageBaseUri, `coaps://127.0.0.1:${srv.server.addresses.coaps!.port}`);

  const { v1, v2 } = images();
  const img1 = await upload(srv.url, v1, '1.0.0');
  const img2 = await upload(srv.url, v2, '2.0.0');
  assert.ok(img2.sequence > img1.sequence);
  const signing = (await request(`${api}/firmware/signing-key`)).body as { publicKey: string };
  const trusted = new Uint8Array(createPublicKey(signing.publicKey).export({ type: 'spki', format: 'der' }));

  const endpoints = Array.from({ length: 10 }, (_, i) => `fota-serve-${i}`);
  const faulty = endpoints[7]!;
  const devices = new Map<string, Device>();
  for (const ep of endpoints) devices.set(ep, await addDevice(t, srv, ep, { v1, img1, trusted, ...(ep === faulty ? { faults: { wrongSignature: true } } : {}) }));

  const created = await request(`${api}/campaigns`, {
    method: 'POST',
    body: { id: 'fota-serve', name: 'FOTA-M 2.0.0', firmwareId: img2.id, target: { model: MODEL, versionRange: '>=1.0.0 <2.0.0' }, waves: ['50%', 'all'], successThreshold: 50, errorThreshold: 50, maxInFlight: 10, retry: { maxAttempts: 1 } },
  });
  assert.equal(created.status, 201, created.text);
  const started = await request(`${api}/campaigns/fota-serve/start`, { method: 'POST' });
  assert.equal(started.status, 200, started.text);

  const final = await until('campaign completed', async () => (await request(`${api}/campaigns/fota-serve`)).body as { state: string; progress: unknown }, (c) => c.state === 'completed' || c.state === 'paused');
  assert.equal(final.state, 'completed', JSON.stringify(final));

  const rows = ((await request(`${api}/campaigns/fota-serve/devices?limit=100`)).body as { devices: CampaignDeviceView[] }).devices;
  assert.deepEqual(rows.map((r) => r.endpoint).sort(), [...endpoints].sort());
  assert.deepEqual([...new Set(rows.map((r) => r.wave))].sort(), [0, 1], 'two waves');
  assert.equal(rows.filter((r) => r.wave === 0).length, 5, '50 % of ten in the first wave');

  const bad = rows.find((r) => r.endpoint === faulty)!;
  assert.equal(bad.status, 'failed');
  assert.equal(bad.updateResult, 5, 'a manifest altered after signing: integrity check failure');
  assert.equal(bad.attempt, 1, 'maxAttempts 1: never sent twice');
  const badDevice = devices.get(faulty)!;
  assert.equal(badDevice.bank.installed.version, '1.0.0');
  assert.equal(sha(await badDevice.bank.activeSlot.read(0, badDevice.bank.installed.size)), sha(v1));
  assert.equal(((await request(`${api}/devices/${faulty}`)).body as { firmwareVersion: string }).firmwareVersion, '1.0.0');

  const starts = await srv.server.store.audit.list({ action: 'fota.delivery.start', limit: 100 });
  for (const r of rows.filter((x) => x.endpoint !== faulty)) {
    assert.equal(r.status, 'succeeded', `${r.endpoint}: ${JSON.stringify(r)}`);
    assert.equal(r.reportedVersion, '2.0.0');
    assert.equal(r.attempt, 1, `${r.endpoint} updated once`);
    const d = devices.get(r.endpoint)!;
    assert.equal(d.bank.installed.version, '2.0.0');
    assert.equal(sha(await d.bank.activeSlot.read(0, d.bank.installed.size)), sha(v2));
    // Through the API: the device's own /3/0/3 and the registry.
    const read = await request(`${api}/devices/${r.endpoint}/objects/3/0/3?format=text`);
    assert.equal(read.status, 200, read.text);
    assert.equal((read.body as { node: { value: string } }).node.value, '2.0.0');
    assert.equal(((await request(`${api}/devices/${r.endpoint}`)).body as { firmwareVersion: string }).firmwareVersion, '2.0.0');
    // The package kind the view shows is the one the driver delivered.
    const mine = starts.filter((a) => a.subject === r.endpoint && a.outcome === 'success');
    assert.equal(mine.length, 1, `${r.endpoint}: one delivery`);
    assert.equal(mine[0]!.details.packageKind, r.packageKind);
  }
  // Deltas are built in the background when the campaign starts; wave 1 starts only after wave 0
  // devices rebooted and reported, so by then the small delta is in the cache.
  assert.notEqual(await srv.server.fota.deltas.get(img2.id, '1.0.0'), undefined, 'the delta from 1.0.0 was built');
  const second = rows.filter((r) => r.wave === 1 && r.endpoint !== faulty);
  assert.ok(second.length > 0);
  for (const r of second) assert.equal(r.packageKind, 'delta', `${r.endpoint} (second wave) got the delta`);
});

// Restarted mid-campaign (issue 5: "It survives a server restart mid-campaign: nothing lost, no
// device updated twice, waves continue"). What the restart cuts: a device whose download finished
// while no driver listened waits in Downloaded; one that rebooted registers again; the rest were
// downloading. On each device's registration Update (or Register) the new server adopts its
// in-flight attempt and continues it from the device's Object 5; devices that have not talked
// to the new server yet (no DTLS session) are not sent attempts, so none is burnt on them.
test('serve restarted in the middle of a campaign: it carries on on the same data dir, nobody is updated twice', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const start = { deliveryDriver: 'lwm2m-pull' as const, fota: { campaignTickMs: 20 } };
  // Restarted on the same CoAPs port: one the devices' reconnecting sockets cannot be handed meanwhile.
  const first = await startTestServer({ dir, flags: { coapsPort: String(await stablePort()) }, start });
  let firstOpen = true;
  t.after(async () => {
    if (firstOpen) await first.close({ keepDir: true });
  });
  const port = first.server.addresses.coaps!.port;
  const { v1, v2 } = images();
  const img1 = await upload(first.url, v1, '1.0.0');
  const img2 = await upload(first.url, v2, '2.0.0');
  const signing = (await request(`${first.url}/api/v1/firmware/signing-key`)).body as { publicKey: string };
  const trusted = new Uint8Array(createPublicKey(signing.publicKey).export({ type: 'spki', format: 'der' }));
  const endpoints = Array.from({ length: 10 }, (_, i) => `fota-restart-${i}`);
  const devices = new Map<string, Device>();
  for (const ep of endpoints) devices.set(ep, await addDevice(t, first, ep, { v1, img1, trusted }));
  const created = await request(`${first.url}/api/v1/campaigns`, {
    method: 'POST',
    body: { id: 'fota-restart', name: 'restart', firmwareId: img2.id, target: { model: MODEL }, waves: ['50%', 'all'], successThreshold: 50, errorThreshold: 50, maxInFlight: 2, retry: { maxAttempts: 3, backoffMs: 100 }, attemptTimeoutMs: 3_600_000 },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal((await request(`${first.url}/api/v1/campaigns/fota-restart/start`, { method: 'POST' })).status, 200);

  const succeeded = async (url: string): Promise<CampaignDeviceView[]> => ((await request(`${url}/api/v1/campaigns/fota-restart/devices?limit=100`)).body as { devices: CampaignDeviceView[] }).devices;
  const before = await until('three devices updated', () => succeeded(first.url), (rows) => rows.filter((r) => r.status === 'succeeded').length >= 3);
  assert.ok(before.some((r) => r.status !== 'succeeded'), 'stopped in the middle');
  firstOpen = false;
  await first.close({ keepDir: true });

  const second = await startTestServer({ dir, flags: { coapsPort: String(port) }, start });
  t.after(() => second.close({ keepDir: true }));
  // The old DTLS sessions died with the process: each device's next Update (or registration,
  // for one that was rebooting) opens a new one, and the server reaches it again.
  for (const d of devices.values()) await (d.client.registered ? d.client.update() : d.client.start()).catch(() => undefined);

  const final = await until('campaign completed after the restart', async () => (await request(`${second.url}/api/v1/campaigns/fota-restart`)).body as { state: string }, (c) => c.state === 'completed' || c.state === 'paused');
  assert.equal(final.state, 'completed', JSON.stringify(final));
  const rows = await succeeded(second.url);
  // The audit log spans both runs: /5/0/2 (the update itself) executed once per device. An
  // attempt cut by the restart may be delivered again (a refused start at shutdown, or a
  // download finished while no driver listened, which only the attempt timeout recovers), but
  // the device installs and reboots once.
  const executed = await second.server.store.audit.list({ action: 'fota.delivery.update', limit: 100 });
  for (const r of rows) {
    const timeline = async (): Promise<string> =>
      `${JSON.stringify(r)}\n${(await second.server.store.campaigns.listEvents('fota-restart', { endpoint: r.endpoint })).map((e) => `${e.at} ${e.type} ${JSON.stringify(e.details)}`).join('\n')}`;
    if (r.status !== 'succeeded' || r.attempt > 2) assert.fail(`${r.endpoint}: ${await timeline()}`);
    // The attempt timeout is an hour: nothing here may have waited for it.
    const events = await second.server.store.campaigns.listEvents('fota-restart', { endpoint: r.endpoint });
    assert.ok(!events.some((e) => e.details.reason === 'timeout'), `${r.endpoint} recovered by a timeout: ${await timeline()}`);
    // Installed once: the device received one Update. The audit records the Update before it is
    // sent, so an Update cut by the shutdown before it left can be recorded twice for one install.
    assert.equal(devices.get(r.endpoint)!.updates.count, 1, `${r.endpoint}: updated once; ${await timeline()}`);
    const records = executed.filter((a) => a.subject === r.endpoint && a.outcome === 'success').length;
    assert.ok(records >= 1 && records <= 2, `${r.endpoint}: ${records} Update records; ${await timeline()}`);
    const d = devices.get(r.endpoint)!;
    assert.equal(d.bank.installed.sequence, img2.sequence);
    assert.equal(d.bank.installed.version, '2.0.0');
    assert.equal(sha(await d.bank.activeSlot.read(0, d.bank.installed.size)), sha(v2));
    assert.equal(((await request(`${second.url}/api/v1/devices/${r.endpoint}`)).body as { firmwareVersion: string }).firmwareVersion, '2.0.0');
  }
  assert.equal(rows.length, 10);
});

test('packageBaseUri: configured, else the CoAPs address, loopback for a wildcard bind; validated', () => {
  assert.deepEqual(resolvePackageBaseUri({ deviceHost: '0.0.0.0' }, { port: 5684 }), { uri: 'coaps://127.0.0.1:5684', source: 'loopback-fallback' });
  assert.deepEqual(resolvePackageBaseUri({ deviceHost: '::' }, { port: 9 }), { uri: 'coaps://127.0.0.1:9', source: 'loopback-fallback' });
  assert.deepEqual(resolvePackageBaseUri({ deviceHost: '192.0.2.7' }, { port: 5684 }), { uri: 'coaps://192.0.2.7:5684', source: 'listener' });
  assert.deepEqual(resolvePackageBaseUri({ deviceHost: 'fd00::1' }, { port: 5684 }), { uri: 'coaps://[fd00::1]:5684', source: 'listener' });
  assert.deepEqual(resolvePackageBaseUri({ deviceHost: '0.0.0.0', packageBaseUri: 'coaps://fw.example:5684' }, { port: 1 }), { uri: 'coaps://fw.example:5684', source: 'config' });

  const dir = makeTempDir();
  const load = (env: Record<string, string>, flags: Record<string, string> = {}): unknown => loadConfig({ env, flags: { dataDir: dir, ...flags } }).config.packageBaseUri;
  assert.equal(load({}), undefined);
  assert.equal(load({ ROOTLINE_PACKAGE_BASE_URI: 'coaps://fw.example.com:5684/' }), 'coaps://fw.example.com:5684');
  assert.equal(load({}, { packageBaseUri: 'coaps://[2001:db8::1]:5684' }), 'coaps://[2001:db8::1]:5684');
  for (const bad of ['coap://fw.example', 'https://fw.example', 'coaps://0.0.0.0:5684', 'coaps://[::]:5684', 'coaps://fw.example/fw', 'coaps://u:p@fw.example', 'coaps://fw.example?x=1', 'fw.example', '']) {
    assert.throws(() => load({}, { packageBaseUri: bad }), (err: { code?: string; message?: string }) => err.code === 'ERR_CONFIG_INVALID' && /packageBaseUri from flag --package-base-uri/.test(err.message ?? ''), bad);
  }
});
