/**
 * An x509 server account whose private key stays on the device (a BRSKI pledge generated it and
 * enrolled its LDevID over EST): the configuration is accepted without `clientPrivateKey`, and
 * the bootstrap server writes the Security instance in Certificate mode (2) without Secret Key
 * (/0/x/5), over a real DTLS-PSK bootstrap session with the SDK client.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { addBootstrapAccount, createLwm2mClient } from '../../../src/client/index.js';
import { keyObjectSigner } from '../../../src/crypto/signer.js';
import { createBootstrapServer, dtlsPeerIdentity, parseBootstrapConfig, type BootstrapResult } from '../../../src/lwm2m/server/index.js';
import { securityInstance } from '../../../src/lwm2m/server/bootstrap-config.js';
import { createRootCa } from '../../../src/pki/index.js';
import { startPskServer } from '../../client/helpers.js';
import { nextEvent } from './helpers.js';

const BS_KEY = new Uint8Array(Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'));

async function certificates(): Promise<{ device: string; server: string }> {
  const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), subject: 'CN=Domain CA', validityDays: 30 });
  const key = (): Uint8Array => new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
  const device = await ca.issueCertificate({ subject: 'CN=urn:dev:ops:acme-x-1', publicKey: key() });
  const server = await ca.issueCertificate({ subject: 'CN=lwm2m.example', publicKey: key() });
  return { device: Buffer.from(device.der).toString('hex'), server: Buffer.from(server.der).toString('hex') };
}

test('parseBootstrapConfig: x509 without clientPrivateKey is accepted; rpk still needs it; an empty key is refused', async () => {
  const { device, server } = await certificates();
  const account = { shortServerId: 1, uri: 'coaps://127.0.0.1:5684', securityMode: 'x509', clientPublicKey: device, serverPublicKey: server };
  const parsed = parseBootstrapConfig({ servers: [account] });
  assert.equal(parsed.servers[0]!.clientPrivateKey, undefined);
  assert.equal(parsed.servers[0]!.clientPublicKey, device);
  assert.throws(() => parseBootstrapConfig({ servers: [{ ...account, clientPrivateKey: '' }] }), { code: 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG', message: /clientPrivateKey/ });
  assert.throws(() => parseBootstrapConfig({ servers: [{ ...account, securityMode: 'rpk' }] }), { code: 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG', message: /clientPrivateKey is required/ });
  assert.throws(() => parseBootstrapConfig({ servers: [{ ...account, clientPublicKey: undefined }] }), { code: 'ERR_LWM2M_BAD_BOOTSTRAP_CONFIG', message: /clientPublicKey is required/ });
  // With a key the Secret Key resource is written, without one it is not.
  const withKey = await securityInstance(3, parseBootstrapConfig({ servers: [{ ...account, clientPrivateKey: 'abcd' }] }).servers[0]!, (b) => b);
  assert.ok(withKey.resources.has(5));
  const without = await securityInstance(3, parsed.servers[0]!, () => assert.fail('nothing to unseal'));
  assert.deepEqual([...without.resources.keys()].sort((a, b) => a - b), [0, 1, 2, 3, 4, 10]);
});

test('bootstrap server writes an x509 account without Secret Key to a real client (mode 2, certificate in /0/x/3)', async (t) => {
  const { device, server: serverCert } = await certificates();
  const server = await startPskServer(t);
  const bs = createBootstrapServer({ endpoint: server.coap, store: server.store, identityOf: dtlsPeerIdentity((peer) => server.dtls.getSession(peer)) });
  t.after(() => bs.close());
  await server.addDevice('x509-1', 'x509-1-bs', BS_KEY);
  await server.store.bootstrapConfigs.set('x509-1', { servers: [{ shortServerId: 9, uri: server.uri, securityMode: 'x509', clientPublicKey: device, serverPublicKey: serverCert }] });
  const client = createLwm2mClient({ endpointName: 'x509-1', coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } } });
  t.after(() => client.close());
  addBootstrapAccount(client.tree, { uri: server.uri, security: { mode: 'psk', identity: 'x509-1-bs', key: BS_KEY } });
  const bootstrapped = nextEvent<BootstrapResult>(bs, 'bootstrapped');
  const clientBootstrapped = nextEvent<void>(client, 'bootstrapped');
  // Registration afterwards needs the device's own key, which this test client does not hold.
  const started = client.start().catch((err: unknown) => err);
  await clientBootstrapped;
  assert.equal((await bootstrapped).endpoint, 'x509-1');
  const written = client.tree.instanceIds(0).find((i) => (client.tree.get(0, i, 10) as { value?: unknown } | undefined)?.value === 9);
  assert.notEqual(written, undefined, 'the management Security instance was written');
  assert.equal((client.tree.get(0, written!, 2) as { value: number }).value, 2);
  assert.equal(Buffer.from((client.tree.get(0, written!, 3) as { value: Uint8Array }).value).toString('hex'), device);
  assert.equal(Buffer.from((client.tree.get(0, written!, 4) as { value: Uint8Array }).value).toString('hex'), serverCert);
  assert.equal(client.tree.get(0, written!, 5), undefined, 'no Secret Key written');
  const audit = await server.store.audit.list({ subject: 'x509-1', action: 'lwm2m.bootstrap.finish' });
  assert.equal(audit[0]?.outcome, 'success');
  client.close();
  await started;
});
