// Firmware campaign benchmark (issue 5): `rootline serve` as a child process (its own temporary
// data dir, so its CPU and memory are measured alone) and N simulated DTLS-PSK devices (src/sim)
// in this process, each with the SDK's firmware updater on A/B slots holding a 512 KiB image.
//   1. builds a firmware image pair with ../shared/bench/firmware-pairs.sh (compiled bare-metal
//      images: v1, its "fix" successor and its "feature" successor, ~500 KB each, padded with
//      0xFF to 512 KiB as a flash partition image is);
//   2. uploads 1.0.0 (v1), 2.0.0 (fix) and 3.0.0 (feature) through the API; provisions N devices;
//      registers them over CoAPs (DTLS-PSK);
//   3. campaign "delta": 1.0.0 → 2.0.0, packagePolicy auto (a 1 % pilot wave, then all: the
//      server builds the delta in the background when the campaign starts, so the pilot may get
//      the full image), then campaign "full": 2.0.0 → 3.0.0 with packagePolicy full;
//   4. for each: devices updated per minute (campaign start until the last device reported the new
//      version), package kinds and sizes delivered (audit), server CPU seconds over the campaign
//      (/proc/<pid>/stat), and the server's peak RSS (/proc/<pid>/status VmHWM) at the end.
// There is no packaged peer to run beside it (hawkBit and Leshan are Java, not in Debian).
// Ends with one line of JSON.
// Usage: npm run bench:campaign              (1,000 devices)
//   CAMPAIGN_DEVICES=100      devices (one UDP socket each)
//   CAMPAIGN_IN_FLIGHT=100    the campaigns' maxInFlight (devices updating at once)
//   CAMPAIGN_TICK_MS=100      serve's campaign engine tick (ROOTLINE_CAMPAIGN_TICK_MS; serve's default is 1000)
//   PAIRS_DIR=dir             keep/reuse the image work directory (default: a fresh temp dir)
//   FIRMWARE_PAIRS_SCRIPT     path of firmware-pairs.sh (default <repo>/../shared/bench/…)
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Fleet, generateCredentials, openFileLimit, percentiles, provisionCredentials, type DeviceFirmwareRecord } from '../src/sim/index.js';
import { startServeProcess } from '../test/sim/serve-process.js';
import { atExit, cpuSecondsOf, rssBytesOf, track } from './lib/processes.js';

const DEVICES = intEnv('CAMPAIGN_DEVICES', 1000, 1, 20_000);
const IN_FLIGHT = intEnv('CAMPAIGN_IN_FLIGHT', 100, 1, 10_000);
const TICK_MS = intEnv('CAMPAIGN_TICK_MS', 100, 10, 60_000);
const IMAGE_BYTES = 512 * 1024;
const MODEL = 'BENCH-FW';
const VENDOR = 'bench.example';

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    process.stderr.write(`bench:campaign: ${name} must be an integer ${min}..${max}, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return Number(raw);
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

const num = (n: number): string => Math.round(n).toLocaleString('en-US');
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;

/** VmHWM (peak resident set) of a process, in bytes. */
function peakRssBytesOf(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(m[1]) * 1024;
}

// ---- images --------------------------------------------------------------------------------

function buildPairs(): { v1: Uint8Array; fix: Uint8Array; feature: Uint8Array } {
  const repo = resolve(import.meta.dirname, '..');
  const script = process.env.FIRMWARE_PAIRS_SCRIPT ?? resolve(repo, '../shared/bench/firmware-pairs.sh');
  const keep = process.env.PAIRS_DIR !== undefined;
  const work = keep ? resolve(process.env.PAIRS_DIR!) : mkdtempSync(join(tmpdir(), 'rootline-campaign-pairs-'));
  if (!keep) atExit(() => rmSync(work, { recursive: true, force: true }));
  const img = (v: string): string => join(work, 'img', 'x86', `medium-${v}.bin`);
  if (!['v1', 'fix', 'feature'].every((v) => existsSync(img(v)))) {
    if (!existsSync(script)) throw new Error(`firmware-pairs.sh not found at ${script} (set FIRMWARE_PAIRS_SCRIPT)`);
    log(`building the medium firmware pair in ${work} (gcc, a minute or two) ...`);
    const t0 = performance.now();
    const r = spawnSync('bash', [script, work], { env: { ...process.env, SIZES: 'medium', ARCHES: 'x86', PAIRS_ONLY: '1' }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`firmware-pairs.sh failed (it needs gcc, binutils, gawk/mawk):\n${r.stderr}`);
    log(`built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const padded = (v: string): Uint8Array => {
    const raw = readFileSync(img(v));
    if (raw.length > IMAGE_BYTES) throw new Error(`${img(v)} is ${raw.length} bytes, above ${IMAGE_BYTES}`);
    const out = new Uint8Array(IMAGE_BYTES).fill(0xff);
    out.set(raw);
    return out;
  };
  return { v1: padded('v1'), fix: padded('fix'), feature: padded('feature') };
}

// ---- API helpers -----------------------------------------------------------------------------

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

async function upload(base: string, bytes: Uint8Array, version: string): Promise<{ id: string; sequence: number }> {
  const res = await fetch(`${base}/api/v1/firmware?model=${MODEL}&version=${version}&vendor=${VENDOR}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`upload ${version}: ${res.status} ${text}`);
  return JSON.parse(text) as { id: string; sequence: number };
}

interface CampaignTotals {
  state: string;
  stateReason: string | null;
  devices: { total: number; pending: number; inFlight: number; retryWait: number; succeeded: number; failed: number; skipped: number };
}

interface CampaignFigures {
  name: string;
  updated: number;
  failed: number;
  seconds: number;
  perMinute: number;
  serverCpuSeconds: number;
  simCpuSeconds: number;
  packages: Record<string, { count: number; bytes: number }>;
  /** Median ms per step, as the devices saw them (see phases()). */
  phases: Record<string, number>;
}

/**
 * Where a device's update time goes, medians over the devices of one campaign: waiting to be
 * asked (campaign start → Package URI), download + verify + apply (→ State 2), waiting for the
 * server's Execute (→ State 3), install + reboot + DTLS handshake + Register (→ registered).
 */
function phases(records: readonly DeviceFirmwareRecord[], since: number): Record<string, number> {
  const steps: Record<string, number[]> = { queued: [], download: [], awaitExecute: [], rebootRegister: [] };
  for (const r of records) {
    const t = r.timeline;
    if (t?.asked === undefined || t.asked < since) continue;
    steps.queued!.push(t.asked - since);
    if (t.downloaded !== undefined) steps.download!.push(t.downloaded - t.asked);
    if (t.downloaded !== undefined && t.executed !== undefined) steps.awaitExecute!.push(t.executed - t.downloaded);
    if (t.executed !== undefined && t.registered !== undefined) steps.rebootRegister!.push(t.registered - t.executed);
  }
  return Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, Math.round(percentiles(v).p50)]));
}

/**
 * The slowest devices of a campaign (asked → registered on the new version, as the devices saw
 * it) with their audit trail, printed when one took more than five times the median: a device
 * that finishes minutes after the others is a defect to explain, not noise to average away.
 */
async function stragglers(fleet: Fleet, base: string, name: string, since: number): Promise<void> {
  const took = fleet.firmware!.records().flatMap((r) => (r.timeline?.asked !== undefined && r.timeline.asked >= since && r.timeline.registered !== undefined ? [{ r, ms: r.timeline.registered - r.timeline.asked }] : []));
  if (took.length < 10) return;
  const median = percentiles(took.map((x) => x.ms)).p50;
  const slow = took.filter((x) => x.ms > 5 * median && x.ms > 10_000).sort((a, b) => b.ms - a.ms).slice(0, 3);
  for (const { r, ms } of slow) {
    const t = r.timeline!;
    const at = (v: number | undefined): string => (v === undefined ? '-' : `${Math.round(v - t.asked!)} ms`);
    log(`  ${name}: straggler ${r.endpoint}: ${Math.round(ms)} ms (median ${Math.round(median)} ms); downloaded ${at(t.downloaded)}, executed ${at(t.executed)}, registered ${at(t.registered)}; downloads ${r.downloads}, connections ${r.connections}, reboots ${r.reboots}`);
    const trail = await api<{ records: { at: string; action: string; outcome: string; details: Record<string, unknown> }[] }>(base, 'GET', `/audit?subject=${encodeURIComponent(r.endpoint)}&limit=100`);
    for (const a of trail.records) log(`    ${a.at} ${a.action} ${a.outcome} ${JSON.stringify(a.details).slice(0, 300)}`);
  }
}

async function runCampaign(fleet: Fleet, base: string, pid: number, name: string, firmwareId: string, packagePolicy: 'auto' | 'full', waves: (string | number)[]): Promise<CampaignFigures> {
  await api(base, 'POST', '/campaigns', {
    id: name,
    name: `bench ${name}`,
    firmwareId,
    target: { model: MODEL },
    waves,
    successThreshold: 50,
    errorThreshold: 50,
    maxInFlight: IN_FLIGHT,
    retry: { maxAttempts: 3, backoffMs: 2000 },
    attemptTimeoutMs: 600_000,
    packagePolicy,
  });
  const cpu0 = cpuSecondsOf(pid);
  const sim0 = process.cpuUsage();
  const t0 = performance.now();
  await api(base, 'POST', `/campaigns/${name}/start`);
  let c: CampaignTotals;
  let lastSaid = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    c = await api<CampaignTotals>(base, 'GET', `/campaigns/${name}`);
    const now = performance.now();
    if (now - lastSaid >= 5000) {
      lastSaid = now;
      log(`  ${name}: ${((now - t0) / 1000).toFixed(0)} s: ${c.devices.succeeded} updated, ${c.devices.inFlight} in flight, ${c.devices.retryWait} waiting to retry, ${c.devices.failed} failed`);
    }
    if (c.state !== 'running') break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const serverCpuSeconds = cpuSecondsOf(pid) - cpu0;
  const sim = process.cpuUsage(sim0);
  if (c.state !== 'completed') log(`  ${name}: ended ${c.state} (${c.stateReason ?? ''})`);
  const packages: Record<string, { count: number; bytes: number }> = {};
  for (let after = 0; ; ) {
    const page = await api<{ records: { seq: number; outcome: string; details: { campaignId?: string; packageKind?: string; packageSize?: number } }[] }>(base, 'GET', `/audit?action=fota.delivery.start&limit=1000&after=${after}`);
    for (const r of page.records) {
      if (r.outcome !== 'success' || r.details.campaignId !== name) continue;
      const k = String(r.details.packageKind);
      const p = (packages[k] ??= { count: 0, bytes: 0 });
      p.count++;
      p.bytes = Number(r.details.packageSize ?? 0);
    }
    if (page.records.length < 1000) break;
    after = page.records.at(-1)!.seq;
  }
  await stragglers(fleet, base, name, t0);
  return { name, updated: c.devices.succeeded, failed: c.devices.failed, seconds, perMinute: (c.devices.succeeded * 60) / seconds, serverCpuSeconds, simCpuSeconds: (sim.user + sim.system) / 1e6, packages, phases: phases(fleet.firmware!.records(), t0) };
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const limit = openFileLimit();
  log(`bench:campaign: ${num(DEVICES)} DTLS-PSK devices, 512 KiB images, campaign maxInFlight ${IN_FLIGHT}, engine tick ${TICK_MS} ms; open file limit ${limit?.soft ?? 'unknown'}`);
  const { v1, fix, feature } = buildPairs();
  const dataDir = mkdtempSync(join(tmpdir(), 'rootline-bench-campaign-'));
  atExit(() => rmSync(dataDir, { recursive: true, force: true }));
  const serve = await startServeProcess({ dataDir, env: { ROOTLINE_CAMPAIGN_TICK_MS: String(TICK_MS) }, logLevel: 'warn' });
  track(serve.child);
  try {
    const img1 = await upload(serve.api, v1, '1.0.0');
    const img2 = await upload(serve.api, fix, '2.0.0');
    const img3 = await upload(serve.api, feature, '3.0.0');
    const pem = (await api<{ publicKey: string }>(serve.api, 'GET', '/firmware/signing-key')).publicKey;
    const trusted = new Uint8Array(createPublicKey(pem).export({ type: 'spki', format: 'der' }));

    const creds = generateCredentials('fwbench', DEVICES);
    let t = performance.now();
    await provisionCredentials(creds, { api: serve.api, model: MODEL, firmwareVersion: '1.0.0', concurrency: 32 });
    log(`provisioned ${num(DEVICES)} devices in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const fleet = new Fleet({
      server: serve.coaps,
      credentials: creds,
      model: MODEL,
      firmwareVersion: '1.0.0',
      lifetime: 3600,
      rate: 500,
      maxInFlight: 128,
      clockTickMs: 0,
      coap: { ackTimeoutMs: 2000, maxRetransmit: 4 },
      firmware: { image: v1, sequence: img1.sequence, vendor: VENDOR, trustedKeys: [trusted] },
    });
    try {
      t = performance.now();
      await fleet.start();
      const reg = fleet.summary();
      log(`registered ${num(reg.registered)} of ${num(DEVICES)} in ${((performance.now() - t) / 1000).toFixed(1)} s (failed ${reg.failed} ${JSON.stringify(reg.failedByReason)})`);
      if (reg.registered === 0) throw new Error('no device registered');
      const rssBefore = rssBytesOf(serve.pid);

      const delta = await runCampaign(fleet, serve.api, serve.pid, 'delta', img2.id, 'auto', ['1%', 'all']);
      const full = await runCampaign(fleet, serve.api, serve.pid, 'full', img3.id, 'full', ['all']);
      const peak = peakRssBytesOf(serve.pid);
      const rssAfter = rssBytesOf(serve.pid);
      const fw = fleet.firmwareSummary()!;

      console.log('');
      console.log(`rootline serve, firmware campaigns over CoAPs (LwM2M pull, Block2), ${num(reg.registered)} simulated devices, 512 KiB images, 2 shared cores`);
      for (const f of [delta, full]) {
        const kinds = Object.entries(f.packages).map(([k, p]) => `${num(p.count)} × ${k} ${num(p.bytes)} B`).join(', ');
        console.log(`  ${f.name.padEnd(5)} ${num(f.perMinute).padStart(7)} devices updated/min   (${num(f.updated)} updated, ${f.failed} failed in ${f.seconds.toFixed(1)} s; packages: ${kinds}; CPU: server ${f.serverCpuSeconds.toFixed(1)} s, simulator ${f.simCpuSeconds.toFixed(1)} s)`);
        console.log(`        per device, medians: queued ${num(f.phases.queued!)} ms, download+verify+apply ${num(f.phases.download!)} ms, until the Execute ${num(f.phases.awaitExecute!)} ms, install+reboot+register ${num(f.phases.rebootRegister!)} ms`);
      }
      console.log(`  server memory: peak RSS (VmHWM) ${mib(peak)}; RSS ${mib(rssBefore)} with the fleet registered → ${mib(rssAfter)} after both campaigns`);
      console.log(`  devices: ${num(fw.updated)} on the last version, ${JSON.stringify(fw.failedByResult)} failed by result, ${fw.sharedImages} image buffers shared by all slots (${mib(fw.sharedImageBytes)})`);
      console.log('peer: none packaged (hawkBit, Leshan: Java, not in Debian)');
      console.log(
        JSON.stringify({
          bench: 'campaign',
          devices: reg.registered,
          image_bytes: IMAGE_BYTES,
          max_in_flight: IN_FLIGHT,
          delta: { updated: delta.updated, failed: delta.failed, seconds: Math.round(delta.seconds * 10) / 10, devices_per_minute: Math.round(delta.perMinute), server_cpu_s: Math.round(delta.serverCpuSeconds * 10) / 10, packages: delta.packages, median_ms: delta.phases },
          full: { updated: full.updated, failed: full.failed, seconds: Math.round(full.seconds * 10) / 10, devices_per_minute: Math.round(full.perMinute), server_cpu_s: Math.round(full.serverCpuSeconds * 10) / 10, packages: full.packages, median_ms: full.phases },
          server_peak_rss_bytes: peak,
        }),
      );
    } finally {
      await fleet.stop({ deregister: false });
    }
  } finally {
    await serve.stop('SIGTERM');
  }
}

await main();
