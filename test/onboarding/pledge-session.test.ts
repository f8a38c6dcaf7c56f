/**
 * The pledge's kept TLS connection (src/onboarding/pledge/http-session.ts, RFC 8995 §5.1): several
 * requests travel on one TLS connection; when the server closes it, the next request goes over a
 * connection from `reopen` (and a session that must not reopen — the provisional one — fails
 * with ERR_PLEDGE_PROTOCOL instead of silently trusting a new connection).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, test } from 'node:test';
import { isRootlineError } from '../../src/errors.js';
import { httpSession } from '../../src/onboarding/pledge/http-session.js';
import { openTls } from '../../src/onboarding/pledge/transport.js';
import { createRootCa, domainCaPolicy } from '../../src/pki/index.js';
import { p256 } from './registrar/fixture.js';

let server: Server;
let port: number;
let connections = 0;
let caPem: string;
const seen: string[] = [];
const client = p256();
let clientCertPem: string;

before(async () => {
  const ca = await createRootCa({ signer: p256().signer, subject: 'CN=Session Test CA', validityDays: 365 });
  caPem = ca.chainPem;
  const key = p256();
  const cert = await domainCaPolicy.issueServerCertificate(ca, { publicKey: key.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 30 });
  clientCertPem = (await ca.issueCertificate({ subject: 'CN=pledge', publicKey: client.signer.publicKey, validity: { days: 30 } })).pem;
  server = createServer({ key: key.keyPem, cert: cert.pem + ca.chainPem, requestCert: true, rejectUnauthorized: false, keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString('utf8')}`);
      // '/close' answers and then ends the connection, as a registrar may between requests.
      if (req.url === '/close') res.setHeader('connection', 'close');
      res.setHeader('content-type', 'text/plain');
      res.end(`ok ${req.url}`);
    });
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

after(() => new Promise<void>((r) => server.close(() => r())));

const target = () => ({ host: '127.0.0.1', port, timeoutMs: 30_000, cert: clientCertPem, key: client.keyPem, ca: [caPem] });

test('requests share one TLS connection; a closed one is replaced through reopen', async () => {
  connections = 0;
  seen.length = 0;
  let reopened = 0;
  const open = () => {
    reopened++;
    return openTls(target());
  };
  const session = httpSession(await openTls(target()), `127.0.0.1:${port}`, open);
  try {
    const a = await session.request('POST', '/one', new TextEncoder().encode('first'), { 'content-type': 'text/plain' }, 1024);
    const b = await session.request('GET', '/two', undefined, {}, 1024);
    assert.deepEqual([a.status, a.body.toString(), b.status, b.body.toString()], [200, 'ok /one', 200, 'ok /two']);
    assert.equal(connections, 1);
    assert.equal(reopened, 0);
    const c = await session.request('GET', '/close', undefined, {}, 1024);
    assert.equal(c.status, 200);
    const d = await session.request('GET', '/after', undefined, {}, 1024);
    assert.equal(d.body.toString(), 'ok /after');
    assert.equal(reopened, 1);
    assert.equal(connections, 2);
    assert.deepEqual(seen, ['POST /one first', 'GET /two ', 'GET /close ', 'GET /after ']);
    await assert.rejects(session.request('GET', '/two', undefined, {}, 3), (err: unknown) => isRootlineError(err, 'ERR_PLEDGE_PROTOCOL'));
  } finally {
    session.close();
  }
});

test('a session that must not reopen fails typed once its connection is gone', async () => {
  const session = httpSession(await openTls(target()), `127.0.0.1:${port}`, () => Promise.reject(new Error('must not reopen')));
  try {
    assert.equal((await session.request('GET', '/close', undefined, {}, 1024)).status, 200);
    await assert.rejects(session.request('GET', '/next', undefined, {}, 1024), (err: unknown) => {
      assert.ok(isRootlineError(err, 'ERR_PLEDGE_PROTOCOL'), String(err));
      assert.match((err as Error).message, /must not reopen/);
      return true;
    });
  } finally {
    session.close();
  }
});

test('detach hands the open connection over (no new TLS handshake); a closed one is not handed over', async () => {
  connections = 0;
  const session = httpSession(await openTls(target()), `127.0.0.1:${port}`, () => openTls(target()));
  assert.equal((await session.request('POST', '/voucher', new TextEncoder().encode('v'), { 'content-type': 'text/plain' }, 1024)).status, 200);
  const socket = session.detach();
  assert.ok(socket !== undefined && !socket.destroyed);
  // The session is over; the socket now belongs to the caller and still carries requests.
  const { request } = await import('node:http');
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ method: 'GET', path: '/after-detach', headers: { host: `127.0.0.1:${port}`, connection: 'close' }, createConnection: () => socket! }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(body, 'ok /after-detach');
  assert.equal(connections, 1);
  socket.destroy();

  const closing = httpSession(await openTls(target()), `127.0.0.1:${port}`, () => openTls(target()));
  assert.equal((await closing.request('GET', '/close', undefined, {}, 1024)).status, 200);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(closing.detach(), undefined);
});
