/**
 * Onboarding inside startServer with operator approval (the default): a pledge waits (202) until
 * the operator approves it through the API, another is rejected; the decisions are audited with
 * the API actor and survive a restart, as do the domain CA and the registrar identity. A server
 * without an onboarding section runs no EST listener and says so on the onboarding routes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { runPledge } from '../../src/onboarding/pledge/index.js';
import { decodePem } from '../../src/pki/index.js';
import { loadConfig } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { runCli } from '../cli/io.js';
import { request, startTestServer } from './harness.js';

async function start(dir: string, configFile: string): Promise<RunningServer> {
  const { config, sources } = loadConfig({ configFile, env: {}, flags: { dataDir: join(dir, 'data'), httpPort: '0', coapPort: '0', coapsPort: '0', estPort: '0', deviceHost: '127.0.0.1' } });
  return startServer(config, { sources, logger: createLogger({ level: 'silent' }) });
}

test('manual approval through the API, rejection, and a restart that keeps CA, identity and decisions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-onboarding-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  assert.equal((await runCli(['factory', 'init', '--data', data, '--masa-url', 'https://127.0.0.1/masa', '--manufacturer', 'Acme'], { cwd: dir })).code, 0);
  for (const serial of ['AP-1', 'RJ-1']) assert.equal((await runCli(['factory', 'mint', '--data', data, '--serial', serial, '--model', 'Meter', '--out', serial], { cwd: dir })).code, 0);
  const configFile = join(dir, 'rootline.json');
  // No manufacturers listed and the MASA in process: the data directory's own factory is trusted.
  writeFileSync(configFile, JSON.stringify({ onboarding: { masa: true, retryAfterSeconds: 1 } }));

  let server = await start(dir, configFile);
  t.after(() => server.close());
  const api = `${server.addresses.http!.url}/api/v1`;
  const est = server.addresses.est!.url;

  const seen: string[] = [];
  const approved = await runPledge({
    idevidDir: join(dir, 'AP-1'),
    registrarUrl: est,
    outDir: join(dir, 'AP-1-out'),
    maxPendingAttempts: 2,
    // Instead of waiting Retry-After, the operator decides while the pledge waits.
    sleep: async () => {
      const list = await request(`${api}/onboarding/pending`);
      const entry = (list.body as { pending: { serial: string; status: string; manufacturer: string }[] }).pending.find((p) => p.serial === 'AP-1');
      seen.push(`${entry?.status}:${entry?.manufacturer}`);
      const r = await request(`${api}/onboarding/pending/AP-1/approve`, { method: 'POST' });
      assert.equal(r.status, 200, r.text);
      assert.equal((r.body as { status: string; decidedBy: string }).status, 'approved');
    },
  });
  assert.deepEqual(seen, ['pending:Acme']);
  assert.equal(approved.serialNumber, 'AP-1');

  await assert.rejects(
    runPledge({
      idevidDir: join(dir, 'RJ-1'),
      registrarUrl: est,
      maxPendingAttempts: 2,
      sleep: async () => {
        const r = await request(`${api}/onboarding/pending/RJ-1/reject`, { method: 'POST' });
        assert.equal(r.status, 200, r.text);
      },
    }),
    (err: { code?: string; status?: number }) => err.code === 'ERR_PLEDGE_PROTOCOL' && err.status === 403,
  );
  const decisions = await request(`${api}/audit?action=registrar.approval&limit=100`);
  assert.deepEqual(
    (decisions.body as { records: { actor: string; subject: string; outcome: string }[] }).records.map((r) => [r.actor, r.subject, r.outcome]),
    [['operator:api', 'AP-1', 'allow'], ['operator:api', 'RJ-1', 'deny']],
  );
  // Argument checks: a malformed serial never reaches the registrar; an unknown one is a clear 404.
  const bad = await request(`${api}/onboarding/pending/${encodeURIComponent('no such!')}/approve`, { method: 'POST' });
  assert.equal(bad.status, 400);
  assert.equal((bad.body as { error: { code: string } }).error.code, 'ERR_API_VALIDATION');
  const unknown = await request(`${api}/onboarding/pending/ZZ-9/reject`, { method: 'POST' });
  assert.equal(unknown.status, 404);
  assert.equal((unknown.body as { error: { code: string } }).error.code, 'ERR_API_PENDING_NOT_FOUND');

  const domainCa = readFileSync(join(data, 'onboarding', 'domain-ca.pem'), 'utf8');
  const registrarCert = readFileSync(join(data, 'onboarding', 'registrar.pem'), 'utf8');
  assert.doesNotMatch(readFileSync(join(data, 'onboarding', 'registrar-key.sealed')).toString('latin1'), /PRIVATE KEY/);
  await server.close();
  server = await start(dir, configFile);
  assert.equal(readFileSync(join(data, 'onboarding', 'domain-ca.pem'), 'utf8'), domainCa);
  assert.equal(readFileSync(join(data, 'onboarding', 'registrar.pem'), 'utf8'), registrarCert);
  const after = await request(`${server.addresses.http!.url}/api/v1/onboarding/pending`);
  assert.deepEqual((after.body as { pending: { serial: string; status: string }[] }).pending.map((p) => [p.serial, p.status]), [['AP-1', 'approved'], ['RJ-1', 'rejected']]);
});

test('without an onboarding section: no EST listener, and the onboarding routes answer ERR_API_ONBOARDING_DISABLED', async (t) => {
  const s = await startTestServer();
  t.after(() => s.close());
  assert.equal(s.server.addresses.est, undefined);
  assert.equal(s.server.onboarding, undefined);
  const r = await request(`${s.url}/api/v1/onboarding/pending`);
  assert.equal(r.status, 404);
  assert.equal((r.body as { error: { code: string } }).error.code, 'ERR_API_ONBOARDING_DISABLED');
});

test('the registrar listener presents its certificate without the domain root, and issues no resumable session (SSL_OP_NO_TICKET)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-onboarding-tickets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  assert.equal((await runCli(['factory', 'init', '--data', data, '--masa-url', 'https://127.0.0.1/masa', '--manufacturer', 'Acme'], { cwd: dir })).code, 0);
  const configFile = join(dir, 'rootline.json');
  writeFileSync(configFile, JSON.stringify({ onboarding: { masa: true } }));
  const server = await start(dir, configFile);
  t.after(() => server.close());
  const { port } = new URL(server.addresses.est!.url);
  const open = (session?: Buffer): Promise<{ socket: TLSSocket; sessions: Buffer[] }> =>
    new Promise((resolve, reject) => {
      const sessions: Buffer[] = [];
      const socket = connect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false, ...(session !== undefined ? { session } : {}) });
      socket.on('session', (s: Buffer) => sessions.push(s));
      socket.once('secureConnect', () => {
        // A request and its answer, so that any post-handshake NewSessionTicket has arrived.
        socket.write('GET /.well-known/est/cacerts HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
        socket.on('data', () => undefined);
        socket.once('end', () => resolve({ socket, sessions }));
      });
      socket.once('error', reject);
    });
  const first = await open();
  assert.equal(first.socket.getProtocol(), 'TLSv1.3');
  // The registrar certificate alone: the domain CA's root is the clients' trust anchor (RFC 8446 §4.4.2).
  const presented = first.socket.getPeerCertificate(true);
  assert.equal(presented.raw.toString('base64'), Buffer.from(decodePem(readFileSync(join(data, 'onboarding', 'registrar.pem'), 'utf8'), 'CERTIFICATE')).toString('base64'));
  assert.equal(presented.issuerCertificate, undefined);
  first.socket.destroy();
  // TLS 1.3 still sends (stateful) tickets; what matters is that none of them resumes.
  for (const session of first.sessions) {
    const again = await open(session);
    assert.equal(again.socket.isSessionReused(), false);
    again.socket.destroy();
  }
});
