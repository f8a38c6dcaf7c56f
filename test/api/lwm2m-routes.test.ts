/**
 * The LwM2M routes of the API under `rootline serve`: argument validation and error mapping
 * (without a device online), client-initiated bootstrap through serve with a configuration set
 * over the API (secrets sealed, opened only for the device they belong to), and NoSec refusal.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { addBootstrapAccount, createLwm2mClient } from '../../src/client/index.js';
import { request, startTestServer, type TestServer } from '../server/harness.js';
import { openEventStream } from './lwm2m-helpers.js';

let t: TestServer;
let api: string;
const KEY = '0102030405060708090a0b0c0d0e0f10';

before(async () => {
  t = await startTestServer();
  api = `${t.url}/api/v1`;
  for (const [endpoint, identity] of [['lw-a', 'lw-a-psk'], ['lw-b', 'lw-b-psk']]) {
    assert.equal((await request(`${api}/devices`, { method: 'POST', body: { endpoint, credentials: { psk: { identity, key: KEY } } } })).status, 201);
  }
});
after(() => t.close());

function code(r: { body: unknown }): string {
  return (r.body as { error: { code: string } }).error.code;
}

test('requests are checked before any device is reached, with the catalogue codes', async () => {
  const cases: [string, string, unknown, number, string][] = [
    ['GET', '/devices/lw-a/objects/3/0?format=xml', undefined, 400, 'ERR_API_VALIDATION'],
    ['GET', '/devices/lw-a/objects/3/x', undefined, 400, 'ERR_API_VALIDATION'],
    ['GET', '/devices/lw-a/objects/70000', undefined, 400, 'ERR_LWM2M_BAD_PATH'],
    ['GET', '/devices/lw-a/objects/3/0', undefined, 404, 'ERR_LWM2M_NOT_REGISTERED'],
    ['GET', '/devices/lw-a/discover/3', undefined, 404, 'ERR_LWM2M_NOT_REGISTERED'],
    ['PUT', '/devices/lw-a/objects/1/0/1', 'soon', 400, 'ERR_LWM2M_BAD_VALUE'],
    ['PUT', '/devices/lw-a/objects/1/0/1?mode=merge', 5, 400, 'ERR_API_VALIDATION'],
    ['PUT', '/devices/lw-a/objects/3/0', { resources: { 0: 12 } }, 400, 'ERR_LWM2M_BAD_VALUE'],
    ['PUT', '/devices/lw-a/objects/1/0/1', 600, 404, 'ERR_LWM2M_NOT_REGISTERED'],
    ['POST', '/devices/lw-a/objects/3/0/4', { args: 'x=1' }, 400, 'ERR_API_VALIDATION'],
    ['POST', '/devices/lw-a/objects/3/0/4', { args: "0='ok'", extra: 1 }, 400, 'ERR_API_VALIDATION'],
    ['POST', '/devices/lw-a/objects/3/0/4', { args: "0='ok',1" }, 404, 'ERR_LWM2M_NOT_REGISTERED'],
    ['POST', '/devices/lw-a/objects/3/0/4', undefined, 404, 'ERR_LWM2M_NOT_REGISTERED'],
    ['POST', '/devices/lw-a/observations', { path: '3/0' }, 400, 'ERR_API_VALIDATION'],
    ['POST', '/devices/lw-a/observations', { path: '/3/0/13' }, 404, 'ERR_LWM2M_NOT_REGISTERED'],
    ['DELETE', '/devices/lw-a/observations/3/0/13', undefined, 404, 'ERR_LWM2M_NO_OBSERVATION'],
    ['GET', '/devices/lw-a/bootstrap', undefined, 404, 'ERR_API_BOOTSTRAP_CONFIG_NOT_FOUND'],
    ['GET', '/devices/nobody/bootstrap', undefined, 404, 'ERR_API_DEVICE_NOT_FOUND'],
    ['PUT', '/devices/nobody/bootstrap', { servers: [{ shortServerId: 1, uri: 'coap://h', securityMode: 'nosec' }] }, 404, 'ERR_API_DEVICE_NOT_FOUND'],
    ['PUT', '/devices/lw-a/bootstrap', { servers: [] }, 400, 'ERR_API_VALIDATION'],
    ['PUT', '/devices/lw-a/bootstrap', { servers: [{ shortServerId: 1, uri: 'coap://h:5683', securityMode: 'psk', pskIdentity: 'x', pskKey: 'aa' }] }, 400, 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG'],
    ['PUT', '/devices/lw-a/bootstrap', { servers: [{ shortServerId: 1, uri: 'coaps://h', securityMode: 'psk' }] }, 400, 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG'],
  ];
  for (const [method, path, body, status, expected] of cases) {
    const r = await request(`${api}${path}`, { method, ...(body !== undefined ? { body } : {}) });
    assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
    assert.equal(code(r), expected, `${method} ${path}`);
  }
  // A refused Write is audited with its code, never with the value.
  const writes = (await request(`${api}/audit?subject=lw-a&action=lwm2m.write`)).body as { records: { outcome: string; details: Record<string, unknown> }[] };
  assert.ok(writes.records.length >= 1);
  for (const r of writes.records) {
    assert.equal(r.outcome, 'failure');
    assert.doesNotMatch(JSON.stringify(r.details), /soon|600/);
  }
});

test('bootstrap through serve: the configuration set over the API is written to the device, sealed key and all', async (t2) => {
  const put = await request(`${api}/devices/lw-a/bootstrap`, {
    method: 'PUT',
    body: { servers: [{ shortServerId: 3, uri: t.server.addresses.coaps!.url, securityMode: 'psk', pskIdentity: 'lw-a-psk', pskKey: KEY, lifetime: 120 }] },
  });
  assert.equal(put.status, 200, put.text);
  assert.doesNotMatch(put.text, new RegExp(KEY));
  const shown = (await request(`${api}/devices/lw-a/bootstrap`)).body as { servers: Record<string, unknown>[]; delete: string[] };
  assert.deepEqual(shown.delete, ['/0', '/1']);
  assert.deepEqual(shown.servers, [{ shortServerId: 3, uri: t.server.addresses.coaps!.url, securityMode: 'psk', pskIdentity: 'lw-a-psk', lifetime: 120, hasPskKey: true, hasClientPrivateKey: false }]);
  assert.doesNotMatch(JSON.stringify(await t.server.store.bootstrapConfigs.get('lw-a')), new RegExp(KEY), 'only the sealed key is stored');

  const events = await openEventStream(`${api}/events?topics=lwm2m`);
  t2.after(() => events.close());
  const client = createLwm2mClient({ endpointName: 'lw-a' });
  t2.after(() => client.close());
  addBootstrapAccount(client.tree, { uri: t.server.addresses.coaps!.url, security: { mode: 'psk', identity: 'lw-a-psk', key: new Uint8Array(Buffer.from(KEY, 'hex')) } });
  await client.start();
  assert.equal((await events.next((e) => e.type === 'lwm2m.bootstrapped')).data.endpoint, 'lw-a');
  const reg = await events.next((e) => e.type === 'lwm2m.registered');
  assert.equal(reg.data.endpoint, 'lw-a');
  assert.equal(reg.data.lifetime, 120);
  // The device received the key in clear (opened only for it) and the short server id.
  assert.equal(Buffer.from((client.tree.get(0, 1, 5) as { value: Uint8Array }).value).toString('hex'), KEY);
  assert.equal((client.tree.get(1, 0, 0) as { value: number }).value, 3);
  const device = (await request(`${api}/devices/lw-a`)).body as { registered: boolean; lastRegistration: { security: string } };
  assert.equal(device.registered, true);
  assert.equal(device.lastRegistration.security, 'psk');
  // The refused PUTs of the first test are failures; this one is the success; no record holds the key.
  const audit = ((await request(`${api}/audit?subject=lw-a&action=lwm2m.bootstrap-config.set`)).body as { records: { outcome: string; details: unknown }[] }).records;
  assert.deepEqual(audit.map((r) => r.outcome), ['failure', 'failure', 'success']);
  assert.doesNotMatch(JSON.stringify(audit), new RegExp(KEY));
});

test("a sealed bootstrap configuration copied onto another device does not open for it", async (t2) => {
  const stolen = await t.server.store.bootstrapConfigs.get('lw-a');
  assert.ok(stolen);
  await t.server.store.bootstrapConfigs.set('lw-b', stolen.config);
  const client = createLwm2mClient({ endpointName: 'lw-b' });
  t2.after(() => client.close());
  addBootstrapAccount(client.tree, { uri: t.server.addresses.coaps!.url, security: { mode: 'psk', identity: 'lw-b-psk', key: new Uint8Array(Buffer.from(KEY, 'hex')) } });
  await assert.rejects(client.start(), { code: 'ERR_LWM2M_BOOTSTRAP_FAILED' });
  assert.equal(client.tree.get(0, 1, 5), undefined, 'no key reached the device');
  const deny = ((await request(`${api}/audit?subject=lw-b&action=lwm2m.bootstrap`)).body as { records: { outcome: string; details: { reason?: string } }[] }).records;
  assert.ok(deny.some((r) => r.outcome === 'deny' && r.details.reason === 'sealed secret does not open'), JSON.stringify(deny));
});
