/**
 * `rootline device read|write|exec|observe|bootstrap` and `device add --allow-nosec` against a
 * real `rootline serve` with the device SDK registered over NoSec CoAP (allowed by the attribute
 * the CLI sets) — and refused for a device added without it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addServerAccount, createLwm2mClient, type Lwm2mClient } from '../../src/client/index.js';
import { lwm2mValue as v } from '../../src/lwm2m/model/node.js';
import { makeTempDir, startTestServer, type TestServer } from '../server/harness.js';
import { runCli } from './io.js';

let t: TestServer;
let files: string;
let client: Lwm2mClient;
let now = 1_700_000_000;
let reboots: string[] = [];

function cli(args: string[]) {
  return runCli([...args, '--api', t.url], { fetch: globalThis.fetch });
}

before(async () => {
  t = await startTestServer();
  files = makeTempDir('rootline-cli-lwm2m-');
  const add = await cli(['device', 'add', 'cli-lwm2m-1', '--allow-nosec']);
  assert.equal(add.code, 0, add.stderr);
  client = createLwm2mClient({
    endpointName: 'cli-lwm2m-1',
    device: { manufacturer: 'ACME', modelNumber: 'CLI-1', serialNumber: 'SN-C1', firmwareVersion: '1.0.0', clock: () => now },
    deviceActions: { reboot: () => void reboots.push('reboot') },
  });
  addServerAccount(client.tree, { uri: t.server.addresses.coap!.url, security: { mode: 'nosec' }, lifetime: 300 });
  await client.start();
});
after(async () => {
  await client.close();
  await t.close();
  rmSync(files, { recursive: true, force: true });
});

test('device add --allow-nosec lets the device register over plain CoAP; show reports it', async () => {
  const show = await cli(['device', 'show', 'cli-lwm2m-1']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^registered: +yes \(since .*lifetime 300 s, binding U/m);
  assert.match(show.stdout, /^objects: +.*\/3\/0/m);
  assert.match(show.stdout, /"lwm2mNoSec":true/);

  // Without the attribute the same NoSec Register is refused (4.03) and the device stays unregistered.
  assert.equal((await cli(['device', 'add', 'cli-lwm2m-closed'])).code, 0);
  const closed = createLwm2mClient({ endpointName: 'cli-lwm2m-closed', device: { manufacturer: 'ACME', modelNumber: 'CLI-1', serialNumber: 'SN-C2', firmwareVersion: '1.0.0' } });
  addServerAccount(closed.tree, { uri: t.server.addresses.coap!.url, security: { mode: 'nosec' }, lifetime: 300 });
  try {
    await assert.rejects(closed.start());
  } finally {
    await closed.close();
  }
  const json = JSON.parse((await cli(['device', 'show', 'cli-lwm2m-closed', '--json'])).stdout) as { registered: boolean };
  assert.equal(json.registered, false);
});

test('device read prints path = value lines, --json the API answer; bad arguments exit 2', async () => {
  const r = await cli(['device', 'read', 'cli-lwm2m-1', '/3/0', '--format', 'tlv']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\/3\/0\/0 = "ACME"$/m);
  assert.match(r.stdout, /^\/3\/0\/1 = "CLI-1"$/m);
  const one = await cli(['device', 'read', 'cli-lwm2m-1', '3/0/2', '--format', 'text', '--json']);
  assert.deepEqual(JSON.parse(one.stdout), { endpoint: 'cli-lwm2m-1', path: '/3/0/2', format: 0, node: { kind: 'singleResource', id: 2, type: 'string', value: 'SN-C1' } });

  const badPath = await cli(['device', 'read', 'cli-lwm2m-1', '/3/x']);
  assert.equal(badPath.code, 2);
  assert.match(badPath.stderr, /<path>: expected an LwM2M path/);
  const withTimeout = await cli(['device', 'read', 'cli-lwm2m-1', '/3/0/0', '--format', 'text', '--timeout', '5']);
  assert.equal(withTimeout.stdout, '/3/0/0 = "ACME"\n');
  const badTimeout = await cli(['device', 'read', 'cli-lwm2m-1', '/3/0', '--timeout', '0']);
  assert.equal(badTimeout.code, 2);
  assert.match(badTimeout.stderr, /--timeout: expected an integer 1\.\.86400/);
  const badFormat = await cli(['device', 'read', 'cli-lwm2m-1', '/3/0', '--format', 'xml']);
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /--format: expected one of tlv/);
  const missing = await cli(['device', 'read', 'cli-lwm2m-1', '/3/7']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /ERR_LWM2M_DEVICE_ERROR/);
  const unregistered = await cli(['device', 'read', 'cli-lwm2m-closed', '/3/0']);
  assert.equal(unregistered.code, 1);
  assert.match(unregistered.stderr, /ERR_LWM2M_NOT_REGISTERED/);
});

test('device write: a JSON value, a text value and @file.json with --mode update', async () => {
  assert.equal((await cli(['device', 'write', 'cli-lwm2m-1', '/1/0/1', '900'])).code, 0);
  assert.equal(Number((client.tree.get(1, 0, 1) as { value: number }).value), 900);
  const text = await cli(['device', 'write', 'cli-lwm2m-1', '/3/0/14', '+02:00']);
  assert.equal(text.code, 0, text.stderr);
  assert.equal((client.tree.get(3, 0, 14) as { value: string }).value, '+02:00');
  const file = join(files, 'inst.json');
  writeFileSync(file, JSON.stringify({ resources: { 15: 'Europe/Berlin' } }));
  const upd = await cli(['device', 'write', 'cli-lwm2m-1', '/3/0', `@${file}`, '--mode', 'update']);
  assert.equal(upd.code, 0, upd.stderr);
  assert.equal((client.tree.get(3, 0, 15) as { value: string }).value, 'Europe/Berlin');
  assert.equal((client.tree.get(3, 0, 14) as { value: string }).value, '+02:00', 'a partial update keeps the rest');

  const wrongType = await cli(['device', 'write', 'cli-lwm2m-1', '/1/0/1', 'soon']);
  assert.equal(wrongType.code, 1);
  assert.match(wrongType.stderr, /ERR_LWM2M_BAD_VALUE/);
  const badMode = await cli(['device', 'write', 'cli-lwm2m-1', '/1/0/1', '5', '--mode', 'merge']);
  assert.equal(badMode.code, 2);
  const object = await cli(['device', 'write', 'cli-lwm2m-1', '/3', '{}']);
  assert.equal(object.code, 2, 'a Write addresses an instance or below');
});

test('device exec runs the handler; --args is checked', async () => {
  reboots = [];
  const r = await cli(['device', 'exec', 'cli-lwm2m-1', '/3/0/4']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(reboots, ['reboot']);
  const bad = await cli(['device', 'exec', 'cli-lwm2m-1', '/3/0/4', '--args', 'x=1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--args/);
  const notExecutable = await cli(['device', 'exec', 'cli-lwm2m-1', '/3/0/0']);
  assert.equal(notExecutable.code, 1);
  assert.match(notExecutable.stderr, /4\.05/);
});

test('device observe prints the current value and then notifications, up to --count', async () => {
  const lwm2m = t.server.lwm2m.lwm2m;
  const running = cli(['device', 'observe', 'cli-lwm2m-1', '/3/0/13', '--count', '3', '--json']);
  while (lwm2m.observations('cli-lwm2m-1').length === 0) await new Promise((r) => setImmediate(r));
  // Each device-side change notifies; the next change waits until the server has the last one.
  const start = now;
  for (const dt of [60, 120]) {
    const delivered = new Promise((r) => lwm2m.once('notification', r));
    now = start + dt; // the device's clock drives /3/0/13
    client.tree.set(3, 0, 13, v.time(now));
    await delivered;
  }
  const r = await running;
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { path: string; node: { value: number } });
  assert.deepEqual(lines.map((l) => [l.path, l.node.value]), [['/3/0/13', start], ['/3/0/13', start + 60], ['/3/0/13', start + 120]]);
  assert.deepEqual(t.server.lwm2m.lwm2m.observations('cli-lwm2m-1'), [], 'the observation is cancelled on the way out');
});

test('device bootstrap set seals the key; show never prints it', async () => {
  const cfg = join(files, 'bs.json');
  const key = 'c0ffee00c0ffee00c0ffee00c0ffee00';
  writeFileSync(cfg, JSON.stringify({ servers: [{ shortServerId: 1, uri: 'coaps://127.0.0.1:5684', securityMode: 'psk', pskIdentity: 'cli-lwm2m-1-mgmt', pskKey: key, lifetime: 300 }] }));
  const set = await cli(['device', 'bootstrap', 'set', 'cli-lwm2m-1', '--file', cfg]);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /server 1: coaps:\/\/127\.0\.0\.1:5684 \(psk identity cli-lwm2m-1-mgmt, secret sealed\)/);
  const show = await cli(['device', 'bootstrap', 'show', 'cli-lwm2m-1', '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.doesNotMatch(show.stdout, new RegExp(key, 'i'));
  assert.equal((JSON.parse(show.stdout) as { servers: { hasPskKey: boolean }[] }).servers[0]!.hasPskKey, true);
  const stored = await t.server.store.bootstrapConfigs.get('cli-lwm2m-1');
  assert.doesNotMatch(JSON.stringify(stored), new RegExp(key, 'i'), 'the store holds the sealed key only');

  writeFileSync(cfg, JSON.stringify({ servers: [{ shortServerId: 1, uri: 'coap://127.0.0.1:5683', securityMode: 'psk', pskIdentity: 'x', pskKey: key }] }));
  const refused = await cli(['device', 'bootstrap', 'set', 'cli-lwm2m-1', '--file', cfg]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /ERR_LWM2M_BAD_BOOTSTRAP_CONFIG/);
  assert.equal((await cli(['device', 'bootstrap', 'show', 'cli-lwm2m-closed'])).code, 1);
  assert.equal((await cli(['device', 'bootstrap', 'set', 'cli-lwm2m-1'])).code, 2, 'set needs --file');
});
