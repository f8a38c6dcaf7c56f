/**
 * The other two delivery methods through a real `rootline serve` (startServer on ports 0, a temp
 * data dir), each updating SDK devices with A/B slots over DTLS-PSK to 2.0.0:
 * - LwM2M push: the campaign created with the CLI's `--delivery lwm2m-push` (Block1 write of
 *   /5/0/0), on a server whose default stays lwm2m-pull; a campaign asking for https-pull on a
 *   server without the HTTPS package listener is refused (400, field delivery).
 * - HTTPS pull: `--fota-delivery https-pull --fota-https-port 0`, the campaign without a delivery
 *   field (the server's default), one device losing its connection mid-download and resuming
 *   with Range; after the campaign the listener refuses a TLS-PSK handshake of the same device
 *   (no open attempt, its key is no longer held) and audits it.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { connect } from 'node:tls';
import { test, type TestContext } from 'node:test';
import { addServerAccount, attachFirmwareUpdater, createLwm2mClient, SlotBank, type FirmwareFaults, type Lwm2mClient } from '../../src/client/index.js';
import { runCli } from '../cli/io.js';
import { rmSync } from 'node:fs';
import { makeTempDir, request, startTestServer, type TestServer } from '../server/harness.js';
import { stablePort } from '../helpers/stable-port.js';

const FAST = { transmission: { ackTimeoutMs: 300, maxRetransmit: 3 } };
const MODEL = 'FOTA-D';
const VENDOR = 'example.com';

interface Image {
  id: string;
  sequence: number;
}

interface Row {
  endpoint: string;
  status: string;
  attempt: number;
  reportedVersion: string | null;
}

interface Device {
  endpoint: string;
  client: Lwm2mClient;
  bank: SlotBank;
  /** Update (Execute /5/0/2) received: Object 5 State went to 3 Updating. */
  readonly updates: { count: number };
  identity: string;
  key: Buffer;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function images(): { v1: Uint8Array; v2: Uint8Array } {
  const v1 = new Uint8Array(randomBytes(24 * 1024));
  const v2 = new Uint8Array(v1);
  for (let i = 32; i < v2.length; i += 900) v2[i]! ^= 0x33;
  return { v1, v2 };
}

async function upload(url: string, bytes: Uint8Array, version: string): Promise<Image> {
  const res = await fetch(`${url}/api/v1/firmware?model=${MODEL}&version=${version}&vendor=${VENDOR}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text) as Image;
}

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, rounds = 3000): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await probe();
    if (done(v)) return v;
    assert.ok(i < rounds, `${what}: still not reached, last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function setUp(t: TestContext, srv: TestServer, prefix: string, count: number, faults: (i: number) => FirmwareFaults = () => ({})): Promise<{ devices: Device[]; img2: Image; v2: Uint8Array }> {
  const { v1, v2 } = images();
  const img1 = await upload(srv.url, v1, '1.0.0');
  const img2 = await upload(srv.url, v2, '2.0.0');
  const signing = (await request(`${srv.url}/api/v1/firmware/signing-key`)).body as { publicKey: string };
  const trusted = new Uint8Array(createPublicKey(signing.publicKey).export({ type: 'spki', format: 'der' }));
  const devices: Device[] = [];
  for (let i = 0; i < count; i++) {
    const endpoint = `${prefix}-${i}`;
    const key = randomBytes(16);
    const identity = `${endpoint}-id`;
    const created = await request(`${srv.url}/api/v1/devices`, { method: 'POST', body: { endpoint, model: MODEL, firmwareVersion: '1.0.0', credentials: { psk: { identity, key: key.toString('hex') } } } });
    assert.equal(created.status, 201, created.text);
    const client = createLwm2mClient({ endpointName: endpoint, device: { manufacturer: 'ACME', modelNumber: MODEL, serialNumber: endpoint, firmwareVersion: '1.0.0' }, coap: FAST });
    t.after(() => client.close());
    addServerAccount(client.tree, { uri: srv.server.addresses.coaps!.url, security: { mode: 'psk', identity, key: new Uint8Array(key) }, lifetime: 300 });
    const bank = await SlotBank.inMemory(v1, { version: '1.0.0', sequence: img1.sequence }, 64 * 1024);
    attachFirmwareUpdater(client, { bank, vendor: VENDOR, model: MODEL, trustedKeys: [trusted], faults: faults(i), connection: { coap: FAST } });
    await client.start();
    const updates = { count: 0 };
    client.tree.onChange((c) => {
      if (c.path.objectId === 5 && c.path.resourceId === 3 && (client.tree.get(5, 0, 3) as { value: unknown } | undefined)?.value === 3) updates.count++;
    });
    devices.push({ endpoint, client, bank, updates, identity, key });
  }
  return { devices, img2, v2 };
}

async function expectUpdated(srv: TestServer, campaign: string, devices: Device[], v2: Uint8Array, method: string): Promise<void> {
  const api = `${srv.url}/api/v1`;
  const final = await until('campaign completed', async () => (await request(`${api}/campaigns/${campaign}`)).body as { state: string }, (c) => c.state === 'completed' || c.state === 'paused');
  assert.equal(final.state, 'completed', JSON.stringify(final));
  const rows = ((await request(`${api}/campaigns/${campaign}/devices?limit=100`)).body as { devices: Row[] }).devices;
  assert.equal(rows.length, devices.length);
  const starts = await srv.server.store.audit.list({ action: 'fota.delivery.start', limit: 200 });
  for (const d of devices) {
    const r = rows.find((x) => x.endpoint === d.endpoint)!;
    assert.deepEqual([r.status, r.attempt, r.reportedVersion], ['succeeded', 1, '2.0.0'], d.endpoint);
    assert.equal(d.bank.installed.version, '2.0.0');
    assert.equal(sha(await d.bank.activeSlot.read(0, d.bank.installed.size)), sha(v2));
    assert.equal(((await request(`${api}/devices/${d.endpoint}`)).body as { firmwareVersion: string }).firmwareVersion, '2.0.0');
    const mine = starts.filter((a) => a.subject === d.endpoint && a.outcome === 'success');
    assert.deepEqual(mine.map((a) => a.details.method), [method], `${d.endpoint}: delivered once, by ${method}`);
    assert.equal(d.updates.count, 1, `${d.endpoint}: one Update received`);
  }
}

test('serve: a campaign with delivery lwm2m-push (created with the CLI) updates its devices by Block1 writes of /5/0/0', async (t) => {
  const srv = await startTestServer({ start: { deliveryDriver: 'lwm2m-pull', fota: { campaignTickMs: 20 } } });
  t.after(() => srv.close());
  const attach = (await srv.server.store.audit.list({ action: 'fota.driver.attach' }))[0]!;
  assert.deepEqual([attach.details.defaultMethod, attach.details.methods], ['lwm2m-pull', ['lwm2m-pull', 'lwm2m-push']]);
  const { devices, img2, v2 } = await setUp(t, srv, 'push', 3);

  const cli = (args: string[]) => runCli([...args, '--api', srv.url], { fetch: globalThis.fetch });
  const bad = await cli(['campaign', 'create', '--firmware', img2.id, '--delivery', 'carrier-pigeon']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--delivery: expected one of lwm2m-pull, lwm2m-push, https-pull/);
  // No HTTPS package listener on this server: a campaign cannot ask for it.
  const refused = await request(`${srv.url}/api/v1/campaigns`, { method: 'POST', body: { name: 'x', firmwareId: img2.id, target: { model: MODEL }, delivery: 'https-pull' } });
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /ERR_API_CAMPAIGN_INVALID/);
  assert.match(refused.text, /delivery/);

  const created = await cli(['campaign', 'create', '--firmware', img2.id, '--id', 'push-1', '--delivery', 'lwm2m-push', '--max-in-flight', '3', '--json']);
  assert.equal(created.code, 0, created.stderr);
  assert.equal((JSON.parse(created.stdout) as { spec: { delivery: string } }).spec.delivery, 'lwm2m-push');
  const started = await request(`${srv.url}/api/v1/campaigns/push-1/start`, { method: 'POST' });
  assert.equal(started.status, 200, started.text);
  await expectUpdated(srv, 'push-1', devices, v2, 'lwm2m-push');
  for (const d of devices) assert.equal((d.client.tree.get(5, 0, 1) as { value: string } | undefined)?.value ?? '', '', `${d.endpoint}: no Package URI was written`);
});

test('serve: --fota-delivery https-pull updates devices over the TLS-PSK package listener, resuming a dropped download with Range', async (t) => {
  const srv = await startTestServer({ flags: { fotaDelivery: 'https-pull', fotaHttpsPort: '0' }, start: { deliveryDriver: 'lwm2m-pull', fota: { campaignTickMs: 20 } } });
  t.after(() => srv.close());
  const attach = (await srv.server.store.audit.list({ action: 'fota.driver.attach' }))[0]!;
  assert.equal(attach.details.defaultMethod, 'https-pull');
  const port = attach.details.httpsPort as number;
  assert.ok(Number.isInteger(port) && port > 0);
  assert.equal(attach.details.httpsBaseUri, `https://127.0.0.1:${port}`);
  assert.match(srv.logs(), new RegExp(`HTTPS package listener on port ${port}`));
  // Device 1 loses its connection at the start of block 8 (8 KiB in) and resumes.
  const { devices, img2, v2 } = await setUp(t, srv, 'https', 3, (i) => (i === 1 ? { connectionLossAtBlock: 8 } : {}));

  // Before any attempt the listener holds no key: even a valid device PSK cannot connect.
  await assert.rejects(tlsPsk(port, devices[0]!), 'no open attempt: handshake refused');

  const created = await request(`${srv.url}/api/v1/campaigns`, { method: 'POST', body: { id: 'https-1', name: 'https', firmwareId: img2.id, target: { model: MODEL }, maxInFlight: 3, packagePolicy: 'full' } });
  assert.equal(created.status, 201, created.text);
  assert.equal((created.body as { spec: { delivery: unknown } }).spec.delivery, null, 'the server default applies');
  assert.equal((await request(`${srv.url}/api/v1/campaigns/https-1/start`, { method: 'POST' })).status, 200);
  await expectUpdated(srv, 'https-1', devices, v2, 'https-pull');
  for (const d of devices) assert.match((d.client.tree.get(5, 0, 1) as { value: string }).value, new RegExp(`^https://127\\.0\\.0\\.1:${port}/fw/[A-Za-z0-9_-]{24}$`));

  // The attempts are over: their keys are gone from the listener again, and refusals are audited.
  await assert.rejects(tlsPsk(port, devices[2]!));
  const refusals = await until('handshake refusals audited', () => srv.server.store.audit.list({ action: 'fota.https.handshake', limit: 50 }), (rows) => rows.filter((r) => r.subject === devices[2]!.identity).length >= 1);
  assert.ok(refusals.every((r) => r.outcome === 'deny'));
  assert.ok(!JSON.stringify(refusals).includes(devices[2]!.key.toString('hex')), 'no key in the audit log');
});

test('serve restarted in the middle of an HTTPS-pull campaign: the keys come back with the adopted attempts, nobody is updated twice', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const start = { deliveryDriver: 'lwm2m-pull' as const, fota: { campaignTickMs: 20 } };
  // Restarted on the same ports: ones the devices' reconnecting sockets cannot be handed meanwhile.
  const first = await startTestServer({ dir, flags: { coapsPort: String(await stablePort()), fotaDelivery: 'https-pull', fotaHttpsPort: String(await stablePort()) }, start });
  let firstOpen = true;
  t.after(async () => {
    if (firstOpen) await first.close({ keepDir: true });
  });
  const coapsPort = first.server.addresses.coaps!.port;
  const httpsPort = (await first.server.store.audit.list({ action: 'fota.driver.attach' }))[0]!.details.httpsPort as number;
  const { devices, img2, v2 } = await setUp(t, first, 'https-restart', 6);
  const created = await request(`${first.url}/api/v1/campaigns`, {
    method: 'POST',
    body: { id: 'https-restart', name: 'restart', firmwareId: img2.id, target: { model: MODEL }, waves: ['50%', 'all'], successThreshold: 50, errorThreshold: 50, maxInFlight: 2, retry: { maxAttempts: 3, backoffMs: 100 }, attemptTimeoutMs: 3_600_000 },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal((await request(`${first.url}/api/v1/campaigns/https-restart/start`, { method: 'POST' })).status, 200);
  const rowsOf = async (url: string): Promise<Row[]> => ((await request(`${url}/api/v1/campaigns/https-restart/devices?limit=100`)).body as { devices: Row[] }).devices;
  await until('two devices updated', () => rowsOf(first.url), (rows) => rows.filter((r) => r.status === 'succeeded').length >= 2);
  firstOpen = false;
  await first.close({ keepDir: true });

  const second = await startTestServer({ dir, flags: { coapsPort: String(coapsPort), fotaDelivery: 'https-pull', fotaHttpsPort: String(httpsPort) }, start });
  t.after(() => second.close({ keepDir: true }));
  for (const d of devices) await (d.client.registered ? d.client.update() : d.client.start()).catch(() => undefined);
  await expectCompleted(second, 'https-restart', devices, v2);
});

/** The campaign completed across a restart: every device on 2.0.0, at most one retry, one Update each, no timeout. */
async function expectCompleted(srv: TestServer, campaign: string, devices: Device[], v2: Uint8Array): Promise<void> {
  const api = `${srv.url}/api/v1`;
  const final = await until('campaign completed after the restart', async () => (await request(`${api}/campaigns/${campaign}`)).body as { state: string }, (c) => c.state === 'completed' || c.state === 'paused');
  assert.equal(final.state, 'completed', JSON.stringify(final));
  const rows = ((await request(`${api}/campaigns/${campaign}/devices?limit=100`)).body as { devices: Row[] }).devices;
  const executed = await srv.server.store.audit.list({ action: 'fota.delivery.update', limit: 200 });
  for (const d of devices) {
    const r = rows.find((x) => x.endpoint === d.endpoint)!;
    const timeline = (await srv.server.store.campaigns.listEvents(campaign, { endpoint: d.endpoint })).map((e) => `${e.type} ${JSON.stringify(e.details)}`).join('\n');
    assert.ok(r.status === 'succeeded' && r.attempt <= 2, `${d.endpoint}: ${JSON.stringify(r)}\n${timeline}`);
    assert.ok(!timeline.includes('"reason":"timeout"'), `${d.endpoint} waited for a timeout:\n${timeline}`);
    // Installed once (one Update received); the write-ahead audit may hold two records for it.
    assert.equal(d.updates.count, 1, `${d.endpoint}: updated once\n${timeline}`);
    const records = executed.filter((a) => a.subject === d.endpoint && a.outcome === 'success').length;
    assert.ok(records >= 1 && records <= 2, `${d.endpoint}: ${records} Update records\n${timeline}`);
    assert.equal(d.bank.installed.version, '2.0.0');
    assert.equal(sha(await d.bank.activeSlot.read(0, d.bank.installed.size)), sha(v2));
  }
}

/** A bare TLS-PSK handshake with a device's credential; resolves when it completes. */
function tlsPsk(port: number, d: Device): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ciphers: 'PSK-AES128-GCM-SHA256',
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      pskCallback: () => ({ identity: d.identity, psk: d.key }),
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}
