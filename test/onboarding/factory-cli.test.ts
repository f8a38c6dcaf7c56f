import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../cli/io.js';
import { opensslSkip } from './helpers.js';

describe('rootline factory init|mint', () => {
  it('creates a factory, mints a device openssl verifies, and refuses misuse', { skip: opensslSkip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rootline-factory-cli-'));
    const env = { ROOTLINE_MASTER_KEY: randomBytes(32).toString('hex') };
    try {
      const data = join(dir, 'data');
      const init = await runCli(['factory', 'init', '--data', data, '--masa-url', 'https://masa.acme.example', '--manufacturer', 'Acme', '--json'], { env, cwd: dir });
      assert.equal(init.code, 0, init.stderr);
      const info = JSON.parse(init.stdout) as { masaUrl: string; files: { manufacturerCa: string; masaCa: string } };
      assert.equal(info.masaUrl, 'https://masa.acme.example');
      assert.ok(existsSync(info.files.masaCa));

      const mint = await runCli(['factory', 'mint', '--data', data, '--serial', 'SN42', '--model', 'Thermo', '--out', 'dev42', '--json'], { env, cwd: dir });
      assert.equal(mint.code, 0, mint.stderr);
      const minted = JSON.parse(mint.stdout) as { serial: string; files: { certificate: string } };
      assert.equal(minted.serial, 'SN42');
      assert.equal(minted.files.certificate, join(dir, 'dev42', 'idevid.pem'));
      const r = spawnSync('openssl', ['verify', '-CAfile', info.files.manufacturerCa, join(dir, 'dev42', 'idevid.pem')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);

      const again = await runCli(['factory', 'init', '--data', data], { env, cwd: dir });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /ERR_ONBOARDING_FACTORY_EXISTS/);
      const dup = await runCli(['factory', 'mint', '--data', data, '--serial', 'SN42', '--model', 'Thermo', '--out', 'other'], { env, cwd: dir });
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /ERR_ONBOARDING_DEVICE_EXISTS/);
      const missing = await runCli(['factory', 'mint', '--data', data, '--model', 'Thermo', '--out', 'x'], { env, cwd: dir });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /missing --serial/);
      const wrongKey = await runCli(['factory', 'mint', '--data', data, '--serial', 'SN43', '--model', 'T', '--out', 'x'], { env: { ROOTLINE_MASTER_KEY: randomBytes(32).toString('hex') }, cwd: dir });
      assert.equal(wrongKey.code, 1);
      assert.match(wrongKey.stderr, /ERR_KEYSTORE_MASTER_KEY_WRONG/);
      const noFactory = await runCli(['factory', 'mint', '--data', join(dir, 'empty'), '--serial', 'S', '--model', 'T', '--out', 'y'], { env, cwd: dir });
      assert.equal(noFactory.code, 1);
      assert.match(noFactory.stderr, /ERR_ONBOARDING_FACTORY_STATE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
