/**
 * The simulator onboards a fleet over CoAPs (issue 6, constrained path) against a real
 * `rootline serve` with the registrar's CoAPs listener (onboarding.coapsPort): each device from its
 * factory IDevID through the COSE voucher, EST-coaps, the bootstrap-server question on the LDevID
 * enrollstatus session, LwM2M bootstrap and registration. A device of an untrusted manufacturer
 * fails with its code and does not stop the others; every device ends RFNOP.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { main } from '../../src/cli/main.js';
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
let registrar: string;

async function listenerUrl(name: string): Promise<string> {
  for (;;) {
    const m = new RegExp(`^rootline: ${name} listening on (\\S+)$`, 'm').exec(stdout);
    if (m !== null) return m[1]!;
    if (serving !== undefined && (await Promise.race([serving, new Promise((r) => setTimeout(() => r('wait'), 50))])) !== 'wait') throw new Error(`serve ended before ${name} listened: ${stderr}`);
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rootline-sim-onboard-coaps-'));
  data = join(dir, 'data');
  assert.equal((await runCli(['factory', 'init', '--data', data, '--masa-url', 'https://127.0.0.1/masa', '--manufacturer', 'Acme'], { env, cwd: dir })).code, 0);
  mkdirSync(join(dir, 'fleet'), { recursive: true });
  for (const serial of ['CS-1', 'CS-2', 'CS-3']) {
    const r = await runCli(['factory', 'mint', '--data', data, '--serial', serial, '--model', 'Sim', '--out', join('fleet', serial)], { env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
  }
  const other = join(dir, 'other');
  assert.equal((await runCli(['factory', 'init', '--data', other, '--masa-url', 'https://masa.other.example', '--manufacturer', 'Other'], { env, cwd: dir })).code, 0);
  assert.equal((await runCli(['factory', 'mint', '--data', other, '--serial', 'ROGUE-1', '--model', 'Sim', '--out', join('fleet', 'ROGUE-1')], { env, cwd: dir })).code, 0);
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
  registrar = await listenerUrl('brski-coaps');
});

after(async () => {
  shutdown.abort();
  if (serving !== undefined) assert.equal(await serving, 0, stderr);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

test('OnboardFleet onboards every trusted device over coaps:// end to end; the untrusted one fails with its code', async () => {
  assert.match(registrar, /^coaps:\/\//);
  const dirs = listIdevidDirs(join(dir, 'fleet'));
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
