// The server side of bench/coaps.ts for rootline: our DTLS server with our CoAP endpoint on top,
// run as a child process so that its CPU time and resident memory are its own and not the
// load generator's or the orchestrator's. Serves GET / with a body of the same length as
// libcoap's coap-server answers on `/`, so both servers send equally large records.
//
// Started by bench/lib/servers.ts with an IPC channel:
//   argv: <psk-identity> <psk-key> <cert.der> <key.pem>
//   → {type:'ready', port, plainPort}  once bound on 127.0.0.1 (plainPort: the same CoAP endpoint
//                                       code on plain UDP, NoSec)
//   ← {type:'rss'} → {type:'rss', rss, heapUsed, young, sessions}   after BENCH_SETTLE_MS (12 s) without
//                                       traffic and a full GC: garbage not yet collected and the
//                                       young generation grown by the handshake burst are not
//                                       counted as memory held by sessions
//   ← {type:'profile-start'} / {type:'profile-stop', file} → {type:'profiled'}: V8 CPU profile of
//                                       exactly a measured window, written as a .cpuprofile
//   ← {type:'stop'} or IPC disconnect → close_notify to every session, exit
import { createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDtlsServer, dtlsServerTransport } from '../../src/dtls/index.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { UdpTransport } from '../../src/coap/transport.js';
import { ContentFormat } from '../../src/coap/content-format.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const [identity, pskKey, certDerPath, keyPemPath] = process.argv.slice(2);
if (identity === undefined || pskKey === undefined || certDerPath === undefined || keyPemPath === undefined || process.send === undefined) {
  process.stderr.write('usage (as an IPC child): rootline-coaps-server.ts <identity> <psk-key> <cert.der> <key.pem>\n');
  process.exit(2);
}
const send = process.send.bind(process);
/** Quiet time before a memory reading (BENCH_SETTLE_MS, default 12 s). */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 12_000);

// Same length as libcoap 4.3.1's `/` text (136 bytes), so record sizes match across servers.
export const ROOT_BODY = 'x'.repeat(136);

const key = Buffer.from(pskKey);
const server = await createDtlsServer({
  host: '127.0.0.1',
  port: 0,
  psk: { lookup: (id) => (id === identity ? key : undefined) },
  certificate: { signer: keyObjectSigner(createPrivateKey(readFileSync(keyPemPath))), chain: [new Uint8Array(readFileSync(certDerPath))], rawPublicKey: false },
  // The idle-memory phase holds 10,000 sessions; the default cap is exactly 10,000.
  maxSessions: 50_000,
  // Every bench client comes from 127.0.0.1; the per-address limit (600/min by default) would
  // measure the limiter, not the handshake. libcoap has no such limit.
  handshakeRate: { perAddress: 1_000_000_000, windowMs: 60_000 },
});
const endpoint = new CoapEndpoint(dtlsServerTransport(server));
endpoint.resource('/', { get: () => ({ payload: ROOT_BODY, contentFormat: ContentFormat.TextPlain }) });
// The same endpoint code on plain UDP (NoSec), for the "without DTLS" row of the ceiling table.
const plainTransport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
const plain = new CoapEndpoint(plainTransport);
plain.resource('/', { get: () => ({ payload: ROOT_BODY, contentFormat: ContentFormat.TextPlain }) });

// In-process profiler rather than --cpu-prof: it covers only the generator's measured window,
// not start-up (module loading under tsx dominates a whole-process profile).
const inspector = new Session();
const post = (method: string, params?: object): Promise<unknown> =>
  new Promise((res, rej) => inspector.post(method, params, (err, result) => (err ? rej(err) : res(result))));
async function startProfile(): Promise<void> {
  inspector.connect();
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
}
async function stopProfile(file: string): Promise<void> {
  const { profile } = (await post('Profiler.stop')) as { profile: unknown };
  inspector.disconnect();
  writeFileSync(file, JSON.stringify(profile));
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await endpoint.close();
  await plain.close();
  process.exit(0);
}

process.on('message', (m: { type?: string }) => {
  if (m.type === 'rss') {
    // V8 shrinks its young generation (grown to tens of MiB by a burst of handshakes, whatever
    // the number of sessions left) only at a GC after allocation has been quiet for a few
    // seconds — what an idle server reaches by itself. Readings are taken in that state.
    setTimeout(() => {
      gc();
      gc();
      const mem = process.memoryUsage();
      // The young generation's resident pages, which V8 grows and shrinks on its own schedule.
      const young = getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space')?.physical_space_size ?? 0;
      send({ type: 'rss', rss: mem.rss, heapUsed: mem.heapUsed, young, sessions: server.sessions.size });
    }, SETTLE_MS);
  } else if (m.type === 'profile-start') void startProfile();
  else if (m.type === 'profile-stop') void stopProfile((m as { file: string }).file).then(() => send({ type: 'profiled' }));
  else if (m.type === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

send({ type: 'ready', port: server.address().port, plainPort: plainTransport.local.port });
