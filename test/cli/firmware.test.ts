import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startTestServer, type TestServer } from '../server/harness.js';
import { runCli } from './io.js';

let dir: string;
let t: TestServer;

/** An "image" and a next build of it: a few changed bytes, an inserted block, a removed block. */
function imagePair(size: number): { old: Buffer; next: Buffer } {
  const old = randomBytes(size);
  const next = Buffer.concat([old.subarray(0, size / 4), randomBytes(3000), old.subarray(size / 4, size / 2), old.subarray(size / 2 + 5000)]);
  for (let i = 100; i < next.length; i += 9973) next[i] = next[i]! ^ 0x5a;
  return { old, next };
}

before(async () => {
  dir = makeTempDir('rootline-cli-fw-');
  t = await startTestServer();
});
after(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

test('firmware delta / patch round trip on real files; cmp finds the output identical', async () => {
  const { old, next } = imagePair(200_000);
  const [oldFile, newFile, patchFile, outFile] = ['old.bin', 'new.bin', 'a.rldt', 'out.bin'].map((f) => join(dir, f)) as [string, string, string, string];
  writeFileSync(oldFile, old);
  writeFileSync(newFile, next);

  const delta = await runCli(['firmware', 'delta', oldFile, newFile, '-o', patchFile]);
  assert.equal(delta.code, 0, delta.stderr);
  const patchSize = readFileSync(patchFile).length;
  assert.ok(patchSize < next.length / 4, `patch ${patchSize} bytes`);
  assert.match(delta.stdout, new RegExp(`^wrote .*a\\.rldt: ${patchSize} bytes for a ${next.length}-byte image`));

  const patch = await runCli(['firmware', 'patch', oldFile, patchFile, '--output', outFile, '--json']);
  assert.equal(patch.code, 0, patch.stderr);
  execFileSync('cmp', [newFile, outFile]); // throws on any difference
  const result = JSON.parse(patch.stdout) as { newSize: number; sha256: string };
  assert.deepEqual(result, { output: outFile, newSize: next.length, sha256: createHash('sha256').update(next).digest('hex') });

  // Relative paths resolve against the CLI's cwd; --json of delta names the sizes.
  const rel = await runCli(['firmware', 'delta', 'new.bin', 'old.bin', '-o', 'back.rldt', '--json'], { cwd: dir });
  assert.equal(rel.code, 0, rel.stderr);
  assert.deepEqual((({ oldSize, newSize }) => ({ oldSize, newSize }))(JSON.parse(rel.stdout) as { oldSize: number; newSize: number }), { oldSize: next.length, newSize: old.length });
  const back = await runCli(['firmware', 'patch', 'new.bin', 'back.rldt', '-o', 'back.bin'], { cwd: dir });
  assert.equal(back.code, 0, back.stderr);
  execFileSync('cmp', [oldFile, join(dir, 'back.bin')]);
  // No temporary files are left behind.
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('firmware patch: wrong base, damaged or truncated patch exit 1 with the code and write nothing', async () => {
  const { old, next } = imagePair(50_000);
  const sub = join(dir, 'bad');
  mkdirSync(sub);
  const f = (n: string) => join(sub, n);
  writeFileSync(f('old.bin'), old);
  writeFileSync(f('new.bin'), next);
  assert.equal((await runCli(['firmware', 'delta', f('old.bin'), f('new.bin'), '-o', f('p.rldt')])).code, 0);
  const patchBytes = readFileSync(f('p.rldt'));

  const other = Buffer.from(old);
  other[1234] = other[1234]! ^ 1;
  writeFileSync(f('other.bin'), other);
  const wrong = await runCli(['firmware', 'patch', f('other.bin'), f('p.rldt'), '-o', f('out.bin')]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /\[ERR_DELTA_WRONG_BASE\]\n$/);
  assert.equal(wrong.stdout, '');
  assert.equal(existsSync(f('out.bin')), false);

  writeFileSync(f('short.rldt'), patchBytes.subarray(0, patchBytes.length - 10));
  const short = await runCli(['firmware', 'patch', f('old.bin'), f('short.rldt'), '-o', f('out.bin')]);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /\[ERR_DELTA_(TRUNCATED|CORRUPT|DIGEST_MISMATCH)\]/);
  writeFileSync(f('junk.rldt'), randomBytes(500));
  const junk = await runCli(['firmware', 'patch', f('old.bin'), f('junk.rldt'), '-o', f('out.bin')]);
  assert.equal(junk.code, 1);
  assert.match(junk.stderr, /\[ERR_DELTA_BAD_MAGIC\]/);
  assert.equal(existsSync(f('out.bin')), false);
  assert.deepEqual(readdirSync(sub).filter((n) => n.endsWith('.tmp')), []);
});

test('firmware delta / patch: missing files exit 1, usage mistakes exit 2', async () => {
  const missing = join(dir, 'nope.bin');
  const existing = join(dir, 'exists.bin');
  writeFileSync(existing, 'x');
  const a = await runCli(['firmware', 'delta', missing, existing, '-o', join(dir, 'x.rldt')]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /<old>: cannot read .*nope\.bin: no such file \[ERR_CLI_INPUT_FILE\]/);
  const b = await runCli(['firmware', 'patch', existing, missing, '-o', join(dir, 'x.bin')]);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /<patch>: cannot read .*nope\.bin: no such file/);
  const c = await runCli(['firmware', 'patch', dir, existing, '-o', join(dir, 'x.bin')]);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /is not a regular file/);
  const d = await runCli(['firmware', 'delta', existing, existing, '-o', join(dir, 'no-such-dir', 'x.rldt')]);
  assert.equal(d.code, 1);
  assert.match(d.stderr, /--output: cannot write in .*no-such-dir: ENOENT/);

  for (const args of [['firmware', 'delta', existing, existing], ['firmware', 'delta', existing, '-o', 'x'], ['firmware', 'patch', existing], ['firmware', 'patch', existing, existing, '-o', 'x', 'extra'], ['firmware', 'delta', '--bogus']]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /Run 'rootline firmware (delta|patch) --help' for usage/);
  }
  const help = await runCli(['firmware', 'patch', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: rootline firmware patch <old> <patch> -o <new>/);
});

test('firmware add / list / show / remove through the API', async () => {
  const file = join(dir, 'fw-1.bin');
  const bytes = randomBytes(10_000);
  writeFileSync(file, bytes);
  const api = ['--api', t.url];
  const add = await runCli(['firmware', 'add', file, '--model', 'CLI-1', '--version', '1.0.0', '--vendor', 'example.com', '--json', ...api], { fetch: globalThis.fetch });
  assert.equal(add.code, 0, add.stderr);
  const fw = JSON.parse(add.stdout) as { id: string; sha256: string; size: number; model: string };
  assert.equal(fw.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(fw.size, bytes.length);

  const text = await runCli(['firmware', 'add', file, '--model', 'CLI-1', '--version', '1.0.1'], { fetch: globalThis.fetch, env: { ROOTLINE_API: t.url } });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^added firmware [0-9a-f-]+: rootline\.invalid\/CLI-1 1\.0\.1 \(sequence 1, 10000 bytes, sha256 [0-9a-f]{64}\)\n$/);

  const dup = await runCli(['firmware', 'add', file, '--model', 'CLI-1', '--version', '1.0.0', '--vendor', 'example.com', ...api], { fetch: globalThis.fetch });
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /\(ERR_API_FIRMWARE_EXISTS, HTTP 409\)/);

  const list = await runCli(['firmware', 'list', '--model', 'CLI-1', ...api], { fetch: globalThis.fetch });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID\s+VENDOR\s+MODEL\s+VERSION\s+SEQ\s+SIZE\s+SHA256\n/);
  assert.equal(list.stdout.trimEnd().split('\n').length, 3);
  const listJson = JSON.parse((await runCli(['firmware', 'list', '--json', '--vendor', 'example.com', ...api], { fetch: globalThis.fetch })).stdout) as { firmware: { id: string }[] };
  assert.deepEqual(listJson.firmware.map((f) => f.id), [fw.id]);

  const show = await runCli(['firmware', 'show', fw.id, ...api], { fetch: globalThis.fetch });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`^sha256: +${fw.sha256}$`, 'm'));
  const rm = await runCli(['firmware', 'remove', fw.id, ...api], { fetch: globalThis.fetch });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(rm.stdout, `removed firmware ${fw.id}\n`);
  const gone = await runCli(['firmware', 'show', fw.id, ...api], { fetch: globalThis.fetch });
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /ERR_API_FIRMWARE_NOT_FOUND/);

  for (const args of [
    ['firmware', 'add', file, '--version', '1.0.0'],
    ['firmware', 'add', file, '--model', 'CLI-1', '--version', '1.0'],
    ['firmware', 'add', file, '--model', 'CLI 1', '--version', '1.0.0'],
    ['firmware', 'add', file, '--model', 'CLI-1', '--version', '2.0.0', '--vendor', 'bad_vendor'],
    ['firmware', 'show', 'bad id'],
    ['firmware', 'list', '--limit', '0'],
  ]) {
    const r = await runCli([...args, ...api], { fetch: globalThis.fetch });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
  const noFile = await runCli(['firmware', 'add', join(dir, 'missing.bin'), '--model', 'CLI-1', '--version', '2.0.0', ...api], { fetch: globalThis.fetch });
  assert.equal(noFile.code, 1);
  assert.match(noFile.stderr, /<file>: cannot read .*missing\.bin: no such file/);
});

test('firmware download: the image and the manifest to files; a blob damaged on disk writes nothing', async () => {
  const file = join(dir, 'dl-src.bin');
  const bytes = randomBytes(300_000);
  writeFileSync(file, bytes);
  const io = { fetch: globalThis.fetch };
  const add = await runCli(['firmware', 'add', file, '--model', 'CLI-DL', '--version', '3.0.0', '--json', '--api', t.url], io);
  assert.equal(add.code, 0, add.stderr);
  const fw = JSON.parse(add.stdout) as { id: string; sha256: string };

  const out = join(dir, 'dl.bin');
  const dl = await runCli(['firmware', 'download', fw.id, '-o', out, '--api', t.url], io);
  assert.equal(dl.code, 0, dl.stderr);
  assert.equal(dl.stdout, `wrote ${out}: ${bytes.length} bytes, sha256 ${fw.sha256}\n`);
  execFileSync('cmp', [file, out]);
  const mf = await runCli(['firmware', 'download', fw.id, '--manifest', '-o', join(dir, 'dl.suit'), '--json', '--api', t.url], io);
  assert.equal(mf.code, 0, mf.stderr);
  const envelope = readFileSync(join(dir, 'dl.suit'));
  assert.deepEqual([...envelope.subarray(0, 2)], [0xd8, 0x6b], 'CBOR tag 107: SUIT_Envelope_Tagged');
  assert.equal((JSON.parse(mf.stdout) as { size: number }).size, envelope.length);

  // Flip one byte of the stored blob. The server re-checks the digest only after the last byte
  // (so with Content-Length met the response may look complete); the CLI's own check against the
  // announced SHA-256 refuses it either way.
  const blob = join(t.dir, 'firmware', 'sha256', fw.sha256.slice(0, 2), fw.sha256);
  const damaged = readFileSync(blob);
  damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 0xff;
  writeFileSync(blob, damaged);
  const cut = await runCli(['firmware', 'download', fw.id, '-o', join(dir, 'cut.bin'), '--api', t.url], io);
  assert.equal(cut.code, 1);
  assert.match(cut.stderr, /(SHA-256 [0-9a-f]{64} is not the image's [0-9a-f]{64}; nothing was written \[ERR_CLI_DOWNLOAD_MISMATCH\]|the download was cut off after \d+ bytes .*nothing was written \[ERR_CLI_API_UNREACHABLE\])\n$/);
  assert.equal(existsSync(join(dir, 'cut.bin')), false);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);

  const missing = await runCli(['firmware', 'download', '00000000-0000-4000-8000-000000000000', '-o', join(dir, 'x.bin'), '--api', t.url], io);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /ERR_API_FIRMWARE_NOT_FOUND, HTTP 404/);
  assert.equal((await runCli(['firmware', 'download', fw.id, '--api', t.url], io)).code, 2);

  const pem = await runCli(['firmware', 'signing-key', '--api', t.url], io);
  assert.equal(pem.code, 0, pem.stderr);
  assert.match(pem.stdout, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n$/);
  const spki = createPublicKey(pem.stdout).export({ format: 'der', type: 'spki' });
  assert.ok(spki.equals(Buffer.from(t.server.fota.firmware.signingPublicKey)));
  const json = JSON.parse((await runCli(['firmware', 'signing-key', '--json', '--api', t.url], io)).stdout) as { algorithm: string; keyId: string };
  assert.equal(json.algorithm, 'ES256');
  assert.equal(json.keyId, createHash('sha256').update(spki).digest('hex'));
});
