/**
 * Issue 3's acceptance check against `rootline serve` (in-process startServer on ports 0 with a
 * temporary data dir): a device added through the CLI gets a CoAPs session from libcoap's
 * coap-client (GnuTLS and OpenSSL builds) with its PSK, and /.well-known/core answers 2.05 in
 * link format; a wrong key or an unknown identity gets no session, and the audit log says so
 * without ever holding the key. Devices with a raw public key or a certificate get in through
 * ECDHE_ECDSA with client authentication; an unregistered key is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa, domainCaPolicy } from '../../src/pki/index.js';
import { requirePeer } from '../helpers/peers.js';
import { parseLinkFormat } from '../../src/coap/link-format.js';
import { run } from '../coap/helpers/libcoap.js';
import { runCli } from '../cli/io.js';
import { request, startTestServer, type TestServer } from '../server/harness.js';

const CLIENTS = ['coap-client-gnutls', 'coap-client-openssl'];
const skip = requirePeer('libcoap', CLIENTS, 'apt-get install libcoap3-bin');

interface AuditView {
  seq: number;
  actor: string;
  action: string;
  subject: string;
  outcome: string;
  details: Record<string, unknown>;
}

let t: TestServer;
let coaps: string;

before(async () => {
  if (skip !== false) return;
  // A short handshake timeout, so a stalled (wrong-key) handshake is refused and audited soon.
  t = await startTestServer({ start: { coapsDtls: { handshakeTimeoutMs: 1500 } } });
  coaps = t.server.addresses.coaps!.url;
  // A room's resource on serve's CoAPs endpoint, so the link format has something to list.
  t.server.coap.secure.endpoint!.resource('/test/ping', { get: () => ({ payload: 'pong' }), attributes: { rt: 'rootline.test' } });
});
after(() => t?.close());

async function addDevice(endpoint: string, identity: string, key: string): Promise<void> {
  const r = await runCli(['device', 'add', endpoint, '--psk-identity', identity, '--psk-key', Buffer.from(key).toString('hex'), '--api', t.url], { fetch: globalThis.fetch });
  assert.equal(r.code, 0, r.stderr);
}

async function handshakeRecords(): Promise<AuditView[]> {
  const r = await request(`${t.url}/api/v1/audit?action=dtls.handshake&limit=1000`);
  assert.equal(r.status, 200);
  return (r.body as { records: AuditView[] }).records;
}

/** Polls the audit log until a record matches (the test's own timeout bounds the wait). */
async function waitForRecord(match: (r: AuditView) => boolean): Promise<AuditView> {
  for (;;) {
    const found = (await handshakeRecords()).find(match);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const client of CLIENTS) {
  const endpoint = `serve-${client}`;
  const identity = `id-${client}`;
  const key = `key-for-${client}`;

  test(`${client} -u/-k → rootline serve: 2.05 link format for a device added with rootline device add`, { skip }, async () => {
    await addDevice(endpoint, identity, key);
    // -v 6 makes coap-client log the response header (code and options) to stdout.
    const r = await run(client, ['-v', '6', '-u', identity, '-k', key, `${coaps}/.well-known/core`]);
    const out = r.stdout.toString();
    // The logged header line ends with the payload as ` :: '<payload>'`.
    const m = /t:ACK c:2\.05 .*\[ Content-Format:application\/link-format \] :: '(.*)'$/m.exec(out);
    assert.ok(m !== null, `${out}\n${r.stderr}`);
    const body = m[1]!;
    assert.deepEqual(parseLinkFormat(body).map((l) => l.target), ['/test/ping']);

    const allow = await waitForRecord((x) => x.outcome === 'allow' && x.subject === `psk:${identity}`);
    assert.equal(allow.actor, `device:${endpoint}`);
    assert.equal(allow.details.endpoint, endpoint);
    assert.match(String(allow.details.peer), /^127\.0\.0\.1:\d+$/);
  });

  test(`${client} with a wrong key gets no session; the refusal is audited with the identity, never a key`, { skip }, async () => {
    const r = await run(client, ['-v', '6', '-B', '2', '-u', identity, '-k', `wrong-${key}`, `${coaps}/.well-known/core`]);
    assert.doesNotMatch(r.stdout.toString(), /c:2\.05/);
    assert.doesNotMatch(r.stdout.toString(), /test\/ping/);
    const deny = await waitForRecord((x) => x.outcome === 'deny' && x.subject === `psk:${identity}`);
    assert.equal(deny.details.identity, identity);
    assert.match(String(deny.details.reason), /^ERR_DTLS_/);
    const all = JSON.stringify(await handshakeRecords());
    for (const secret of [key, `wrong-${key}`, Buffer.from(key).toString('hex')]) assert.ok(!all.includes(secret), 'no key in the audit log');
  });
}

test('an unknown PSK identity is refused (unknown_psk_identity) and audited as a deny', { skip }, async () => {
  const r = await run('coap-client-gnutls', ['-v', '6', '-B', '2', '-u', 'nobody-here', '-k', 'whatever', `${coaps}/.well-known/core`]);
  assert.doesNotMatch(r.stdout.toString(), /c:2\.05/);
  assert.match(r.stdout.toString() + r.stderr, /username is missing or not known|unknown_psk_identity|115/);
  const deny = await waitForRecord((x) => x.outcome === 'deny' && x.subject === 'psk:nobody-here');
  assert.equal(deny.details.reason, 'unknown identity');
  assert.equal(deny.actor, 'system');
});

test('the NoSec CoAP port answers /.well-known/core too (no credentials)', { skip }, async () => {
  const r = await run('coap-client-gnutls', ['-v', '6', `${t.server.addresses.coap!.url}/.well-known/core`]);
  assert.match(r.stdout.toString(), /t:ACK c:2\.05 .*Content-Format:application\/link-format/);
});

function p256(): { sec1: string; pkcs8: string; spki: string; publicKey: Uint8Array; signer: ReturnType<typeof keyObjectSigner> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    sec1: privateKey.export({ format: 'pem', type: 'sec1' }).toString(),
    pkcs8: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    spki: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    signer: keyObjectSigner(privateKey),
  };
}

test('coap-client-gnutls -M (raw public key) → serve: a registered RPK gets 2.05, an unregistered one is refused', { skip }, async () => {
  const known = p256();
  const stranger = p256();
  writeFileSync(join(t.dir, 'known.key'), known.sec1);
  writeFileSync(join(t.dir, 'stranger.key'), stranger.sec1);
  writeFileSync(join(t.dir, 'known.pub'), known.spki);
  const add = await runCli(['device', 'add', 'serve-rpk', '--rpk', join(t.dir, 'known.pub'), '--api', t.url], { fetch: globalThis.fetch });
  assert.equal(add.code, 0, add.stderr);

  const ok = await run('coap-client-gnutls', ['-v', '6', '-M', join(t.dir, 'known.key'), `${coaps}/.well-known/core`]);
  assert.match(ok.stdout.toString(), /t:ACK c:2\.05 .*Content-Format:application\/link-format/, ok.stdout.toString() + ok.stderr);
  const allow = await waitForRecord((x) => x.outcome === 'allow' && x.details.endpoint === 'serve-rpk');
  assert.equal(allow.details.credential, 'rpk');
  assert.match(String(allow.details.cipherSuite), /ECDHE_ECDSA/);

  const refused = await run('coap-client-gnutls', ['-v', '6', '-B', '2', '-M', join(t.dir, 'stranger.key'), `${coaps}/.well-known/core`]);
  assert.doesNotMatch(refused.stdout.toString(), /c:2\.05/);
  const deny = await waitForRecord((x) => x.outcome === 'deny' && x.details.credential === 'rpk');
  assert.equal(deny.details.reason, 'unknown raw public key');
});

test('coap-client-openssl -c/-j/-C (certificate, server checked against <data>/coaps-ca.pem) → serve: 2.05', { skip }, async () => {
  const ca = await createRootCa({ signer: p256().signer, subject: 'CN=test device CA', validityDays: 2 });
  const device = p256();
  const cert = await domainCaPolicy.issueLdevid(ca, { publicKey: device.publicKey, subject: 'CN=serve-cert-device', validityDays: 1 });
  writeFileSync(join(t.dir, 'device.crt'), cert.pem);
  writeFileSync(join(t.dir, 'device.key'), device.pkcs8);
  const add = await runCli(['device', 'add', 'serve-cert', '--cert', join(t.dir, 'device.crt'), '--api', t.url], { fetch: globalThis.fetch });
  assert.equal(add.code, 0, add.stderr);

  // -C makes libcoap verify our server certificate against the local CA that serve wrote.
  const r = await run('coap-client-openssl', ['-v', '6', '-c', join(t.dir, 'device.crt'), '-j', join(t.dir, 'device.key'), '-C', join(t.dir, 'coaps-ca.pem'), `${coaps}/.well-known/core`]);
  assert.match(r.stdout.toString(), /t:ACK c:2\.05 .*Content-Format:application\/link-format/, r.stdout.toString() + r.stderr);
  const allow = await waitForRecord((x) => x.outcome === 'allow' && x.details.endpoint === 'serve-cert');
  assert.equal(allow.subject, 'x509:serve-cert-device');
});
