/**
 * Queue mode through the API: a request to a sleeping device is held, answered with
 * ERR_LWM2M_REQUEST_EXPIRED (504) once its `timeout` runs out, and otherwise delivered when the
 * device next talks (here: its Update). The serve under test has a short awake window so the
 * device falls asleep without waiting the default 93 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addServerAccount, createLwm2mClient } from '../../src/client/index.js';
import { request, startTestServer } from '../server/harness.js';

test('a sleeping queue-mode device: timeout → 504 ERR_LWM2M_REQUEST_EXPIRED; a held Read is answered after its Update', async (t) => {
  const srv = await startTestServer({ start: { lwm2m: { queue: { awakeMs: 50 } } } });
  t.after(() => srv.close());
  const api = `${srv.url}/api/v1`;
  const key = '8899aabbccddeeff0011223344556677';
  assert.equal((await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'q-1', credentials: { psk: { identity: 'q-1-psk', key } } } })).status, 201);
  const client = createLwm2mClient({ endpointName: 'q-1', queueMode: true, device: { manufacturer: 'ACME', modelNumber: 'Q-1', serialNumber: 'SN-Q1', firmwareVersion: '1.0.0' } });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri: srv.server.addresses.coaps!.url, security: { mode: 'psk', identity: 'q-1-psk', key: new Uint8Array(Buffer.from(key, 'hex')) }, lifetime: 3600 });
  await client.start();
  const lwm2m = srv.server.lwm2m.lwm2m;
  assert.equal(((await request(`${api}/devices/q-1`)).body as { lastRegistration: { queueMode: boolean } }).lastRegistration.queueMode, true);
  while (await lwm2m.isAwake('q-1')) await new Promise((r) => setTimeout(r, 10));

  const expired = await request(`${api}/devices/q-1/objects/3/0/0?format=text&timeout=1`);
  assert.equal(expired.status, 504, expired.text);
  assert.equal((expired.body as { error: { code: string } }).error.code, 'ERR_LWM2M_REQUEST_EXPIRED');
  assert.equal(lwm2m.queued('q-1'), 0);

  const held = request(`${api}/devices/q-1/objects/3/0/0?format=text`);
  while (lwm2m.queued('q-1') === 0) await new Promise((r) => setImmediate(r));
  await client.update();
  const r = await held;
  assert.equal(r.status, 200, r.text);
  assert.equal((r.body as { node: { value: string } }).node.value, 'ACME');

  const bad = await request(`${api}/devices/q-1/objects/3/0/0?timeout=0`);
  assert.equal(bad.status, 400);
});

test('cancelling an observation of a sleeping device waits at most the DELETE timeout; otherwise it goes out when the device wakes', async (t) => {
  const srv = await startTestServer({ start: { lwm2m: { queue: { awakeMs: 50 } } } });
  t.after(() => srv.close());
  const api = `${srv.url}/api/v1`;
  const key = '8899aabbccddeeff0011223344556678';
  assert.equal((await request(`${api}/devices`, { method: 'POST', body: { endpoint: 'q-2', credentials: { psk: { identity: 'q-2-psk', key } } } })).status, 201);
  const client = createLwm2mClient({ endpointName: 'q-2', queueMode: true });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri: srv.server.addresses.coaps!.url, security: { mode: 'psk', identity: 'q-2-psk', key: new Uint8Array(Buffer.from(key, 'hex')) }, lifetime: 3600 });
  await client.start();
  const lwm2m = srv.server.lwm2m.lwm2m;
  const asleep = async (): Promise<void> => {
    while (await lwm2m.isAwake('q-2')) await new Promise((r) => setTimeout(r, 10));
  };
  // Observe while it sleeps: held, then delivered on its Update.
  const observe = async (): Promise<void> => {
    await asleep();
    const pending = request(`${api}/devices/q-2/observations`, { method: 'POST', body: { path: '/3/0/13' } });
    while (lwm2m.queued('q-2') === 0) await new Promise((r) => setImmediate(r));
    await client.update();
    const r = await pending;
    assert.equal(r.status, 201, r.text);
  };

  await observe();
  await asleep();
  const expired = await request(`${api}/devices/q-2/observations/3/0/13?timeout=1`, { method: 'DELETE' });
  assert.equal(expired.status, 504, expired.text);
  assert.equal((expired.body as { error: { code: string } }).error.code, 'ERR_LWM2M_REQUEST_EXPIRED');
  assert.equal(lwm2m.queued('q-2'), 0);
  // Forgotten here all the same: a second DELETE finds nothing.
  assert.equal((await request(`${api}/devices/q-2/observations/3/0/13`, { method: 'DELETE' })).status, 404);

  await observe();
  await asleep();
  const held = request(`${api}/devices/q-2/observations/3/0/13`, { method: 'DELETE' });
  while (lwm2m.queued('q-2') === 0) await new Promise((r) => setImmediate(r));
  await client.update();
  const r = await held;
  assert.equal(r.status, 204, r.text);
  assert.equal((await request(`${api}/devices/q-2/observations/3/0/13?timeout=0`, { method: 'DELETE' })).status, 400);
});
