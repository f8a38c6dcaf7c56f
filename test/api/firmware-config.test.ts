import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/server/config.js';
import { ConfigError } from '../../src/server/errors.js';
import { makeTempDir, startTestServer } from '../server/harness.js';

test('firmwareMaxBytes from the configuration limits uploads', async () => {
  const t = await startTestServer({ flags: { firmwareMaxBytes: '1024', campaignTickMs: '50' } });
  try {
    assert.equal(t.server.config.firmwareMaxBytes, 1024);
    assert.equal(t.server.config.campaignTickMs, 50);
    const post = (n: number, version: string) =>
      fetch(`${t.url}/api/v1/firmware?model=CFG-1&version=${version}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(n) });
    assert.equal((await post(1024, '1.0.0')).status, 201);
    const big = await post(1025, '1.0.1');
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { code: string } }).error.code, 'ERR_API_BODY_TOO_LARGE');

    // Without a Content-Length the limit holds while streaming; the connection is closed after the
    // 413 and the server still closes cleanly (a destroyed request used to keep close() pending).
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        // 1 MiB chunks: the refusal comes while most of the body is still in flight.
        if (chunks++ === 3) c.close();
        else c.enqueue(randomBytes(1024 * 1024));
      },
    });
    const chunked = await fetch(`${t.url}/api/v1/firmware?model=CFG-1&version=1.0.2`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body, duplex: 'half' } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal(((await chunked.json()) as { error: { code: string } }).error.code, 'ERR_API_BODY_TOO_LARGE');
    assert.equal((await post(10, '1.0.2')).status, 201);
  } finally {
    await t.close();
  }
});

test('the firmware and campaign settings are validated with their source', (t) => {
  const bad: [Parameters<typeof loadConfig>[0], string, string][] = [
    [{ env: {}, flags: { firmwareMaxBytes: '0' } }, 'firmwareMaxBytes', 'flag'],
    [{ env: {}, flags: { firmwareMaxBytes: '1k' } }, 'firmwareMaxBytes', 'flag'],
    [{ env: { ROOTLINE_CAMPAIGN_TICK_MS: '5' } }, 'campaignTickMs', 'env'],
  ];
  for (const [inputs, setting, source] of bad) {
    assert.throws(() => loadConfig(inputs), (e: unknown) => e instanceof ConfigError && e.setting === setting && e.source === source && /expected an integer/.test(e.message));
  }
  const dir = makeTempDir('rootline-cfg-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ campaignTickMs: '100' }));
  assert.throws(() => loadConfig({ env: {}, configFile: file }), (e: unknown) => e instanceof ConfigError && e.setting === 'campaignTickMs' && e.source === 'file');
  writeFileSync(file, JSON.stringify({ campaignTickMs: 100, firmwareMaxBytes: 2048 }));
  const { config, sources } = loadConfig({ env: { ROOTLINE_FIRMWARE_MAX_BYTES: '4096' }, configFile: file });
  assert.deepEqual([config.campaignTickMs, config.firmwareMaxBytes, sources.campaignTickMs, sources.firmwareMaxBytes], [100, 4096, 'file', 'env']);
});
