/**
 * The simulator onboards a fleet with zero touch against a real `rootline serve` (issue 6): each
 * device from its factory IDevID through voucher, EST, LwM2M bootstrap and registration, with
 * bounded concurrency; a device of an untrusted manufacturer fails with its code and does not
 * stop the others. Also through the CLI (`rootline sim --onboard`), which de-registers at the end,
 * and over CoAPs (the registrar's CoAPs listener, onboarding.coapsPort: COSE voucher, EST-coaps,
 * the bootstrap-server question on the LDevID enrollstatus session), where every device ends RFNOP.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { listIdevidDirs, OnboardFleet } from '../../src/sim/onboard.js';
import { runCli } from '../cli/io.js';
import { request } from '../server/harness.js';

let dir: string;
let data: string;
const env = {};
let stdout = '';
let stderr = '';
const shutdown = new AbortController();
let serving: Promise<number> | undefined;
let api: string;
let est: string;
let registrar: string;

async function listenerUrl(name: string): Promise<string> {
  for (;;) {
    const m = new RegExp(`^rootline: ${name} listening on (\\S+)$`, 'm').exec(stdout);
    if (m !== null) return m[1]!;
    if (serving !== undefined && (await Promise.race([serving, new Promise((r) => setTimeout(() => r('wait'), 50))])) !== 'wait') throw new Error(`serve ended before ${name} listened: ${stderr}`);
  }
}

async function mint(serials: string[], into: string): Promise<void> {
  mkdirSync(join(dir, into), { recursive: true });
  for (const serial of serials) {
    const r = await runCli(['factory', 'mint', '--data', data, '--serial', serial, '--model', 'Sim', '--out', join(into, serial)], { env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rootline-sim-onboard-'));
  data = join(dir, 'data');
  assert.equal((await runCli(['factory', 'init', '--data', data, '--masa-url', 'https://127.0.0.1/masa', '--manufacturer', 'Acme'], { env, cwd: dir })).code, 0);
  await mint(['SIM-1', 'SIM-2', 'SIM-3', 'SIM-4'], 'fleet');
  await mint(['CLI-1', 'CLI-2'], 'cli-fleet');
  await mint(['CS-1', 'CS-2', 'CS-3'], 'coaps-fleet');
  // One device of a manufacturer nobody trusts, in the same fleet directory.
  const other = join(dir, 'other');
  assert.equal((await runCli(['factory', 'init', '--data', other, '--masa-url', 'https://masa.other.example', '--manufacturer', 'Other'], { env, cwd: dir })).code, 0);
  assert.equal((await runCli(['factory', 'mint', '--data', other, '--serial', 'ROGUE-1', '--model', 'Sim', '--out', join('fleet', 'ROGUE-1')], { env, cwd: dir })).code, 0);
  assert.equal((await runCli(['factory', 'mint', '--data', other, '--serial', 'ROGUE-2', '--model', 'Sim', '--out', join('coaps-fleet', 'ROGUE-2')], { env, cwd: dir })).code, 0);
  const config = join(dir, 'rootline.json');
  writeFileSync(config, JSON.stringify({ onboarding: { approval: 'automatic', manufacturers: [{ caFile: 'data/factory/manufacturer-ca.pem' }], coapsPort: 0 } }));
  serving = main(['serve', '--config', config, '--masa', '--data', data, '--http-port', '0', '--coap-port', '0', '--coaps-port', '0', '--est-port', '0', '--device-host', '127.0.0.1', '--log-level', 'error'], {
    env,
    cwd: dir,
    fetch: globalThis.fetch,
    shutdown: shutdown.signal,
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  api = await listenerUrl('http');
  est = await listenerUrl('est');
  registrar = await listenerUrl('brski-coaps');
});

after(async () => {
  shutdown.abort();
  if (serving !== undefined) assert.equal(await serving, 0, stderr);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('OnboardFleet onboards every trusted device end to end; the untrusted one fails with its code', async () => {
  const dirs = listIdevidDirs(join(dir, 'fleet'));
  assert.deepEqual(dirs.map((d) => d.split('/').pop()), ['ROGUE-1', 'SIM-1', 'SIM-2', 'SIM-3', 'SIM-4']);
  const fleet = new OnboardFleet({ registrarUrl: est, idevidDirs: dirs, concurrency: 2, client: { dtlsRetransmit: { initialMs: 1000, maxMs: 8000, maxRetransmissions: 6 } } });
  const onboarded: string[] = [];
  fleet.on('onboarded', (o) => onboarded.push(o.endpoint));
  let summary;
  try {
    summary = await fleet.start();
    assert.equal(summary.devices, 5);
    assert.equal(summary.onboarded, 4, JSON.stringify(summary));
    assert.equal(summary.failed, 1);
    assert.deepEqual(Object.keys(summary.failedByReason), ['ERR_PLEDGE_PROTOCOL']);
    assert.equal(summary.latencyMs.count, 4);
    assert.ok(summary.latencyMs.p50 > 0 && summary.latencyMs.p95 >= summary.latencyMs.p50);
    assert.equal(summary.stepMs.bootstrap.count, 4);
    assert.equal(summary.stepMs.register.count, 4);
    assert.ok(summary.perMinute > 0);
    assert.deepEqual(onboarded.sort(), ['SIM-1', 'SIM-2', 'SIM-3', 'SIM-4'].map((s) => `urn:dev:ops:Acme-Sim-${s}`));
    assert.equal(fleet.clients.length, 4);
    assert.ok(fleet.clients.every((c) => c.registered));
    for (const endpoint of onboarded) {
      const view = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}`);
      assert.equal((view.body as { registered?: boolean }).registered, true, view.text);
    }
    // The server reaches a simulated device through its LDevID session.
    const read = await request(`${api}/api/v1/devices/${encodeURIComponent(onboarded[0]!)}/objects/3/0/2`);
    assert.equal(read.status, 200, read.text);
    assert.match(read.text, /SIM-/);
  } finally {
    assert.equal(await fleet.stop({ deregister: true }), summary?.onboarded ?? 0);
  }
  const view = await request(`${api}/api/v1/devices/${encodeURIComponent(onboarded[0]!)}`);
  assert.equal((view.body as { registered?: boolean }).registered, false);
});

test('rootline sim --onboard onboards the directory, prints a JSON summary and de-registers', async () => {
  const r = await runCli(['sim', '--onboard', '--idevid-dir', 'cli-fleet', '--registrar', est, '--concurrency', '2', '--duration', '0', '--json'], { env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { devices: number; onboarded: number; failed: number; deregistered: number; latencyMs: { count: number } };
  assert.deepEqual([s.devices, s.onboarded, s.failed, s.deregistered, s.latencyMs.count], [2, 2, 0, 2, 2]);
  assert.match(r.stderr, /onboarded 2/);
  assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
});

test('argument checks: CLI usage errors exit 2, the API throws ERR_INVALID_ARGUMENT', async () => {
  for (const args of [
    ['sim', '--onboard', '--registrar', est],
    ['sim', '--onboard', '--idevid-dir', 'cli-fleet'],
    ['sim', '--onboard', '--idevid-dir', 'cli-fleet', '--registrar', 'http://127.0.0.1:1'],
    ['sim', '--onboard', '--idevid-dir', 'cli-fleet', '--registrar', est, '--devices', '3'],
    ['sim', '--onboard', '--idevid-dir', 'cli-fleet', '--registrar', est, '--concurrency', '0'],
    ['sim', '--onboard', '--idevid-dir', 'no-such-dir', '--registrar', est],
  ]) {
    const r = await runCli(args, { env, cwd: dir });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  assert.throws(() => new OnboardFleet({ registrarUrl: est, idevidDirs: [] }), InvalidArgumentError);
  assert.throws(() => new OnboardFleet({ registrarUrl: 'http://x', idevidDirs: ['a'] }), InvalidArgumentError);
  assert.throws(() => new OnboardFleet({ registrarUrl: est, idevidDirs: ['a'], concurrency: 1.5 }), InvalidArgumentError);
  assert.throws(() => listIdevidDirs(join(dir, 'nope')), InvalidArgumentError);
});

test('OnboardFleet onboards every trusted device over coaps:// end to end; the untrusted one fails with its code', async () => {
  assert.match(registrar, /^coaps:\/\//);
  const dirs = listIdevidDirs(join(dir, 'coaps-fleet'));
  const fleet = new OnboardFleet({ registrarUrl: registrar, idevidDirs: dirs, concurrency: 2, client: { dtlsRetransmit: { initialMs: 1000, maxMs: 8000, maxRetransmissions: 6 } } });
  const onboarded: string[] = [];
  fleet.on('onboarded', (o) => onboarded.push(o.endpoint));
  let summary;
  try {
    summary = await fleet.start();
    assert.equal(summary.devices, 4);
    assert.equal(summary.onboarded, 3, JSON.stringify(summary));
    assert.equal(summary.failed, 1);
    assert.deepEqual(Object.keys(summary.failedByReason), ['ERR_PLEDGE_PROTOCOL']);
    assert.equal(summary.stepMs.bootstrap.count, 3);
    assert.equal(summary.stepMs.register.count, 3);
    assert.deepEqual(onboarded.sort(), ['CS-1', 'CS-2', 'CS-3'].map((s) => `urn:dev:ops:Acme-Sim-${s}`));
    assert.ok(fleet.clients.every((c) => c.registered));
    for (const endpoint of onboarded) {
      const view = await request(`${api}/api/v1/devices/${encodeURIComponent(endpoint)}`);
      assert.equal((view.body as { registered?: boolean }).registered, true, view.text);
      assert.equal((view.body as { ownershipState?: string }).ownershipState, 'RFNOP', view.text);
    }
    const read = await request(`${api}/api/v1/devices/${encodeURIComponent(onboarded[0]!)}/objects/3/0/2`);
    assert.equal(read.status, 200, read.text);
    assert.match(read.text, /CS-/);
  } finally {
    assert.equal(await fleet.stop({ deregister: true }), summary?.onboarded ?? 0);
  }
});
