/**
 * Just-works owner transfer against rootline serve: off by default (routes say so, an unknown
 * key is not remembered); with `onboarding.justWorks: true` a device's unknown raw public key is
 * refused but listed, the operator approves it for a device in RESET, and the device's next
 * handshake with that key is accepted (RFPRO). Unknown keys and devices not in RESET are refused.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { connectDtls } from '../../src/dtls/index.js';
import { loadConfig } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { runCli } from '../cli/io.js';

async function serve(dir: string, onboarding: Record<string, unknown>): Promise<RunningServer> {
  const data = join(dir, 'data');
  const configFile = join(dir, 'rootline.json');
  writeFileSync(configFile, JSON.stringify({ onboarding }));
  const { config, sources } = loadConfig({ configFile, env: {}, flags: { dataDir: data, httpPort: '0', coapPort: '0', coapsPort: '0', estPort: '0', deviceHost: '127.0.0.1' } });
  return startServer(config, { sources, logger: createLogger({ level: 'silent' }) });
}

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

test('just-works: off by default; when on, an operator-approved raw public key becomes the device credential', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-just-works-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal((await runCli(['factory', 'init', '--data', join(dir, 'data'), '--masa-url', 'https://127.0.0.1/masa', '--manufacturer', 'Acme'], { cwd: dir })).code, 0);
  const signer = keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  const retransmit = { initialMs: 200, maxRetransmissions: 1 };
  const connect = (port: number) => connectDtls({ host: '127.0.0.1', port, certificate: { signer }, clientCertificateTypes: ['rpk'], verifyServer: () => true, retransmit });

  // Off (the default): the key is refused and not remembered; the routes say just-works is off.
  const off = await serve(dir, { masa: true });
  try {
    await assert.rejects(connect(off.addresses.coaps!.port));
    const r = await fetch(`${off.addresses.http!.url}/api/v1/onboarding/just-works/pending`);
    assert.equal(r.status, 404);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'ERR_API_ONBOARDING_DISABLED');
    assert.equal(await off.store.settings.get('onboarding.just-works.seen'), undefined);
  } finally {
    await off.close();
  }

  const server = await serve(dir, { masa: true, justWorks: true });
  t.after(() => server.close());
  const api = `${server.addresses.http!.url}/api/v1`;
  const port = server.addresses.coaps!.port;
  await server.store.devices.create({ endpoint: 'jw-1', ownershipState: 'RESET' });
  await server.store.devices.create({ endpoint: 'jw-owned', ownershipState: 'RFNOP' });

  await assert.rejects(connect(port), 'an unknown key is refused even with just-works on');
  const pending = (await (await fetch(`${api}/onboarding/just-works/pending`)).json()) as { pending: { fingerprint: string }[] };
  assert.equal(pending.pending.length, 1);
  const { fingerprint } = pending.pending[0]!;

  const unknownKey = await post(`${api}/onboarding/just-works/approve`, { fingerprint: 'ab'.repeat(32), endpoint: 'jw-1' });
  assert.equal(unknownKey.status, 404);
  assert.equal((unknownKey.body.error as { code: string }).code, 'ERR_API_JUST_WORKS_UNKNOWN_KEY');
  const owned = await post(`${api}/onboarding/just-works/approve`, { fingerprint, endpoint: 'jw-owned' });
  assert.equal(owned.status, 409);
  assert.deepEqual(await server.store.devices.credentials('jw-owned'), []);

  const approved = await post(`${api}/onboarding/just-works/approve`, { fingerprint, endpoint: 'jw-1' });
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  assert.deepEqual(approved.body, { endpoint: 'jw-1', fingerprint, ownershipState: 'RFPRO' });
  assert.equal((await server.store.devices.get('jw-1'))?.ownershipState, 'RFPRO');
  assert.deepEqual((await server.store.devices.credentials('jw-1')).map((c) => `${c.kind}:${c.lookup}`), [`rpk:${fingerprint}`]);
  const session = await connect(port);
  session.close();

  const decisions = (await server.store.audit.list({ action: 'onboarding.just-works.approve' })).map((r) => `${r.subject}:${r.outcome}:${r.actor}`);
  assert.deepEqual(decisions, ['jw-1:deny:operator:api', 'jw-owned:deny:operator:api', 'jw-1:success:operator:api']);
});
