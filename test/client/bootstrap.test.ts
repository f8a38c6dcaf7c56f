/**
 * Client-initiated bootstrap over DTLS-PSK (Core 1.1 §6.1): the SDK holds only a bootstrap
 * account; the bootstrap server (on the same CoAPs endpoint as the LwM2M server) discovers,
 * deletes, writes Security/Server instances from the stored per-device configuration, reads the
 * Server object back and finishes; the device then registers with the provisioned PSK.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addBootstrapAccount, createLwm2mClient } from '../../src/client/index.js';
import { createBootstrapServer, dtlsPeerIdentity, type BootstrapResult } from '../../src/lwm2m/server/index.js';
import { formatPath } from '../../src/lwm2m/model/path.js';
import { nextEvent } from '../lwm2m/server/helpers.js';
import { startPskServer } from './helpers.js';

const BS_KEY = new Uint8Array(Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'));
const MGMT_KEY = new Uint8Array(Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', 'hex'));

test('SDK bootstraps (Discover, Delete, Write /0 and /1, Read /1, Finish) and registers with the provisioned PSK', async (t) => {
  const server = await startPskServer(t);
  const bs = createBootstrapServer({ endpoint: server.coap, store: server.store, identityOf: dtlsPeerIdentity((peer) => server.dtls.getSession(peer)) });
  t.after(() => bs.close());
  await server.addDevice('boot-1', 'boot-1-bs', BS_KEY);
  await server.addPsk('boot-1', 'boot-1-mgmt', MGMT_KEY);
  await server.store.bootstrapConfigs.set('boot-1', {
    servers: [{ shortServerId: 7, uri: server.uri, securityMode: 'psk', pskIdentity: 'boot-1-mgmt', pskKey: Buffer.from(MGMT_KEY).toString('hex'), lifetime: 120, binding: 'U' }],
  });
  const client = createLwm2mClient({ endpointName: 'boot-1', coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } } });
  t.after(() => client.close());
  addBootstrapAccount(client.tree, { uri: server.uri, security: { mode: 'psk', identity: 'boot-1-bs', key: BS_KEY } });

  const bootstrapped = nextEvent<BootstrapResult>(bs, 'bootstrapped');
  const registered = nextEvent<{ registration: { endpoint: string; lifetime: number } }>(server.lwm2m, 'registered');
  const clientBootstrapped = nextEvent<void>(client, 'bootstrapped');
  await client.start();
  await clientBootstrapped;
  const result = await bootstrapped;
  assert.ok(result.discovered.some((l) => l.path !== undefined && formatPath(l.path) === '/0/0'), 'Discover shows the bootstrap account');
  assert.equal(result.serverObject.kind, 'object');
  const reg = (await registered).registration;
  assert.equal(reg.endpoint, 'boot-1');
  assert.equal(reg.lifetime, 120);
  // The device now holds the management account the configuration named, and kept the bootstrap one.
  assert.equal((client.tree.get(1, 0, 0) as { value: number }).value, 7);
  assert.deepEqual(client.tree.instanceIds(0), [0, 1]);
  assert.equal(Buffer.from((client.tree.get(0, 1, 3) as { value: Uint8Array }).value).toString(), 'boot-1-mgmt');
  const audit = await server.store.audit.list({ subject: 'boot-1' });
  assert.deepEqual(audit.map((a) => [a.action, a.outcome]), [['lwm2m.bootstrap', 'allow'], ['lwm2m.bootstrap.finish', 'success'], ['lwm2m.register', 'allow']]);
  assert.equal(audit[2]!.details.credential, 'boot-1-mgmt');
});

test('bootstrap: another device\'s endpoint name gets 4.03, a device without configuration 4.04', async (t) => {
  const server = await startPskServer(t);
  const bs = createBootstrapServer({ endpoint: server.coap, store: server.store, identityOf: dtlsPeerIdentity((peer) => server.dtls.getSession(peer)) });
  t.after(() => bs.close());
  await server.addDevice('victim', 'victim-bs', MGMT_KEY);
  await server.store.bootstrapConfigs.set('victim', { servers: [{ shortServerId: 1, uri: server.uri, securityMode: 'psk', pskIdentity: 'v', pskKey: 'aa' }] });
  await server.addDevice('mallory', 'mallory-bs', BS_KEY);
  const thief = createLwm2mClient({ endpointName: 'victim', coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } } });
  t.after(() => thief.close());
  addBootstrapAccount(thief.tree, { uri: server.uri, security: { mode: 'psk', identity: 'mallory-bs', key: BS_KEY } });
  await assert.rejects(thief.start(), { code: 'ERR_LWM2M_BOOTSTRAP_FAILED', message: /4\.03/ });
  const deny = (await server.store.audit.list({ subject: 'victim' })).find((a) => a.action === 'lwm2m.bootstrap');
  assert.equal(deny?.outcome, 'deny');
  const plain = createLwm2mClient({ endpointName: 'mallory', coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } } });
  t.after(() => plain.close());
  addBootstrapAccount(plain.tree, { uri: server.uri, security: { mode: 'psk', identity: 'mallory-bs', key: BS_KEY } });
  await assert.rejects(plain.start(), { code: 'ERR_LWM2M_BOOTSTRAP_FAILED', message: /4\.04/ });
});
