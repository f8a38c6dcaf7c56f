/**
 * The bootstrap server's `unsealSecret` hook is told whose secret it opens ({ endpoint,
 * shortServerId, serverIndex, field }), is asked before the Bootstrap-Request is answered (a
 * secret that does not open changes nothing on the device), and only for configurations marked
 * `sealedSecrets: true`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addBootstrapAccount, createLwm2mClient } from '../../../src/client/index.js';
import { createBootstrapServer, dtlsPeerIdentity, parseBootstrapConfig, type BootstrapResult, type BootstrapSecretContext } from '../../../src/lwm2m/server/index.js';
import { openBootstrapSecrets } from '../../../src/lwm2m/server/bootstrap-config.js';
import { nextEvent } from './helpers.js';
import { startPskServer } from '../../client/helpers.js';

const BS_KEY = new Uint8Array(Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'));
const MGMT_KEY = new Uint8Array(Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', 'hex'));
/** A stand-in seal: the key reversed (the hook under test only has to undo it). */
const sealedHex = Buffer.from(MGMT_KEY).reverse().toString('hex');

test('unsealSecret gets the sealed bytes with endpoint, shortServerId, serverIndex and field; the device gets what it answers', async (t) => {
  const server = await startPskServer(t);
  const seen: { sealed: string; context: BootstrapSecretContext }[] = [];
  const bs = createBootstrapServer({
    endpoint: server.coap,
    store: server.store,
    identityOf: dtlsPeerIdentity((peer) => server.dtls.getSession(peer)),
    unsealSecret: (sealed, context) => {
      seen.push({ sealed: Buffer.from(sealed).toString('hex'), context });
      return new Uint8Array(Buffer.from(sealed).reverse());
    },
  });
  t.after(() => bs.close());
  await server.addDevice('seal-1', 'seal-1-bs', BS_KEY);
  await server.addPsk('seal-1', 'seal-1-mgmt', MGMT_KEY);
  await server.store.bootstrapConfigs.set('seal-1', {
    sealedSecrets: true,
    servers: [{ shortServerId: 7, uri: server.uri, securityMode: 'psk', pskIdentity: 'seal-1-mgmt', pskKey: sealedHex, lifetime: 120 }],
  });
  const client = createLwm2mClient({ endpointName: 'seal-1', coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } } });
  t.after(() => client.close());
  addBootstrapAccount(client.tree, { uri: server.uri, security: { mode: 'psk', identity: 'seal-1-bs', key: BS_KEY } });
  const bootstrapped = nextEvent<BootstrapResult>(bs, 'bootstrapped');
  await client.start();
  assert.equal((await bootstrapped).endpoint, 'seal-1');
  assert.deepEqual(seen, [{ sealed: sealedHex, context: { endpoint: 'seal-1', shortServerId: 7, serverIndex: 0, field: 'pskKey' } }]);
  assert.deepEqual(Buffer.from((client.tree.get(0, 1, 5) as { value: Uint8Array }).value), Buffer.from(MGMT_KEY));
});

test('a secret that does not open refuses the Bootstrap-Request before anything is written to the device', async (t) => {
  const server = await startPskServer(t);
  const bs = createBootstrapServer({
    endpoint: server.coap,
    store: server.store,
    identityOf: dtlsPeerIdentity((peer) => server.dtls.getSession(peer)),
    unsealSecret: (_sealed, context) => {
      throw new Error(`sealed for someone else, not ${context.endpoint}`);
    },
  });
  t.after(() => bs.close());
  await server.addDevice('seal-2', 'seal-2-bs', BS_KEY);
  await server.store.bootstrapConfigs.set('seal-2', {
    sealedSecrets: true,
    servers: [{ shortServerId: 3, uri: server.uri, securityMode: 'psk', pskIdentity: 'seal-2-mgmt', pskKey: sealedHex }],
  });
  const client = createLwm2mClient({ endpointName: 'seal-2', bootstrapTimeoutMs: 5000, coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } } });
  t.after(() => client.close());
  addBootstrapAccount(client.tree, { uri: server.uri, security: { mode: 'psk', identity: 'seal-2-bs', key: BS_KEY } });
  const failed = nextEvent<{ endpoint: string; error: Error }>(bs, 'failed');
  await assert.rejects(client.start(), { code: 'ERR_LWM2M_BOOTSTRAP_FAILED', message: /5\.00/ });
  const f = await failed;
  assert.equal(f.endpoint, 'seal-2');
  assert.match(f.error.message, /not seal-2/);
  // Bootstrap-Delete never ran: the device keeps exactly its bootstrap account.
  assert.deepEqual(client.tree.instanceIds(0), [0]);
  const audit = await server.store.audit.list({ subject: 'seal-2' });
  assert.ok(!audit.some((a) => a.action === 'lwm2m.bootstrap' && a.outcome === 'allow'), JSON.stringify(audit));
});

test('only configurations marked sealedSecrets go through the hook; a marked one without a hook is refused', async () => {
  const account = { shortServerId: 2, uri: 'coaps://h', securityMode: 'rpk', clientPublicKey: 'aa', clientPrivateKey: 'bbcc', serverPublicKey: 'dd' };
  const never = (): Uint8Array => assert.fail('an unmarked configuration is written as stored');
  const plain = parseBootstrapConfig({ servers: [account] });
  assert.equal(plain.sealedSecrets, false);
  assert.deepEqual(await openBootstrapSecrets('ep', plain, never), plain);

  const marked = parseBootstrapConfig({ sealedSecrets: true, servers: [{ ...account, shortServerId: 1, securityMode: 'psk', pskIdentity: 'i', pskKey: '01' }, account] });
  const contexts: BootstrapSecretContext[] = [];
  const opened = await openBootstrapSecrets('ep', marked, (b, c) => {
    contexts.push(c);
    return Uint8Array.of(b[0]! ^ 0xff);
  });
  assert.deepEqual(contexts, [
    { endpoint: 'ep', shortServerId: 1, serverIndex: 0, field: 'pskKey' },
    { endpoint: 'ep', shortServerId: 2, serverIndex: 1, field: 'clientPrivateKey' },
  ]);
  assert.equal(opened.servers[0]!.pskKey, 'fe');
  assert.equal(opened.servers[1]!.clientPrivateKey, '44');
  assert.equal(opened.sealedSecrets, false);

  await assert.rejects(openBootstrapSecrets('ep', marked, undefined), { code: 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG' });
  await assert.rejects(openBootstrapSecrets('ep', marked, () => 'x' as unknown as Uint8Array), { code: 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG' });
  assert.throws(() => parseBootstrapConfig({ sealedSecrets: 'yes', servers: [account] }), { code: 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG' });
});
