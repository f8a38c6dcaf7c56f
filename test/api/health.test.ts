import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { buildApi } from '../../src/api/app.js';
import { openSoftwareKeyStore } from '../../src/crypto/keystore/index.js';
import { CredentialSealer } from '../../src/server/credential-seal.js';
import { ListenerRegistry } from '../../src/server/listeners.js';
import { createLogger } from '../../src/server/logger.js';
import { openSqliteStore } from '../../src/store/index.js';
import { makeTempDir } from '../server/harness.js';

test('health is 503 ERR_API_NOT_READY until every registered listener is up, then 200', async (t) => {
  const dir = makeTempDir('rootline-health-');
  const store = await openSqliteStore({ file: ':memory:' });
  const keystore = await openSoftwareKeyStore({ directory: dir, masterKey: randomBytes(32) });
  t.after(async () => {
    await store.close();
    await keystore.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { sealer } = await CredentialSealer.open(keystore);
  const listeners = new ListenerRegistry();
  const app = await buildApi({ store, sealer, health: listeners, version: '9.9.9', logger: createLogger({ level: 'silent' }) });
  t.after(() => app.close());

  const none = await app.inject({ method: 'GET', url: '/api/v1/health' });
  assert.equal(none.statusCode, 503);
  assert.deepEqual(none.json(), { error: { code: 'ERR_API_NOT_READY', message: 'not every listener is up: none registered' } });

  // A second, real listener (a stand-in for CoAP) registered but not started yet.
  const coap = createServer();
  listeners.register({
    name: 'coap',
    start: () => new Promise((resolve) => coap.listen(0, '127.0.0.1', () => resolve({ host: '127.0.0.1', port: (coap.address() as { port: number }).port, url: 'coap://x' }))),
    stop: () => new Promise((resolve) => coap.close(() => resolve())),
  });
  const pending = await app.inject({ method: 'GET', url: '/api/v1/health' });
  assert.equal(pending.statusCode, 503);
  assert.match(pending.json().error.message, /coap pending/);

  const { coap: address } = await listeners.startAll();
  const up = await app.inject({ method: 'GET', url: '/api/v1/health' });
  assert.equal(up.statusCode, 200);
  assert.deepEqual(up.json(), { status: 'ok', version: '9.9.9', listeners: { coap: { state: 'up', port: address!.port, url: 'coap://x' } } });

  await listeners.stopAll();
  const stopped = await app.inject({ method: 'GET', url: '/api/v1/health' });
  assert.equal(stopped.statusCode, 503);
  assert.match(stopped.json().error.message, /coap stopped/);
});
