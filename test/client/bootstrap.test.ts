/**
 * Client-initiated bootstrap over DTLS-PSK (Core 1.1 §6.1): the SDK holds only a bootstrap
 * account; the bootstrap server (on the same CoAPs endpoint as the LwM2M server) discovers,
 * deletes, writes Security/Server instances from the stored per-device configuration, reads the
 * Server object back and finishes; the device then registers with the provisioned PSK.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createDtlsServer, dtlsServerTransport } from '../../src/dtls/index.js';
import { addBootstrapAccount, createLwm2mClient } from '../../src/client/index.js';
import { createBootstrapServer, createLwm2mServer, dtlsPeerIdentity, rpkLookup, storeClientVerifier, type BootstrapResult } from '../../src/lwm2m/server/index.js';
import { formatPath } from '../../src/lwm2m/model/path.js';
import { nextEvent, tempStore } from '../lwm2m/server/helpers.js';
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

  // Bootstrap-Request Trigger (/1/x/9): the device bootstraps again and registers anew.
  const again = nextEvent<BootstrapResult>(bs, 'bootstrapped');
  const reRegistered = nextEvent<{ registration: { endpoint: string }; replaced?: unknown }>(server.lwm2m, 'registered');
  await server.lwm2m.execute('boot-1', '/1/0/9');
  assert.equal((await again).endpoint, 'boot-1');
  assert.ok((await reRegistered).replaced !== undefined, 'the new registration replaced the old one');
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

test('bootstrap provisions a raw-public-key account; the device then registers over RPK', async (t) => {
  const serverKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const serverSigner = keyObjectSigner(serverKey);
  const store = await tempStore(t).open();
  const keys = new Map<string, Uint8Array>([['rpk-boot-bs', BS_KEY]]);
  // One DTLS server for both: PSK for the bootstrap session, RPK client auth for management.
  const dtls = await createDtlsServer({ port: 0, psk: { lookup: (id) => keys.get(id) }, certificate: { signer: serverSigner }, clientAuth: { types: ['rpk'], verify: storeClientVerifier(store), required: false } });
  const coap = new CoapEndpoint(dtlsServerTransport(dtls), { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } });
  const identityOf = dtlsPeerIdentity((p) => dtls.getSession(p));
  const lwm2m = createLwm2mServer({ endpoint: coap, store, identityOf });
  const bs = createBootstrapServer({ endpoint: coap, store, identityOf });
  t.after(async () => {
    bs.close();
    await lwm2m.close();
    await coap.close();
  });
  const uri = `coaps://127.0.0.1:${dtls.address().port}`;
  const deviceKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const spki = keyObjectSigner(deviceKey).publicKey;
  await store.devices.createWithCredentials({ endpoint: 'rpk-boot' }, [
    { kind: 'psk', lookup: 'rpk-boot-bs', material: BS_KEY },
    { kind: 'rpk', lookup: rpkLookup(spki), material: spki },
  ]);
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  await store.bootstrapConfigs.set('rpk-boot', {
    servers: [{ shortServerId: 3, uri, securityMode: 'rpk', clientPublicKey: hex(spki), clientPrivateKey: hex(deviceKey.export({ format: 'der', type: 'pkcs8' })), serverPublicKey: hex(serverSigner.publicKey), lifetime: 60 }],
  });
  const client = createLwm2mClient({ endpointName: 'rpk-boot', coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } } });
  t.after(() => client.close());
  addBootstrapAccount(client.tree, { uri, security: { mode: 'psk', identity: 'rpk-boot-bs', key: BS_KEY } });
  const registered = nextEvent<{ registration: { endpoint: string; security: string } }>(lwm2m, 'registered');
  await client.start();
  const reg = (await registered).registration;
  assert.deepEqual([reg.endpoint, reg.security], ['rpk-boot', 'rpk']);
  assert.equal((client.tree.get(0, 1, 2) as { value: number }).value, 1, 'Security Mode 1 (RPK) was written');
});
