import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer } from '../../src/server/server.js';
import { isRootlineError } from '../../src/errors.js';
import { makeTempDir, startTestServer } from './harness.js';

const silent = createLogger({ level: 'silent' });

test('a data dir path that is a file is refused with ERR_SERVER_DATA_DIR', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, '');
  const { config, sources } = loadConfig({ env: {}, flags: { dataDir: file, httpPort: '0' } });
  await assert.rejects(startServer(config, { logger: silent, sources }), (e: unknown) => isRootlineError(e, 'ERR_SERVER_DATA_DIR'));
});

test('an explicitly configured master key file that does not exist is an error, not generated', async (t) => {
  const dir = makeTempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'elsewhere.key');
  const { config, sources } = loadConfig({ env: {}, flags: { dataDir: join(dir, 'data'), httpPort: '0', masterKeyFile: keyFile } });
  await assert.rejects(startServer(config, { logger: silent, sources }), (e: unknown) => {
    assert.ok(isRootlineError(e, 'ERR_KEYSTORE_MASTER_KEY_MISSING'));
    assert.match((e as Error).message, /elsewhere\.key/);
    return true;
  });
  assert.equal(existsSync(keyFile), false);
});

test('the HTTP port already taken: ERR_SERVER_LISTEN naming the listener; the data dir stays usable', async () => {
  const first = await startTestServer();
  try {
    const port = first.server.addresses.http!.port;
    const dir = makeTempDir();
    try {
      const { config, sources } = loadConfig({ env: {}, flags: { dataDir: dir, httpPort: String(port) } });
      await assert.rejects(startServer(config, { logger: silent, sources }), (e: unknown) => {
        assert.ok(isRootlineError(e, 'ERR_SERVER_LISTEN'));
        assert.match((e as Error).message, /http listener failed to start \(EADDRINUSE\)/);
        return true;
      });
      // The failed start unwound cleanly: the same data dir (key store, master key, database) starts.
      const again = await startTestServer({ dir });
      await again.close({ keepDir: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await first.close();
  }
});
