/**
 * Issue 4 acceptance against `rootline serve` itself (HTTP API, CoAPs and CoAP on free loopback
 * ports, a temporary data dir): coap-client-gnutls registers by hand with the PSK the API
 * provisioned → 2.01 with a Location-Path, the device shows as registered with its objects in
 * GET /api/v1/devices/<ep>, and the same Register under another device's endpoint → 4.03 with an
 * audit deny record. Then the device SDK registers over PSK and the API reads /3/0, writes
 * /1/0/1, executes /3/0/4 and observes /3/0/13 with notifications on /api/v1/events.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addServerAccount, createLwm2mClient } from '../../src/client/index.js';
import { lwm2mValue as v } from '../../src/lwm2m/model/node.js';
import { requirePeer } from '../helpers/peers.js';
import { run } from '../coap/helpers/libcoap.js';
import { request, startTestServer } from '../server/harness.js';
import { openEventStream } from '../api/lwm2m-helpers.js';

const CLIENT = 'coap-client-gnutls';
const skip = requirePeer('libcoap (GnuTLS build)', [CLIENT], 'apt-get install libcoap3-bin');
const KEY_TEXT = 'secretPSK-0123';
const KEY_HEX = Buffer.from(KEY_TEXT).toString('hex');

/** coap-client at debug level prints the response PDU: code and options. */
async function coapClient(args: string[]): Promise<{ exit: number | null; response: string }> {
  const r = await run(CLIENT, ['-v', '7', '-B', '10', ...args]);
  const lines = `${r.stdout.toString()}\n${r.stderr}`.split('\n');
  return { exit: r.code, response: lines.find((l) => / t:(ACK|CON|NON) c:[245]\.\d\d /.test(l)) ?? '' };
}

test(`${CLIENT} registers with rootline serve over PSK → 2.01; the API shows it; another endpoint → 4.03`, { skip }, async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const api = `${srv.url}/api/v1`;
  for (const [ep, id, key] of [['urn:dev:lc-1', 'lc-1', KEY_HEX], ['urn:dev:lc-other', 'lc-other', 'a1b2c3d4e5f60718']] as const) {
    const created = await request(`${api}/devices`, { method: 'POST', body: { endpoint: ep, credentials: { psk: { identity: id, key } } } });
    assert.equal(created.status, 201);
  }
  const before = await request(`${api}/devices/urn:dev:lc-1`);
  assert.equal((before.body as { registered: boolean }).registered, false);

  const base = `${srv.server.addresses.coaps!.url}/rd`;
  const reg = await coapClient(['-m', 'post', '-u', 'lc-1', '-k', KEY_TEXT, '-e', '</1/0>,</3/0>,</5/0>', `${base}?ep=urn:dev:lc-1&lt=300&lwm2m=1.1&b=U`]);
  assert.equal(reg.exit, 0);
  const m = /c:2\.01 .*Location-Path:rd, Location-Path:([A-Za-z0-9_-]+) \]/.exec(reg.response);
  assert.ok(m, `expected 2.01 with Location-Path, got: ${reg.response}`);

  const shown = (await request(`${api}/devices/urn:dev:lc-1`)).body as { registered: boolean; lastRegistration: Record<string, unknown>; objects: { id: number; instances: number[] }[] };
  assert.equal(shown.registered, true);
  assert.equal(shown.lastRegistration.id, m[1]);
  assert.equal(shown.lastRegistration.lifetime, 300);
  assert.equal(shown.lastRegistration.binding, 'U');
  assert.equal(shown.lastRegistration.lwm2mVersion, '1.1');
  assert.equal(shown.lastRegistration.queueMode, false);
  assert.deepEqual(shown.objects, [{ id: 1, instances: [0] }, { id: 3, instances: [0] }, { id: 5, instances: [0] }]);
  const listed = (await request(`${api}/devices`)).body as { devices: { endpoint: string; registered: boolean }[] };
  assert.deepEqual(listed.devices.map((d) => [d.endpoint, d.registered]), [['urn:dev:lc-1', true], ['urn:dev:lc-other', false]]);

  const forged = await coapClient(['-m', 'post', '-u', 'lc-1', '-k', KEY_TEXT, '-e', '</1/0>,</3/0>,</5/0>', `${base}?ep=urn:dev:lc-other&lt=300&lwm2m=1.1&b=U`]);
  assert.match(forged.response, /c:4\.03 /, `expected 4.03, got: ${forged.response}`);
  assert.equal(((await request(`${api}/devices/urn:dev:lc-other`)).body as { registered: boolean }).registered, false);
  const audit = (await request(`${api}/audit?subject=urn:dev:lc-other&action=lwm2m.register`)).body as { records: { outcome: string; details: Record<string, unknown> }[] };
  assert.equal(audit.records.length, 1);
  assert.equal(audit.records[0]!.outcome, 'deny');
  assert.equal(audit.records[0]!.details.credential, 'lc-1');
});

test('the device SDK against rootline serve over PSK: read /3/0, write /1/0/1, execute /3/0/4, observe /3/0/13 via the API', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const api = `${srv.url}/api/v1`;
  const key = '00112233445566778899aabbccddeeff';
  assert.equal((await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'sdk-serve-1', credentials: { psk: { identity: 'sdk-serve-1-psk', key } } } })).status, 201);

  let now = 1_700_000_000;
  let reboots = 0;
  const client = createLwm2mClient({
    endpointName: 'sdk-serve-1',
    device: { manufacturer: 'ACME', modelNumber: 'TH-1', serialNumber: 'SN-9', firmwareVersion: '1.0.0', clock: () => now },
    deviceActions: { reboot: () => void reboots++ },
  });
  addServerAccount(client.tree, { uri: srv.server.addresses.coaps!.url, security: { mode: 'psk', identity: 'sdk-serve-1-psk', key: new Uint8Array(Buffer.from(key, 'hex')) }, lifetime: 300 });
  t.after(() => client.close());

  const events = await openEventStream(`${api}/events?topics=lwm2m`);
  t.after(() => events.close());
  await client.start();
  const registered = await events.next((e) => e.type === 'lwm2m.registered');
  assert.equal(registered.data.endpoint, 'sdk-serve-1');
  assert.equal(registered.data.security, 'psk');

  const read = await request(`${api}/devices/sdk-serve-1/objects/3/0?format=senml-json`);
  assert.equal(read.status, 200, read.text);
  const node = (read.body as { format: number; node: { kind: string; resources: { id: number; value?: unknown }[] } });
  assert.equal(node.format, 110);
  assert.equal(node.node.kind, 'instance');
  assert.equal(node.node.resources.find((r) => r.id === 0)?.value, 'ACME');
  assert.equal(node.node.resources.find((r) => r.id === 2)?.value, 'SN-9');

  const write = await request(`${api}/devices/sdk-serve-1/objects/1/0/1`, { method: 'PUT', body: 600 });
  assert.equal(write.status, 204, write.text);
  assert.equal(Number((client.tree.get(1, 0, 1) as { value: number }).value), 600);
  const lifetime = await request(`${api}/devices/sdk-serve-1/objects/1/0/1?format=text`);
  assert.deepEqual((lifetime.body as { node: unknown }).node, { kind: 'singleResource', id: 1, type: 'unsigned', value: 600 });

  const exec = await request(`${api}/devices/sdk-serve-1/objects/3/0/4`, { method: 'POST' }); // the body is optional
  assert.equal(exec.status, 204, exec.text);
  assert.equal(reboots, 1);
  const refused = await request(`${api}/devices/sdk-serve-1/objects/3/0/0`, { method: 'POST', body: {} });
  assert.equal(refused.status, 502);
  assert.equal((refused.body as { error: { code: string } }).error.code, 'ERR_LWM2M_DEVICE_ERROR');

  const obs = await request(`${api}/devices/sdk-serve-1/observations`, { method: 'POST', body: { path: '/3/0/13' } });
  assert.equal(obs.status, 201, obs.text);
  const observation = obs.body as { id: string; initial: { node: { value: number } } };
  assert.equal(observation.initial.node.value, now);
  now += 3600;
  client.tree.set(3, 0, 13, v.time(now));
  const note = await events.next((e) => e.type === 'lwm2m.notification');
  assert.equal(note.data.endpoint, 'sdk-serve-1');
  assert.equal(note.data.observationId, observation.id);
  assert.equal(note.data.path, '/3/0/13');
  assert.deepEqual(note.data.node, { kind: 'singleResource', id: 13, type: 'time', value: now });
  assert.equal((await request(`${api}/devices/sdk-serve-1/observations/3/0/13`, { method: 'DELETE' })).status, 204);
  assert.equal((await request(`${api}/devices/sdk-serve-1/observations/3/0/13`, { method: 'DELETE' })).status, 404);

  const audit = (await request(`${api}/audit?subject=sdk-serve-1`)).body as { records: { action: string; outcome: string; details: { path?: string } }[] };
  assert.deepEqual(audit.records.filter((r) => r.action.startsWith('lwm2m.write') || r.action.startsWith('lwm2m.execute')).map((r) => [r.action, r.outcome, r.details.path]), [
    ['lwm2m.write', 'success', '/1/0/1'],
    ['lwm2m.execute', 'success', '/3/0/4'],
    ['lwm2m.execute', 'failure', '/3/0/0'],
  ]);

  // Send (device-initiated, /dp) arrives on the feed with its values.
  await client.send(['/3/0/0', '/3/0/2']);
  const sent = await events.next((e) => e.type === 'lwm2m.send');
  assert.equal(sent.data.endpoint, 'sdk-serve-1');
  assert.deepEqual(sent.data.entries, [{ path: '/3/0/0', value: 'ACME' }, { path: '/3/0/2', value: 'SN-9' }]);

  await client.deregister();
  const gone = await events.next((e) => e.type === 'lwm2m.deregistered');
  assert.equal(gone.data.reason, 'deregistered');
  const after = await request(`${api}/devices/sdk-serve-1/objects/3/0`);
  assert.equal(after.status, 404);
  assert.equal((after.body as { error: { code: string } }).error.code, 'ERR_LWM2M_NOT_REGISTERED');
});
