// CoAP over DTLS 1.2 benchmark (issue 3, "Speed"): our server (src/dtls + src/coap, in a child
// process) next to libcoap's coap-server-openssl, driven in the same run by the same C load
// generator (bench/loadgen/coaps-loadgen.c, OpenSSL DTLS clients, compiled at bench time).
// For each server it measures:
//   1. CoAPs requests/s: BENCH_CLIENTS DTLS-PSK sessions (TLS_PSK_WITH_AES_128_CCM_8), each
//      keeping BENCH_DEPTH CON GETs of `/` outstanding (pipelined), over established sessions;
//   2. full PSK handshakes/s (cookie exchange included, no resumption; closed with close_notify);
//   3. full ECDHE-ECDSA handshakes/s (TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8, P-256 self-signed cert);
//   4. resident memory per idle session, on a fresh server process: after a 200-session warm-up,
//      BENCH_IDLE/2 silent PSK sessions are opened and held (reading 1), then BENCH_IDLE/2 more
//      (reading 2). Printed: the average (RSS 2 − RSS before) / BENCH_IDLE, and the slope
//      (RSS 2 − RSS 1) / second half, which leaves out constants of the process. Our Node server
//      takes each reading after BENCH_SETTLE_MS (12 s) without traffic and a full GC — V8 shrinks
//      the young generation, which a burst of handshakes grows by 20–30 MiB whatever the number
//      of sessions (~3 KB "per session" at 10,000), only once allocation has been quiet for a
//      few seconds, as on any idle server; libcoap (no GC) settles 200 ms. Since V8 still sizes
//      its young generation on its own schedule, both figures are also printed without it (RSS
//      minus new space's resident bytes, from v8.getHeapSpaceStatistics()).
//   5. the ceiling: the same rps load as plain CoAP over UDP (NoSec, no DTLS) against a bare
//      node:dgram responder (bench/lib/bare-udp-server.ts: what any Node server pays to receive
//      and send a datagram), our CoapEndpoint on UDP, and libcoap's NoSec port.
// Beside every rate it prints the server's and the generator's CPU over the same window (from
// /proc and getrusage), so a generator at 100% of a core — which would hide the server's
// ceiling — shows. Ends with one line of JSON.
// Usage: npm run bench:coaps       (~1.5 min; needs gcc, libssl-dev, libcoap3-bin, openssl)
//   BENCH_SECONDS=6      measured seconds per rate (after a warm-up of a third of it, ≥ 1 s)
//   BENCH_CLIENTS=32 BENCH_DEPTH=4    sessions and outstanding requests per session
//   BENCH_HS_CONC=16     concurrent handshakes
//   BENCH_IDLE=10000     idle sessions for the memory figure
//   BENCH_SETTLE_MS=12000  quiet time before each memory reading of our server (see 4.)
//   BENCH_SERVERS="rootline libcoap"  which servers to run
//   BENCH_CEILING="node-dgram rootline libcoap"  servers of the plain-UDP ceiling table ("" = skip)
//   BENCH_PROFILE=dir    CPU-profile our server during each measured window (V8 sampling profiler,
//                        in-process; costs some throughput) and print where its CPU goes
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildLoadgen, holdIdleSessions, runLoad, type LoadgenArgs, type LoadgenResult } from './lib/loadgen.js';
import { atExit, cpuSecondsOf, rssBytesOf } from './lib/processes.js';
import { makeCredentials, startBareUdp, startLibcoap, startRootline, type BenchCredentials, type RunningServer } from './lib/servers.js';
import { summariseCpuProfile } from './lib/cpuprofile-summary.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const WARMUP = Math.max(1, SECONDS / 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const DEPTH = Number(process.env.BENCH_DEPTH ?? 4);
const HS_CONC = Number(process.env.BENCH_HS_CONC ?? 16);
const IDLE = Number(process.env.BENCH_IDLE ?? 10_000);
const SERVERS = (process.env.BENCH_SERVERS ?? 'rootline libcoap').split(/\s+/).filter(Boolean);
const CEILING = (process.env.BENCH_CEILING ?? 'node-dgram rootline libcoap').split(/\s+/).filter(Boolean);
const PROFILE = process.env.BENCH_PROFILE !== undefined ? resolve(process.env.BENCH_PROFILE) : undefined;

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

interface Rate {
  gen: LoadgenResult;
  /** Server CPU over the generator's measured window, in % of one core. */
  serverCpuPct: number;
}

const profiles: Array<{ phase: string; file: string }> = [];

async function measure(server: RunningServer, phase: string, args: Omit<LoadgenArgs, 'port' | 'identity' | 'key'>, cred: BenchCredentials, binary: string): Promise<Rate> {
  let cpu0 = 0;
  let t0 = 0;
  const profiling = PROFILE !== undefined && server.profile !== undefined;
  const gen = await runLoad(binary, { ...args, port: server.port, identity: cred.identity, key: cred.key }, () => {
    cpu0 = cpuSecondsOf(server.pid);
    t0 = performance.now();
    if (profiling) server.profile!.start();
  });
  const serverCpuPct = (100 * (cpuSecondsOf(server.pid) - cpu0)) / ((performance.now() - t0) / 1000);
  if (profiling) {
    const file = join(PROFILE!, `${server.name}-${phase}.cpuprofile`);
    await server.profile!.stop(file);
    profiles.push({ phase, file });
  }
  return { gen, serverCpuPct };
}

interface ServerFigures {
  rps: Rate;
  psk: Rate;
  ecdhe: Rate;
  idle: {
    established: number;
    failures: number;
    establishSeconds: number;
    rssBefore: number;
    rssHalf: number;
    rssAfter: number;
    /** Marginal: (rssAfter − rssHalf) / sessions of the second half. */
    bytesPerSession: number;
    /** Average: (rssAfter − rssBefore) / every session. */
    averageBytesPerSession: number;
    /** The same two without V8's young generation (zero for libcoap). */
    oldBytesPerSession: number;
    oldSlopePerSession: number;
    /** Marginal JS heap per session (our server only). */
    heapPerSession: number;
  };
}

async function benchServer(name: string, start: () => Promise<RunningServer>, cred: BenchCredentials, binary: string): Promise<ServerFigures> {
  let server = await start();
  let rps: Rate, psk: Rate, ecdhe: Rate;
  try {
    log(`${name}: ${CLIENTS} sessions × ${DEPTH} pipelined CON GETs, ${SECONDS} s …`);
    rps = await measure(server, 'rps', { mode: 'rps', suite: 'psk', sessions: CLIENTS, depth: DEPTH, conc: HS_CONC, warmup: WARMUP, seconds: SECONDS, path: server.path }, cred, binary);
    log(`${name}: full PSK handshakes, ${HS_CONC} concurrent …`);
    psk = await measure(server, 'psk-handshakes', { mode: 'hs', suite: 'psk', conc: HS_CONC, warmup: WARMUP, seconds: SECONDS }, cred, binary);
    log(`${name}: full ECDHE-ECDSA handshakes, ${HS_CONC} concurrent …`);
    ecdhe = await measure(server, 'ecdhe-handshakes', { mode: 'hs', suite: 'ecdhe', conc: HS_CONC, warmup: WARMUP, seconds: SECONDS }, cred, binary);
  } finally {
    await server.stop();
  }
  // A fresh process for memory, so caches filled by the throughput phases (CoAP dedup entries,
  // freed-but-kept heap) do not blur the per-session difference.
  server = await start();
  try {
    log(`${name}: ${IDLE} idle PSK sessions …`);
    const warm = await holdIdleSessions(binary, { suite: 'psk', sessions: 200, conc: HS_CONC, identity: cred.identity, key: cred.key, port: server.port });
    await warm.release();
    await new Promise((r) => setTimeout(r, 300)); // let close_notify alerts be processed
    const youngBefore = (await server.settle()).young ?? 0;
    const rssBefore = rssBytesOf(server.pid);
    const half = Math.floor(IDLE / 2);
    const first = await holdIdleSessions(binary, { suite: 'psk', sessions: half, conc: HS_CONC, identity: cred.identity, key: cred.key, port: server.port });
    await new Promise((r) => setTimeout(r, 1000));
    const half1 = await server.settle();
    const heapHalf = half1.heapUsed;
    const youngHalf = half1.young ?? 0;
    const rssHalf = rssBytesOf(server.pid);
    const second = await holdIdleSessions(binary, { suite: 'psk', sessions: IDLE - half, conc: HS_CONC, identity: cred.identity, key: cred.key, port: server.port });
    await new Promise((r) => setTimeout(r, 1000));
    const all = await server.settle();
    const heapAfter = all.heapUsed;
    const youngAfter = all.young ?? 0;
    const rssAfter = rssBytesOf(server.pid);
    await second.release();
    await first.release();
    const established = first.established + second.established;
    const idle = {
      established,
      failures: first.handshakeFailures + second.handshakeFailures,
      establishSeconds: first.establishSeconds + second.establishSeconds,
      rssBefore,
      rssHalf,
      rssAfter,
      bytesPerSession: second.established > 0 ? (rssAfter - rssHalf) / second.established : NaN,
      averageBytesPerSession: established > 0 ? (rssAfter - rssBefore) / established : NaN,
      oldBytesPerSession: established > 0 ? (rssAfter - youngAfter - (rssBefore - youngBefore)) / established : NaN,
      oldSlopePerSession: second.established > 0 ? (rssAfter - youngAfter - (rssHalf - youngHalf)) / second.established : NaN,
      heapPerSession: heapHalf !== undefined && heapAfter !== undefined && second.established > 0 ? (heapAfter - heapHalf) / second.established : NaN,
    };
    return { rps: rps!, psk: psk!, ecdhe: ecdhe!, idle };
  } finally {
    await server.stop();
  }
}

const cred = makeCredentials();
atExit(cred.remove);
const build = buildLoadgen();
atExit(build.remove);
if (PROFILE !== undefined) mkdirSync(PROFILE, { recursive: true });
const results = new Map<string, ServerFigures>();
const ceiling = new Map<string, Rate>();
try {
  for (const name of SERVERS) {
    if (name === 'rootline') results.set(name, await benchServer(name, () => startRootline(cred), cred, build.binary));
    else if (name === 'libcoap') results.set(name, await benchServer(name, () => startLibcoap(cred), cred, build.binary));
    else throw new Error(`unknown server ${name} in BENCH_SERVERS`);
  }
  for (const name of CEILING) {
    const start = name === 'node-dgram' ? startBareUdp : name === 'rootline' ? () => startRootline(cred) : name === 'libcoap' ? () => startLibcoap(cred) : undefined;
    if (start === undefined) throw new Error(`unknown server ${name} in BENCH_CEILING`);
    const server = await start();
    try {
      log(`${name} (plain CoAP over UDP): ${CLIENTS} sessions × ${DEPTH} pipelined CON GETs, ${SECONDS} s …`);
      const plainServer = { ...server, port: server.plainPort! };
      ceiling.set(name, await measure(plainServer, 'plain-rps', { mode: 'rps', suite: 'none', sessions: CLIENTS, depth: DEPTH, conc: HS_CONC, warmup: WARMUP, seconds: SECONDS, path: server.path }, cred, build.binary));
    } finally {
      await server.stop();
    }
  }
} finally {
  build.remove();
  cred.remove();
}

// --- report -------------------------------------------------------------------------------
const names = [...results.keys()];
const col = (s: string): string => s.padStart(22);
const row = (label: string, f: (r: ServerFigures) => string): void => console.log(`${label.padEnd(44)}${names.map((n) => col(f(results.get(n)!))).join('')}`);
const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const pct = (x: number): string => `${x.toFixed(0)} %`;
const rateRows = (title: string, get: (r: ServerFigures) => Rate, value: (g: LoadgenResult) => number, unit: string): void => {
  row(title, (r) => int(value(get(r).gen)));
  row('  server CPU (% of one core)', (r) => pct(get(r).serverCpuPct));
  row('  load generator CPU (% of one core)', (r) => pct(get(r).gen.gen_cpu_pct));
  row(`  ${unit} per server CPU-second`, (r) => int(value(get(r).gen) / (get(r).serverCpuPct / 100)));
  row('  timeouts / failures / bad answers', (r) => `${get(r).gen.timeouts} / ${get(r).gen.handshake_failures} / ${get(r).gen.bad}`);
};
console.log(`${'CoAPs (loopback, 2 cores shared)'.padEnd(44)}${names.map(col).join('')}`);
rateRows(`GET req/s (${CLIENTS} sessions × ${DEPTH} pipelined CON)`, (r) => r.rps, (g) => g.rps, 'requests');
rateRows(`full PSK handshakes/s (${HS_CONC} concurrent)`, (r) => r.psk, (g) => g.hs_per_s, 'handshakes');
rateRows(`full ECDHE-ECDSA handshakes/s (${HS_CONC} conc.)`, (r) => r.ecdhe, (g) => g.hs_per_s, 'handshakes');
row(`idle sessions established (of ${IDLE})`, (r) => `${r.idle.established} in ${r.idle.establishSeconds.toFixed(1)} s`);
row('  server RSS MiB: before→half→all', (r) => [r.idle.rssBefore, r.idle.rssHalf, r.idle.rssAfter].map((b) => (b / 1048576).toFixed(1)).join('→'));
row('  resident bytes per idle session (average)', (r) => int(r.idle.averageBytesPerSession));
row('  resident bytes per idle session (slope)', (r) => int(r.idle.bytesPerSession));
row('  … without V8 young generation (avg/slope)', (r) => `${int(r.idle.oldBytesPerSession)} / ${int(r.idle.oldSlopePerSession)}`);
row('  JS heap bytes per idle session (slope)', (r) => int(r.idle.heapPerSession));
row('cipher suites (OpenSSL names)', (r) => `${r.rps.gen.cipher.replace('-AES128-CCM8', '')}/${r.ecdhe.gen.cipher.replace('-AES128-CCM8', '')}+CCM8`);

if (ceiling.size > 0) {
  const cnames = [...ceiling.keys()];
  const crow = (label: string, f: (r: Rate) => string): void => console.log(`${label.padEnd(44)}${cnames.map((n) => col(f(ceiling.get(n)!))).join('')}`);
  console.log(`\n${'Plain CoAP over UDP (NoSec), same load'.padEnd(44)}${cnames.map(col).join('')}`);
  crow(`GET req/s (${CLIENTS} sessions × ${DEPTH} pipelined CON)`, (r) => int(r.gen.rps));
  crow('  server CPU (% of one core)', (r) => pct(r.serverCpuPct));
  crow('  load generator CPU (% of one core)', (r) => pct(r.gen.gen_cpu_pct));
  crow('  requests per server CPU-second', (r) => int(r.gen.rps / (r.serverCpuPct / 100)));
  crow('  timeouts / failures / bad answers', (r) => `${r.gen.timeouts} / ${r.gen.handshake_failures} / ${r.gen.bad}`);
}

for (const { phase, file } of profiles) {
  const { total, byFile } = summariseCpuProfile(file, 15);
  console.log(`\nrootline server, ${phase}: self time by file | by function  (${file})`);
  for (let i = 0; i < 15; i++) {
    const a = byFile[i];
    const b = total[i];
    console.log(`${a ? `${a.selfPct.toFixed(1).padStart(5)} % ${a.frame}` : ''}`.padEnd(44) + (b ? `${b.selfPct.toFixed(1).padStart(5)} % ${b.frame}` : ''));
  }
}

const pick = <T>(n: string, f: (r: ServerFigures) => T): T | null => (results.has(n) ? f(results.get(n)!) : null);
const round = (x: number): number => Math.round(x);
console.log(
  JSON.stringify({
    bench: 'coaps',
    clients: CLIENTS,
    depth: DEPTH,
    rootline_rps: pick('rootline', (r) => round(r.rps.gen.rps)),
    libcoap_rps: pick('libcoap', (r) => round(r.rps.gen.rps)),
    rootline_psk_hs: pick('rootline', (r) => round(r.psk.gen.hs_per_s)),
    libcoap_psk_hs: pick('libcoap', (r) => round(r.psk.gen.hs_per_s)),
    rootline_ecdhe_hs: pick('rootline', (r) => round(r.ecdhe.gen.hs_per_s)),
    libcoap_ecdhe_hs: pick('libcoap', (r) => round(r.ecdhe.gen.hs_per_s)),
    rootline_bytes_per_idle_session: pick('rootline', (r) => round(r.idle.bytesPerSession)),
    libcoap_bytes_per_idle_session: pick('libcoap', (r) => round(r.idle.bytesPerSession)),
    rootline_avg_bytes_per_idle_session: pick('rootline', (r) => round(r.idle.averageBytesPerSession)),
    libcoap_avg_bytes_per_idle_session: pick('libcoap', (r) => round(r.idle.averageBytesPerSession)),
    rootline_heap_bytes_per_idle_session: pick('rootline', (r) => round(r.idle.heapPerSession)),
    rootline_bytes_per_idle_session_without_young_gen: pick('rootline', (r) => round(r.idle.oldBytesPerSession)),
    rootline_server_cpu_pct: pick('rootline', (r) => round(r.rps.serverCpuPct)),
    libcoap_server_cpu_pct: pick('libcoap', (r) => round(r.rps.serverCpuPct)),
    generator_cpu_pct: Object.fromEntries(names.map((n) => [n, round(results.get(n)!.rps.gen.gen_cpu_pct)])),
    rootline_rps_per_cpu_s: pick('rootline', (r) => round(r.rps.gen.rps / (r.rps.serverCpuPct / 100))),
    libcoap_rps_per_cpu_s: pick('libcoap', (r) => round(r.rps.gen.rps / (r.rps.serverCpuPct / 100))),
    plain_udp: Object.fromEntries([...ceiling].map(([n, r]) => [n, { rps: round(r.gen.rps), server_cpu_pct: round(r.serverCpuPct), rps_per_cpu_s: round(r.gen.rps / (r.serverCpuPct / 100)) }])),
  }),
);
