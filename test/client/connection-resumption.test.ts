/**
 * src/client/connection.ts keeps, per device, the last DTLS session per server address and
 * resumes it (abbreviated handshake) on the next connection there with the same client
 * credential and a server pin the earlier session's server identity passes — as after
 * Bootstrap-Finish when the LwM2M server shares the bootstrap server's address. A server that
 * does not resume gives a full handshake; another client credential is never resumed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { addBootstrapAccount, addServerAccount, createLwm2mClient } from '../../src/client/index.js';
import { connectToServer, holdPrivateKey } from '../../src/client/connection.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createDtlsServer, type DtlsServer, type DtlsServerOptions, type PeerIdentity, type ServerSession } from '../../src/dtls/index.js';
import { requirePeer } from '../helpers/peers.js';

const skip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');

function selfSignedCert(t: TestContext, cn: string): { der: Uint8Array; key: KeyObject } {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-resume-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-subj', `/CN=${cn}`, '-days', '2'], { stdio: 'ignore' });
  return { der: new Uint8Array(new X509Certificate(readFileSync(join(dir, 'c.pem'))).raw), key: createPrivateKey(readFileSync(join(dir, 'k.pem'))) };
}

async function server(t: TestContext, accepted: () => Uint8Array[], extra: Partial<DtlsServerOptions> = {}): Promise<{ dtls: DtlsServer; uri: string; sessions: ServerSession[]; verified: number[] }> {
  const cert = selfSignedCert(t, 'resume-server');
  const sessions: ServerSession[] = [];
  const verified: number[] = [];
  const dtls = await createDtlsServer({
    port: 0,
    certificate: { signer: keyObjectSigner(cert.key), chain: [cert.der] },
    clientAuth: {
      types: ['x509'],
      verify: (id: PeerIdentity) => {
        verified.push(sessions.length);
        return id.type === 'x509' && accepted().some((c) => Buffer.from(c).equals(Buffer.from(id.chain[0]!)));
      },
    },
    ...extra,
  });
  dtls.on('session', (s: ServerSession) => sessions.push(s));
  t.after(() => dtls.close());
  (dtls as unknown as { serverCert: Uint8Array }).serverCert = cert.der;
  return { dtls, uri: `coaps://127.0.0.1:${dtls.address().port}`, sessions, verified };
}

/** In an abbreviated handshake the client finishes first: the server's 'session' comes a moment later. */
async function sessionsReach(s: { sessions: ServerSession[] }, n: number): Promise<void> {
  for (let i = 0; i < 200 && s.sessions.length < n; i++) await new Promise((r) => setTimeout(r, 10));
}

const serverCertOf = (s: { dtls: DtlsServer }) => (s.dtls as unknown as { serverCert: Uint8Array }).serverCert;

test('the second connection to the same address with the same credential resumes; the server checks the client again', { skip }, async (t) => {
  const device = selfSignedCert(t, 'dev-a');
  let accepted = [device.der];
  const s = await server(t, () => accepted);
  const client = createLwm2mClient({ endpointName: 'dev-a' });
  t.after(() => client.close());
  const security = { mode: 'x509' as const, privateKey: device.key, certificate: device.der, serverCertificate: serverCertOf(s) };
  addBootstrapAccount(client.tree, { uri: s.uri, security });
  addServerAccount(client.tree, { uri: s.uri, security });
  const first = await connectToServer(client.tree, 0);
  await first.close();
  const second = await connectToServer(client.tree, 1);
  await second.close();
  await sessionsReach(s, 2);
  assert.deepEqual(s.sessions.map((x) => x.resumed), [false, true]);
  assert.equal(s.verified.length, 2, 'client credential checked on the full and on the resumed handshake');
  // The server no longer accepts the certificate (revoked): it refuses to resume, and the full handshake fails.
  accepted = [];
  await assert.rejects(connectToServer(client.tree, 1));
  assert.equal(s.sessions.length, 2);
});

test('a server that does not resume gives a full handshake; another client certificate at the same address is not resumed', { skip }, async (t) => {
  const a = selfSignedCert(t, 'dev-a');
  const b = selfSignedCert(t, 'dev-b');
  const s = await server(t, () => [a.der, b.der], { sessionCache: false });
  const client = createLwm2mClient({ endpointName: 'dev-a' });
  t.after(() => client.close());
  addBootstrapAccount(client.tree, { uri: s.uri, security: { mode: 'x509', privateKey: a.key, certificate: a.der, serverCertificate: serverCertOf(s) } });
  addServerAccount(client.tree, { uri: s.uri, security: { mode: 'x509', privateKey: a.key, certificate: a.der, serverCertificate: serverCertOf(s) } });
  await (await connectToServer(client.tree, 0)).close();
  await (await connectToServer(client.tree, 1)).close();
  await sessionsReach(s, 2);
  assert.deepEqual(s.sessions.map((x) => x.resumed), [false, false]);

  const s2 = await server(t, () => [a.der, b.der]);
  const other = createLwm2mClient({ endpointName: 'dev-b' });
  t.after(() => other.close());
  addBootstrapAccount(other.tree, { uri: s2.uri, security: { mode: 'x509', privateKey: a.key, certificate: a.der, serverCertificate: serverCertOf(s2) } });
  addServerAccount(other.tree, { uri: s2.uri, security: { mode: 'x509', privateKey: b.key, certificate: b.der, serverCertificate: serverCertOf(s2) } });
  await (await connectToServer(other.tree, 0)).close();
  await (await connectToServer(other.tree, 1)).close();
  await sessionsReach(s2, 2);
  assert.deepEqual(s2.sessions.map((x) => x.resumed), [false, false]);
  const ids = s2.sessions.map((x) => (x.identity as { chain: Uint8Array[] }).chain[0]!);
  assert.deepEqual([Buffer.from(ids[0]!).equals(Buffer.from(a.der)), Buffer.from(ids[1]!).equals(Buffer.from(b.der))], [true, true]);
});

test('holdPrivateKey takes a KeyObject only for the exact PKCS#8 it was exported to', { skip }, async (t) => {
  const device = selfSignedCert(t, 'dev-h');
  const s = await server(t, () => [device.der]);
  const client = createLwm2mClient({ endpointName: 'dev-h' });
  t.after(() => client.close());
  addBootstrapAccount(client.tree, { uri: s.uri, security: { mode: 'x509', privateKey: device.key, certificate: device.der, serverCertificate: serverCertOf(s) } });
  const secret = (client.tree.get(0, 0, 5) as { type: string; value: Uint8Array }).value;
  // Another key for these bytes is refused: the handshake below signs with the certified key.
  holdPrivateKey(secret, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
  await (await connectToServer(client.tree, 0)).close();
  await sessionsReach(s, 1);
  assert.equal(s.sessions.length, 1);
});
