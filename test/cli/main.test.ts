import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { COMMANDS } from '../../src/cli/main.js';
import { runCli } from './io.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

test('--version prints the package.json version', async () => {
  for (const flag of ['--version', '-v']) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${pkg.version}\n`);
  }
});

test('top-level help lists every command; no arguments prints it with exit 2', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  for (const c of COMMANDS) assert.match(help.stdout, new RegExp(`  ${c.name} `));
  const none = await runCli([]);
  assert.equal(none.code, 2);
  assert.equal(none.stdout, help.stdout);
  assert.equal((await runCli(['help', 'device', 'add'])).stdout, (await runCli(['device', 'add', '--help'])).stdout);
});

test('every command answers --help with its usage and exit 0, without doing anything', async () => {
  for (const c of COMMANDS) {
    const r = await runCli([...c.name.split(' '), '--help']);
    assert.equal(r.code, 0, c.name);
    assert.match(r.stdout, new RegExp(`^Usage: rootline ${c.name}`), c.name);
    assert.equal(r.stderr, '');
  }
  for (const group of ['device', 'audit']) {
    const r = await runCli([group, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`Usage: rootline ${group} <`));
  }
});

test('usage mistakes exit 2 with a message on stderr naming the problem', async () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--frob'], /unknown option --frob/],
    [['device', 'zap'], /unknown command "device zap"/],
    [['device', 'list', '--colour'], /rootline device list: Unknown option '--colour'/],
    [['device', 'show'], /missing argument <endpoint>/],
    [['device', 'show', 'a', 'b'], /unexpected argument "b"/],
    [['device', 'show', 'bad/name'], /<endpoint>: expected 1\.\.128/],
    [['device', 'list', '--limit', 'ten'], /--limit: expected an integer 1\.\.1000, got "ten"/],
    [['device', 'add', 'd1', '--psk-identity', 'x'], /--psk-identity needs --psk-key/],
    [['device', 'add', 'd1', '--psk-identity', 'x', '--psk-key', 'abc'], /--psk-key: expected 1\.\.64 bytes as hex/],
    [['device', 'add', 'd1', '--psk-identity', 'x', '--psk-key', '00', '--cert-subject', 'c'], /give one credential/],
    [['device', 'list', '--api', 'ftp://x'], /--api: expected an http:\/\/ or https:\/\/ URL/],
    [['serve', '--http-port', 'abc'], /invalid setting httpPort from flag --http-port: expected an integer port 0\.\.65535, got "abc"/],
    [['serve', '--log-level'], /Option '--log-level <value>' argument missing/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, argv.join(' '));
    assert.equal(r.stdout, '');
  }
});

test('a bad ROOTLINE_API is a usage error naming the variable', async () => {
  const r = await runCli(['device', 'list'], { env: { ROOTLINE_API: 'not a url' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ROOTLINE_API: not a URL/);
});

test('an unreachable API is a failure (exit 1) with a hint, not a stack trace', async () => {
  // A port that was just free: bind it, note it, release it; nothing listens there now.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const r = await runCli(['device', 'list', '--api', `http://127.0.0.1:${port}`], { fetch: globalThis.fetch });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`cannot reach the rootline API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); is \`rootline serve\` running\\?`));
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('a missing --rpk file is a failure naming the flag and file', async () => {
  const r = await runCli(['device', 'add', 'd1', '--rpk', '/nonexistent/key.pem']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--rpk: cannot read \/nonexistent\/key\.pem: ENOENT/);
});
