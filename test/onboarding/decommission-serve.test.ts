/**
 * Decommission through rootline serve: a pledge onboarded by the server's registrar (MASA in
 * process) is decommissioned with `rootline device decommission`; the CRL served at
 * GET /api/v1/onboarding/crl lists the LDevID for openssl; the MASA claim is released; the API
 * refuses a second decommission (409) and an unknown device (404).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runPledge } from '../../src/onboarding/pledge/index.js';
import { loadConfig } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer } from '../../src/server/server.js';
import { runCli } from '../cli/io.js';
import { opensslSkip, run } from './est/helpers.js';

test('rootline device decommission against serve: CRL served and read by openssl, claim released', { skip: opensslSkip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-decommission-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  assert.equal((await runCli(['factory', 'init', '--data', data, '--masa-url', 'https://127.0.0.1/masa', '--manufacturer', 'Acme'], { cwd: dir })).code, 0);
  assert.equal((await runCli(['factory', 'mint', '--data', data, '--serial', 'DS-1', '--model', 'Meter', '--out', 'DS-1'], { cwd: dir })).code, 0);
  const configFile = join(dir, 'rootline.json');
  writeFileSync(configFile, JSON.stringify({ onboarding: { masa: true, approval: 'automatic' } }));
  const { config, sources } = loadConfig({ configFile, env: {}, flags: { dataDir: data, httpPort: '0', coapPort: '0', coapsPort: '0', estPort: '0', deviceHost: '127.0.0.1' } });
  const server = await startServer(config, { sources, logger: createLogger({ level: 'silent' }) });
  t.after(() => server.close());
  const api = `${server.addresses.http!.url}/api/v1`;

  const onboarded = await runPledge({ idevidDir: join(dir, 'DS-1'), registrarUrl: server.addresses.est!.url });
  const endpoint = onboarded.endpoint!;
  const serial = onboarded.ldevid.certificate.serialNumber;
  const claimed = await server.store.masa.getClaim('DS-1');
  assert.ok(claimed !== undefined && claimed.releasedAt === null, 'claimed by this domain');

  const cli = await runCli(['device', 'decommission', endpoint, '--api', server.addresses.http!.url, '--json'], { cwd: dir });
  assert.equal(cli.code, 0, cli.stderr);
  const result = JSON.parse(cli.stdout) as { revoked: string[]; masaClaim: string; ownershipState: string; credentialsRemoved: number; bootstrapConfigDeleted: boolean };
  assert.deepEqual(result.revoked, [serial]);
  assert.equal(result.masaClaim, 'released');
  assert.equal(result.ownershipState, 'DECOMMISSIONED');
  assert.equal(result.credentialsRemoved, 1);
  assert.equal(result.bootstrapConfigDeleted, true);
  assert.notEqual((await server.store.masa.getClaim('DS-1'))?.releasedAt ?? null, null, 'the MASA claim is released');

  const crl = await fetch(`${api}/onboarding/crl`);
  assert.equal(crl.status, 200);
  assert.equal(crl.headers.get('content-type'), 'application/pkix-crl');
  const crlFile = join(dir, 'domain.crl');
  writeFileSync(crlFile, new Uint8Array(await crl.arrayBuffer()));
  const text = await run('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text', '-CAfile', server.onboarding!.domainCaFile], dir);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stderr + text.stdout, /verify OK/);
  assert.match(text.stdout, new RegExp(`Serial Number: 0*${serial.replace(/^0+(?=.)/, '')}\\s`, 'i'));

  const again = await fetch(`${api}/devices/${encodeURIComponent(endpoint)}/decommission`, { method: 'POST' });
  assert.equal(again.status, 409);
  assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'ERR_API_OWNERSHIP_ILLEGAL_TRANSITION');
  const unknown = await fetch(`${api}/devices/no-such-device/decommission`, { method: 'POST' });
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'ERR_API_DEVICE_NOT_FOUND');
  const bad = await runCli(['device', 'decommission', 'bad endpoint!', '--api', server.addresses.http!.url], { cwd: dir });
  assert.equal(bad.code, 2);

  const audit = (await server.store.audit.list({ subject: endpoint, limit: 100 })).filter((r) => r.action.startsWith('onboarding.decommission')).map((r) => `${r.action}:${r.outcome}:${r.actor}`);
  assert.deepEqual(audit, [
    'onboarding.decommission.revoke:success:operator:api',
    'onboarding.decommission.accounts:success:operator:api',
    'onboarding.decommission.masa:success:operator:api',
    'onboarding.decommission:success:operator:api',
    'onboarding.decommission:deny:operator:api',
  ]);
});
