import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requirePeer } from '../helpers/peers.js';
import { makeTempDir, startTestServer, type TestServer } from '../server/harness.js';
import { runCli } from './io.js';

let t: TestServer;
let files: string;

before(async () => {
  t = await startTestServer();
  files = makeTempDir('rootline-cli-');
});
after(async () => {
  await t.close();
  rmSync(files, { recursive: true, force: true });
});

/** Runs the CLI against the test server, through --api or ROOTLINE_API. */
function cli(args: string[], via: 'flag' | 'env' = 'flag') {
  return via === 'flag' ? runCli([...args, '--api', t.url], { fetch: globalThis.fetch }) : runCli(args, { fetch: globalThis.fetch, env: { ROOTLINE_API: t.url } });
}

test('device add (PSK) / list / show / remove round trip', async () => {
  const key = '7f3a9c0d5e1b2a4c6d8e0f1a2b3c4d5e';
  const add = await cli(['device', 'add', 'cli-dev-1', '--psk-identity', 'cli-id-1', '--psk-key', key, '--model', 'thermo', '--firmware-version', '2.1', '--tag', 'lab', '--tag', 'eu']);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stdout, 'added cli-dev-1 (psk cli-id-1)\n');

  const list = await cli(['device', 'list'], 'env');
  assert.equal(list.code, 0, list.stderr);
  const lines = list.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^ENDPOINT\s+MODEL\s+FIRMWARE\s+STATE\s+TAGS$/);
  assert.ok(lines.some((l) => /^cli-dev-1\s+thermo\s+2\.1\s+RESET\s+lab,eu$/.test(l)), list.stdout);

  const listJson = await cli(['device', 'list', '--json', '--model', 'thermo']);
  const page = JSON.parse(listJson.stdout) as { devices: { endpoint: string }[]; next: string | null };
  assert.deepEqual(page.devices.map((d) => d.endpoint), ['cli-dev-1']);
  assert.equal(page.next, null);

  const show = await cli(['device', 'show', 'cli-dev-1']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^endpoint: +cli-dev-1$/m);
  assert.match(show.stdout, /^ {2}psk +cli-id-1 +\(added /m);
  const showJson = JSON.parse((await cli(['device', 'show', 'cli-dev-1', '--json'])).stdout) as { credentials: unknown[] };
  assert.deepEqual(Object.keys(showJson.credentials[0] as object).sort(), ['createdAt', 'kind', 'lookup']);
  for (const out of [add.stdout, list.stdout, listJson.stdout, show.stdout]) assert.ok(!out.includes(key));

  const dup = await cli(['device', 'add', 'cli-dev-1']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /device "cli-dev-1" already exists \(ERR_API_DEVICE_EXISTS, HTTP 409\)/);

  const rm = await cli(['device', 'remove', 'cli-dev-1']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, 'removed cli-dev-1\n');
  const gone = await cli(['device', 'show', 'cli-dev-1']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /ERR_API_DEVICE_NOT_FOUND/);
  const rmAgain = await cli(['device', 'remove', 'cli-dev-1']);
  assert.equal(rmAgain.code, 1);
});

test('device add --rpk reads a PEM public key file', async () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const file = join(files, 'dev.pub.pem');
  writeFileSync(file, publicKey.export({ format: 'pem', type: 'spki' }));
  const add = await cli(['device', 'add', 'cli-rpk', '--rpk', file, '--json']);
  assert.equal(add.code, 0, add.stderr);
  const lookup = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');
  assert.deepEqual((JSON.parse(add.stdout) as { credentials: { kind: string; lookup: string }[] }).credentials.map((c) => [c.kind, c.lookup]), [['rpk', lookup]]);

  // A file that is not a public key: the API's verdict, exit 1.
  const junk = join(files, 'junk.pem');
  writeFileSync(junk, 'hello\n');
  const bad = await cli(['device', 'add', 'cli-rpk-2', '--rpk', junk]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ERR_API_BAD_CREDENTIAL/);
});

test('device add --cert binds the certificate subject CN; --cert-subject without a certificate', { skip: requirePeer('openssl', ['openssl'], 'apt-get install openssl') }, async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(files, 'k.pem'), '-out', join(files, 'c.pem'), '-subj', '/CN=cli-cert-cn', '-days', '2'], { stdio: 'ignore' });
  const add = await cli(['device', 'add', 'cli-cert', '--cert', join(files, 'c.pem')]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stdout, 'added cli-cert (x509 cli-cert-cn)\n');
  const subj = await cli(['device', 'add', 'cli-subj', '--cert-subject', 'cli-subj-cn']);
  assert.equal(subj.stdout, 'added cli-subj (x509 cli-subj-cn)\n');
});

test('audit list through the API shows the CLI mutations', async () => {
  await cli(['device', 'add', 'cli-audited']);
  const r = await cli(['audit', 'list', '--limit', '1000']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d+\t\S+\toperator:api\tdevice\.create\tcli-audited\tsuccess$/m);
  const json = JSON.parse((await cli(['audit', 'list', '--after', '1', '--limit', '1', '--json'])).stdout) as { records: { seq: number }[]; next: number };
  assert.deepEqual(json.records.map((x) => x.seq), [2]);
  assert.equal(json.next, 2);
});
