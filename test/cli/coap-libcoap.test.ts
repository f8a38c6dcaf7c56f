/**
 * `rootline coap` against libcoap's servers: coap-server-gnutls / coap-server-openssl with a PSK
 * (`-k <key> -h <hint>`; DTLS on port+1) and coap-server-openssl with certificates (`-c/-j/-C`),
 * our client presenting a certificate and checking the server's against --ca.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa, domainCaPolicy } from '../../src/pki/index.js';
import { requirePeer } from '../helpers/peers.js';
import { freeUdpPortPair } from '../coap/helpers/libcoap.js';
import { runCli } from './io.js';

const SERVERS = ['coap-server-gnutls', 'coap-server-openssl'];
const skip = requirePeer('libcoap', SERVERS, 'apt-get install libcoap3-bin');
const KEY = 'libcoap-cli-psk';
const KEY_HEX = Buffer.from(KEY).toString('hex');

/** Starts a libcoap server and waits until it answers plain CoAP on `port` (DTLS is on port+1). */
async function startServer(binary: string, args: string[]): Promise<{ port: number; stop(): Promise<void> }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPortPair();
    const child: ChildProcess = spawn(binary, ['-A', '127.0.0.1', '-p', String(port), '-v', '0', ...args], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const stop = async (): Promise<void> => {
      child.kill('SIGTERM');
      await exited;
    };
    const r = await runCli(['coap', 'get', `coap://127.0.0.1:${port}/`, '--timeout', '3']);
    if (r.code === 0) return { port, stop };
    await stop();
    if (attempt >= 3) throw new Error(`${binary} did not answer: ${r.stderr}`);
  }
}

for (const binary of SERVERS) {
  test(`rootline coap (PSK) → ${binary} -k -h: get, put + get --json, observe /time`, { skip }, async () => {
    // Generous timeouts: under a loaded CI machine a DTLS handshake with libcoap can take seconds.
    const psk = ['--psk-identity', 'cli-device', '--psk-key', KEY_HEX, '--timeout', '20'];
    const server = await startServer(binary, ['-k', KEY, '-h', 'rootline-hint']);
    try {
      const base = `coaps://127.0.0.1:${server.port + 1}`;
      const root = await runCli(['coap', 'get', `${base}/`, ...psk]);
      assert.equal(root.code, 0, root.stderr);
      assert.match(root.stdout, /This is a test server made with libcoap/);

      const put = await runCli(['coap', 'put', `${base}/example_data`, ...psk, '-e', 'written by rootline', '--content-format', 'text']);
      assert.equal(put.code, 0, put.stderr);
      const got = await runCli(['coap', 'get', `${base}/example_data`, ...psk, '--json']);
      assert.equal(got.code, 0, got.stderr);
      const view = JSON.parse(got.stdout) as { code: string; payload: string };
      assert.equal(view.code, '2.05');
      assert.equal(view.payload, 'written by rootline');

      const obs = await runCli(['coap', 'observe', `${base}/time`, ...psk, '--observe-count', '2', '--json']);
      assert.equal(obs.code, 0, obs.stderr);
      const lines = obs.stdout.trim().split('\n').map((l) => JSON.parse(l) as { code: string; observe?: number });
      assert.equal(lines.length, 2);
      assert.ok(lines.every((l) => l.code === '2.05' && typeof l.observe === 'number'), obs.stdout);

      const wrong = await runCli(['coap', 'get', `${base}/`, '--psk-identity', 'cli-device', '--psk-key', 'ff'.repeat(8), '--timeout', '2']);
      assert.equal(wrong.code, 1);
      assert.equal(wrong.stdout, '');
    } finally {
      await server.stop();
    }
  });
}

function p256(): { pkcs8: string; publicKey: Uint8Array; signer: ReturnType<typeof keyObjectSigner> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    pkcs8: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    signer: keyObjectSigner(privateKey),
  };
}

test('rootline coap --cert/--key/--ca → coap-server-openssl -c/-j/-C (X.509 both ways)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-coap-pki-'));
  try {
    const ca = await createRootCa({ signer: p256().signer, subject: 'CN=interop CA', validityDays: 2 });
    const serverKey = p256();
    const clientKey = p256();
    const serverCert = await domainCaPolicy.issueServerCertificate(ca, { publicKey: serverKey.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 1 });
    const clientCert = await domainCaPolicy.issueLdevid(ca, { publicKey: clientKey.publicKey, subject: 'CN=interop-client', validityDays: 1 });
    const f = (name: string, text: string): string => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const files = {
      ca: f('ca.pem', ca.chainPem),
      serverCert: f('server.crt', serverCert.pem),
      serverKey: f('server.key', serverKey.pkcs8),
      clientCert: f('client.crt', clientCert.pem),
      clientKey: f('client.key', clientKey.pkcs8),
    };
    const creds = ['--cert', files.clientCert, '--key', files.clientKey, '--ca', files.ca, '--timeout', '20'];
    const server = await startServer('coap-server-openssl', ['-c', files.serverCert, '-j', files.serverKey, '-C', files.ca]);
    try {
      const root = await runCli(['coap', 'get', `coaps://127.0.0.1:${server.port + 1}/`, ...creds, '--json']);
      assert.equal(root.code, 0, root.stderr);
      assert.match((JSON.parse(root.stdout) as { payload: string }).payload, /libcoap/);
    } finally {
      await server.stop();
    }

    // A certificate from the right CA for other names: refused for 127.0.0.1 (RFC 6125 §6.4).
    const elsewhere = await domainCaPolicy.issueServerCertificate(ca, { publicKey: serverKey.publicKey, subjectAltNames: { dns: ['elsewhere.example'], ip: ['192.0.2.1'] }, validityDays: 1 });
    const misnamed = await startServer('coap-server-openssl', ['-c', f('elsewhere.crt', elsewhere.pem), '-j', files.serverKey, '-C', files.ca]);
    try {
      const refused = await runCli(['coap', 'get', `coaps://127.0.0.1:${misnamed.port + 1}/`, ...creds]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /\[ERR_DTLS_BAD_CERTIFICATE\]/);
    } finally {
      await misnamed.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
