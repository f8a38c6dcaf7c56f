// The TLS part of one HTTPS onboarding, in isolation (issue 6): what a pledge's TLS client context
// costs, and what one mutually authenticated handshake plus one small request costs both sides
// together, for the choices made in src/onboarding/pledge/transport.ts and
// src/server/onboarding-services.ts. Client and server run in this one process, so every figure
// is CPU (process.cpuUsage: user + system) of both sides per operation; no peer to compare with.
// Certificates as the bench's are: P-256, a root CA issuing the server and the client directly.
//   contexts: tls.createSecureContext with the client's chain (leaf, or leaf + root), its key
//             (PKCS#8 PEM), with or without `ca`
//   handshakes (TLS 1.3 unless named), each variant run alternately, ONBOARD_TLS_ROUNDS times:
//     old         client chain with root, `ca` in the client context (OpenSSL checks), server chain
//                 with root, session tickets on — what 2036194 did on the LDevID connection
//     new         client chain leaf only, no `ca` (checkServerCertificate after the handshake),
//                 server chain leaf only, SSL_OP_NO_TICKET — what this code does
//     new+tickets, new+roots, tls1.2: the new one with one choice undone
// checkServerCertificate's signature check hits pki's verified-signature cache after the first
// connection, as it does in a real pledge: the pledge verified the same registrar certificate under
// the same pinned CA (RFC 8995 §5.6.2, pledge.ts) before it opens a connection with anchors.
// Usage: node --import tsx bench/onboard-tls.ts    (ONBOARD_TLS_N=1000 handshakes per variant and round,
//        ONBOARD_TLS_ROUNDS=3). Ends with one line of JSON.
import { constants, generateKeyPairSync } from 'node:crypto';
import { connect, createSecureContext, createServer, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import { keyObjectSigner } from '../src/crypto/signer.js';
import { checkServerCertificate } from '../src/onboarding/est/client.js';
import { createRootCa, domainCaPolicy, parseCertificate, parsePem } from '../src/pki/index.js';

const N = Number(process.env.ONBOARD_TLS_N ?? 1000);
const ROUNDS = Number(process.env.ONBOARD_TLS_ROUNDS ?? 3);

function p256(): { signer: ReturnType<typeof keyObjectSigner>; keyPem: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { signer: keyObjectSigner(privateKey), keyPem: String(privateKey.export({ type: 'pkcs8', format: 'pem' })) };
}

const ca = await createRootCa({ signer: p256().signer, subject: 'CN=Bench Domain CA', validityDays: 365 });
const rootPem = ca.chainPem;
const anchors = parsePem(rootPem, {}).map((b) => parseCertificate(b.der));
const serverKey = p256();
const serverCert = await domainCaPolicy.issueServerCertificate(ca, { publicKey: serverKey.signer.publicKey, subjectAltNames: { ip: ['127.0.0.1'] }, validityDays: 30 });
const clientKey = p256();
const clientCert = await ca.issueCertificate({ subject: 'CN=bench pledge', publicKey: clientKey.signer.publicKey, validity: { days: 30 }, extKeyUsage: ['clientAuth'] });

function cpuPer(n: number, run: () => void): number {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) run();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / n;
}

const contexts: Record<string, () => unknown> = {
  'leaf+root, key, ca': () => createSecureContext({ cert: clientCert.pem + rootPem, key: clientKey.keyPem, ca: [rootPem] }),
  'leaf+root, key': () => createSecureContext({ cert: clientCert.pem + rootPem, key: clientKey.keyPem }),
  'leaf, key': () => createSecureContext({ cert: clientCert.pem, key: clientKey.keyPem }),
  'empty': () => createSecureContext({}),
};
const contextUs: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, make] of Object.entries(contexts)) {
    cpuPer(50, make);
    (contextUs[name] ??= []).push(cpuPer(N, make));
  }
}

interface Variant {
  serverRoot: boolean;
  tickets: boolean;
  clientRoot: boolean;
  clientCa: boolean;
  maxVersion: 'TLSv1.3' | 'TLSv1.2';
}
const variants: Record<string, Variant> = {
  old: { serverRoot: true, tickets: true, clientRoot: true, clientCa: true, maxVersion: 'TLSv1.3' },
  new: { serverRoot: false, tickets: false, clientRoot: false, clientCa: false, maxVersion: 'TLSv1.3' },
  'new+tickets': { serverRoot: false, tickets: true, clientRoot: false, clientCa: false, maxVersion: 'TLSv1.3' },
  'new+roots': { serverRoot: true, tickets: false, clientRoot: true, clientCa: false, maxVersion: 'TLSv1.3' },
  'tls1.2': { serverRoot: false, tickets: false, clientRoot: false, clientCa: false, maxVersion: 'TLSv1.2' },
};

async function start(v: Variant): Promise<{ server: Server; port: number }> {
  const server = createServer(
    { cert: serverCert.pem + (v.serverRoot ? rootPem : ''), key: serverKey.keyPem, requestCert: true, rejectUnauthorized: false, maxVersion: v.maxVersion, ...(v.tickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }) },
    (socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        // What the registrar reads per connection: the client's chain (est/routes.ts).
        const seen = new Set<string>();
        for (let c = socket.getPeerCertificate(true); c?.raw !== undefined && !seen.has(c.fingerprint256); c = c.issuerCertificate) seen.add(c.fingerprint256);
        socket.end('ok');
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

function handshake(port: number, v: Variant, context: SecureContext): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, secureContext: context, rejectUnauthorized: v.clientCa });
    socket.once('secureConnect', () => {
      if (!v.clientCa) checkServerCertificate(socket, anchors, '127.0.0.1');
      socket.write('x');
    });
    socket.on('data', () => undefined);
    socket.once('end', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

async function handshakesCpu(v: Variant, n: number): Promise<number> {
  const { server, port } = await start(v);
  // One context for all (its cost is measured above); 16 in flight.
  const context = createSecureContext({ cert: clientCert.pem + (v.clientRoot ? rootPem : ''), key: clientKey.keyPem, maxVersion: v.maxVersion, ...(v.clientCa ? { ca: [rootPem] } : {}) });
  const run = async (count: number): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next++ < count) await handshake(port, v, context);
    }));
  };
  await run(100);
  const t = process.cpuUsage();
  await run(n);
  const d = process.cpuUsage(t);
  await new Promise<void>((r) => server.close(() => r()));
  return (d.user + d.system) / n;
}

const handshakeUs: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, v] of Object.entries(variants)) (handshakeUs[name] ??= []).push(await handshakesCpu(v, N));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]): string => `${Math.round(median(xs))} µs (runs ${xs.map((x) => Math.round(x)).join(', ')})`;
process.stdout.write('\nTLS client context (tls.createSecureContext), CPU per context:\n');
for (const [name, xs] of Object.entries(contextUs)) process.stdout.write(`  ${name.padEnd(22)} ${fmt(xs)}\n`);
process.stdout.write('\nHandshake + one request, client and server together, CPU per connection:\n');
for (const [name, xs] of Object.entries(handshakeUs)) process.stdout.write(`  ${name.padEnd(22)} ${fmt(xs)}\n`);
process.stdout.write(
  `${JSON.stringify({
    bench: 'onboard-tls',
    n: N,
    rounds: ROUNDS,
    context_us: Object.fromEntries(Object.entries(contextUs).map(([k, v]) => [k, Math.round(median(v))])),
    handshake_us: Object.fromEntries(Object.entries(handshakeUs).map(([k, v]) => [k, Math.round(median(v))])),
  })}\n`,
);
