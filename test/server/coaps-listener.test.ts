/**
 * The CoAP/CoAPs listeners in the composition root: `rootline serve` prints both lines, health
 * lists them, the server key and certificate survive a restart (RPK pins stay valid), and the
 * certificate chains to <data>/coaps-ca.pem for serverAuth with the loopback names; a sealed PSK
 * copied onto another device's identity does not open, so that identity gets no session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { connectDtls } from '../../src/dtls/index.js';
import { isRootlineError } from '../../src/errors.js';
import { decodePem, decodePemChain, parseCertificate, publicKeyFingerprint, verifyChain } from '../../src/pki/index.js';
import { makeTempDir, request, startTestServer } from './harness.js';

test('rootline serve prints the coap and coaps lines with the real ports, and health lists both', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let out = '';
  let err = '';
  const stop = new AbortController();
  const running = main(['serve', '--data', dir, '--http-port', '0', '--coap-port', '0', '--coaps-port', '0', '--device-host', '127.0.0.1', '--log-level', 'silent'], {
    env: {},
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    shutdown: stop.signal,
  });
  try {
    while (!/rootline: coap listening/.test(out)) {
      await Promise.race([new Promise((r) => setTimeout(r, 20)), running.then((code) => assert.fail(`serve exited with ${code}: ${err}`))]);
    }
    const http = /rootline: http listening on (http:\/\/\S+)\n/.exec(out)![1]!;
    const coaps = /rootline: coaps listening on coaps:\/\/127\.0\.0\.1:([1-9][0-9]*)\n/.exec(out);
    const coap = /rootline: coap listening on coap:\/\/127\.0\.0\.1:([1-9][0-9]*)\n/.exec(out);
    assert.ok(coaps && coap, out);
    const health = await request(`${http}/api/v1/health`);
    assert.equal(health.status, 200);
    const listeners = (health.body as { listeners: Record<string, { state: string; port: number }> }).listeners;
    assert.deepEqual(listeners.coaps, { state: 'up', port: Number(coaps[1]), url: `coaps://127.0.0.1:${coaps[1]}` });
    assert.deepEqual(listeners.coap, { state: 'up', port: Number(coap[1]), url: `coap://127.0.0.1:${coap[1]}` });
  } finally {
    stop.abort();
    assert.equal(await running, 0, err);
  }
});

test('the CoAPs server key and certificate persist across restarts; a deleted certificate is reissued for the same key', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startTestServer({ dir });
  const certPem = readFileSync(join(dir, 'coaps-server.pem'), 'utf8');
  const caPem = readFileSync(join(dir, 'coaps-ca.pem'), 'utf8');
  const key = await first.server.keystore.getPublicKey('coaps-server');
  await first.close({ keepDir: true });

  const leaf = parseCertificate(decodePem(certPem, 'CERTIFICATE'));
  assert.deepEqual(leaf.publicKey, key, 'the certificate certifies the KeyStore key coaps-server');
  // The chain verifies for serverAuth against the CA file operators hand to clients.
  verifyChain(leaf.der, [], decodePemChain(caPem, 'CERTIFICATE'), { purpose: 'serverAuth' });
  assert.deepEqual([...leaf.subjectAltNames!.ip].sort(), ['127.0.0.1', '::1']);
  assert.ok(leaf.subjectAltNames!.dns.includes('localhost'));
  assert.ok(!leaf.keyUsage?.includes('keyCertSign'));

  const second = await startTestServer({ dir });
  try {
    assert.equal(readFileSync(join(dir, 'coaps-server.pem'), 'utf8'), certPem, 'the certificate is reused');
    assert.equal(readFileSync(join(dir, 'coaps-ca.pem'), 'utf8'), caPem, 'the CA is reused');
    const gen = (await request(`${second.url}/api/v1/audit?action=keystore.key.generate`)).body as { records: { subject: string }[] };
    assert.deepEqual(gen.records.map((r) => r.subject), ['credentials-seal', 'coaps-server', 'coaps-ca'], 'no key was generated twice');
  } finally {
    await second.close({ keepDir: true });
  }

  unlinkSync(join(dir, 'coaps-server.pem'));
  const third = await startTestServer({ dir });
  try {
    const reissued = parseCertificate(decodePem(readFileSync(join(dir, 'coaps-server.pem'), 'utf8'), 'CERTIFICATE'));
    assert.notEqual(reissued.serialNumber, leaf.serialNumber);
    assert.equal(publicKeyFingerprint(reissued.publicKey), publicKeyFingerprint(key), 'same key, so RPK pins stay valid');
    const issued = (await request(`${third.url}/api/v1/audit?action=pki.certificate.issue`)).body as { records: unknown[] };
    assert.equal(issued.records.length, 2);
  } finally {
    await third.close();
  }
});

test('a sealed PSK moved onto another identity does not open: refused (unknown_psk_identity) and audited', async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const created = await request(`${s.url}/api/v1/devices`, { method: 'POST', body: { endpoint: 'owner', credentials: { psk: { identity: 'owner-id', key: key.toString('hex') } } } });
  assert.equal(created.status, 201);
  // Someone with write access to the database copies the owner's sealed key onto their own row.
  const [sealed] = await s.server.store.devices.credentials('owner');
  await s.server.store.devices.create({ endpoint: 'thief' });
  await s.server.store.devices.addCredential({ endpoint: 'thief', kind: 'psk', lookup: 'thief-id', material: sealed!.material });

  const port = s.server.addresses.coaps!.port;
  const retransmit = { initialMs: 200, maxRetransmissions: 2 };
  await assert.rejects(connectDtls({ host: '127.0.0.1', port, psk: { identity: 'thief-id', key }, retransmit }), (e: unknown) => {
    assert.ok(isRootlineError(e), String(e));
    assert.match(e.code, /^ERR_DTLS_/);
    return true;
  });
  const owner = await connectDtls({ host: '127.0.0.1', port, psk: { identity: 'owner-id', key }, retransmit });
  owner.close();

  for (;;) {
    const records = ((await request(`${s.url}/api/v1/audit?action=dtls.handshake`)).body as { records: { subject: string; outcome: string; details: Record<string, unknown> }[] }).records;
    const deny = records.find((r) => r.subject === 'psk:thief-id');
    const allow = records.find((r) => r.subject === 'psk:owner-id');
    if (deny !== undefined && allow !== undefined) {
      assert.equal(deny.outcome, 'deny');
      assert.deepEqual(deny.details, { credential: 'psk', identity: 'thief-id', endpoint: 'thief', reason: 'sealed key does not open' });
      assert.equal(allow.outcome, 'allow');
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(s.logs(), /sealed PSK does not open; handshake refused/);
  assert.ok(!s.logs().includes(key.toString('hex')), 'the key is not in the log');
});
