/**
 * `rootline pledge` and `rootline onboarding` refuse bad arguments before any network traffic:
 * usage errors (exit 2) that name the argument.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './io.js';

test('rootline pledge: every argument is checked', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-pledge-args-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'idevid.pem'), 'not a certificate: only its existence is checked here');
  writeFileSync(join(dir, 'file'), '');
  // No fetch and no registrar: any of these reaching the network would fail differently.
  const cases: [string[], RegExp][] = [
    [['--registrar', 'https://127.0.0.1:1'], /missing --idevid/],
    [['--idevid', dir], /missing --registrar/],
    [['--idevid', join(dir, 'nope'), '--registrar', 'https://127.0.0.1:1'], /--idevid: .* is not a directory/],
    [['--idevid', tmpdir(), '--registrar', 'https://127.0.0.1:1'], /holds no idevid\.pem/],
    [['--idevid', dir, '--registrar', 'http://127.0.0.1:1'], /--registrar: expected an https:\/\/ URL/],
    [['--idevid', dir, '--registrar', 'not a url'], /--registrar: not a URL/],
    [['--idevid', dir, '--registrar', 'https://127.0.0.1:1/path'], /no path, query or fragment/],
    [['--idevid', dir, '--registrar', 'https://127.0.0.1:1', '--out', join(dir, 'file')], /--out: .* is not a directory/],
    [['--idevid', dir, '--registrar', 'https://127.0.0.1:1', '--timeout-ms', '5'], /--timeout-ms: expected an integer 100\.\.600000/],
    [['--idevid', dir, '--registrar', 'https://127.0.0.1:1', '--max-pending-attempts', 'x'], /--max-pending-attempts/],
    [['--idevid', dir, '--registrar', 'https://127.0.0.1:1', '--bogus'], /bogus/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['pledge', ...args], { cwd: dir });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
  const help = await runCli(['pledge', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--idevid <dir>/);
});

test('rootline onboarding approve|reject: the serial is checked before the API is asked', async () => {
  const fetchNever = (() => assert.fail('no request expected')) as unknown as typeof fetch;
  for (const serial of ['../x', '', 'a b', 'x'.repeat(65), '-lead']) {
    const r = await runCli(['onboarding', 'approve', '--api', 'http://127.0.0.1:1', '--', serial], { fetch: fetchNever });
    assert.equal(r.code, 2, `${JSON.stringify(serial)}: ${r.stderr}`);
    assert.match(r.stderr, /<serial>/);
  }
  const missing = await runCli(['onboarding', 'reject'], { fetch: fetchNever });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing argument <serial>/);
  const group = await runCli(['onboarding', '--help']);
  assert.equal(group.code, 0);
  assert.match(group.stdout, /onboarding pending/);
});
