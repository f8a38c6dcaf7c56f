/**
 * `rootline masa serve` in-process: --help, every argument checked before anything opens (usage
 * mistakes exit 2 naming the flag), a data directory without a factory exits 1, and a real start
 * on port 0 answers /health over HTTPS and shuts down cleanly on abort.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa, domainCaPolicy } from '../../src/pki/index.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { runCli } from '../cli/io.js';

describe('rootline masa serve', () => {
  let dir: string;
  let cert: string;
  let key: string;
  let caPem: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rootline-masa-cli-'));
    const ca = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=MASA TLS CA', validityDays: 30 });
    const k = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const issued = await domainCaPolicy.issueServerCertificate(ca, { publicKey: keyObjectSigner(k).publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 10 });
    cert = join(dir, 'tls.pem');
    key = join(dir, 'tls.key');
    caPem = ca.chainPem;
    writeFileSync(cert, issued.pem + ca.chainPem);
    writeFileSync(key, k.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const init = await runCli(['factory', 'init', '--data', join(dir, 'data'), '--masa-url', 'https://127.0.0.1:9443'], { cwd: dir });
    assert.equal(init.code, 0, init.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--help describes the routes and options', async () => {
    const r = await runCli(['masa', 'serve', '--help']);
    assert.equal(r.code, 0);
    for (const s of ['--tls-cert', '--tls-key', '--store', '--claim-lifetime', '/.well-known/brski/requestvoucher', '/.well-known/brski/release']) assert.ok(r.stdout.includes(s), s);
    const group = await runCli(['masa', '--help']);
    assert.match(group.stdout, /masa serve/);
  });

  it('refuses bad arguments with a usage error naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--tls-key', 'x'], /missing --tls-cert/],
      [['--tls-cert', 'nope.pem', '--tls-key', 'x'], /--tls-cert: cannot read/],
      [['--tls-cert', key, '--tls-key', key], /--tls-cert: .* (holds no certificate|is not a PEM)/],
      [['--tls-cert', cert, '--tls-key', cert], /--tls-key: .* holds no PEM private key/],
      [['--tls-cert', cert, '--tls-key', key, '--port', '70000'], /--port: expected an integer 0\.\.65535/],
      [['--tls-cert', cert, '--tls-key', key, '--claim-lifetime', '5'], /--claim-lifetime/],
      [['--tls-cert', cert, '--tls-key', key, '--host', 'a b'], /--host/],
      [['--tls-cert', cert, '--tls-key', key, '--log-level', 'loud'], /--log-level/],
      [['--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['masa', 'serve', ...args], { cwd: dir });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  it('a data directory without a factory is an error, not a fresh one', async () => {
    const r = await runCli(['masa', 'serve', '--data', join(dir, 'empty'), '--tls-cert', cert, '--tls-key', key, '--port', '0'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds no factory: run 'rootline factory init/);
  });

  it('serves /health over HTTPS on a chosen port, audits its start, and stops on abort', async () => {
    let stdout = '';
    let stderr = '';
    const shutdown = new AbortController();
    const running = main(['masa', 'serve', '--data', join(dir, 'data'), '--tls-cert', cert, '--tls-key', key, '--host', '127.0.0.1', '--port', '0', '--log-level', 'silent'], {
      env: {},
      cwd: dir,
      shutdown: shutdown.signal,
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    });
    let url: string | undefined;
    while (url === undefined) {
      const m = /^rootline: masa listening on (https:\/\/\S+)$/m.exec(stdout);
      if (m !== null) url = m[1];
      else if ((await Promise.race([running, new Promise((r) => setTimeout(() => r('wait'), 50))])) !== 'wait') assert.fail(`masa serve ended: ${stderr}`);
    }
    const status = await new Promise<number>((done, fail) => httpsRequest(`${url}/health`, { ca: caPem }, (res) => done(res.resume().statusCode ?? 0)).on('error', fail).end());
    assert.equal(status, 200);
    shutdown.abort();
    assert.equal(await running, 0, stderr);
    const store = await openSqliteStore({ file: join(dir, 'data', 'rootline.db') });
    try {
      assert.equal((await store.audit.list({ action: 'masa.start' })).length, 1);
    } finally {
      await store.close();
    }
  });

  it('force-release releases an active claim as the manufacturer, audited with the reason', async () => {
    const data = join(dir, 'data');
    assert.equal((await runCli(['factory', 'mint', '--data', data, '--serial', 'FR-1', '--model', 'M', '--out', 'fr-1'], { cwd: dir })).code, 0);
    const store = await openSqliteStore({ file: join(data, 'rootline.db') });
    try {
      const claimed = await store.masa.claim({ serial: 'FR-1', owner: 'e'.repeat(64), domainId: 'ZG9tYWlu', pinnedDomainCert: 'Y2VydA==', nonce: null, expiresAt: null }, new Date().toISOString());
      assert.ok(claimed.claimed);
      const bad = await runCli(['masa', 'force-release', '--data', data, '--serial', 'FR-1'], { cwd: dir });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--reason/);
      assert.equal((await runCli(['masa', 'force-release', '--data', data, '--serial', '../x', '--reason', 'r'], { cwd: dir })).code, 2);
      const r = await runCli(['masa', 'force-release', '--data', data, '--serial', 'FR-1', '--reason', 'returned to the manufacturer', '--json'], { cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { serial: 'FR-1', released: true, previousDomainId: 'ZG9tYWlu' });
      assert.notEqual((await store.masa.getClaim('FR-1'))?.releasedAt, null);
      const audit = (await store.audit.list({ subject: 'FR-1', action: 'masa.claim.force-release' })).at(-1);
      assert.equal(audit?.details.reason, 'returned to the manufacturer');
      assert.match(audit?.actor ?? '', /^operator:/);
      const unknown = await runCli(['masa', 'force-release', '--data', data, '--serial', 'NOPE-9', '--reason', 'r'], { cwd: dir });
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /ERR_ONBOARDING_UNKNOWN_DEVICE/);
    } finally {
      await store.close();
    }
  });
});
