/**
 * A server restart (new process: new DTLS server on the same port, new LwM2M server, same store):
 * the device's Update on its old session gets no answer, it opens a new DTLS session and sends
 * the Update again — and the restarted server recognises the registration from the store.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addServerAccount, createLwm2mClient } from '../../src/client/index.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { createDtlsServer, dtlsServerTransport } from '../../src/dtls/index.js';
import { createLwm2mServer, dtlsPeerIdentity } from '../../src/lwm2m/server/index.js';
import { nextEvent, tempStore } from '../lwm2m/server/helpers.js';

const KEY = new Uint8Array(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'));

async function node(store: Awaited<ReturnType<ReturnType<typeof tempStore>['open']>>, port: number) {
  const dtls = await createDtlsServer({ port, psk: { lookup: (id) => (id === 'rs-1' ? KEY : undefined) } });
  const coap = new CoapEndpoint(dtlsServerTransport(dtls), { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } });
  const lwm2m = createLwm2mServer({ endpoint: coap, store, identityOf: dtlsPeerIdentity((p) => dtls.getSession(p)) });
  return { dtls, coap, lwm2m, close: async () => { await lwm2m.close(); await coap.close(); } };
}

test('after a server restart the device reconnects and its Update is recognised', async (t) => {
  const db = tempStore(t);
  const store1 = await db.open();
  await store1.devices.createWithCredentials({ endpoint: 'restart-1' }, [{ kind: 'psk', lookup: 'rs-1', material: KEY }]);
  const first = await node(store1, 0);
  const port = first.dtls.address().port;
  const client = createLwm2mClient({ endpointName: 'restart-1', coap: { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } } });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri: `coaps://127.0.0.1:${port}`, security: { mode: 'psk', identity: 'rs-1', key: KEY } });
  await client.start();
  const id = client.location;
  await first.close();
  await store1.close();

  const store2 = await db.open();
  const second = await node(store2, port);
  t.after(() => second.close());
  const updated = nextEvent<{ registration: { endpoint: string } }>(second.lwm2m, 'updated');
  let registeredAgain = false;
  second.lwm2m.on('registered', () => (registeredAgain = true));
  await client.update();
  assert.equal((await updated).registration.endpoint, 'restart-1');
  assert.equal(registeredAgain, false, 'recognised by its registration id, not registered anew');
  assert.equal(client.location, id);
  assert.equal((await second.lwm2m.read('restart-1', '/3/0/0')).node.kind, 'resource');
});
