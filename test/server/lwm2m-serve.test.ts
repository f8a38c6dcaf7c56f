/**
 * The LwM2M server inside `rootline serve` across a restart: a registration made before the
 * restart is still shown by the API afterwards (the registry is the store), and the device's next
 * Update — over a new DTLS session, the old one died with the process — is recognised, after
 * which the API reaches the device again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { addServerAccount, createLwm2mClient } from '../../src/client/index.js';
import { makeTempDir, request, startTestServer } from './harness.js';

const KEY = '5a5b5c5d5e5f60616263646566676869';

test('a registration survives a serve restart; the Update after it is recognised', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startTestServer({ dir });
  const port = first.server.addresses.coaps!.port;
  assert.equal((await request(`${first.url}/api/v1/devices`, { method: 'POST', body: { endpoint: 'restart-serve-1', credentials: { psk: { identity: 'rs-serve-1', key: KEY } } } })).status, 201);

  const client = createLwm2mClient({
    endpointName: 'restart-serve-1',
    device: { manufacturer: 'ACME', modelNumber: 'R-1', serialNumber: 'SN-R1', firmwareVersion: '1.0.0' },
    coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } },
  });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri: `coaps://127.0.0.1:${port}`, security: { mode: 'psk', identity: 'rs-serve-1', key: new Uint8Array(Buffer.from(KEY, 'hex')) }, lifetime: 600 });
  await client.start();
  const id = client.location;
  assert.ok(id?.startsWith('/rd/'));
  await first.close({ keepDir: true });

  const second = await startTestServer({ dir, flags: { coapsPort: String(port) } });
  t.after(() => second.close({ keepDir: true }));
  const shown = (await request(`${second.url}/api/v1/devices/restart-serve-1`)).body as { registered: boolean; lastRegistration: { id: string; lifetime: number } };
  assert.equal(shown.registered, true);
  assert.equal(`/rd/${shown.lastRegistration.id}`, id);
  assert.equal(shown.lastRegistration.lifetime, 600);

  const updated = new Promise<{ registration: { endpoint: string; id: string } }>((resolve) => second.server.lwm2m.lwm2m.once('updated', resolve));
  await client.update();
  const u = await updated;
  assert.equal(u.registration.endpoint, 'restart-serve-1');
  assert.equal(`/rd/${u.registration.id}`, id, 'the same registration, not a new one');
  const read = await request(`${second.url}/api/v1/devices/restart-serve-1/objects/3/0/1?format=text`);
  assert.equal(read.status, 200, read.text);
  assert.deepEqual((read.body as { node: unknown }).node, { kind: 'singleResource', id: 1, type: 'string', value: 'R-1' });
});

test('an RPK device registers with serve and is reached through the API; an unknown key never gets a session', async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const serverKey = new Uint8Array(new X509Certificate(readFileSync(join(srv.dir, 'coaps-server.pem'))).publicKey.export({ type: 'spki', format: 'der' }));
  const device = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = device.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  assert.equal((await request(`${srv.url}/api/v1/devices`, { method: 'POST', body: { endpoint: 'rpk-serve-1', credentials: { rpk: { publicKey: pem } } } })).status, 201);
  const uri = srv.server.addresses.coaps!.url;

  const client = createLwm2mClient({ endpointName: 'rpk-serve-1', device: { manufacturer: 'ACME', modelNumber: 'K-1', serialNumber: 'SN-K1', firmwareVersion: '1.0.0' } });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri, security: { mode: 'rpk', privateKey: device.privateKey, serverPublicKey: serverKey }, lifetime: 300 });
  await client.start();
  const shown = (await request(`${srv.url}/api/v1/devices/rpk-serve-1`)).body as { registered: boolean; lastRegistration: { security: string } };
  assert.equal(shown.registered, true);
  assert.equal(shown.lastRegistration.security, 'rpk');
  const read = await request(`${srv.url}/api/v1/devices/rpk-serve-1/objects/3/0/0?format=text`);
  assert.equal((read.body as { node: { value: string } }).node.value, 'ACME');

  // A key no device holds is refused in the handshake (the CoAPs listener's check), so the
  // device never reaches /rd, let alone registers under the name it claims.
  const stranger = createLwm2mClient({ endpointName: 'rpk-serve-1', device: { manufacturer: 'EVIL', modelNumber: 'K-1', serialNumber: 'SN-X', firmwareVersion: '1.0.0' }, coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 1 } } });
  t.after(() => stranger.close());
  addServerAccount(stranger.tree, { uri, security: { mode: 'rpk', privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, serverPublicKey: serverKey }, lifetime: 300 });
  await assert.rejects(stranger.start());
  const again = (await request(`${srv.url}/api/v1/devices/rpk-serve-1`)).body as { lastRegistration: { id: string } };
  assert.equal(`/rd/${again.lastRegistration.id}`, client.location, 'the registration is untouched');
});
