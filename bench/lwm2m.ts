// LwM2M benchmark (issue 4, "Speed"): one server in a child process (so its resident memory is
// measured alone) and N simulated DTLS-PSK devices (src/sim) in this process.
//   1. provisions N devices through the API (POST /api/v1/devices);
//   2. registrations/s: N devices handshake (PSK, cookie exchange) and Register at full speed
//      (at most BENCH_IN_FLIGHT outstanding), first start to last 2.01;
//   3. server resident memory per registered idle device: RSS after the registrations minus RSS
//      before them (both after a full GC in the server), / N;
//   4. notifications/s with every device observed: /3/0/13 observed on each device through the
//      API (POST /api/v1/devices/{ep}/observations; no pmin, so every change notifies), every
//      device's clock ticks each LWM2M_TICK_MS; counted where the server receives them, over
//      BENCH_SECONDS.
// The server is `rootline serve` — startServer(), what the serve command runs (SQLite store, key
// store, HTTP API, event feed, CoAPs with the LwM2M server), log level warn — in a child process
// that also answers the parent over IPC (full GC before a memory reading, notification count).
// There is no peer in Debian to run beside it (Eclipse Leshan is Java and not packaged): its
// published reference figure is printed as text only. Ends with one line of JSON.
// Usage: npm run bench:lwm2m            (2,000 devices, about a minute)
//   LWM2M_DEVICES=10000   devices (needs ulimit -n above N + 64: one UDP socket per device)
//   BENCH_RATE=100000     device starts per second (default: as fast as BENCH_IN_FLIGHT allows)
//   BENCH_IN_FLIGHT=128   handshakes + Registers outstanding (more overflow serve's CoAPs socket
//                         buffer, and every dropped flight costs a 1 s DTLS retransmission)
//   LWM2M_TICK_MS=100     device clock tick: each tick every observed device notifies once, so
//                         the offered load is N * 1000 / LWM2M_TICK_MS per second (the value of
//                         /3/0/13 is in seconds, so most notifications repeat it: this is load)
//   BENCH_SECONDS=10      measured seconds of notifications
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fleet, generateCredentials, openFileLimit, provisionCredentials } from '../src/sim/index.js';
import { atExit, cpuSecondsOf, stopChild, track } from './lib/processes.js';

const DEVICES = intEnv('LWM2M_DEVICES', 2000, 1, 100_000);
const RATE = intEnv('BENCH_RATE', 100_000, 1, 1_000_000);
const IN_FLIGHT = intEnv('BENCH_IN_FLIGHT', 128, 1, 100_000);
const TICK_MS = intEnv('LWM2M_TICK_MS', 100, 10, 60_000);
const SECONDS = intEnv('BENCH_SECONDS', 10, 1, 600);
const TARGET_NODE_DEVICES = 250_000;
const LESHAN_DEVICES = 100_000;

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    process.stderr.write(`bench:lwm2m: ${name} must be an integer ${min}..${max}, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return Number(raw);
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

// ---- the server child: answers the parent's requests over IPC ---------------------------------

type Request = { id: number; op: 'rss' } | { id: number; op: 'notifications' } | { id: number; op: 'registered' } | { id: number; op: 'close' };

interface Memory {
  rss: number;
  /** JS heap + external + array buffers after the GC: what the device state itself holds. */
  heap: number;
}

function memory(): Memory {
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
}

async function child(): Promise<void> {
  const { startLwm2mServe } = await import('../test/sim/lwm2m-serve.js');
  // serve's default DTLS session cap (10,000) would refuse the last devices of a 10,000 run.
  const dataDir = process.argv[process.argv.indexOf('--server-child') + 1]!;
  const serve = await startLwm2mServe({ maxSessions: DEVICES + 1000, dataDir });
  let notifications = 0;
  let registered = 0;
  serve.lwm2m.on('notification', () => notifications++);
  serve.lwm2m.on('registered', () => registered++);
  const gc = (globalThis as { gc?: () => void }).gc;
  const answer = (id: number, value: unknown): void => void process.send!({ id, value });
  process.on('message', (req: Request) => {
    void (async () => {
      switch (req.op) {
        case 'rss':
          // Twice: the first pass finalises, the second collects what finalisation released.
          gc?.();
          gc?.();
          await new Promise((r) => setTimeout(r, 200));
          return answer(req.id, memory());
        case 'notifications':
          return answer(req.id, notifications);
        case 'registered':
          return answer(req.id, registered);
        case 'close':
          await serve.close();
          answer(req.id, true);
          return process.disconnect();
      }
    })().catch((err: unknown) => {
      log(`bench:lwm2m server: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    });
  });
  process.send!({ ready: { api: serve.api, coaps: serve.coaps, pid: process.pid } });
}

// ---- the parent: devices and figures ----------------------------------------------------------

class ServerProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, (v: unknown) => void>();
  #nextId = 1;

  constructor(c: ChildProcess) {
    this.#child = c;
    c.on('message', (m: { id?: number; value?: unknown }) => {
      if (m.id === undefined) return;
      this.#pending.get(m.id)?.(m.value);
      this.#pending.delete(m.id);
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  call<T>(op: Request['op'], extra: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, (v) => resolve(v as T));
      this.#child.send({ id, op, ...extra }, (err) => err && reject(err));
    });
  }

  async close(): Promise<void> {
    await Promise.race([this.call('close'), new Promise((r) => setTimeout(r, 10_000))]);
    await stopChild(this.#child);
  }
}

async function startServerProcess(dataDir: string): Promise<{ server: ServerProcess; api: string; coaps: string }> {
  const c = track(fork(fileURLToPath(import.meta.url), ['--server-child', dataDir], { execArgv: ['--import', 'tsx', '--expose-gc'], env: { ...process.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const ready = await new Promise<{ api: string; coaps: string }>((resolve, reject) => {
    c.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    const onMessage = (m: { ready?: { api: string; coaps: string } }): void => {
      if (m.ready === undefined) return;
      c.off('message', onMessage);
      resolve(m.ready);
    };
    c.on('message', onMessage);
  });
  return { server: new ServerProcess(c), ...ready };
}

/** Ref'd timers and UDP sockets alive in this (the simulator's) process. */
function activeHandles(): { timers: number; sockets: number } {
  const all = process.getActiveResourcesInfo();
  return { timers: all.filter((r) => r === 'Timeout').length, sockets: all.filter((r) => r === 'UDPWrap' || r === 'UDPWRAP').length };
}

/** POST /api/v1/devices/{ep}/observations {path: '/3/0/13'} for every device, 32 at a time. */
async function observeAll(api: string, endpoints: readonly string[]): Promise<{ failed: number }> {
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < endpoints.length) {
      const ep = endpoints[next++]!;
      const res = await fetch(new URL(`/api/v1/devices/${encodeURIComponent(ep)}/observations`, api), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: '/3/0/13' }) }).catch(() => undefined);
      await res?.arrayBuffer();
      if (res?.status !== 201) failed++;
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return { failed };
}

const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const num = (n: number): string => Math.round(n).toLocaleString('en-US');

async function parent(): Promise<void> {
  const limit = openFileLimit();
  log(`bench:lwm2m: ${num(DEVICES)} DTLS-PSK devices; open file limit ${limit?.soft ?? 'unknown'}; device clock tick ${TICK_MS} ms`);
  const dataDir = mkdtempSync(join(tmpdir(), 'rootline-bench-lwm2m-'));
  atExit(() => rmSync(dataDir, { recursive: true, force: true }));
  // Provisioning runs on a server of its own: the garbage N API requests leave behind would
  // otherwise sit in the measured server's heap pages, and registrations would reuse them for
  // free, hiding their cost. The measured server then opens the same store, as after a restart.
  const creds = generateCredentials('bench', DEVICES);
  let t = performance.now();
  {
    const provisioning = await startServerProcess(dataDir);
    try {
      await provisionCredentials(creds, { api: provisioning.api, model: 'BENCH-1', firmwareVersion: '1.0.0', concurrency: 32 });
    } finally {
      await provisioning.server.close();
    }
  }
  const provisionS = (performance.now() - t) / 1000;
  log(`provisioned ${num(DEVICES)} devices through the API in ${provisionS.toFixed(1)} s (${num(DEVICES / provisionS)}/s)`);
  const { server, api, coaps } = await startServerProcess(dataDir);
  try {

    const before = await server.call<Memory>('rss');
    const simHeapBefore = process.memoryUsage();
    const fleet = new Fleet({ server: coaps, credentials: creds, model: 'BENCH-1', rate: RATE, maxInFlight: IN_FLIGHT, clockTickMs: TICK_MS, lifetime: 3600, coap: { ackTimeoutMs: 4000, maxRetransmit: 4 } });
    fleet.on('progress', (p) => log(`  ${p.elapsedSeconds.toFixed(1)}s registered ${p.registered} (+${p.registeredPerSecond}/s) failed ${p.failed}`));
    const cpu0 = cpuSecondsOf(server.pid);
    const simCpu0 = process.cpuUsage();
    t = performance.now();
    await fleet.start();
    const rampS = (performance.now() - t) / 1000;
    const serverCpuPct = (100 * (cpuSecondsOf(server.pid) - cpu0)) / rampS;
    const simCpu = process.cpuUsage(simCpu0);
    // Beside the server's: a simulator at 100 % of a core is what limits the rate, not the server.
    const simCpuPct = (simCpu.user + simCpu.system) / 1e4 / rampS;
    const reg = fleet.summary();
    const onServer = await server.call<number>('registered');
    log(`registered ${num(reg.registered)} of ${num(DEVICES)} (server saw ${num(onServer)}), failed ${reg.failed} ${JSON.stringify(reg.failedByReason)}`);
    log(`  handshake p50/p90/p99 ${reg.handshakeMs.p50}/${reg.handshakeMs.p90}/${reg.handshakeMs.p99} ms; registration ${reg.registrationMs.p50}/${reg.registrationMs.p90}/${reg.registrationMs.p99} ms; CPU: server ${serverCpuPct.toFixed(0)}%, simulator ${simCpuPct.toFixed(0)}% of a core`);
    if (reg.registered === 0) throw new Error('no device registered');
    const registrationsPerS = reg.registrationsPerSecond;

    // Idle: nothing observed yet, clocks tick but nobody listens.
    await new Promise((r) => setTimeout(r, 1000));
    const after = await server.call<Memory>('rss');
    const serverBytesPerDevice = Math.max(0, (after.rss - before.rss) / reg.registered);
    const serverHeapPerDevice = (after.heap - before.heap) / reg.registered;
    const simNow = process.memoryUsage();
    const simBytesPerDevice = (simNow.rss - simHeapBefore.rss) / reg.registered;
    const idleHandles = activeHandles();

    const observed = await observeAll(api, fleet.registeredEndpoints());
    log(`observing /3/0/13 on ${num(reg.registered - observed.failed)} devices through the API (${observed.failed} observe requests failed)`);
    await new Promise((r) => setTimeout(r, Math.min(10_000, Math.max(2000, TICK_MS * 2))));
    const n0 = await server.call<number>('notifications');
    const sent0 = fleet.counters.notificationsSent;
    const cpuN0 = cpuSecondsOf(server.pid);
    const simN0 = process.cpuUsage();
    t = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const windowS = (performance.now() - t) / 1000;
    const n1 = await server.call<number>('notifications');
    const sent1 = fleet.counters.notificationsSent;
    const notifyCpuPct = (100 * (cpuSecondsOf(server.pid) - cpuN0)) / windowS;
    const simN = process.cpuUsage(simN0);
    const simNotifyCpuPct = (simN.user + simN.system) / 1e4 / windowS;
    const notificationsPerS = (n1 - n0) / windowS;
    const busyHandles = activeHandles();
    const offeredPerS = ((reg.registered - observed.failed) * 1000) / TICK_MS;

    const { deregistered } = await fleet.stop({ deregister: true });
    log(`de-registered ${num(deregistered)}`);

    const perNodeMem = serverBytesPerDevice * TARGET_NODE_DEVICES;
    console.log('');
    console.log(`rootline LwM2M server, ${num(reg.registered)} DTLS-PSK devices (one socket and session each), 2 shared cores`);
    console.log(`  registrations/s                       ${num(registrationsPerS)}   (handshake + Register, ${IN_FLIGHT} in flight; CPU: server ${serverCpuPct.toFixed(0)}%, simulator ${simCpuPct.toFixed(0)}%)`);
    console.log(`  notifications/s, every device observed ${num(notificationsPerS)}   (offered ${num(offeredPerS)}/s; devices sent ${num((sent1 - sent0) / windowS)}/s; CPU: server ${notifyCpuPct.toFixed(0)}%, simulator ${simNotifyCpuPct.toFixed(0)}%)`);
    console.log(`  server memory per registered idle device ${num(serverBytesPerDevice)} B   (RSS ${mib(before.rss)} → ${mib(after.rss)}; JS heap + external ${num(serverHeapPerDevice)} B per device)`);
    console.log(`  simulator memory per device            ${num(simBytesPerDevice)} B   (RSS of the device process, not the server)`);
    console.log(`  simulator: ${num(idleHandles.sockets)} UDP sockets open; timers: the fleet's 2 shared ones, and per device the SDK's Update timer`);
    console.log(`    (unref'd, so Node does not list it), plus pmin/pmax and CoAP retransmission timers while notifying (${busyHandles.timers} ref'd at the end)`);
    console.log(`projection for ${num(TARGET_NODE_DEVICES)} devices per node (linear in the figures above):`);
    console.log(`  server memory   ${mib(perNodeMem)} for the device state`);
    console.log(`  re-registration of the whole node after a restart: ${num(TARGET_NODE_DEVICES / registrationsPerS)} s at ${num(registrationsPerS)}/s`);
    console.log(`  notifications: each device could report every ${(TARGET_NODE_DEVICES / notificationsPerS).toFixed(1)} s at ${num(notificationsPerS)}/s`);
    console.log(`peer: Eclipse Leshan (Java; not packaged in Debian, not run here) — deployments report about ${num(LESHAN_DEVICES)} devices per instance (published figure, text only)`);
    console.log(JSON.stringify({ bench: 'lwm2m', devices: reg.registered, registrations_per_s: Math.round(registrationsPerS), notifications_per_s: Math.round(notificationsPerS), server_bytes_per_device: Math.round(serverBytesPerDevice) }));
  } finally {
    await server.close();
  }
}

/**
 * The simulator holds every device's state on one heap; with V8's default 16 MiB semi-space
 * the young generation is collected so often that GC takes a third of the simulator's CPU and
 * caps the registration rate. The device process re-runs itself with a larger semi-space (the
 * server child keeps Node's defaults: it is measured as `rootline serve` runs).
 */
const SIM_HEAP_FLAG = '--max-semi-space-size=64';

async function withSimulatorHeap(): Promise<void> {
  const c = track(spawn(process.execPath, [...process.execArgv, SIM_HEAP_FLAG, fileURLToPath(import.meta.url)], { stdio: 'inherit', env: process.env }));
  const code = await new Promise<number>((resolve) => c.once('exit', (status, signal) => resolve(status ?? (signal !== null ? 1 : 0))));
  process.exitCode = code;
}

if (process.argv.includes('--server-child')) await child();
else if (!process.execArgv.includes(SIM_HEAP_FLAG)) await withSimulatorHeap();
else await parent();
