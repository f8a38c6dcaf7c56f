/**
 * One LwM2M server on two endpoints, as `rootline serve` runs it: CoAPs (DTLS-PSK) and plain
 * CoAP for NoSec devices. Requests reach each device on the endpoint it registered on — also from
 * a new server object (restart) before the devices spoke again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addServerAccount, createLwm2mClient } from '../../src/client/index.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { createDtlsServer, dtlsServerTransport } from '../../src/dtls/index.js';
import { createLwm2mServer, dtlsPeerIdentity, NOSEC_ATTRIBUTE, noSecPeerIdentity, type Lwm2mServerOptions } from '../../src/lwm2m/server/index.js';
import { tempStore, udpEndpoint } from '../lwm2m/server/helpers.js';

const KEY = new Uint8Array(Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex'));

test('CoAPs and NoSec CoAP on one server: each device is reached where it registered', async (t) => {
  const store = await tempStore(t).open();
  await store.devices.createWithCredentials({ endpoint: 'secure-1' }, [{ kind: 'psk', lookup: 'secure-1', material: KEY }]);
  await store.devices.create({ endpoint: 'plain-1', attributes: { [NOSEC_ATTRIBUTE]: true } });
  const dtls = await createDtlsServer({ port: 0, psk: { lookup: (id) => (id === 'secure-1' ? KEY : undefined) } });
  const coaps = new CoapEndpoint(dtlsServerTransport(dtls), { transmission: { ackTimeoutMs: 300, maxRetransmit: 2 } });
  t.after(() => coaps.close());
  const coap = await udpEndpoint(t);
  const options: Lwm2mServerOptions = {
    store,
    sweepIntervalMs: 60_000,
    endpoints: [
      { endpoint: coaps, identityOf: dtlsPeerIdentity((p) => dtls.getSession(p)) },
      { endpoint: coap.endpoint, identityOf: noSecPeerIdentity(), noSec: true },
    ],
  };
  const server = createLwm2mServer(options);
  const transmission = { ackTimeoutMs: 300, maxRetransmit: 2 };
  const secure = createLwm2mClient({ endpointName: 'secure-1', device: { manufacturer: 'S', modelNumber: 'm', serialNumber: '1', firmwareVersion: '1' }, coap: { transmission } });
  addServerAccount(secure.tree, { uri: `coaps://127.0.0.1:${dtls.address().port}`, security: { mode: 'psk', identity: 'secure-1', key: KEY } });
  const plain = createLwm2mClient({ endpointName: 'plain-1', device: { manufacturer: 'P', modelNumber: 'm', serialNumber: '2', firmwareVersion: '1' }, coap: { transmission } });
  addServerAccount(plain.tree, { uri: `coap://${coap.key}`, security: { mode: 'nosec' } });
  t.after(async () => {
    await secure.close();
    await plain.close();
  });
  await secure.start();
  await plain.start();
  const manufacturer = async (s: typeof server, ep: string) => ((await s.read(ep, '/3/0/0')).node as { value: { value: string } }).value.value;
  assert.equal(await manufacturer(server, 'secure-1'), 'S');
  assert.equal(await manufacturer(server, 'plain-1'), 'P');
  // A new server object on the same endpoints and store: no message from the devices yet.
  await server.close();
  const restarted = createLwm2mServer(options);
  t.after(() => restarted.close());
  assert.equal(await manufacturer(restarted, 'secure-1'), 'S');
  assert.equal(await manufacturer(restarted, 'plain-1'), 'P');
});
