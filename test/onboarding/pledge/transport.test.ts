/**
 * The pledge's TLS connections (src/onboarding/pledge/transport.ts): with trust anchors, the
 * server's chain, purpose and name are checked by the pledge itself once the handshake is done
 * (`checkServerCertificate`, what node:tls checks with `ca`) — a server that fails any of them is
 * refused with ERR_PLEDGE_PROTOCOL before a byte of application data is sent; without anchors
 * (provisional, RFC 8995 §5.1) any server is taken. The client chain it presents leaves out a
 * last self-issued certificate (`tlsClientChain`).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { isRootlineError } from '../../../src/errors.js';
import { openTls, tlsClientChain, type TlsTarget } from '../../../src/onboarding/pledge/transport.js';
import { createRootCa, domainCaPolicy, encodePem, parsePem, type CertificateAuthority } from '../../../src/pki/index.js';
import { p256 } from '../registrar/fixture.js';

interface TestServer {
  server: Server;
  port: number;
  /** Application data each closed connection received, and the client chain each one saw (DER, leaf first). */
  received: string[];
  chains: Uint8Array[][];
}

async function serve(certPem: string, keyPem: string): Promise<TestServer> {
  const received: string[] = [];
  const chains: Uint8Array[][] = [];
  const server = createServer({ cert: certPem, key: keyPem, requestCert: true, rejectUnauthorized: false }, (socket) => {
    const chain: Uint8Array[] = [];
    const seen = new Set<string>();
    for (let c = socket.getPeerCertificate(true); c?.raw !== undefined && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
      seen.add(c.fingerprint256);
      chain.push(new Uint8Array(c.raw));
    }
    chains.push(chain);
    let data = '';
    socket.on('data', (d: Buffer) => {
      data += d.toString('utf8');
      socket.end('pong');
    });
    socket.on('close', () => received.push(data));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, received, chains };
}

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
const client = p256();
let clientChainPem: string;
let good: TestServer;
let wrongName: TestServer;
let untrusted: TestServer;
let clientOnly: TestServer;

before(async () => {
  ca = await createRootCa({ signer: p256().signer, subject: 'CN=Transport Test CA', validityDays: 365 });
  otherCa = await createRootCa({ signer: p256().signer, subject: 'CN=Another CA', validityDays: 365 });
  clientChainPem = (await ca.issueCertificate({ subject: 'CN=pledge', publicKey: client.signer.publicKey, validity: { days: 30 } })).pem + ca.chainPem;
  const k1 = p256();
  const k2 = p256();
  const k3 = p256();
  const k4 = p256();
  const ok = await domainCaPolicy.issueServerCertificate(ca, { publicKey: k1.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 30 });
  const named = await domainCaPolicy.issueServerCertificate(ca, { publicKey: k2.signer.publicKey, subjectAltNames: { dns: ['registrar.example'] }, validityDays: 30 });
  const foreign = await domainCaPolicy.issueServerCertificate(otherCa, { publicKey: k3.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 30 });
  // Right anchor and name, but an extendedKeyUsage without serverAuth (OpenSSL's ssl_server purpose refuses it).
  const clientAuthOnly = await ca.issueCertificate({ subject: 'CN=127.0.0.1', publicKey: k4.signer.publicKey, validity: { days: 30 }, subjectAltNames: { ip: ['127.0.0.1'] }, keyUsage: ['digitalSignature'], extKeyUsage: ['clientAuth'] });
  good = await serve(ok.pem + ca.chainPem, k1.keyPem);
  wrongName = await serve(named.pem + ca.chainPem, k2.keyPem);
  untrusted = await serve(foreign.pem + otherCa.chainPem, k3.keyPem);
  clientOnly = await serve(clientAuthOnly.pem + ca.chainPem, k4.keyPem);
});

after(async () => {
  for (const s of [good, wrongName, untrusted, clientOnly]) await new Promise<void>((r) => s.server.close(() => r()));
});

const target = (s: TestServer, ca?: string[]): TlsTarget => ({ host: '127.0.0.1', port: s.port, timeoutMs: 30_000, cert: clientChainPem, key: client.keyPem, ...(ca !== undefined ? { ca } : {}) });

async function roundTrip(t: TlsTarget): Promise<string> {
  const socket = await openTls(t);
  return new Promise<string>((resolve, reject) => {
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('utf8')));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
    socket.write('ping');
  });
}

async function refused(s: TestServer, t: TlsTarget, pattern: RegExp): Promise<void> {
  await assert.rejects(openTls(t), (err: unknown) => isRootlineError(err) && err.code === 'ERR_PLEDGE_PROTOCOL' && pattern.test((err as Error).message));
  // No socket was handed out, so nothing could be sent on it; the server never got data.
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(s.received.filter((d) => d !== ''), []);
}

describe('openTls with trust anchors', () => {
  test('a server chaining to the anchor, named by the target, is taken', async () => {
    assert.equal(await roundTrip(target(good, [ca.chainPem])), 'pong');
  });

  test('a server under another CA is refused before anything is sent', async () => {
    await refused(untrusted, target(untrusted, [ca.chainPem]), /TLS to the registrar failed/);
  });

  test('a server whose certificate does not name the host is refused before anything is sent', async () => {
    await refused(wrongName, target(wrongName, [ca.chainPem]), /TLS to the registrar failed: .*(IP|altnames|127\.0\.0\.1)/);
  });

  test('a certificate whose extendedKeyUsage does not allow serverAuth is refused', async () => {
    await refused(clientOnly, target(clientOnly, [ca.chainPem]), /TLS to the registrar failed: .*serverAuth/);
  });

  test('without anchors (provisional) any server is taken', async () => {
    assert.equal(await roundTrip(target(untrusted)), 'pong');
    assert.equal(await roundTrip(target(wrongName)), 'pong');
  });

  test('an anchor list without a certificate is refused typed', async () => {
    await assert.rejects(openTls(target(good, [''])), (err: unknown) => isRootlineError(err));
  });
});

describe('tlsClientChain', () => {
  test('leaves out a last self-issued certificate; the server sees the leaf only', async () => {
    const blocks = parsePem(clientChainPem, {});
    const trimmed = tlsClientChain(clientChainPem);
    assert.equal(trimmed, encodePem('CERTIFICATE', blocks[0]!.der));
    assert.equal(await roundTrip({ ...target(good, [ca.chainPem]), cert: trimmed }), 'pong');
    assert.deepEqual(good.chains.at(-1), [blocks[0]!.der]);
  });

  test('keeps a single certificate, and a chain whose last certificate is not self-issued', async () => {
    const leafPem = encodePem('CERTIFICATE', parsePem(clientChainPem, {})[0]!.der);
    assert.equal(tlsClientChain(leafPem), leafPem);
    const sub = await ca.issueCertificate({ subject: 'CN=Sub CA', publicKey: p256().signer.publicKey, validity: { days: 30 }, isCa: true });
    const chain = leafPem + sub.pem;
    assert.equal(tlsClientChain(chain), chain);
    assert.equal(tlsClientChain(chain + ca.chainPem), leafPem + encodePem('CERTIFICATE', parsePem(sub.pem, {})[0]!.der));
  });
});
