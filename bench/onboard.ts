// Zero-touch onboarding benchmark (issue 6): `rootline serve` as a child process on a temporary
// data directory with onboarding configured — factory (manufacturer CA + MASA key), domain CA,
// registrar, the MASA in process (--masa), automatic approval of that manufacturer's pledges —
// and N simulated pledges in this process (src/sim/onboard.ts), each from its own minted IDevID
// through the whole device side: voucher request (TLS with the IDevID, CMS-signed, relayed to the
// MASA), voucher check, voucher_status, EST simpleenroll with a fresh P-256 key, enrollstatus
// with the LDevID, the bootstrap server asked over LDevID TLS, LwM2M client-initiated bootstrap
// over CoAPs with the LDevID as DTLS client certificate, Register with the server it was given.
// That is the HTTPS flow; the same steps run the constrained way over CoAPs (ONBOARD_TRANSPORT below):
// by default both, each on its own fresh serve, each with its own table and JSON line.
//   1. factory init, then N IDevIDs minted in this process (one key store + store opening);
//   2. serve started; onboarding of the N pledges with at most ONBOARD_CONCURRENCY in flight;
//   3. figures: devices onboarded per minute (first start to last 2.01 Created), per-device
//      latency p50/p95/p99, per-step p50, server CPU seconds over the run (/proc/<pid>/stat),
//      server peak RSS (VmHWM), this process's CPU seconds (the pledges), and how many devices
//      the registry shows in RFNOP at the end (the RFPRO → RFNOP transition on registration).
// The target (issue 6): 10 × Azure DPS's 1,000 registrations per minute per unit = 10,000/min.
// There is no packaged peer to run beside it; the DPS figure is a published quota, printed as text.
// Ends with one line of JSON.
// Usage: npm run bench:onboard               (1,000 devices)
//   ONBOARD_DEVICES=1000        pledges
//   ONBOARD_CONCURRENCY=64      pledges onboarding at once
//   ONBOARD_CPU_PROF=1          run serve under --cpu-prof and print where its CPU went: self time
//                               per file/function, and inclusive time per own (src/) function —
//                               each sample charged to the innermost src/ frame on its stack, so
//                               library time (asn1js, node:crypto) lands on the code that asked
//                               (and the same for the pledges in this process, profiled over the
//                               onboarding only, through node:inspector)
//   ONBOARD_CPU_PROF_KEEP=<dir>  also copy the profiles there
//   ONBOARD_TRANSPORT="coaps https"  which flows to run, one after the other, each on a fresh serve (default both):
//                               https: voucher and EST over TLS to the registrar (RFC 8995, RFC 7030);
//                               coaps: the same flow the constrained way — serve's registrar CoAPs listener
//                               (onboarding.coapsPort), COSE voucher request and voucher, EST-coaps
//                               (RFC 9148), DTLS with the IDevID then the LDevID (onboarding/pledge/README.md)
//   ONBOARD_RUNTIME=tsx         tsx (default): the sources under tsx; dist: compile src/ and this
//                               file with tsc into dist/ and run that — serve as `rootline serve`
//                               runs (bin/rootline.js → dist/), the pledges as the compiled SDK.
//                               Measured 2026-11-22: no CPU difference per device beyond the noise
//                               (the work is native TLS/crypto, asn1js and SQLite), so the default
//                               stays tsx, comparable with the earlier figures.
import { spawn, type ChildProcess } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import { loadMasterKey, openSoftwareKeyStore } from '../src/crypto/keystore/index.js';
import { openFactory } from '../src/onboarding/factory.js';
import { settingsMasaRegistry } from '../src/onboarding/masa-registry.js';
import { loadConfig } from '../src/server/config.js';
import { OnboardFleet } from '../src/sim/onboard.js';
import { openStore } from '../src/store/index.js';
import { compileBench } from './lib/compile.js';
import { summariseCpuProfile } from './lib/cpuprofile-summary.js';
import { atExit, cpuSecondsOf, stopChild, track } from './lib/processes.js';

const DEVICES = intEnv('ONBOARD_DEVICES', 1000, 1, 100_000);
const CONCURRENCY = intEnv('ONBOARD_CONCURRENCY', 64, 1, 4096);
const CPU_PROF = process.env.ONBOARD_CPU_PROF === '1';
type Transport = 'https' | 'coaps';
const TRANSPORTS = (process.env.ONBOARD_TRANSPORT === undefined || process.env.ONBOARD_TRANSPORT.trim() === '' ? 'coaps https' : process.env.ONBOARD_TRANSPORT).trim().split(/\s+/);
if (!TRANSPORTS.every((t): t is Transport => t === 'https' || t === 'coaps') || new Set(TRANSPORTS).size !== TRANSPORTS.length) {
  process.stderr.write(`bench:onboard: ONBOARD_TRANSPORT must list https and/or coaps, got ${JSON.stringify(process.env.ONBOARD_TRANSPORT)}\n`);
  process.exit(2);
}
const TARGET_PER_MINUTE = 10_000;
const DPS_PER_MINUTE = 1_000;
/** This file as tsc compiled it (dist/bench/onboard.js) rather than under tsx. */
const COMPILED = fileURLToPath(import.meta.url).endsWith('.js');
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), COMPILED ? '../..' : '..');
const RUNTIME = process.env.ONBOARD_RUNTIME === undefined || process.env.ONBOARD_RUNTIME === '' ? 'tsx' : process.env.ONBOARD_RUNTIME;
if (RUNTIME !== 'dist' && RUNTIME !== 'tsx') {
  process.stderr.write(`bench:onboard: ONBOARD_RUNTIME must be dist or tsx, got ${JSON.stringify(RUNTIME)}\n`);
  process.exit(2);
}

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    process.stderr.write(`bench:onboard: ${name} must be an integer ${min}..${max}, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return Number(raw);
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

function peakRssBytes(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

const silent = { write: () => true };

async function cli(args: string[], cwd: string): Promise<void> {
  let err = '';
  const code = await main(args, { env: {}, cwd, stdout: silent, stderr: { write: (s: string) => (err += s) } });
  if (code !== 0) throw new Error(`rootline ${args.join(' ')} exited ${code}: ${err}`);
}

/** Mints `n` IDevIDs with the factory of `data` (one key store and store opening for all). */
async function mintAll(data: string, outRoot: string, n: number): Promise<void> {
  const { config } = loadConfig({ env: {}, flags: { dataDir: data }, cwd: REPO });
  const masterKey = loadMasterKey({ file: config.masterKeyFile });
  const keyStore = await openSoftwareKeyStore({ directory: config.dataDir, ...(masterKey !== undefined ? { masterKey } : {}) });
  const store = await openStore(config.storeUrl);
  try {
    const factory = await openFactory({ keyStore, directory: join(config.dataDir, 'factory'), registry: settingsMasaRegistry(store.settings), audit: store.audit });
    const width = String(n).length;
    for (let i = 1; i <= n; i++) {
      const serial = `OB-${String(i).padStart(width, '0')}`;
      await factory.mintDevice({ serial, model: 'Bench', outDir: join(outRoot, serial) });
      if (i % 200 === 0) log(`bench:onboard: minted ${i}/${n}`);
    }
  } finally {
    await keyStore.close();
    await store.close();
  }
}

interface Serve {
  child: ChildProcess;
  pid: number;
  api: string;
  est: string;
  /** The URL pledges are given: the EST/BRSKI HTTPS listener, or the registrar's CoAPs listener (transport coaps). */
  registrar: string;
}

async function startServe(dir: string, data: string, profDir: string, transport: Transport): Promise<Serve> {
  const config = join(dir, 'rootline.json');
  writeFileSync(config, JSON.stringify({ onboarding: { approval: 'automatic', manufacturers: [{ caFile: join(data, 'factory', 'manufacturer-ca.pem') }], ...(transport === 'coaps' ? { coapsPort: 0 } : {}) } }));
  const args = [
    ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
    ...(COMPILED ? [resolve(REPO, 'dist/src/cli/main-entry.js')] : ['--import', 'tsx', resolve(REPO, 'src/cli/main-entry.ts')]),
    'serve',
    '--config',
    config,
    '--masa',
    '--data',
    data,
    '--host',
    '127.0.0.1',
    '--device-host',
    '127.0.0.1',
    '--http-port',
    '0',
    '--coap-port',
    '0',
    '--coaps-port',
    '0',
    '--est-port',
    '0',
    '--log-level',
    'warn',
  ];
  const child = track(spawn(process.execPath, args, { cwd: REPO, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    err = (err + s).slice(-200_000);
  });
  const urls = await new Promise<Record<string, string>>((done, fail) => {
    let out = '';
    const found: Record<string, string> = {};
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      for (const m of out.matchAll(/^rootline: ([\w-]+) listening on (\S+)$/gm)) found[m[1]!] = m[2]!;
      if (found.http !== undefined && found.est !== undefined && found.coaps !== undefined && (transport !== 'coaps' || found['brski-coaps'] !== undefined)) done(found);
    });
    child.once('exit', (code, signal) => fail(new Error(`serve exited (${code ?? signal}) before it listened; stderr:\n${err}`)));
  });
  return { child, pid: child.pid!, api: urls.http!.replace(/\/$/, ''), est: urls.est!, registrar: transport === 'coaps' ? urls['brski-coaps']! : urls.est! };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * Share of all samples whose stack has `src/` code, charged to the innermost src/ frame (so time
 * in node:crypto or asn1js lands on our function that called it), top `top`, and by src file.
 */
function ownCodeShares(file: string, top: number): { byFunction: Array<[string, number]>; byFile: Array<[string, number]> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const owner = new Map<number, string | null>();
  const ownerOf = (id: number): string | null => {
    if (owner.has(id)) return owner.get(id)!;
    const n = byId.get(id)!;
    const url = n.callFrame.url;
    let result: string | null;
    if (url.includes('/src/') && !url.includes('node_modules')) result = `${n.callFrame.functionName || '(anonymous)'} ${url.slice(url.indexOf('/src/') + 1)}`;
    else result = parent.has(id) ? ownerOf(parent.get(id)!) : null;
    owner.set(id, result);
    return result;
  };
  let total = 0;
  const fn = new Map<string, number>();
  const files = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)') return;
    const us = p.timeDeltas[i] ?? 0;
    total += us;
    const o = ownerOf(id) ?? '(no src/ frame: runtime, GC, I/O callbacks)';
    fn.set(o, (fn.get(o) ?? 0) + us);
    const f = !o.startsWith('(no ') && o.includes(' src/') ? o.slice(o.indexOf(' src/') + 1) : o;
    files.set(f, (files.get(f) ?? 0) + us);
  });
  const sorted = (m: Map<string, number>): Array<[string, number]> => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => [k, (100 * us) / total]);
  return { byFunction: sorted(fn), byFile: sorted(files) };
}

/** Devices in `state`, counted through the API's pages. */
async function countInState(api: string, state: string): Promise<number> {
  let n = 0;
  let after: string | null = null;
  do {
    const r = await fetch(`${api}/api/v1/devices?state=${state}&limit=500${after !== null ? `&after=${encodeURIComponent(after)}` : ''}`);
    if (r.status !== 200) throw new Error(`GET /api/v1/devices answered ${r.status}`);
    const body = (await r.json()) as { devices: unknown[]; next: string | null };
    n += body.devices.length;
    after = body.next;
  } while (after !== null);
  return n;
}

async function run(transport: Transport): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-bench-onboard-'));
  atExit(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  const profDir = join(dir, 'prof');
  await cli(['factory', 'init', '--data', data, '--masa-url', 'https://127.0.0.1/masa', '--manufacturer', 'BenchCo'], dir);
  const mintT0 = performance.now();
  const idevids = join(dir, 'idevids');
  await mintAll(data, idevids, DEVICES);
  log(`bench:onboard: minted ${DEVICES} IDevIDs in ${((performance.now() - mintT0) / 1000).toFixed(1)} s`);
  const serve = await startServe(dir, data, profDir, transport);
  log(`bench:onboard: ${transport}: serve pid ${serve.pid}, registrar ${serve.registrar}, runtime ${COMPILED ? 'compiled (dist/)' : 'tsx'}`);

  const fleet = new OnboardFleet({ registrarUrl: serve.registrar, idevidDirs: readdirSync(idevids).sort().map((d) => join(idevids, d)), concurrency: CONCURRENCY });
  fleet.on('progress', (p) => log(`bench:onboard: ${p.elapsedSeconds.toFixed(1)}s onboarded ${p.onboarded}/${DEVICES} (${p.perMinute}/min) failed ${p.failed} in flight ${p.inFlight}`));
  const failures: string[] = [];
  fleet.on('failed', (f) => {
    if (failures.length < 5) failures.push(`${f.code}: ${f.message}`);
  });
  let inspector: Session | undefined;
  if (CPU_PROF) {
    inspector = new Session();
    inspector.connect();
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.start');
  }
  const cpu0 = cpuSecondsOf(serve.pid);
  const self0 = process.cpuUsage();
  const summary = await fleet.start();
  if (inspector !== undefined) {
    const { profile } = await inspector.post('Profiler.stop');
    mkdirSync(profDir, { recursive: true });
    writeFileSync(join(profDir, 'pledges.json'), JSON.stringify(profile));
    inspector.disconnect();
  }
  const serverCpuSeconds = cpuSecondsOf(serve.pid) - cpu0;
  const self = process.cpuUsage(self0);
  const pledgeCpuSeconds = (self.user + self.system) / 1e6;
  const peakRss = peakRssBytes(serve.pid);
  // The RFPRO → RFNOP transition runs after the Register was answered: give it a moment to land.
  let rfnop = 0;
  for (let i = 0; i < 50; i++) {
    rfnop = await countInState(serve.api, 'RFNOP');
    if (rfnop >= summary.onboarded) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await fleet.stop({ deregister: false });
  await stopChild(serve.child, 30_000);

  const perMinute = summary.perMinute;
  const table = [
    '',
    `### ${transport === 'coaps' ? 'over CoAPs: constrained voucher (COSE), EST-coaps (RFC 9148)' : 'over HTTPS: voucher (CMS) and EST (RFC 7030) over TLS'}`,
    '',
    '| | rootline |',
    '|---|---:|',
    `| devices onboarded (voucher + EST + LwM2M bootstrap + register) | ${summary.onboarded} of ${DEVICES} (${summary.failed} failed) |`,
    `| devices in RFNOP afterwards | ${rfnop} |`,
    `| devices onboarded per minute (${CONCURRENCY} in flight) | ${perMinute.toLocaleString('en-US')} |`,
    `| per-device latency p50 / p95 / p99 | ${summary.latencyMs.p50} / ${summary.latencyMs.p95} / ${summary.latencyMs.p99} ms |`,
    `| step p50: voucher / enroll / bootstrap / register | ${summary.stepMs.voucher.p50} / ${summary.stepMs.enroll.p50} / ${summary.stepMs.bootstrap.p50} / ${summary.stepMs.register.p50} ms |`,
    `| server CPU seconds (per device) | ${serverCpuSeconds.toFixed(1)} s (${((serverCpuSeconds * 1000) / Math.max(1, summary.onboarded)).toFixed(1)} ms) |`,
    `| pledges' CPU seconds (this process, per device) | ${pledgeCpuSeconds.toFixed(1)} s (${((pledgeCpuSeconds * 1000) / Math.max(1, summary.onboarded)).toFixed(1)} ms) |`,
    `| server peak RSS | ${(peakRss / 1048576).toFixed(0)} MiB |`,
    `| elapsed | ${summary.elapsedSeconds} s |`,
    '',
    `Target: ${TARGET_PER_MINUTE.toLocaleString('en-US')}/min (10 × Azure DPS's published ${DPS_PER_MINUTE.toLocaleString('en-US')} registrations/min per unit): ${perMinute >= TARGET_PER_MINUTE ? 'met' : 'NOT met'}.`,
    ...(failures.length > 0 ? ['First failures:', ...failures.map((f) => `  ${f}`)] : []),
    ...Object.entries(summary.failedByReason).map(([r, n]) => `  failed ${r}: ${n}`),
    '',
  ];
  process.stdout.write(table.join('\n'));
  if (CPU_PROF) {
    const prof = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (prof !== undefined) {
      const s = summariseCpuProfile(join(profDir, prof), 20);
      process.stdout.write(['serve CPU by file (self time):', ...s.byFile.slice(0, 12).map((f) => `  ${f.selfPct.toFixed(1)}%  ${f.frame}`), 'serve CPU by function (self time):', ...s.total.slice(0, 20).map((f) => `  ${f.selfPct.toFixed(1)}%  ${f.frame}`), ''].join('\n'));
      const own = ownCodeShares(join(profDir, prof), 30);
      process.stdout.write(['serve CPU by own src/ file (inclusive of the library calls it makes):', ...own.byFile.slice(0, 15).map(([k, pct]) => `  ${pct.toFixed(1)}%  ${k}`), 'serve CPU by own src/ function (inclusive, innermost src/ frame):', ...own.byFunction.map(([k, pct]) => `  ${pct.toFixed(1)}%  ${k}`), ''].join('\n'));
      const pledges = ownCodeShares(join(profDir, 'pledges.json'), 25);
      process.stdout.write(['pledges\' CPU (this process) by own src/ function (inclusive):', ...pledges.byFunction.map(([k, pct]) => `  ${pct.toFixed(1)}%  ${k}`), ''].join('\n'));
      const keep = process.env.ONBOARD_CPU_PROF_KEEP;
      if (keep !== undefined && keep !== '') {
        mkdirSync(resolve(keep), { recursive: true });
        writeFileSync(join(resolve(keep), 'serve-onboard.cpuprofile'), readFileSync(join(profDir, prof)));
        writeFileSync(join(resolve(keep), 'pledges-onboard.cpuprofile'), readFileSync(join(profDir, 'pledges.json')));
      }
    } else log('bench:onboard: serve wrote no CPU profile');
  }
  process.stdout.write(
    `${JSON.stringify({
      bench: 'onboard',
      transport,
      runtime: COMPILED ? 'dist' : 'tsx',
      devices: DEVICES,
      concurrency: CONCURRENCY,
      onboarded: summary.onboarded,
      failed: summary.failed,
      rfnop,
      onboarded_per_minute: perMinute,
      latency_ms: { p50: summary.latencyMs.p50, p95: summary.latencyMs.p95, p99: summary.latencyMs.p99 },
      server_cpu_s: Math.round(serverCpuSeconds * 10) / 10,
      pledge_cpu_s: Math.round(pledgeCpuSeconds * 10) / 10,
      server_peak_rss_bytes: peakRss,
      target_per_minute: TARGET_PER_MINUTE,
      azure_dps_per_minute_per_unit: DPS_PER_MINUTE,
    })}\n`,
  );
}

/** src/ and this file compiled with tsc into dist/ (as `npm run build` does for src/); returns the compiled bench. */
function compile(): string {
  return compileBench('onboard', ['bench/onboard.ts', 'src/cli/main-entry.ts'], log, 'ONBOARD_RUNTIME=tsx');
}

async function relaunchCompiled(): Promise<number> {
  const c = track(spawn(process.execPath, [compile()], { stdio: 'inherit', env: process.env }));
  return new Promise<number>((done) => c.once('exit', (status, signal) => done(status ?? (signal !== null ? 1 : 0))));
}

async function runAll(): Promise<void> {
  for (const transport of TRANSPORTS as Transport[]) await run(transport);
}

(!COMPILED && RUNTIME === 'dist' ? relaunchCompiled().then((code) => process.exit(code)) : runAll()).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:onboard: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
