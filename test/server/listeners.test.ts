import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { forwardDiagnostics } from '../../src/server/diagnostics.js';
import { ListenerRegistry, type Listener } from '../../src/server/listeners.js';
import { createLogger, redactStoreUrl } from '../../src/server/logger.js';
import { isRootlineError } from '../../src/errors.js';

/** A real TCP listener on a chosen port (0 = any). */
function tcpListener(name: string, port: number): Listener & { server: Server } {
  const server = createServer();
  return {
    name,
    server,
    start: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          const a = server.address() as { port: number };
          resolve({ host: '127.0.0.1', port: a.port, url: `tcp://127.0.0.1:${a.port}` });
        });
      }),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('registry: health is false until every listener is up, reports real ports, stops all', async () => {
  const reg = new ListenerRegistry();
  assert.equal(reg.allUp(), false, 'nothing registered is not healthy');
  const a = tcpListener('a', 0);
  const b = tcpListener('b', 0);
  reg.register(a);
  reg.register(b);
  assert.deepEqual(reg.status(), { a: { state: 'pending' }, b: { state: 'pending' } });
  assert.equal(reg.allUp(), false);
  const addresses = await reg.startAll();
  assert.equal(reg.allUp(), true);
  assert.ok(addresses.a!.port > 0 && addresses.b!.port > 0);
  assert.equal(reg.status().b!.address!.port, addresses.b!.port);
  await reg.stopAll();
  assert.equal(reg.allUp(), false);
  assert.equal(a.server.listening, false);
  assert.equal(b.server.listening, false);
  assert.throws(() => reg.register(tcpListener('a', 0)), (e: unknown) => isRootlineError(e, 'ERR_SERVER_DUPLICATE_LISTENER'));
});

test('registry: a listener that cannot bind fails the start and the ones already up are stopped', async () => {
  const first = new ListenerRegistry();
  const holder = tcpListener('holder', 0);
  first.register(holder);
  const { holder: held } = await first.startAll();

  const reg = new ListenerRegistry();
  const ok = tcpListener('ok', 0);
  reg.register(ok);
  reg.register(tcpListener('clash', held!.port));
  await assert.rejects(reg.startAll(), (e: unknown) => {
    assert.ok(isRootlineError(e, 'ERR_SERVER_LISTEN'));
    assert.match((e as Error).message, /clash listener failed to start \(EADDRINUSE\)/);
    return true;
  });
  assert.equal(ok.server.listening, false, 'the started listener was stopped again');
  assert.equal(reg.status().clash!.state, 'failed');
  await first.stopAll();
});

test('diagnostics: events on rootline:* channels reach the logger; unsubscribing stops them', () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } });
  const stop = forwardDiagnostics(logger, { 'rootline:test:event': 'warn' });
  // Publish through the public API the protocol rooms use.
  const c = channel('rootline:test:event');
  assert.equal(c.hasSubscribers, true);
  c.publish({ peer: '10.0.0.1', error: new Error('bad record') });
  stop();
  assert.equal(c.hasSubscribers, false);
  c.publish({ peer: 'after-stop' });
  assert.equal(lines.length, 1);
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(rec.level, 40);
  assert.equal(rec.channel, 'rootline:test:event');
  assert.equal(rec.peer, '10.0.0.1');
  assert.deepEqual(rec.error, { type: 'Error', message: 'bad record' });
});

test('logger: secret-bearing paths are redacted; store URLs lose their password', async () => {
  const out: string[] = [];
  const dest = new Writable({ write: (chunk: Buffer, _enc, cb) => (out.push(chunk.toString()), cb()) });
  const logger = createLogger({ level: 'info', destination: dest });
  logger.info({ body: { credentials: { psk: { identity: 'id', key: 'deadbeefcafe' } } }, masterKey: 'topsecret', req: { headers: { authorization: 'Bearer xyz' } } }, 'x');
  const text = out.join('');
  assert.ok(!text.includes('deadbeefcafe'));
  assert.ok(!text.includes('topsecret'));
  assert.ok(!text.includes('Bearer xyz'));
  assert.match(text, /"identity":"id"/);
  assert.equal(redactStoreUrl('postgres://rl:hunter2@db:5432/rootline'), 'postgres://rl:redacted@db:5432/rootline');
  assert.equal(redactStoreUrl('sqlite:/var/lib/rootline/rootline.db'), 'sqlite:/var/lib/rootline/rootline.db');
});
