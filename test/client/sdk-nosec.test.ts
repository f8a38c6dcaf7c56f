/**
 * The SDK over plain CoAP (Security Mode 3, NoSec) to a server that allows NoSec for this device
 * only (device attribute lwm2mNoSec), with the periodic Update driven by the client's own timer,
 * the object list re-sent after an instance was added, and re-registration after the server
 * forgot the registration.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLwm2mClient, addServerAccount } from '../../src/client/index.js';
import { lwm2mValue as v } from '../../src/lwm2m/model/node.js';
import { createLwm2mServer, NOSEC_ATTRIBUTE, noSecPeerIdentity } from '../../src/lwm2m/server/index.js';
import { nextEvent, tempStore, udpEndpoint } from '../lwm2m/server/helpers.js';

test('NoSec SDK: periodic Update, object list on change, re-register after 4.04; NoSec refused without the attribute', async (t) => {
  const store = await tempStore(t).open();
  await store.devices.create({ endpoint: 'plain-1', attributes: { [NOSEC_ATTRIBUTE]: true } });
  await store.devices.create({ endpoint: 'plain-2' });
  const srv = await udpEndpoint(t);
  const server = createLwm2mServer({ endpoint: srv.endpoint, store, identityOf: noSecPeerIdentity(), sweepIntervalMs: 60_000 });
  t.after(() => server.close());
  const uri = `coap://${srv.key}`;

  const client = createLwm2mClient({ endpointName: 'plain-1', updateAt: 0.5, coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } } });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri, security: { mode: 'nosec' }, lifetime: 2 });
  await client.start();
  assert.equal((await server.registration('plain-1'))?.security, 'nosec');

  // The client's timer sends Update before the 2 s lifetime runs out; an added instance goes along.
  client.tree.setInstance(9, 0, { 0: v.string('app'), 1: v.string('1.0') });
  const updated = await nextEvent<{ registration: { objectLinks: string } }>(server, 'updated');
  assert.match(updated.registration.objectLinks, /<\/9\/0>/);

  // The server forgets the registration (as after expiry): the next Update gets 4.04 and the client registers anew.
  const before = await server.registration('plain-1');
  await store.registrations.delete(before!.id);
  await server.sweep(Date.now() + 10_000);
  const again = nextEvent<{ registration: { id: string } }>(server, 'registered');
  await client.update();
  assert.notEqual((await again).registration.id, before!.id);
  assert.equal((await server.read('plain-1', '/9/0/0')).node.kind, 'resource');

  const refused = createLwm2mClient({ endpointName: 'plain-2', coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } } });
  t.after(() => refused.close());
  addServerAccount(refused.tree, { uri, security: { mode: 'nosec' } });
  await assert.rejects(refused.start(), { code: 'ERR_LWM2M_REGISTRATION_FAILED', coapCode: 131 });
});

test('an LwM2M 1.0 client: b=UQ for queue mode, TLV as the server\'s default format', async (t) => {
  const store = await tempStore(t).open();
  await store.devices.create({ endpoint: 'old-1', attributes: { [NOSEC_ATTRIBUTE]: true } });
  const srv = await udpEndpoint(t);
  const server = createLwm2mServer({ endpoint: srv.endpoint, store, identityOf: noSecPeerIdentity(), sweepIntervalMs: 60_000 });
  t.after(() => server.close());
  const client = createLwm2mClient({ endpointName: 'old-1', lwm2mVersion: '1.0', queueMode: true, coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } } });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri: `coap://${srv.key}`, security: { mode: 'nosec' } });
  await client.start();
  const reg = await server.registration('old-1');
  assert.deepEqual([reg?.lwm2mVersion, reg?.binding, reg?.queueMode], ['1.0', 'UQ', true]);
  const r = await server.read('old-1', '/3/0');
  assert.equal(r.format, 11542);
  assert.equal(r.node.kind, 'instance');
});
