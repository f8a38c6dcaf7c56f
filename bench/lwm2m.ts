// LwM2M benchmark (issue 4, "Speed"): one server in a child process (so its resident memory is
// measured alone) and N simulated DTLS-PSK devices (src/sim) in this process.
//   1. provisions N devices through the API (POST /api/v1/devices);
//   2. registrations/s: N devices handshake (PSK, cookie exchange) and Register at full speed
//      (at most BENCH_IN_FLIGHT outstanding), first start to last 2.01;
//   3. server resident memory per registered idle device, two ways (each reading after
//      BENCH_IDLE_SECONDS idle and a full GC in the server):
//      absolute: (RSS after all N registrations − RSS before them) / N — as before; it charges to
//        the devices every fixed cost that grows once during a burst of handshakes (V8's young
//        generation growing to its maximum semi-space size, SQLite's page cache up to its cap,
//        pools and malloc arenas);
//      marginal: the devices register in two halves (BENCH_MEMORY_STEPS=2, the default), the
//        server read after each; (RSS after N − RSS after N/2) / (N − N/2): the slope, what one
//        more registered idle device costs once those fixed costs are paid. BENCH_MEMORY_STEPS=1
//        registers all N in one burst as before (no slope);
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
//   BENCH_RUNTIME=dist    dist: compile with tsc and run the JavaScript, as `rootline serve` runs
//                         (default); tsx: run the TypeScript sources under tsx
//   BENCH_IDLE_SECONDS=20 idle seconds before each server memory reading (after start-up, after
//                         the last Register): V8 shrinks its heap only after allocation calms
//   BENCH_MEMORY_STEPS=2  register in 2 halves with a memory reading after each (marginal memory
//                         per device); 1: one burst of N (absolute figure only, as before). The
//                         rate is then over both bursts (N / the sum of their ramp times)
//   BENCH_NOTIFY=0        skip the notification phase (registrations and memory only)
//   BENCH_SIM_SEMI_SPACE_MB=64 the simulator process's --max-semi-space-size (the load generator
//                         only; the server child keeps Node's defaults)
//   BENCH_SIM_V8_FLAGS=   more V8 flags for the simulator process only (e.g. --single-threaded-gc)
//   BENCH_PROFILE=dir     V8 CPU profiles of the registration window: the server's
//                         (dir/server-register.cpuprofile) and the simulator's
//                         (dir/sim-register.cpuprofile); summarised at the end
//   BENCH_HEAP=dir        heap snapshots of the server before and after the registrations
//                         (dir/server-{before,after}.heapsnapshot) and what grew, per device
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fleet, generateCredentials, openFileLimit, provisionCredentials } from '../src/sim/index.js';
import { compileBench } from './lib/compile.js';
import { summariseCpuProfile } from './lib/cpuprofile-summary.js';
import { heapDiff } from './lib/heapsnapshot-diff.js';
import { atExit, cpuSecondsOf, stopChild, track } from './lib/processes.js';

const DEVICES = intEnv('LWM2M_DEVICES', 2000, 1, 100_000);
const RATE = intEnv('BENCH_RATE', 100_000, 1, 1_000_000);
const IN_FLIGHT = intEnv('BENCH_IN_FLIGHT', 128, 1, 100_000);
const TICK_MS = intEnv('LWM2M_TICK_MS', 100, 10, 60_000);
const SECONDS = intEnv('BENCH_SECONDS', 10, 1, 600);
const NOTIFY = intEnv('BENCH_NOTIFY', 1, 0, 1) === 1;
const IDLE_SECONDS = intEnv('BENCH_IDLE_SECONDS', 20, 1, 600);
const MEMORY_STEPS = intEnv('BENCH_MEMORY_STEPS', 2, 1, 2);
const HEAP_DIR = process.env.BENCH_HEAP !== undefined && process.env.BENCH_HEAP !== '' ? resolve(process.env.BENCH_HEAP) : undefined;
/** This file as tsc compiled it (dist/bench/lwm2m.js) rather than under tsx. */
const COMPILED = fileURLToPath(import.meta.url).endsWith('.js');
const RUNTIME = process.env.BENCH_RUNTIME === 'tsx' ? 'tsx' : 'dist';
if (process.env.BENCH_RUNTIME !== undefined && process.env.BENCH_RUNTIME !== '' && process.env.BENCH_RUNTIME !== 'tsx' && process.env.BENCH_RUNTIME !== 'dist') {
  process.stderr.write(`bench:lwm2m: BENCH_RUNTIME must be dist or tsx, got ${JSON.stringify(process.env.BENCH_RUNTIME)}\n`);
  process.exit(2);
}
const PROFILE = process.env.BENCH_PROFILE !== undefined && process.env.BENCH_PROFILE !== '' ? resolve(process.env.BENCH_PROFILE) : undefined;
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

// ---- CPU profiles of a window (in-process, so start-up and module loading stay out) ------------

class WindowProfiler {
  readonly #session = new Session();

  #post(method: string, params?: object): Promise<unknown> {
    return new Promise((res, rej) => this.#session.post(method, params, (err, result) => (err ? rej(err) : res(result))));
  }

  async start(): Promise<void> {
    this.#session.connect();
    await this.#post('Profiler.enable');
    await this.#post('Profiler.setSamplingInterval', { interval: 250 });
    await this.#post('Profiler.start');
  }

  async stop(file: string): Promise<void> {
    const { profile } = (await this.#post('Profiler.stop')) as { profile: unknown };
    this.#session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
  }
}

// ---- the server child: answers the parent's requests over IPC ---------------------------------

type Request =
  | { id: number; op: 'rss' }
  | { id: number; op: 'notifications' }
  | { id: number; op: 'registered' }
  | { id: number; op: 'profile-start' }
  | { id: number; op: 'profile-stop'; file: string }
  | { id: number; op: 'heap-snapshot'; file: string }
  | { id: number; op: 'close' };

interface Memory {
  rss: number;
  /** JS heap + external + array buffers after the GC: what the device state itself holds. */
  heap: number;
  /** What V8 holds from the system for the heap (used or not). */
  heapTotal: number;
  /** Of heapTotal, the young generation's share (it grows under allocation, whatever the device count). */
  newSpace: number;
}

function memory(): Memory {
  const m = process.memoryUsage();
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  return { rss: m.rss, heap: m.heapUsed + m.external, heapTotal: m.heapTotal, newSpace };
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
  const profiler = new WindowProfiler();
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
        case 'profile-start':
          await profiler.start();
          return answer(req.id, true);
        case 'profile-stop':
          await profiler.stop(req.file);
          return answer(req.id, true);
        case 'heap-snapshot':
          gc?.();
          gc?.();
          writeHeapSnapshot(req.file);
          return answer(req.id, true);
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
  const c = track(fork(fileURLToPath(import.meta.url), ['--server-child', dataDir], { execArgv: COMPILED ? ['--expose-gc'] : ['--import', 'tsx', '--expose-gc'], env: { ...process.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
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
  log(`bench:lwm2m: runtime ${COMPILED ? 'compiled (dist/)' : 'tsx'}; ${num(DEVICES)} DTLS-PSK devices; open file limit ${limit?.soft ?? 'unknown'}; device clock tick ${TICK_MS} ms`);
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
    // Both memory readings are taken after the same idle time: a freshly started server still
    // holds a young generation grown by start-up, which V8 gives back only once allocation has
    // been quiet for some seconds (its memory reducer) — read too early, that drop would be
    // subtracted from the devices' cost.
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    if (HEAP_DIR !== undefined) {
      mkdirSync(HEAP_DIR, { recursive: true });
      await server.call('heap-snapshot', { file: join(HEAP_DIR, 'server-before.heapsnapshot') });
    }
    const before = await server.call<Memory>('rss');
    if (HEAP_DIR !== undefined) writeHeapSnapshot(join(HEAP_DIR, 'sim-before.heapsnapshot'));
    log(`server before: RSS ${mib(before.rss)}, JS heap + external ${mib(before.heap)}, V8 heap reserved ${mib(before.heapTotal)} (young generation ${mib(before.newSpace)}), RSS − V8 heap reserved ${mib(before.rss - before.heapTotal)}`);
    const simHeapBefore = process.memoryUsage();
    // The devices register in MEMORY_STEPS bursts (two halves by default), the server's memory
    // read after each once idle: the difference between the last two readings is the marginal
    // cost of a registered idle device, free of the fixed costs the first burst pays once.
    const parts = MEMORY_STEPS === 2 && creds.length >= 2 ? [creds.slice(0, Math.floor(creds.length / 2)), creds.slice(Math.floor(creds.length / 2))] : [creds];
    const fleets: Fleet[] = [];
    const steps: { registered: number; rampS: number; ratePerS: number; serverCpuS: number; followUpCpuS: number; simCpuS: number; summary: ReturnType<Fleet['summary']>; onServer: number; memory: Memory; idleS: number }[] = [];
    for (const [i, part] of parts.entries()) {
      const fleet = new Fleet({ server: coaps, credentials: part, model: 'BENCH-1', rate: RATE, maxInFlight: IN_FLIGHT, clockTickMs: TICK_MS, lifetime: 3600, coap: { ackTimeoutMs: 4000, maxRetransmit: 4 } });
      fleets.push(fleet);
      fleet.on('progress', (p) => log(`  ${p.elapsedSeconds.toFixed(1)}s registered ${p.registered} (+${p.registeredPerSecond}/s) failed ${p.failed}`));
      const simProfiler = PROFILE !== undefined ? new WindowProfiler() : undefined;
      // The last burst's profile is summarised; an earlier one is kept as -step1.
      const profileSuffix = i === parts.length - 1 ? '' : `-step${i + 1}`;
      if (PROFILE !== undefined) {
        mkdirSync(PROFILE, { recursive: true });
        await server.call('profile-start');
        await simProfiler!.start();
      }
      const cpu0 = cpuSecondsOf(server.pid);
      const simCpu0 = process.cpuUsage();
      t = performance.now();
      await fleet.start();
      const rampS = (performance.now() - t) / 1000;
      const serverCpuS = cpuSecondsOf(server.pid) - cpu0;
      const simCpu = process.cpuUsage(simCpu0);
      if (PROFILE !== undefined) {
        await simProfiler!.stop(join(PROFILE, `sim-register${profileSuffix}.cpuprofile`));
        await server.call('profile-stop', { file: join(PROFILE, `server-register${profileSuffix}.cpuprofile`) });
      }
      const summary = fleet.summary();
      const onServer = await server.call<number>('registered');
      const simCpuS = (simCpu.user + simCpu.system) / 1e6;
      log(`step ${i + 1}/${parts.length}: registered ${num(summary.registered)} of ${num(part.length)} (server saw ${num(onServer)} in all), failed ${summary.failed} ${JSON.stringify(summary.failedByReason)}; ${num(summary.registrationsPerSecond)}/s`);
      log(`  handshake p50/p90/p99 ${summary.handshakeMs.p50}/${summary.handshakeMs.p90}/${summary.handshakeMs.p99} ms; registration ${summary.registrationMs.p50}/${summary.registrationMs.p90}/${summary.registrationMs.p99} ms; CPU: server ${((100 * serverCpuS) / rampS).toFixed(0)}%, simulator ${((100 * simCpuS) / rampS).toFixed(0)}% of a core; CPU per registration: server ${((1000 * serverCpuS) / Math.max(1, summary.registered)).toFixed(3)} ms, simulator ${((1000 * simCpuS) / Math.max(1, summary.registered)).toFixed(3)} ms`);
      if (summary.registered === 0) throw new Error('no device registered');
      // Idle: nothing observed yet, clocks tick but nobody listens. The reading is taken after
      // BENCH_IDLE_SECONDS of that, as an idle server would be measured (V8 gives back heap pages
      // on its own only some seconds after the allocation rate drops).
      const idleAt = performance.now();
      const idleCpu0 = cpuSecondsOf(server.pid);
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      // What the server did after the burst: the inventory reads of /3/0/3 it deferred until the
      // registrations were quiet (src/fota/drivers, `inventoryReads`), the expiry sweep, GC.
      const followUpCpuS = cpuSecondsOf(server.pid) - idleCpu0;
      const mem = await server.call<Memory>('rss');
      const idleS = (performance.now() - idleAt) / 1000;
      log(`  server CPU in that idle window (deferred inventory reads, sweeps, GC): ${(1000 * followUpCpuS / Math.max(1, summary.registered)).toFixed(3)} ms per registration of this burst`);
      log(`  server after ${idleS.toFixed(0)} s idle: RSS ${mib(mem.rss)}, JS heap + external ${mib(mem.heap)}, V8 heap reserved ${mib(mem.heapTotal)} (young generation ${mib(mem.newSpace)}), RSS − V8 heap reserved ${mib(mem.rss - mem.heapTotal)}`);
      steps.push({ registered: summary.registered, rampS, ratePerS: summary.registrationsPerSecond, serverCpuS, followUpCpuS, simCpuS, summary, onServer, memory: mem, idleS });
    }
    const registered = steps.reduce((a, s) => a + s.registered, 0);
    const rampS = steps.reduce((a, s) => a + s.rampS, 0);
    const serverCpuS = steps.reduce((a, s) => a + s.serverCpuS, 0);
    const simCpuS = steps.reduce((a, s) => a + s.simCpuS, 0);
    const serverCpuPct = (100 * serverCpuS) / rampS;
    // Beside the server's: a simulator at 100 % of a core is what limits the rate, not the server.
    const simCpuPct = (100 * simCpuS) / rampS;
    // CPU per registration: what the machine's load does not change (wall rates it does).
    const serverCpuMsPerReg = (1000 * serverCpuS) / Math.max(1, registered);
    const followUpCpuMsPerReg = (1000 * steps.reduce((a, s) => a + s.followUpCpuS, 0)) / Math.max(1, registered);
    const simCpuMsPerReg = (1000 * simCpuS) / Math.max(1, registered);
    // Each burst's own rate (first start to last 2.01), combined over the time they took.
    const registrationsPerS = registered / steps.reduce((a, s) => a + s.registered / s.ratePerS, 0);
    const failed = steps.reduce((a, s) => a + s.summary.failed, 0);
    log(`registered ${num(registered)} of ${num(DEVICES)} (server saw ${num(steps.at(-1)!.onServer)}), failed ${failed}`);
    const after = steps.at(-1)!.memory;
    const idleS = steps.at(-1)!.idleS;
    const mid = steps.length === 2 ? steps[0]!.memory : undefined;
    const lastStepDevices = steps.at(-1)!.registered;
    if (HEAP_DIR !== undefined) {
      await server.call('heap-snapshot', { file: join(HEAP_DIR, 'server-after.heapsnapshot') });
      const { total, groups } = heapDiff(join(HEAP_DIR, 'server-before.heapsnapshot'), join(HEAP_DIR, 'server-after.heapsnapshot'), 40);
      log(`server heap growth per registered device (snapshot diff): ${num(total / registered)} B`);
      for (const g of groups) log(`  ${(g.bytes / registered).toFixed(1).padStart(8)} B ${(g.count / registered).toFixed(2).padStart(6)} ×  ${g.group}`);
    }
    const serverBytesPerDevice = Math.max(0, (after.rss - before.rss) / registered);
    const serverHeapPerDevice = (after.heap - before.heap) / registered;
    const marginal = mid !== undefined ? { rss: (after.rss - mid.rss) / lastStepDevices, heap: (after.heap - mid.heap) / lastStepDevices, heapTotal: (after.heapTotal - mid.heapTotal) / lastStepDevices, newSpace: (after.newSpace - mid.newSpace) / lastStepDevices } : undefined;
    if (HEAP_DIR !== undefined) {
      writeHeapSnapshot(join(HEAP_DIR, 'sim-after.heapsnapshot'));
      const { total, groups } = heapDiff(join(HEAP_DIR, 'sim-before.heapsnapshot'), join(HEAP_DIR, 'sim-after.heapsnapshot'), 40);
      log(`simulator heap growth per device (snapshot diff): ${num(total / registered)} B`);
      for (const g of groups) log(`  ${(g.bytes / registered).toFixed(1).padStart(8)} B ${(g.count / registered).toFixed(2).padStart(6)} ×  ${g.group}`);
    }
    const simNow = process.memoryUsage();
    const simBytesPerDevice = (simNow.rss - simHeapBefore.rss) / registered;
    const idleHandles = activeHandles();

    let notify: { perS: number; offeredPerS: number; sentPerS: number; serverCpuPct: number; simCpuPct: number; timers: number } | undefined;
    if (NOTIFY) {
      const observed = await observeAll(api, fleets.flatMap((f) => f.registeredEndpoints()));
      log(`observing /3/0/13 on ${num(registered - observed.failed)} devices through the API (${observed.failed} observe requests failed)`);
      await new Promise((r) => setTimeout(r, Math.min(10_000, Math.max(2000, TICK_MS * 2))));
      const n0 = await server.call<number>('notifications');
      const sent0 = fleets.reduce((a, f) => a + f.counters.notificationsSent, 0);
      const cpuN0 = cpuSecondsOf(server.pid);
      const simN0 = process.cpuUsage();
      t = performance.now();
      await new Promise((r) => setTimeout(r, SECONDS * 1000));
      const windowS = (performance.now() - t) / 1000;
      const n1 = await server.call<number>('notifications');
      const sent1 = fleets.reduce((a, f) => a + f.counters.notificationsSent, 0);
      const simN = process.cpuUsage(simN0);
      notify = {
        perS: (n1 - n0) / windowS,
        offeredPerS: ((registered - observed.failed) * 1000) / TICK_MS,
        sentPerS: (sent1 - sent0) / windowS,
        serverCpuPct: (100 * (cpuSecondsOf(server.pid) - cpuN0)) / windowS,
        simCpuPct: (simN.user + simN.system) / 1e4 / windowS,
        timers: activeHandles().timers,
      };
    }
    const notificationsPerS = notify?.perS ?? 0;

    let deregistered = 0;
    for (const f of fleets) deregistered += (await f.stop({ deregister: true })).deregistered;
    log(`de-registered ${num(deregistered)}`);

    const perNodeMem = serverBytesPerDevice * TARGET_NODE_DEVICES;
    console.log('');
    console.log(`rootline LwM2M server, ${num(registered)} DTLS-PSK devices (one socket and session each), 2 shared cores`);
    console.log(`  registrations/s                       ${num(registrationsPerS)}   (handshake + Register, ${IN_FLIGHT} in flight, ${steps.length === 2 ? 'two bursts of N/2' : 'one burst'}; CPU: server ${serverCpuPct.toFixed(0)}%, simulator ${simCpuPct.toFixed(0)}%)`);
    console.log(`  CPU per registration                  server ${serverCpuMsPerReg.toFixed(3)} ms, simulator ${simCpuMsPerReg.toFixed(3)} ms   (registrations per server CPU-second: ${num(1000 / serverCpuMsPerReg)})`);
    console.log(`  server CPU after the bursts           ${followUpCpuMsPerReg.toFixed(3)} ms per registration   (idle windows: deferred inventory reads, sweeps, GC)`);
    if (notify !== undefined) console.log(`  notifications/s, every device observed ${num(notify.perS)}   (offered ${num(notify.offeredPerS)}/s; devices sent ${num(notify.sentPerS)}/s; CPU: server ${notify.serverCpuPct.toFixed(0)}%, simulator ${notify.simCpuPct.toFixed(0)}%)`);
    else console.log('  notifications/s                       not measured (BENCH_NOTIFY=0)');
    console.log(`  server memory per registered idle device, absolute ${num(serverBytesPerDevice)} B   ((RSS after all − before) / N, after ${idleS.toFixed(0)} s idle; RSS ${mib(before.rss)} → ${mib(after.rss)}; JS heap + external ${num(serverHeapPerDevice)} B per device; V8 heap reserved ${num((after.heapTotal - before.heapTotal) / registered)} B per device, of it young generation ${num((after.newSpace - before.newSpace) / registered)} B; the rest native)`);
    if (marginal !== undefined && mid !== undefined) console.log(`  server memory per registered idle device, marginal ${num(marginal.rss)} B   ((RSS after ${num(registered)} − after ${num(registered - lastStepDevices)}) / ${num(lastStepDevices)}, same idle and GC; RSS ${mib(mid.rss)} → ${mib(after.rss)}; JS heap + external ${num(marginal.heap)} B per device; V8 heap reserved ${num(marginal.heapTotal)} B, of it young generation ${num(marginal.newSpace)} B; young generation ${mib(before.newSpace)} before, ${mib(mid.newSpace)} / ${mib(after.newSpace)} after each half)`);
    else console.log('  server memory per registered idle device, marginal: not measured (BENCH_MEMORY_STEPS=1)');
    console.log(`  simulator memory per device            ${num(simBytesPerDevice)} B   (RSS of the device process, not the server)`);
    console.log(`  simulator: ${num(idleHandles.sockets)} UDP sockets open; timers: the fleet's 2 shared ones, and per device the SDK's Update timer`);
    console.log(`    (unref'd, so Node does not list it), plus pmin/pmax and CoAP retransmission timers while notifying (${notify?.timers ?? idleHandles.timers} ref'd at the end)`);
    console.log(`projection for ${num(TARGET_NODE_DEVICES)} devices per node (linear in the figures above):`);
    console.log(`  server memory   ${mib(perNodeMem)} for the device state`);
    console.log(`  re-registration of the whole node after a restart: ${num(TARGET_NODE_DEVICES / registrationsPerS)} s at ${num(registrationsPerS)}/s`);
    if (notify !== undefined) console.log(`  notifications: each device could report every ${(TARGET_NODE_DEVICES / notificationsPerS).toFixed(1)} s at ${num(notificationsPerS)}/s`);
    console.log(`peer: Eclipse Leshan (Java; not packaged in Debian, not run here) — deployments report about ${num(LESHAN_DEVICES)} devices per instance (published figure, text only)`);
    console.log(JSON.stringify({ bench: 'lwm2m', runtime: COMPILED ? 'dist' : 'tsx', devices: registered, registrations_per_s: Math.round(registrationsPerS), notifications_per_s: Math.round(notificationsPerS), server_bytes_per_device: Math.round(serverBytesPerDevice), server_heap_bytes_per_device: Math.round(serverHeapPerDevice), server_heap_reserved_bytes_per_device: Math.round((after.heapTotal - before.heapTotal) / registered), server_cpu_ms_per_registration: Number(serverCpuMsPerReg.toFixed(3)), server_followup_cpu_ms_per_registration: Number(followUpCpuMsPerReg.toFixed(3)), sim_cpu_ms_per_registration: Number(simCpuMsPerReg.toFixed(3)), sim_bytes_per_device: Math.round(simBytesPerDevice), memory_steps: steps.length, server_marginal_bytes_per_device: marginal !== undefined ? Math.round(marginal.rss) : null, server_marginal_heap_bytes_per_device: marginal !== undefined ? Math.round(marginal.heap) : null, server_memory: { before, steps: steps.map((s) => ({ devices: s.onServer, ...s.memory })) }, sim_flags: SIM_FLAGS }));
    if (PROFILE !== undefined) {
      for (const who of ['server', 'sim'] as const) {
        const { total, byFile } = summariseCpuProfile(join(PROFILE, `${who}-register.cpuprofile`), 15);
        log(`\n${who} CPU profile of the registration window (self time):`);
        for (const f of byFile) log(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.frame}`);
        log('  heaviest functions:');
        for (const f of total) log(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.frame}`);
      }
    }
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
const SIM_SEMI_SPACE_MB = intEnv('BENCH_SIM_SEMI_SPACE_MB', 64, 1, 1024);
const SIM_HEAP_FLAG = `--max-semi-space-size=${SIM_SEMI_SPACE_MB}`;
/**
 * More V8 flags for the simulator process only (space-separated, e.g. `--single-threaded-gc`),
 * for trying how the load generator shares the 2 cores; none by default.
 */
const SIM_EXTRA_FLAGS = (process.env.BENCH_SIM_V8_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
for (const f of SIM_EXTRA_FLAGS) {
  if (!/^--[a-z0-9-]+(=[A-Za-z0-9._-]+)?$/.test(f)) {
    process.stderr.write(`bench:lwm2m: BENCH_SIM_V8_FLAGS: not a V8 flag: ${JSON.stringify(f)}\n`);
    process.exit(2);
  }
}
/** The simulator (device) process's V8 flags, printed in the JSON line. */
const SIM_FLAGS = [SIM_HEAP_FLAG, ...SIM_EXTRA_FLAGS];

/**
 * `rootline serve` runs compiled JavaScript (bin/rootline.js → dist/). Under tsx every function
 * expression is wrapped by esbuild's keepNames helper (`__name(fn, "name")` redefines `name`),
 * which costs CPU on every closure created and ~256 B of property storage per closure — more
 * than some per-device state itself. So by default the bench compiles src/, this file and its
 * helpers with tsc into dist/ (the same output `npm run build` gives for src/) and runs that;
 * BENCH_RUNTIME=tsx runs the sources under tsx as before.
 */
function compile(): string {
  return compileBench('lwm2m', ['bench/lwm2m.ts', 'bench/lwm2m-register-path.ts'], log, 'BENCH_RUNTIME=tsx');
}

async function relaunch(): Promise<void> {
  const compiledEntry = !COMPILED && RUNTIME === 'dist' ? compile() : undefined;
  const args = compiledEntry !== undefined ? [...SIM_FLAGS, compiledEntry] : [...process.execArgv, ...SIM_FLAGS, fileURLToPath(import.meta.url)];
  const c = track(spawn(process.execPath, args, { stdio: 'inherit', env: process.env }));
  const code = await new Promise<number>((resolve) => c.once('exit', (status, signal) => resolve(status ?? (signal !== null ? 1 : 0))));
  process.exitCode = code;
}

if (process.argv.includes('--server-child')) await child();
else if (!process.execArgv.includes(SIM_HEAP_FLAG)) await relaunch();
else await parent();
