// Microbenchmark of CoAP's own per-request CPU on the server side (issue 3): a CoapEndpoint over
// an in-memory transport receives the datagrams bench/coaps.ts's load generator sends (CON GET `/`,
// 4-byte token, rolling message IDs, BENCH_PEERS peers) and answers them with the same 136-byte
// text/plain body as bench/lib/rootline-coaps-server.ts. No sockets, no DTLS: what is measured is
// decode, dedup, routing, handler, encode and the reply bookkeeping — plus, separately, the codec.
// Usage: node --expose-gc --import tsx bench/coap-request-path.ts
//   BENCH_REQUESTS=2000000  requests per round    BENCH_ROUNDS=5  rounds (the best and median printed)
//   BENCH_PEERS=32          distinct peer keys    COAP_SRC=dir    src/coap to measure (default this tree's)
//   BENCH_CODEC=0           skip the codec-only rounds
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as EndpointModule from '../src/coap/endpoint.js';
import type * as ContentFormatModule from '../src/coap/content-format.js';
import type * as CodecModule from '../src/coap/codec.js';

const SRC = resolve(process.env.COAP_SRC ?? resolve(import.meta.dirname, '../src/coap'));
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PEERS = Number(process.env.BENCH_PEERS ?? 32);

const { CoapEndpoint } = (await import(pathToFileURL(`${SRC}/endpoint.ts`).href)) as typeof EndpointModule;
const { ContentFormat } = (await import(pathToFileURL(`${SRC}/content-format.ts`).href)) as typeof ContentFormatModule;
const codec = (await import(pathToFileURL(`${SRC}/codec.ts`).href)) as typeof CodecModule;

const ROOT_BODY = 'x'.repeat(136);
let sent = 0;
let sentBytes = 0;
let receiver: ((peer: string, data: Uint8Array) => void) | undefined;
const transport = {
  send(_peer: string, data: Uint8Array): void {
    sent++;
    sentBytes += data.length;
  },
  onDatagram(cb: (peer: string, data: Uint8Array) => void): void {
    receiver = cb;
  },
  close(): void {},
};
const ep = new CoapEndpoint(transport);
ep.resource('/', { get: () => ({ payload: ROOT_BODY, contentFormat: ContentFormat.TextPlain }) });

const peers = Array.from({ length: PEERS }, (_, i) => `127.0.0.1:${40000 + i}`);
const mids = new Uint16Array(PEERS).map((_, i) => i * 977);
const tokens = new Uint32Array(PEERS).map((_, i) => i * 7919);
// One fresh datagram per request, as a socket hands over (the receive buffer is not reused).
function request(i: number): Uint8Array {
  const m = new Uint8Array(8);
  const mid = mids[i]!++;
  const tok = tokens[i]!++;
  m[0] = 0x44;
  m[1] = 0x01;
  m[2] = mid >> 8;
  m[3] = mid & 0xff;
  m[4] = tok & 0xff;
  m[5] = (tok >> 8) & 0xff;
  m[6] = (tok >> 16) & 0xff;
  m[7] = tok >>> 24;
  return m;
}

function round(n: number): { usPerReq: number; wallUsPerReq: number } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) {
    const p = k % PEERS;
    receiver!(peers[p]!, request(p));
  }
  const t1 = process.hrtime.bigint();
  const c = process.cpuUsage(c0);
  return { usPerReq: (c.user + c.system) / n, wallUsPerReq: Number(t1 - t0) / 1000 / n };
}

function report(label: string, rs: Array<{ usPerReq: number; wallUsPerReq: number }>): void {
  const cpu = rs.map((r) => r.usPerReq).sort((a, b) => a - b);
  console.log(`${label.padEnd(46)} CPU µs/request: best ${cpu[0]!.toFixed(3)}  median ${cpu[Math.floor(cpu.length / 2)]!.toFixed(3)}  (${Math.round(1e6 / cpu[0]!).toLocaleString('en-US')} per CPU-s)`);
}

const gc = (globalThis as { gc?: () => void }).gc;
round(Math.min(REQUESTS, 200_000)); // warm-up (JIT)
const before = sent;
const rs = [];
for (let r = 0; r < ROUNDS; r++) {
  gc?.();
  rs.push(round(REQUESTS));
}
if (sent - before !== REQUESTS * ROUNDS) throw new Error(`expected ${REQUESTS * ROUNDS} replies, got ${sent - before}`);
report(`endpoint: CON GET / → piggybacked 2.05 (${PEERS} peers)`, rs);
console.log(`  reply bytes each: ${(sentBytes / sent).toFixed(0)}`);

// The codec alone, on the same request and response (BENCH_CODEC=0 skips it).
if (process.env.BENCH_CODEC === '0') {
  await ep.close();
  process.exit(0);
}
const req = request(0);
const res = codec.encodeMessage({ type: 2, code: 69, messageId: 1, token: new Uint8Array(4), options: [{ number: 12, value: new Uint8Array(0) }], payload: new TextEncoder().encode(ROOT_BODY) });
function codecRound(n: number, f: () => void): { usPerReq: number; wallUsPerReq: number } {
  const c0 = process.cpuUsage();
  for (let k = 0; k < n; k++) f();
  const c = process.cpuUsage(c0);
  return { usPerReq: (c.user + c.system) / n, wallUsPerReq: 0 };
}
const msg = codec.decodeMessage(res);
for (const [label, f] of [
  ['decodeMessage(request, 8 B)', () => void codec.decodeMessage(req)],
  ['decodeMessage(response, 150 B)', () => void codec.decodeMessage(res)],
  ['encodeMessage(response, 150 B)', () => void codec.encodeMessage(msg)],
] as const) {
  codecRound(200_000, f);
  const cr = [];
  for (let r = 0; r < ROUNDS; r++) cr.push(codecRound(REQUESTS, f));
  report(label, cr);
}
await ep.close();
