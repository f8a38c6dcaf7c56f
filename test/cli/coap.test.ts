/**
 * `rootline coap get|put|post|delete|observe`: argument checks (exit 2), then real exchanges with
 * our own `rootline serve` over coaps:// (PSK, raw public key pinned with --server-key,
 * certificate checked with --ca) and coap://, with IPv4 and IPv6 literals and a host name.
 * The libcoap servers are in test/cli/coap-libcoap.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoapEndpoint, ContentFormat, UdpTransport, type ResourceHandle } from '../../src/coap/index.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa } from '../../src/pki/index.js';
import { runCli } from './io.js';
import { startTestServer, type TestServer } from '../server/harness.js';

const IDENTITY = 'cli-coap-id';
const KEY_HEX = '00112233445566778899aabbccddeeff';
let t: TestServer;
let coaps: string;
let coap: string;
let stored = 'initial';
let counter = 0;
let counterResource: ResourceHandle;

function psk(): string[] {
  return ['--psk-identity', IDENTITY, '--psk-key', KEY_HEX];
}

function p256(): { pkcs8: string; spki: string; publicKey: Uint8Array; signer: ReturnType<typeof keyObjectSigner> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    pkcs8: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    spki: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    signer: keyObjectSigner(privateKey),
  };
}

before(async () => {
  t = await startTestServer();
  coaps = t.server.addresses.coaps!.url;
  coap = t.server.addresses.coap!.url;
  const add = await runCli(['device', 'add', 'cli-coap-dev', ...psk(), '--api', t.url], { fetch: globalThis.fetch });
  assert.equal(add.code, 0, add.stderr);
  for (const listener of [t.server.coap.secure, t.server.coap.noSec]) {
    const ep = listener.endpoint!;
    ep.resource('/cli/store', {
      get: () => ({ payload: stored, contentFormat: ContentFormat.TextPlain }),
      put: (req) => {
        stored = Buffer.from(req.payload).toString();
        return { options: [] };
      },
      post: (req) => ({ code: 0x41, payload: `cf=${req.contentFormat}` }),
      delete: () => {
        stored = '';
        return {};
      },
    });
    ep.resource('/cli/binary', { get: () => ({ payload: Uint8Array.of(0xff, 0x00, 0xfe), contentFormat: ContentFormat.OctetStream }) });
  }
  counterResource = t.server.coap.secure.endpoint!.resource('/cli/counter', { get: () => ({ payload: `n=${counter}` }), observable: true });
});
after(() => t.close());

const BAD: [string, string[], RegExp][] = [
  ['no URI', ['coap', 'get'], /missing argument <uri>/],
  ['http scheme', ['coap', 'get', 'http://127.0.0.1/'], /<uri>: scheme http is not coap or coaps/],
  ['a fragment', ['coap', 'get', 'coap://127.0.0.1/a#b'], /no fragment/],
  ['bad timeout', ['coap', 'get', 'coap://127.0.0.1/', '--timeout', '0'], /--timeout: expected an integer 1\.\.3600, got "0"/],
  ['PSK key not hex', ['coap', 'get', 'coaps://127.0.0.1/', '--psk-identity', 'a', '--psk-key', 'xyz'], /--psk-key: expected 1\.\.64 bytes as hex/],
  ['identity without key', ['coap', 'get', 'coaps://127.0.0.1/', '--psk-identity', 'a'], /--psk-identity needs --psk-key/],
  ['coaps without credentials', ['coap', 'get', 'coaps://127.0.0.1/'], /coaps:\/\/ needs credentials/],
  ['DTLS options on coap://', ['coap', 'get', 'coap://127.0.0.1/', '--psk-identity', 'a', '--psk-key', '00'], /need a coaps:\/\/ URI/],
  ['PSK and RPK together', ['coap', 'get', 'coaps://127.0.0.1/', '--psk-identity', 'a', '--psk-key', '00', '--rpk', 'k.pem'], /not both/],
  ['cert without key', ['coap', 'get', 'coaps://127.0.0.1/', '--cert', 'c.pem', '--ca', 'ca.pem'], /--cert needs --key/],
  ['RPK without server authentication', ['coap', 'get', 'coaps://127.0.0.1/', '--rpk', 'k.pem'], /--ca <pem> or --server-key <pem>, or pass --insecure/],
  ['payload on GET', ['coap', 'get', 'coap://127.0.0.1/', '-e', 'x'], /are for put and post/],
  ['payload twice', ['coap', 'put', 'coap://127.0.0.1/', '-e', 'x', '--payload-file', 'f'], /not both/],
  ['unknown content format', ['coap', 'post', 'coap://127.0.0.1/', '-e', 'x', '--content-format', 'text/html'], /--content-format: expected a content-format number/],
  ['accept out of range', ['coap', 'get', 'coap://127.0.0.1/', '--accept', '70000'], /--accept: expected a content-format number/],
  ['observe count on get', ['coap', 'get', 'coap://127.0.0.1/', '--observe-count', '2'], /--observe-count is for coap observe/],
  ['bad observe count', ['coap', 'observe', 'coap://127.0.0.1/', '--observe-count', 'many'], /--observe-count: expected an integer/],
  ['unknown flag', ['coap', 'get', 'coap://127.0.0.1/', '--bogus'], /Unknown option '--bogus'/],
  ['unknown method', ['coap', 'patch', 'coap://127.0.0.1/'], /unknown command "coap patch"/],
];

for (const [what, argv, message] of BAD) {
  test(`coap: ${what} → exit 2 with a clear message`, async () => {
    const r = await runCli(argv);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  });
}

test('coap: an unreadable --rpk file is a failure (exit 1) naming the flag', async () => {
  const r = await runCli(['coap', 'get', 'coaps://127.0.0.1/', '--rpk', join(t.dir, 'missing.pem'), '--insecure']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--rpk: cannot read .*missing\.pem: ENOENT \[ERR_CLI_INPUT_FILE\]/);
});

test('coaps:// with PSK against rootline serve: get, put, post, delete, --json, --output', async () => {
  const wk = await runCli(['coap', 'get', `${coaps}/.well-known/core`, ...psk(), '--json']);
  assert.equal(wk.code, 0, wk.stderr);
  const view = JSON.parse(wk.stdout) as { code: string; contentFormat: string; payload: string; options: { name: string; value: unknown }[] };
  assert.equal(view.code, '2.05');
  assert.equal(view.contentFormat, 'application/link-format');
  assert.deepEqual(view.options, [{ number: 12, name: 'Content-Format', value: 40 }]);
  assert.match(view.payload, /<\/cli\/store>/);

  const put = await runCli(['coap', 'put', `${coaps}/cli/store`, ...psk(), '-e', 'hello over dtls']);
  assert.equal(put.code, 0, put.stderr);
  assert.equal(stored, 'hello over dtls');
  const get = await runCli(['coap', 'get', `${coaps}/cli/store`, ...psk()]);
  assert.equal(get.stdout, 'hello over dtls\n');

  const file = join(t.dir, 'body.bin');
  writeFileSync(file, 'from a file');
  const fromFile = await runCli(['coap', 'put', `${coaps}/cli/store`, ...psk(), '--payload-file', file], { cwd: '/' });
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(stored, 'from a file');

  const post = await runCli(['coap', 'post', `${coaps}/cli/store`, ...psk(), '-e', '{}', '--content-format', 'json', '--json']);
  assert.equal(post.code, 0, post.stderr);
  assert.deepEqual(JSON.parse(post.stdout), { code: '2.01', options: [], payload: 'cf=50', payloadEncoding: 'utf8' });

  const del = await runCli(['coap', 'delete', `${coaps}/cli/store`, ...psk(), '--json']);
  assert.equal(JSON.parse(del.stdout).code, '2.02');
  assert.equal(stored, '');

  const bin = await runCli(['coap', 'get', `${coaps}/cli/binary`, ...psk(), '--json']);
  assert.deepEqual(JSON.parse(bin.stdout).payload, 'ff00fe');
  assert.equal(JSON.parse(bin.stdout).payloadEncoding, 'hex');
  const out = join(t.dir, 'binary.out');
  const saved = await runCli(['coap', 'get', `${coaps}/cli/binary`, ...psk(), '-o', out]);
  assert.equal(saved.code, 0, saved.stderr);
  assert.deepEqual(new Uint8Array(readFileSync(out)), Uint8Array.of(0xff, 0x00, 0xfe));

  const missing = await runCli(['coap', 'get', `${coaps}/no/such`, ...psk()]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /server answered 4\.04 \[ERR_CLI_COAP_ERROR_RESPONSE\]/);
});

test('coaps:// with a wrong PSK gets no session and fails within --timeout (exit 1)', async () => {
  const r = await runCli(['coap', 'get', `${coaps}/.well-known/core`, '--psk-identity', IDENTITY, '--psk-key', 'ff'.repeat(16), '--timeout', '2']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\[ERR_(CLI_COAP_TIMEOUT|DTLS_[A-Z_]+)\]/);
  assert.equal(r.stdout, '');
});

test('coap observe over coaps:// prints each representation and stops after --observe-count', async () => {
  counter = 0;
  const notify = (async () => {
    while (counterResource.observerCount() === 0) await new Promise((r) => setTimeout(r, 20));
    for (let i = 1; i <= 2; i++) {
      await new Promise((r) => setTimeout(r, 30));
      counter = i;
      counterResource.notifyObservers();
    }
  })();
  const [r] = await Promise.all([runCli(['coap', 'observe', `${coaps}/cli/counter`, ...psk(), '--observe-count', '3', '--json']), notify]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { code: string; payload: string; observe: number });
  assert.deepEqual(lines.map((l) => l.payload), ['n=0', 'n=1', 'n=2']);
  assert.ok(lines.every((l) => l.code === '2.05' && typeof l.observe === 'number'));
  // The CLI deregistered on the way out (RFC 7641 §3.6).
  while (counterResource.observerCount() !== 0) await new Promise((r) => setTimeout(r, 20));
});

test('coap observe --duration ends the observation by itself and deregisters', async () => {
  counter = 7;
  const r = await runCli(['coap', 'observe', `${coaps}/cli/counter`, ...psk(), '--duration', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'n=7\n');
  while (counterResource.observerCount() !== 0) await new Promise((res) => setTimeout(res, 20));
});

test('coaps:// ECDHE: --rpk with the server key pinned by --server-key; a wrong pin refuses the server', async () => {
  const device = p256();
  writeFileSync(join(t.dir, 'rpk.key'), device.pkcs8);
  writeFileSync(join(t.dir, 'rpk.pub'), device.spki);
  const add = await runCli(['device', 'add', 'cli-rpk-dev', '--rpk', join(t.dir, 'rpk.pub'), '--api', t.url], { fetch: globalThis.fetch });
  assert.equal(add.code, 0, add.stderr);
  // The server certificate file carries the KeyStore key `coaps-server`: pinning it pins the key.
  const ok = await runCli(['coap', 'get', `${coaps}/cli/binary`, '--rpk', join(t.dir, 'rpk.key'), '--server-key', join(t.dir, 'coaps-server.pem'), '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).code, '2.05');

  writeFileSync(join(t.dir, 'other.pub'), p256().spki);
  const wrong = await runCli(['coap', 'get', `${coaps}/cli/binary`, '--rpk', join(t.dir, 'rpk.key'), '--server-key', join(t.dir, 'other.pub')]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /\[ERR_DTLS_BAD_CERTIFICATE\]/);
});

test('coaps:// ECDHE: the server certificate checked by --ca <data>/coaps-ca.pem; another anchor refuses it', async () => {
  // The client authenticates with the raw public key registered in the previous test.
  const ok = await runCli(['coap', 'get', `${coaps}/cli/binary`, '--rpk', join(t.dir, 'rpk.key'), '--ca', join(t.dir, 'coaps-ca.pem'), '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).code, '2.05');

  const other = await createRootCa({ signer: p256().signer, subject: 'CN=some other CA', validityDays: 2 });
  writeFileSync(join(t.dir, 'other-ca.pem'), other.chainPem);
  const refused = await runCli(['coap', 'get', `${coaps}/cli/binary`, '--rpk', join(t.dir, 'rpk.key'), '--ca', join(t.dir, 'other-ca.pem')]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /\[ERR_DTLS_BAD_CERTIFICATE\]/);
});

test('coap:// (NoSec): IPv4 literal to serve, an IPv6 literal and a host name to an endpoint on that address', async () => {
  const v4 = await runCli(['coap', 'put', `${coap}/cli/store`, '-e', 'plain']);
  assert.equal(v4.code, 0, v4.stderr);
  assert.equal((await runCli(['coap', 'get', `${coap}/cli/store`])).stdout, 'plain\n');

  const t6 = await UdpTransport.bind({ address: '::1' });
  const v6 = new CoapEndpoint(t6);
  v6.resource('/where', { get: () => ({ payload: 'on ::1' }) });
  const local = (await lookup('localhost')).address;
  const tn = await UdpTransport.bind({ address: local });
  const named = new CoapEndpoint(tn);
  named.resource('/where', { get: () => ({ payload: `on ${local}` }) });
  try {
    const literal = await runCli(['coap', 'get', `coap://[::1]:${t6.local.port}/where`]);
    assert.equal(literal.stdout, 'on ::1\n', literal.stderr);
    const byName = await runCli(['coap', 'get', `coap://localhost:${tn.local.port}/where`]);
    assert.equal(byName.stdout, `on ${local}\n`, byName.stderr);
  } finally {
    await v6.close();
    await named.close();
  }
});
