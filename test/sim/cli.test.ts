/** `rootline sim`: argument checks (exit 2, nothing started) and a real run against a server on loopback. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../cli/io.js';
import { startLwm2mServe } from './lwm2m-serve.js';

const SERVER = 'coaps://127.0.0.1:5684';

test('bad arguments exit 2 with the flag named on stderr', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['sim', '--devices', '5'], /missing --server/],
    [['sim', '--server', SERVER], /missing --devices/],
    [['sim', '--server', 'coap://127.0.0.1:5683', '--devices', '5'], /--server: expected a coaps:\/\/ URL/],
    [['sim', '--server', 'not a url', '--devices', '5'], /--server: not a URL/],
    [['sim', '--server', `${SERVER}/rd`, '--devices', '5'], /--server: expected coaps:\/\/host\[:port\] only/],
    [['sim', '--server', SERVER, '--devices', '0'], /--devices: expected an integer 1\.\.100000/],
    [['sim', '--server', SERVER, '--devices', 'ten'], /--devices: expected an integer/],
    [['sim', '--server', SERVER, '--devices', '100001'], /--devices/],
    [['sim', '--server', SERVER, '--devices', '5', '--rate', '0'], /--rate/],
    [['sim', '--server', SERVER, '--devices', '5', '--rate', '-3'], /--rate/],
    [['sim', '--server', SERVER, '--devices', '5', '--duration', '1.5'], /--duration/],
    [['sim', '--server', SERVER, '--devices', '5', '--lifetime', '0'], /--lifetime/],
    [['sim', '--server', SERVER, '--devices', '5', '--api', 'ftp://x'], /--api: expected an http/],
    [['sim', '--server', SERVER, '--devices', '5', '--model', ''], /--model/],
    [['sim', '--server', SERVER, '--devices', '5', '--firmware-version', 'x'.repeat(65)], /--firmware-version/],
    [['sim', '--server', SERVER, '--devices', '5', '--prefix', 'a b'], /--prefix/],
    [['sim', '--server', SERVER, '--devices', '5', '--credentials-file', 'a.json', '--save-credentials', 'b.json'], /--save-credentials/],
    [['sim', '--server', SERVER, '--devices', '5', '--bogus'], /Unknown option '--bogus'/],
    [['sim', '--server'], /--server/],
    [['sim', '--server', SERVER, '--devices', '5', '--faults', 'corrupt=1%'], /--faults needs --firmware/],
    [['sim', '--server', SERVER, '--devices', '5', '--signing-key', 'k.pem'], /--signing-key needs --firmware/],
    [['sim', '--server', SERVER, '--devices', '5', '--firmware', 'fw.bin', '--faults', 'flood=1%'], /--faults: unknown fault "flood"/],
    [['sim', '--server', SERVER, '--devices', '5', '--firmware', 'fw.bin', '--faults', 'corrupt=70%,signature=40%'], /--faults: the percentages add up to 110%/],
    [['sim', '--server', SERVER, '--devices', '5', '--firmware', 'fw.bin', '--vendor', 'not a domain'], /--vendor: expected a DNS name/],
    [['sim', '--server', SERVER, '--devices', '5', '--firmware', 'fw.bin', '--firmware-sequence', '-1'], /--firmware-sequence/],
    [['sim', '--server', SERVER, '--devices', '5', '--firmware', 'fw.bin', '--fault-seed', ''], /--fault-seed/],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assert.equal(r.code, 2, `${argv.join(' ')} → ${r.stderr}`);
    assert.match(r.stderr, message, argv.join(' '));
    assert.equal(r.stdout, '', argv.join(' '));
  }
  const help = await runCli(['sim', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--credentials-file/);
});

test('a credentials file that is not a list of PSKs fails with exit 1 before any device starts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-sim-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bad: Array<[string, RegExp]> = [
    ['[]', /non-empty JSON array/],
    ['{"endpoint":"a"}', /non-empty JSON array/],
    ['[{"endpoint":"a b","identity":"i","key":"00"}]', /\.endpoint/],
    ['[{"endpoint":"a","identity":"i","key":"0g"}]', /\.key/],
    ['[{"endpoint":"a","identity":"i","key":"00"},{"endpoint":"a","identity":"j","key":"00"}]', /appears twice/],
    ['not json', /is not JSON/],
  ];
  for (const [content, message] of bad) {
    const file = join(dir, 'creds.json');
    writeFileSync(file, content);
    const r = await runCli(['sim', '--server', SERVER, '--credentials-file', file]);
    assert.equal(r.code, 1, content);
    assert.match(r.stderr, message, content);
    assert.match(r.stderr, /ERR_SIM_CREDENTIALS_FILE/);
  }
  const missing = await runCli(['sim', '--server', SERVER, '--credentials-file', join(dir, 'nope.json')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*ENOENT/);
});

test('rootline sim provisions through the API, registers every device, prints a JSON summary, de-registers; a saved credentials file runs again', async (t) => {
  const serve = await startLwm2mServe();
  t.after(() => serve.close());
  const dir = mkdtempSync(join(tmpdir(), 'rootline-sim-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const saved = join(dir, 'fleet.json');
  const registered: string[] = [];
  serve.lwm2m.on('registered', (e) => registered.push(e.registration.endpoint));
  const r = await runCli(['sim', '--server', serve.coaps, '--api', serve.api, '--devices', '6', '--prefix', 'clisim', '--model', 'TH-2', '--firmware-version', '3.0.1', '--duration', '0', '--rate', '100', '--save-credentials', saved, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { devices: number; registered: number; failed: number; deregistered: number; stillRegistered: number; registrationMs: { count: number } };
  assert.equal(s.devices, 6);
  assert.equal(s.registered, 6);
  assert.equal(s.failed, 0);
  assert.equal(s.registrationMs.count, 6);
  assert.equal(s.deregistered, 6);
  assert.deepEqual([...registered].sort(), ['clisim-0', 'clisim-1', 'clisim-2', 'clisim-3', 'clisim-4', 'clisim-5']);
  assert.match(r.stderr, /provisioned 6 devices/);
  // The PSKs never reach the output.
  const keys = (JSON.parse(readFileSync(saved, 'utf8')) as Array<{ key: string }>).map((c) => c.key);
  assert.equal(keys.length, 6);
  for (const k of keys) assert.ok(!r.stdout.includes(k) && !r.stderr.includes(k));
  assert.equal(statSync(saved).mode & 0o777, 0o600);
  for (const ep of registered) assert.equal(await serve.lwm2m.registration(ep), undefined, `${ep} de-registered`);
  const device = await serve.server.store.devices.get('clisim-3');
  assert.equal(device?.firmwareVersion, '3.0.1');

  // The saved file drives a second run without the API (the devices exist already).
  registered.length = 0;
  const again = await runCli(['sim', '--server', serve.coaps, '--api', 'http://127.0.0.1:9', '--credentials-file', saved, '--devices', '4', '--duration', '0']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /registered: +4 /);
  assert.equal(registered.length, 4);
});

test('rootline sim --firmware: trust anchor and sequence from the API (or a PEM file), faults assigned, firmware in the summary; unusable inputs exit 1 typed', async (t) => {
  const serve = await startLwm2mServe();
  t.after(() => serve.close());
  const dir = mkdtempSync(join(tmpdir(), 'rootline-sim-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const image = join(dir, 'fw-1.0.0.bin');
  const bytes = new Uint8Array(randomBytes(8192));
  writeFileSync(image, bytes);
  const base = ['sim', '--server', serve.coaps, '--api', serve.api, '--model', 'FW-CLI', '--firmware-version', '1.0.0', '--duration', '0'];

  // Not in the catalog yet: the running image's sequence is unknown.
  const unknown = await runCli([...base, '--devices', '2', '--prefix', 'fwcli-a', '--firmware', image]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no image with its SHA-256 for model FW-CLI.*\[ERR_SIM_FIRMWARE\]/);
  const missing = await runCli([...base, '--devices', '2', '--prefix', 'fwcli-b', '--firmware', join(dir, 'nope.bin')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot be read \[ERR_SIM_FIRMWARE\]/);
  const badPem = join(dir, 'bad.pem');
  writeFileSync(badPem, 'not a key');
  const bad = await runCli([...base, '--devices', '2', '--prefix', 'fwcli-c', '--firmware', image, '--signing-key', badPem, '--firmware-sequence', '1']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not a PEM public key \[ERR_SIM_FIRMWARE\]/);

  const up = await fetch(`${serve.api}/api/v1/firmware?model=FW-CLI&version=1.0.0`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  assert.equal(up.status, 201);
  const uploaded = (await up.json()) as { sequence: number };
  const r = await runCli([...base, '--devices', '5', '--prefix', 'fwcli', '--firmware', image, '--faults', 'signature=1,boot-failure=20%', '--fault-seed', 'cli', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { registered: number; firmware: { devices: number; faultsInjected: Record<string, number>; asked: number; updated: number; sharedImages: number; sharedImageBytes: number } };
  assert.equal(s.registered, 5);
  assert.deepEqual(s.firmware.faultsInjected, { signature: 1, 'boot-failure': 1 });
  assert.equal(s.firmware.devices, 5);
  assert.equal(s.firmware.asked, 0);
  assert.equal(s.firmware.sharedImages, 1, 'one buffer for five devices');
  assert.equal(s.firmware.sharedImageBytes, 8192);
  assert.match(r.stderr, new RegExp(`firmware 1\\.0\\.0 \\(8192 bytes, sequence ${uploaded.sequence}, vendor rootline\\.invalid\\); trust anchor from the API`));
  const text = await runCli([...base, '--devices', '1', '--prefix', 'fwcli-t', '--firmware', image]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /firmware updates: +0 updated of 0 asked/);
  assert.match(text.stdout, /faults injected: +none/);
});
