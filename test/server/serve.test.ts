/**
 * `rootline serve` as a real process (run from sources through tsx): ports 0, health, SIGTERM,
 * restart on the same data dir, refusal without the master key, bad flags, tampered audit log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../cli/io.js';
import { makeTempDir, request } from './harness.js';

const root = resolve(import.meta.dirname, '../..');
const entry = join(root, 'src/cli/main-entry.ts');

/** The parent's environment without ROOTLINE_* settings, so a developer's shell cannot leak in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ROOTLINE_')) env[k] = v;
  return { ...env, ...extra };
}

interface Serving {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Starts serve and resolves once it printed its HTTP line (rejects if it exits first). */
async function serve(dir: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<Serving> {
  const p = spawnCli(['serve', '--data', dir, '--http-port', '0', '--coap-port', '0', '--coaps-port', '0', '--device-host', '127.0.0.1', '--log-level', 'warn', ...extra], env);
  const url = await new Promise<string>((res, rej) => {
    const onData = (): void => {
      const m = /rootline: http listening on (http:\/\/\S+)\n/.exec(p.stdout());
      if (m) {
        p.child.stdout!.off('data', onData);
        res(m[1]!);
      }
    };
    p.child.stdout!.on('data', onData);
    void p.exited.then((code) => rej(new Error(`serve exited with ${code} before listening:\n${p.stderr()}`)));
  });
  return { ...p, url };
}

async function stop(s: Serving): Promise<number | null> {
  s.child.kill('SIGTERM');
  return s.exited;
}

test('serve on port 0 prints the real port, answers health, stops cleanly on SIGTERM, keeps devices across restarts', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const first = await serve(join(dir, 'data'));
  try {
    assert.match(first.url, /^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
    const health = await request(`${first.url}/api/v1/health`);
    assert.equal(health.status, 200);
    assert.equal((health.body as { status: string }).status, 'ok');
    assert.equal((health.body as { listeners: { http: { port: number } } }).listeners.http.port, Number(new URL(first.url).port));

    // The first start generated a master key (0600) and said so on stderr.
    const keyFile = join(dir, 'data', 'master.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(keyFile, 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.match(first.stderr(), /generated a new master key in .*master\.key; move it into ROOTLINE_MASTER_KEY/);

    const add = await runCli(['device', 'add', 'keep-me', '--psk-identity', 'keep-id', '--psk-key', '0102030405060708', '--api', first.url], { fetch: globalThis.fetch });
    assert.equal(add.code, 0, add.stderr);
  } finally {
    assert.equal(await stop(first), 0, first.stderr());
  }
  // Closed cleanly: the port no longer answers.
  await assert.rejects(fetch(`${first.url}/api/v1/health`));

  const second = await serve(join(dir, 'data'));
  try {
    assert.doesNotMatch(second.stderr(), /generated a new master key/);
    const shown = await request(`${second.url}/api/v1/devices/keep-me`);
    assert.equal(shown.status, 200);
    assert.deepEqual((shown.body as { credentials: { lookup: string }[] }).credentials.map((c) => c.lookup), ['keep-id']);
  } finally {
    assert.equal(await stop(second), 0, second.stderr());
  }

  // Without the master key the existing key store cannot be opened: refuse, clearly, and bind nothing.
  unlinkSync(join(dir, 'data', 'master.key'));
  const refused = spawnCli(['serve', '--data', join(dir, 'data'), '--http-port', '0']);
  assert.equal(await refused.exited, 1);
  assert.match(refused.stderr(), /ERR_KEYSTORE_MASTER_KEY_MISSING/);
  assert.doesNotMatch(refused.stdout(), /listening/);
  assert.equal(existsSync(join(dir, 'data', 'master.key')), false, 'no new key may be generated over an existing key store');
});

test('a master key given through ROOTLINE_MASTER_KEY is used and none is written to disk', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = cleanEnv({ ROOTLINE_MASTER_KEY: 'ab'.repeat(32) });
  const s = await serve(dir, [], env);
  try {
    assert.equal(existsSync(join(dir, 'master.key')), false);
    assert.doesNotMatch(s.stderr(), /generated a new master key/);
  } finally {
    assert.equal(await stop(s), 0);
  }
  // A different key is not the store's key.
  const wrong = spawnCli(['serve', '--data', dir, '--http-port', '0'], cleanEnv({ ROOTLINE_MASTER_KEY: 'cd'.repeat(32) }));
  assert.equal(await wrong.exited, 1);
  assert.match(wrong.stderr(), /ERR_KEYSTORE_MASTER_KEY_WRONG/);
  assert.doesNotMatch(wrong.stderr(), /cdcdcdcd/);
});

test('--http-port abc fails before anything starts, naming the flag (exit 2)', async () => {
  const p = spawnCli(['serve', '--http-port', 'abc', '--data', '/nonexistent/never-created']);
  assert.equal(await p.exited, 2);
  assert.match(p.stderr(), /invalid setting httpPort from flag --http-port: expected an integer port 0\.\.65535, got "abc"/);
  assert.equal(existsSync('/nonexistent/never-created'), false);
});

test('an unknown flag and a bad env value: usage exit 2 and failure exit 1', async () => {
  const unknown = spawnCli(['serve', '--htp-port', '1']);
  assert.equal(await unknown.exited, 2);
  assert.match(unknown.stderr(), /Unknown option '--htp-port'/);
  const env = spawnCli(['serve'], cleanEnv({ ROOTLINE_LOG_LEVEL: 'chatty' }));
  assert.equal(await env.exited, 1);
  assert.match(env.stderr(), /logLevel from environment variable ROOTLINE_LOG_LEVEL: expected one of/);
});

test('audit verify: OK with count and last hash, then names the tampered seq and exits 1', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = await serve(dir);
  try {
    for (const name of ['a1', 'a2', 'a3']) {
      const r = await runCli(['device', 'add', name, '--api', s.url], { fetch: globalThis.fetch });
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    assert.equal(await stop(s), 0);
  }
  const ok = await runCli(['audit', 'verify', '--data', dir]);
  assert.equal(ok.code, 0, ok.stderr);
  // 8 start-up records (master key, sealing key, firmware-signing key, CoAPs server key, CoAPs CA
  // key, CA, server certificate, delivery driver attached) + 3 device.create.
  assert.match(ok.stdout, /^audit log OK: 11 records, last hash [0-9a-f]{64}\n$/);
  const json = await runCli(['audit', 'verify', '--store', `sqlite:${join(dir, 'rootline.db')}`, '--json']);
  assert.equal((JSON.parse(json.stdout) as { count: number }).count, 11);

  // Rewrite record 3's subject behind the store's back (the triggers refuse updates, so drop them).
  const db = new Database(join(dir, 'rootline.db'));
  try {
    for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'").all() as { name: string }[]) {
      db.exec(`DROP TRIGGER ${name}`);
    }
    assert.equal(db.prepare("UPDATE audit_log SET subject = 'someone-else' WHERE seq = 3").run().changes, 1);
  } finally {
    db.close();
  }
  const broken = await runCli(['audit', 'verify', '--data', dir]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /audit log BROKEN at seq 3: .+ \(2 records verified before it\)/);
});

test('audit verify refuses a data dir without a database instead of reporting an empty log', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runCli(['audit', 'verify', '--data', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no rootline database at .*rootline\.db/);
  assert.equal(existsSync(join(dir, 'rootline.db')), false);
});
