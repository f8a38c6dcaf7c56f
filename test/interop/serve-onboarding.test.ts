/**
 * Zero-touch onboarding end to end through the CLI: `rootline factory init|mint` makes a
 * manufacturer and a device, `rootline serve` runs the registrar and the MASA in one process
 * (ports 0, config file trusting that manufacturer), `rootline pledge` takes the device from its
 * IDevID to an LDevID that `openssl verify` accepts against the domain CA, and the registry
 * shows the device owned (RFPRO) with its x509 credential. A pledge of another manufacturer is
 * refused, with an audit record, and leaves nothing in the registry.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../cli/io.js';
import { OnboardingWorld, type AuditView } from '../helpers/onboarding-world.js';
import { requirePeer } from '../helpers/peers.js';
import { request } from '../server/harness.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');

let world: OnboardingWorld | undefined;
let dir: string;
let data: string;
// No ROOTLINE_MASTER_KEY: `factory init` generates <data>/master.key, which serve then reads
// (serve takes the variable from the process environment, not from the CLI's io.env).
const env = {};
let api: string;
let est: string;

before(async () => {
  if (skip !== false) return;
  world = OnboardingWorld.create('serve-onboarding');
  dir = world.dir;
  const factory = await world.initFactory({ data: 'data', masaUrl: 'https://127.0.0.1/masa', manufacturer: 'Acme' });
  data = factory.data;
  await factory.mint('E2E-1', 'Thermo', 'device');
  // Another manufacturer, in its own data directory: nobody told the registrar to trust it.
  const other = await world.initFactory({ data: 'other', masaUrl: 'https://masa.other.example', manufacturer: 'Other' });
  await other.mint('OT-1', 'Gadget', 'rogue');
  // The MASA is turned on by --masa, the rest comes from the config file.
  const serve = world.serveInProcess({ factory });
  api = await serve.listenerUrl('http');
  est = await serve.listenerUrl('est');
});

after(async () => {
  await world?.close();
});

test('serve prints the EST listener and health reports it up', { skip }, async () => {
  assert.match(est, /^https:\/\/127\.0\.0\.1:[0-9]+$/);
  const health = await request(`${api}/api/v1/health`);
  assert.equal(health.status, 200, health.text);
  const listeners = (health.body as { listeners: Record<string, { state: string; url?: string }> }).listeners;
  assert.deepEqual(listeners.est, { state: 'up', port: Number(new URL(est).port), url: est });
});

test('rootline pledge enrolls a minted device: LDevID verifies under the domain CA, device is RFPRO with an x509 credential', { skip }, async () => {
  const out = join(dir, 'enrolled');
  const r = await runCli(['pledge', '--idevid', join(dir, 'device'), '--registrar', est, '--out', out, '--enroll-only', '--json'], { env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
  const result = JSON.parse(r.stdout) as { serialNumber: string; endpoint: string; ldevid: { subject: string }; voucher: { assertion: string } };
  assert.equal(result.serialNumber, 'E2E-1');
  assert.equal(result.endpoint, 'urn:dev:ops:Acme-Thermo-E2E-1');
  assert.equal(statSync(join(out, 'ldevid.key')).mode & 0o777, 0o600);

  const domainCa = join(data, 'onboarding', 'domain-ca.pem');
  const verify = spawnSync('openssl', ['verify', '-CAfile', domainCa, join(out, 'ldevid.pem')], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stderr);
  assert.match(verify.stdout, /ldevid\.pem: OK/);
  // The domain CA the pledge pinned from the voucher is the one serve wrote.
  assert.equal(readFileSync(join(out, 'domain-ca.pem'), 'utf8').trim(), readFileSync(domainCa, 'utf8').trim());

  const device = await request(`${api}/api/v1/devices/${encodeURIComponent(result.endpoint)}`);
  assert.equal(device.status, 200, device.text);
  const view = device.body as { ownershipState: string; credentials: { kind: string; lookup: string }[] };
  assert.equal(view.ownershipState, 'RFPRO');
  assert.deepEqual(view.credentials.map((c) => [c.kind, c.lookup]), [['x509', result.endpoint]]);
  // Bootstrapped towards serve's own CoAPs listener, with no private key in the configuration.
  const bootstrap = await request(`${api}/api/v1/devices/${encodeURIComponent(result.endpoint)}/bootstrap`);
  assert.equal(bootstrap.status, 200, bootstrap.text);
  const server = (bootstrap.body as { servers: { securityMode: string; uri: string; hasClientPrivateKey: boolean }[] }).servers[0]!;
  assert.equal(server.securityMode, 'x509');
  assert.equal(server.hasClientPrivateKey, false);
  assert.match(server.uri, /^coaps:\/\/127\.0\.0\.1:[0-9]+$/);
});

test('a pledge from an unknown manufacturer is refused, audited, and creates nothing', { skip }, async () => {
  const before = await request(`${api}/api/v1/devices`);
  const r = await runCli(['pledge', '--idevid', join(dir, 'rogue'), '--registrar', est, '--out', join(dir, 'rogue-out')], { env, cwd: dir });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /ERR_PLEDGE_PROTOCOL/);
  assert.match(r.stderr, /403/);
  const audit = await request(`${api}/api/v1/audit?action=registrar.voucher.request&limit=1000`);
  const records = (audit.body as { records: AuditView[] }).records;
  const deny = records.find((a) => a.outcome === 'deny' && a.subject === 'OT-1');
  assert.ok(deny !== undefined, JSON.stringify(records));
  const after = await request(`${api}/api/v1/devices`);
  assert.equal((after.body as { total?: number; devices: unknown[] }).devices.length, (before.body as { devices: unknown[] }).devices.length);
});

test('rootline onboarding pending answers through the API; approve of an unknown serial is a clear 404', { skip }, async () => {
  const list = await runCli(['onboarding', 'pending', '--api', api, '--json'], { env, fetch: globalThis.fetch });
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), { pending: [] });
  const unknown = await runCli(['onboarding', 'approve', 'NOPE-1', '--api', api], { env, fetch: globalThis.fetch });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /ERR_API_PENDING_NOT_FOUND/);
  const bad = await runCli(['onboarding', 'reject', '../x', '--api', api], { env, fetch: globalThis.fetch });
  assert.equal(bad.code, 2);
});
