/**
 * The SDK against the server with the other two DTLS credential modes (Core 1.1 Appendix E.1
 * Security Mode 1 and 2): raw public keys and X.509 certificates. Keys and certificates are made
 * by openssl; the server's DTLS client authentication is checked against the store
 * (storeClientVerifier) and registration is bound to the credential as with PSK.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ContentFormat } from '../../src/coap/content-format.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { addServerAccount, createLwm2mClient, type ClientSecurity } from '../../src/client/index.js';
import { createDtlsServer, dtlsServerTransport, type DtlsServerOptions } from '../../src/dtls/index.js';
import { createLwm2mServer, dtlsPeerIdentity, rpkLookup, storeClientVerifier } from '../../src/lwm2m/server/index.js';
import type { Store } from '../../src/store/types.js';
import { requirePeer } from '../helpers/peers.js';
import { nextEvent, tempStore } from '../lwm2m/server/helpers.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');

function selfSignedCert(t: TestContext, cn: string): { der: Uint8Array; key: KeyObject } {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-x509-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-subj', `/CN=${cn}`, '-days', '2'], { stdio: 'ignore' });
  return { der: new Uint8Array(new X509Certificate(readFileSync(join(dir, 'c.pem'))).raw), key: createPrivateKey(readFileSync(join(dir, 'k.pem'))) };
}

async function serve(t: TestContext, dtlsOptions: (store: Store) => DtlsServerOptions) {
  const store = await tempStore(t).open();
  const dtls = await createDtlsServer({ port: 0, ...dtlsOptions(store) });
  const coap = new CoapEndpoint(dtlsServerTransport(dtls), { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } });
  const lwm2m = createLwm2mServer({ endpoint: coap, store, identityOf: dtlsPeerIdentity((p) => dtls.getSession(p)) });
  t.after(async () => {
    await lwm2m.close();
    await coap.close();
  });
  return { store, lwm2m, uri: `coaps://127.0.0.1:${dtls.address().port}` };
}

async function roundTrip(t: TestContext, uri: string, lwm2m: ReturnType<typeof createLwm2mServer>, endpointName: string, security: ClientSecurity): Promise<void> {
  const client = createLwm2mClient({ endpointName, coap: { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } } });
  t.after(() => client.close());
  addServerAccount(client.tree, { uri, security });
  const registered = nextEvent<{ registration: { endpoint: string; security: string } }>(lwm2m, 'registered');
  await client.start();
  const reg = (await registered).registration;
  assert.equal(reg.endpoint, endpointName);
  assert.equal(reg.security, security.mode);
  const r = await lwm2m.read(endpointName, '/3/0/0', { format: ContentFormat.TextPlain });
  assert.deepEqual(r.node, { kind: 'resource', id: 0, multiple: false, value: { type: 'string', value: 'rootline' } });
  const obs = await lwm2m.observe(endpointName, '/3/0/13');
  const note = nextEvent(lwm2m, 'notification');
  await lwm2m.write(endpointName, '/3/0/13', { type: 'time', value: 1234567890 });
  await note;
  await obs.cancel();
  await lwm2m.execute(endpointName, '/3/0/4');
  await client.deregister();
}

test('SDK ⇄ server with raw public keys (Security Mode 1)', { skip }, async (t) => {
  const serverKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const deviceKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const serverSigner = keyObjectSigner(serverKey);
  const { store, lwm2m, uri } = await serve(t, (s) => ({ certificate: { signer: serverSigner }, clientAuth: { types: ['rpk'], verify: storeClientVerifier(s) } }));
  const spki = keyObjectSigner(deviceKey).publicKey;
  await store.devices.createWithCredentials({ endpoint: 'rpk-dev' }, [{ kind: 'rpk', lookup: rpkLookup(spki), material: spki }]);
  await roundTrip(t, uri, lwm2m, 'rpk-dev', { mode: 'rpk', privateKey: deviceKey, serverPublicKey: serverSigner.publicKey });
  // A key the store does not know is refused during the handshake, and audited.
  const stranger = createLwm2mClient({ endpointName: 'rpk-dev', coap: { transmission: { ackTimeoutMs: 200, maxRetransmit: 1 } }, dtlsRetransmit: { initialMs: 100, maxRetransmissions: 1 } });
  t.after(() => stranger.close());
  addServerAccount(stranger.tree, { uri, security: { mode: 'rpk', privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, serverPublicKey: serverSigner.publicKey } });
  await assert.rejects(stranger.start());
  assert.ok((await store.audit.list({ action: 'dtls.client-auth' })).some((a) => a.outcome === 'deny'));
});

test('SDK ⇄ server with X.509 certificates (Security Mode 2)', { skip }, async (t) => {
  const serverCert = selfSignedCert(t, 'rootline-server');
  const deviceCert = selfSignedCert(t, 'x509-dev');
  const { store, lwm2m, uri } = await serve(t, (s) => ({ certificate: { signer: keyObjectSigner(serverCert.key), chain: [serverCert.der] }, clientAuth: { types: ['x509'], verify: storeClientVerifier(s) } }));
  await store.devices.createWithCredentials({ endpoint: 'x509-dev' }, [{ kind: 'x509', lookup: 'x509-dev', material: deviceCert.der }]);
  await roundTrip(t, uri, lwm2m, 'x509-dev', { mode: 'x509', privateKey: deviceCert.key, certificate: deviceCert.der, serverCertificate: serverCert.der });
});
