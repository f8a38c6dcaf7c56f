import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DeliveryDriver, UpdateRequest } from '../../src/fota/campaign/index.js';
import { request, startTestServer, type TestServer } from '../server/harness.js';

let t: TestServer;
let api: string;

function code(body: unknown): string {
  return (body as { error: { code: string } }).error.code;
}

async function uploadFirmware(base: string, model: string, version: string): Promise<string> {
  const res = await fetch(`${base}/firmware?model=${model}&version=${version}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(4096) });
  assert.equal(res.status, 201);
  return ((await res.json()) as { id: string }).id;
}

async function addDevices(base: string, model: string, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await request(`${base}/devices`, { method: 'POST', body: { endpoint: `${prefix}-${i}`, model, firmwareVersion: '1.0.0', tags: ['pilot'] } });
    assert.equal(r.status, 201, r.text);
  }
}

interface CampaignBody {
  id: string;
  state: string;
  stateReason: string | null;
  spec: { waves: unknown[]; requiresApproval: boolean; target: { model: string | null } };
  waves: { wave: number; total: number; pending: number; inFlight: number; succeeded: number }[];
  devices: { total: number; pending: number; inFlight: number; succeeded: number };
}

before(async () => {
  t = await startTestServer();
  api = `${t.url}/api/v1`;
});
after(() => t.close());

test('create, show, list, approve, cancel; start and resume refused without a delivery driver', async () => {
  const fw = await uploadFirmware(api, 'CM-1', '2.0.0');
  await addDevices(api, 'CM-1', 3, 'cm1');

  const created = await request(`${api}/campaigns`, {
    method: 'POST',
    body: { id: 'cm-one', name: 'CM-1 2.0.0', firmwareId: fw, target: { versionRange: '>=1.0.0 <2', tags: ['pilot'] }, waves: ['34%', 'all'], requiresApproval: true, maxInFlight: 2 },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.headers.get('location'), '/api/v1/campaigns/cm-one');
  const c = created.body as CampaignBody;
  assert.equal(c.state, 'draft');
  assert.deepEqual(c.spec.waves, ['34%', 'all']);
  assert.equal(c.spec.requiresApproval, true);
  assert.equal(c.devices.total, 0);

  const shown = await request(`${api}/campaigns/cm-one`);
  assert.equal(shown.status, 200);
  assert.deepEqual(shown.body, c);
  const listed = (await request(`${api}/campaigns?state=draft`)).body as { campaigns: { id: string }[]; next: string | null };
  assert.ok(listed.campaigns.some((x) => x.id === 'cm-one'));
  assert.equal(listed.next, null);
  assert.deepEqual(((await request(`${api}/campaigns?state=running`)).body as { campaigns: unknown[] }).campaigns, []);

  const draftStart = await request(`${api}/campaigns/cm-one/start`, { method: 'POST' });
  assert.equal(draftStart.status, 409);
  assert.equal(code(draftStart.body), 'ERR_API_CAMPAIGN_NO_DRIVER');
  const approved = await request(`${api}/campaigns/cm-one/approve`, { method: 'POST' });
  assert.equal(approved.status, 200, approved.text);
  assert.equal((approved.body as CampaignBody).state, 'approved');
  const again = await request(`${api}/campaigns/cm-one/approve`, { method: 'POST' });
  assert.equal(again.status, 409);
  assert.equal(code(again.body), 'ERR_API_CAMPAIGN_ILLEGAL_TRANSITION');
  const noDriver = await request(`${api}/campaigns/cm-one/start`, { method: 'POST' });
  assert.equal(noDriver.status, 409);
  assert.equal(code(noDriver.body), 'ERR_API_CAMPAIGN_NO_DRIVER');
  assert.match((noDriver.body as { error: { message: string } }).error.message, /no delivery driver/);
  assert.equal(code((await request(`${api}/campaigns/cm-one/resume`, { method: 'POST' })).body), 'ERR_API_CAMPAIGN_NO_DRIVER');
  assert.equal(code((await request(`${api}/campaigns/cm-one/pause`, { method: 'POST' })).body), 'ERR_API_CAMPAIGN_ILLEGAL_TRANSITION');
  // Nothing was planned: the refused start left the campaign as it was.
  assert.deepEqual(((await request(`${api}/campaigns/cm-one/devices`)).body as { devices: unknown[] }).devices, []);

  // The firmware cannot be deleted while the campaign is unfinished.
  const inUse = await request(`${api}/firmware/${fw}`, { method: 'DELETE' });
  assert.equal(inUse.status, 409);
  assert.equal(code(inUse.body), 'ERR_API_FIRMWARE_IN_USE');

  const cancelled = await request(`${api}/campaigns/cm-one/cancel?reason=${encodeURIComponent('wrong build')}`, { method: 'POST' });
  assert.equal(cancelled.status, 200, cancelled.text);
  assert.equal((cancelled.body as CampaignBody).state, 'cancelled');
  assert.equal((cancelled.body as CampaignBody).stateReason, 'wrong build');
  assert.equal(code((await request(`${api}/campaigns/cm-one/cancel`, { method: 'POST' })).body), 'ERR_API_CAMPAIGN_ILLEGAL_TRANSITION');
  assert.equal((await request(`${api}/firmware/${fw}`, { method: 'DELETE' })).status, 204);

  const audit = (await request(`${api}/audit?subject=cm-one`)).body as { records: { action: string; actor: string }[] };
  assert.deepEqual(audit.records.map((r) => [r.action, r.actor]), [['campaign.create', 'operator:api'], ['campaign.approve', 'operator:api'], ['campaign.cancel', 'operator:api']]);
});

test('validation, unknown firmware, duplicate id, 404s', async () => {
  const fw = await uploadFirmware(api, 'CM-2', '1.0.0');
  const post = (body: unknown) => request(`${api}/campaigns`, { method: 'POST', body });
  const cases: [unknown, string, number][] = [
    [{ name: 'x', firmwareId: fw }, 'ERR_API_VALIDATION', 400],
    [{ name: 'x', firmwareId: fw, target: {}, waves: [] }, 'ERR_API_VALIDATION', 400],
    [{ name: 'x', firmwareId: fw, target: {}, successThreshold: 101 }, 'ERR_API_VALIDATION', 400],
    [{ name: 'x', firmwareId: fw, target: {}, bogus: 1 }, 'ERR_API_VALIDATION', 400],
    [{ name: 'x', firmwareId: fw, target: { versionRange: '>>1' } }, 'ERR_API_CAMPAIGN_INVALID', 400],
    [{ name: 'x', firmwareId: fw, target: { model: 'OTHER' } }, 'ERR_API_CAMPAIGN_INVALID', 400],
    [{ name: 'x', firmwareId: '00000000-0000-4000-8000-000000000000', target: {} }, 'ERR_API_CAMPAIGN_UNKNOWN_FIRMWARE', 400],
  ];
  for (const [body, expected, status] of cases) {
    const r = await post(body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(code(r.body), expected, JSON.stringify(body));
  }
  const invalid = await post({ name: 'x', firmwareId: fw, target: { versionRange: '>>1' } });
  assert.match((invalid.body as { error: { message: string } }).error.message, /target\.versionRange/);
  assert.equal((await post({ id: 'cm-dup', name: 'x', firmwareId: fw, target: {} })).status, 201);
  const dup = await post({ id: 'cm-dup', name: 'y', firmwareId: fw, target: {} });
  assert.equal(dup.status, 409);
  assert.equal(code(dup.body), 'ERR_API_CAMPAIGN_EXISTS');
  const bad = await request(`${api}/campaigns`, { method: 'POST', rawBody: '{', contentType: 'application/json' });
  assert.equal(code(bad.body), 'ERR_API_BAD_JSON');

  for (const path of ['/campaigns/none', '/campaigns/none/devices']) {
    const r = await request(`${api}${path}`);
    assert.equal(r.status, 404, path);
    assert.equal(code(r.body), 'ERR_API_CAMPAIGN_NOT_FOUND');
  }
  for (const action of ['approve', 'start', 'pause', 'resume', 'cancel']) {
    const r = await request(`${api}/campaigns/none/${action}`, { method: 'POST' });
    assert.equal(r.status, 404, action);
    assert.equal(code(r.body), 'ERR_API_CAMPAIGN_NOT_FOUND', action);
  }
  for (const path of ['/campaigns?state=bogus', '/campaigns?limit=0', '/campaigns/bad%20id', '/campaigns/cm-dup/devices?status=bogus', '/campaigns/cm-dup/devices?after=-1']) {
    const r = await request(`${api}${path}`);
    assert.equal(r.status, 400, path);
    assert.equal(code(r.body), 'ERR_API_VALIDATION', path);
  }
  const ctrl = await request(`${api}/campaigns/cm-dup/pause?reason=${encodeURIComponent('a\u0001b')}`, { method: 'POST' });
  assert.equal(code(ctrl.body), 'ERR_API_VALIDATION');
});

test('with a delivery driver attached: start plans waves, attempts go out, reports complete the devices', async () => {
  const s = await startTestServer({ start: { fota: { campaignTickMs: 20 } } });
  try {
    const base = `${s.url}/api/v1`;
    const fw = await uploadFirmware(base, 'CM-3', '2.0.0');
    await addDevices(base, 'CM-3', 4, 'cm3');
    const requests: UpdateRequest[] = [];
    let arrived: (() => void) | undefined;
    const driver: DeliveryDriver = {
      async startUpdate(r) {
        requests.push(r);
        arrived?.();
      },
    };
    const attempts = (n: number) =>
      new Promise<void>((resolve) => {
        arrived = () => requests.length >= n && resolve();
        arrived();
      });
    s.server.setDeliveryDriver(driver);
    assert.throws(() => s.server.setDeliveryDriver(driver), { code: 'ERR_INVALID_ARGUMENT' });

    const c = (await request(`${base}/campaigns`, { method: 'POST', body: { id: 'cm-three', name: 'three', firmwareId: fw, target: {}, waves: [2, 'all'], successThreshold: 100 } })).body as CampaignBody;
    const started = await request(`${base}/campaigns/${c.id}/start`, { method: 'POST' });
    assert.equal(started.status, 200, started.text);
    const view = started.body as CampaignBody;
    assert.equal(view.state, 'running');
    assert.deepEqual(view.waves.map((w) => w.total), [2, 2]);
    assert.equal(view.devices.total, 4);

    await attempts(2);
    const wave0 = requests.map((r) => r.endpoint).sort();
    assert.equal(new Set(wave0).size, 2);
    assert.ok(requests.every((r) => r.campaignId === 'cm-three' && r.attempt === 1 && r.fromVersion === '1.0.0' && r.firmware.version === '2.0.0'));
    const inFlight = (await request(`${base}/campaigns/cm-three/devices?status=in-flight`)).body as { devices: { endpoint: string; wave: number }[] };
    assert.deepEqual(inFlight.devices.map((d) => d.endpoint).sort(), wave0);
    assert.ok(inFlight.devices.every((d) => d.wave === 0));

    // The devices report the new version: wave 0 completes at 100 %, wave 1 goes out.
    for (const r of requests.slice(0, 2)) await s.server.fota.engine.onDeviceReport({ endpoint: r.endpoint, campaignId: r.campaignId, attempt: r.attempt, kind: 'version', version: '2.0.0' });
    await attempts(4);
    const shown = (await request(`${base}/campaigns/cm-three`)).body as CampaignBody;
    assert.equal(shown.waves[0]!.succeeded, 2);
    assert.equal(shown.devices.succeeded, 2);

    const paused = await request(`${base}/campaigns/cm-three/pause`, { method: 'POST' });
    assert.equal((paused.body as CampaignBody).state, 'paused');
    const resumed = await request(`${base}/campaigns/cm-three/resume`, { method: 'POST' });
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal((resumed.body as CampaignBody).state, 'running');

    // A device added through the API later joins the running campaign and gets its attempt.
    await addDevices(base, 'CM-3', 1, 'cm3-late');
    await attempts(5);
    assert.equal(requests[4]!.endpoint, 'cm3-late-0');

    const page = (await request(`${base}/campaigns/cm-three/devices?limit=3`)).body as { devices: { position: number }[]; next: number | null };
    assert.equal(page.devices.length, 3);
    assert.equal(page.next, page.devices[2]!.position);
    const rest = (await request(`${base}/campaigns/cm-three/devices?after=${page.next}`)).body as { devices: { endpoint: string }[]; next: number | null };
    assert.deepEqual(rest.devices.map((d) => d.endpoint).slice(-1), ['cm3-late-0']);
    assert.equal(rest.devices.length, 2);
    assert.equal(rest.next, null);
  } finally {
    await s.close();
  }
});
