import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { UpdateRequest } from '../../src/fota/campaign/index.js';
import { parseWaves } from '../../src/cli/commands/campaign.js';
import { request, startTestServer, type TestServer } from '../server/harness.js';
import { runCli } from './io.js';

let t: TestServer;
let firmwareId: string;

function cli(args: string[]) {
  return runCli([...args, '--api', t.url], { fetch: globalThis.fetch });
}

before(async () => {
  t = await startTestServer({ start: { fota: { campaignTickMs: 20 } } });
  const res = await fetch(`${t.url}/api/v1/firmware?model=CC-1&version=2.0.0`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(3000) });
  assert.equal(res.status, 201);
  firmwareId = ((await res.json()) as { id: string }).id;
  for (const ep of ['cc-a', 'cc-b', 'cc-c']) {
    const r = await request(`${t.url}/api/v1/devices`, { method: 'POST', body: { endpoint: ep, model: 'CC-1', firmwareVersion: '1.2.0', tags: ['eu'] } });
    assert.equal(r.status, 201);
  }
});
after(() => t.close());

test('campaign create (all flags) / list / show / approve / cancel; start refused without a driver', async () => {
  const create = await cli([
    'campaign', 'create', '--firmware', firmwareId, '--id', 'cc-one', '--from-version', '>=1.0.0 <2', '--tag', 'eu', '--device', 'cc-a', '--device', 'cc-b',
    '--waves', '1,all', '--success-threshold', '50', '--error-threshold', '10', '--max-in-flight', '5', '--approval', '--full-image', '--json',
  ]);
  assert.equal(create.code, 0, create.stderr);
  const c = JSON.parse(create.stdout) as { id: string; name: string; state: string; spec: Record<string, unknown> };
  assert.equal(c.id, 'cc-one');
  assert.equal(c.name, 'CC-1 2.0.0', 'named after the firmware');
  assert.equal(c.state, 'draft');
  assert.deepEqual(c.spec.target, { model: null, versionRange: '>=1.0.0 <2', tags: ['eu'], endpoints: ['cc-a', 'cc-b'] });
  assert.deepEqual([c.spec.waves, c.spec.successThreshold, c.spec.errorThreshold, c.spec.maxInFlight, c.spec.requiresApproval, c.spec.packagePolicy], [[1, 'all'], 50, 10, 5, true, 'full']);

  const list = await cli(['campaign', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID\s+STATE\s+SUCCEEDED\s+FAILED\s+TOTAL\s+NAME\n/);
  assert.match(list.stdout, /^cc-one\s+draft\s+0\s+0\s+0\s+CC-1 2\.0\.0$/m);
  const listJson = JSON.parse((await cli(['campaign', 'list', '--state', 'draft', '--json'])).stdout) as { campaigns: { id: string }[] };
  assert.deepEqual(listJson.campaigns.map((x) => x.id), ['cc-one']);

  const start = await cli(['campaign', 'start', 'cc-one']);
  assert.equal(start.code, 1);
  assert.match(start.stderr, /no delivery driver .*\(ERR_API_CAMPAIGN_NO_DRIVER, HTTP 409\)/);
  const approve = await cli(['campaign', 'approve', 'cc-one']);
  assert.equal(approve.code, 0, approve.stderr);
  assert.equal(approve.stdout, 'campaign cc-one: approved; devices 0/0 succeeded, 0 failed, 0 in flight\n');
  const show = await cli(['campaign', 'show', 'cc-one']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^state: +approved$/m);
  assert.match(show.stdout, /^waves: +1, all; success 50 %, error 10 %, max in flight 5$/m);
  const cancel = await cli(['campaign', 'cancel', 'cc-one', '--reason', 'not today', '--json']);
  assert.equal(cancel.code, 0, cancel.stderr);
  assert.deepEqual((({ state, stateReason }) => ({ state, stateReason }))(JSON.parse(cancel.stdout) as { state: string; stateReason: string }), { state: 'cancelled', stateReason: 'not today' });
  const resume = await cli(['campaign', 'resume', 'cc-one']);
  assert.equal(resume.code, 1);
  assert.match(resume.stderr, /ERR_API_CAMPAIGN_NO_DRIVER|ERR_API_CAMPAIGN_ILLEGAL_TRANSITION/);
  const missing = await cli(['campaign', 'show', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\(ERR_API_CAMPAIGN_NOT_FOUND, HTTP 404\)/);
});

test('usage mistakes exit 2 before any request; the engine refuses a bad range with exit 1', async () => {
  for (const args of [
    ['campaign', 'create'],
    ['campaign', 'create', '--firmware', firmwareId, '--waves', '10%,,all'],
    ['campaign', 'create', '--firmware', firmwareId, '--waves', 'half'],
    ['campaign', 'create', '--firmware', firmwareId, '--success-threshold', '101'],
    ['campaign', 'create', '--firmware', firmwareId, '--max-in-flight', '0'],
    ['campaign', 'create', '--firmware', firmwareId, '--tag', 'a b'],
    ['campaign', 'create', '--firmware', firmwareId, '--device', 'x/y'],
    ['campaign', 'list', '--state', 'bogus'],
    ['campaign', 'devices', 'cc-one', '--status', 'bogus'],
    ['campaign', 'start'],
    ['campaign', 'pause', 'a b'],
    ['campaign', 'start', 'x', '--reason', 'r'],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /Run 'rootline campaign/);
  }
  const bad = await cli(['campaign', 'create', '--firmware', firmwareId, '--name', 'n', '--from-version', '>>1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /target\.versionRange.*\(ERR_API_CAMPAIGN_INVALID, HTTP 400\)/);
  assert.deepEqual(parseWaves('x', '1%,10.5%,20,all'), ['1%', '10.5%', 20, 'all']);
});

test('with a driver attached: start, devices, pause, resume through the CLI', async () => {
  const sent: UpdateRequest[] = [];
  let notify: (() => void) | undefined;
  t.server.setDeliveryDriver({
    async startUpdate(r) {
      sent.push(r);
      notify?.();
    },
  });
  const create = await cli(['campaign', 'create', '--firmware', firmwareId, '--id', 'cc-two', '--name', 'two', '--json']);
  assert.equal(create.code, 0, create.stderr);
  const start = await cli(['campaign', 'start', 'cc-two']);
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, /^campaign cc-two: running; devices 0\/3 succeeded/);
  await new Promise<void>((resolve) => {
    notify = () => sent.length >= 3 && resolve();
    notify();
  });
  const devices = await cli(['campaign', 'devices', 'cc-two']);
  assert.equal(devices.code, 0, devices.stderr);
  const rows = devices.stdout.trimEnd().split('\n');
  assert.match(rows[0]!, /^ENDPOINT\s+WAVE\s+STATUS\s+ATTEMPT/);
  assert.deepEqual(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 4)).sort(), [['cc-a', '0', 'in-flight', '1'], ['cc-b', '0', 'in-flight', '1'], ['cc-c', '0', 'in-flight', '1']]);
  const inFlightJson = JSON.parse((await cli(['campaign', 'devices', 'cc-two', '--status', 'in-flight', '--limit', '2', '--json'])).stdout) as { devices: unknown[]; next: number };
  assert.equal(inFlightJson.devices.length, 2);
  assert.equal(typeof inFlightJson.next, 'number');

  const pause = await cli(['campaign', 'pause', 'cc-two', '--reason', 'checking']);
  assert.equal(pause.code, 0, pause.stderr);
  assert.match(pause.stdout, /^campaign cc-two: paused \(checking\)/);
  const resume = await cli(['campaign', 'resume', 'cc-two']);
  assert.equal(resume.code, 0, resume.stderr);
  assert.match(resume.stdout, /^campaign cc-two: running/);
  const show = await cli(['campaign', 'show', 'cc-two']);
  assert.match(show.stdout, /^ {2}wave 0: +3 devices, 0 succeeded, 0 failed, 3 in flight, 0 waiting$/m);
});
