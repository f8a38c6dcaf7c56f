// Delta engine benchmark: builds the firmware image pairs of ../shared/bench/firmware-pairs.sh
// (compiled bare-metal images, "fix" and "feature" successors of v1) and prints, per pair, the
// size of our delta next to bsdiff, xdelta3 -9 and zstd -19 --patch-from run on the same files
// in the same run, our generation time, and our apply memory: the patcher's own buffers and the
// process heap growth while applying from file to file.
// Ends with one line of JSON: {"bench":"delta","pairs":[...],...}.
// Usage: npm run bench:delta
//   SIZES="small medium"   sizes to build (default "small medium"; "large" (~5 MB) adds ~7 min
//                          of image building on 2 cores and ~10 s per tool run)
//   PAIRS_DIR=dir          keep/reuse the image work directory (default: a fresh temp dir)
//   FIRMWARE_PAIRS_SCRIPT  path of firmware-pairs.sh (default <repo>/../shared/bench/…)
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createDelta, createPatcher } from '../src/fota/delta/index.js';
import { findExecutable } from '../test/helpers/peers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const repo = resolve(import.meta.dirname, '..');
const script = process.env.FIRMWARE_PAIRS_SCRIPT ?? resolve(repo, '../shared/bench/firmware-pairs.sh');
const sizes = (process.env.SIZES ?? 'small medium').split(/\s+/).filter(Boolean);
const keep = process.env.PAIRS_DIR !== undefined;
const work = keep ? resolve(process.env.PAIRS_DIR!) : mkdtempSync(join(tmpdir(), 'rootline-delta-bench-'));

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

// --- build the pairs (only the sizes whose images are not there yet) --------------------------
const missing = sizes.filter((s) => !existsSync(join(work, 'img', 'x86', `${s}-feature.bin`)));
if (missing.length > 0) {
  if (!existsSync(script)) {
    log(`firmware-pairs.sh not found at ${script} (set FIRMWARE_PAIRS_SCRIPT)`);
    process.exit(1);
  }
  log(`building firmware pairs (${missing.join(' ')}) in ${work} ...`);
  const t0 = performance.now();
  const r = spawnSync('bash', [script, work], {
    env: { ...process.env, SIZES: missing.join(' '), PAIRS_ONLY: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    log(r.stderr);
    log('firmware-pairs.sh failed (it needs gcc, binutils, gawk/mawk)');
    process.exit(1);
  }
  log(`built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

// --- peers ------------------------------------------------------------------------------------
interface Peer {
  name: string;
  exe: string;
  apt: string;
  args: (oldF: string, newF: string, patchF: string) => string[];
}
const peers: Peer[] = [
  { name: 'bsdiff', exe: 'bsdiff', apt: 'apt-get install bsdiff', args: (o, n, p) => [o, n, p] },
  { name: 'xdelta3', exe: 'xdelta3', apt: 'apt-get install xdelta3', args: (o, n, p) => ['-9', '-e', '-f', '-s', o, n, p] },
  { name: 'zstd', exe: 'zstd', apt: 'apt-get install zstd', args: (o, n, p) => ['-q', '-f', '-T1', '-19', `--patch-from=${o}`, n, '-o', p] },
];
const present = new Map(peers.map((p) => [p.name, findExecutable(p.exe) !== undefined]));
for (const p of peers) if (!present.get(p.name)) log(`SKIPPED: ${p.name} not found; install with: ${p.apt}`);

function runPeer(p: Peer, oldF: string, newF: string, dir: string): { bytes: number; ms: number } | undefined {
  if (!present.get(p.name)) return undefined;
  const out = join(dir, `${p.name}.patch`);
  const t0 = performance.now();
  const r = spawnSync(p.exe, p.args(oldF, newF, out), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${p.name} failed: ${r.stderr}`);
  return { bytes: statSync(out).size, ms };
}

// --- our apply, file to file, in small patch chunks --------------------------------------------
async function applyFromFiles(oldF: string, patch: Uint8Array, outF: string): Promise<{ ms: number; working: number; heapPeak: number }> {
  const oldFd = openSync(oldF, 'r');
  const readBuf = new Uint8Array(1024);
  const outFd = openSync(outF, 'w');
  gc();
  const base = process.memoryUsage();
  const baseBytes = base.heapUsed + base.arrayBuffers;
  let peak = 0;
  let calls = 0;
  // live memory, not allocation churn: collect before each sample
  const sample = (): void => {
    gc();
    const m = process.memoryUsage();
    peak = Math.max(peak, m.heapUsed + m.arrayBuffers - baseBytes);
  };
  const patcher = createPatcher({
    // one reused read buffer, as a flash driver would have: the patcher copies what it keeps
    readOld: (offset, length) => {
      const b = readBuf.subarray(0, length);
      readSync(oldFd, b, 0, length, offset);
      return b;
    },
    writeNew: (chunk) => {
      writeSync(outFd, chunk);
      if ((++calls & 127) === 0) sample();
    },
  });
  const t0 = performance.now();
  const CHUNK = 512; // like CoAP block2 payloads arriving one by one
  for (let off = 0; off < patch.length; off += CHUNK) await patcher.push(patch.subarray(off, off + CHUNK));
  await patcher.finish();
  const ms = performance.now() - t0;
  sample();
  closeSync(oldFd);
  closeSync(outFd);
  return { ms, working: patcher.workingMemoryBytes, heapPeak: peak };
}

// --- run ----------------------------------------------------------------------------------------
interface PairResult {
  pair: string;
  old_bytes: number;
  new_bytes: number;
  ours_bytes: number;
  ours_gen_ms: number;
  ours_apply_ms: number;
  ours_apply_working_bytes: number;
  ours_apply_heap_growth_bytes: number;
  bsdiff_bytes: number | null;
  bsdiff_ms: number | null;
  xdelta3_bytes: number | null;
  xdelta3_ms: number | null;
  zstd_bytes: number | null;
  zstd_ms: number | null;
  ours_vs_bsdiff_pct: number | null;
}

const results: PairResult[] = [];
const patchDir = mkdtempSync(join(tmpdir(), 'rootline-delta-patches-'));
for (const arch of readdirSync(join(work, 'img')).sort()) {
  for (const size of sizes) {
    for (const scenario of ['fix', 'feature']) {
      const oldF = join(work, 'img', arch, `${size}-v1.bin`);
      const newF = join(work, 'img', arch, `${size}-${scenario}.bin`);
      if (!existsSync(oldF) || !existsSync(newF)) continue;
      const pair = `${arch}-${size}-${scenario}`;
      log(`${pair} ...`);
      const old = new Uint8Array(readFileSync(oldF));
      const neu = new Uint8Array(readFileSync(newF));
      const t0 = performance.now();
      const patch = createDelta(old, neu);
      const genMs = performance.now() - t0;
      const patchF = join(patchDir, `${pair}.rld`);
      writeFileSync(patchF, patch);
      const outF = join(patchDir, `${pair}.out`);
      const apply = await applyFromFiles(oldF, patch, outF);
      if (Buffer.compare(readFileSync(outF), Buffer.from(neu)) !== 0) throw new Error(`ROUND-TRIP FAILED: ${pair}`);
      const [bs, xd, zs] = peers.map((p) => runPeer(p, oldF, newF, patchDir));
      results.push({
        pair,
        old_bytes: old.length,
        new_bytes: neu.length,
        ours_bytes: patch.length,
        ours_gen_ms: Math.round(genMs),
        ours_apply_ms: Math.round(apply.ms),
        ours_apply_working_bytes: apply.working,
        ours_apply_heap_growth_bytes: apply.heapPeak,
        bsdiff_bytes: bs?.bytes ?? null,
        bsdiff_ms: bs === undefined ? null : Math.round(bs.ms),
        xdelta3_bytes: xd?.bytes ?? null,
        xdelta3_ms: xd === undefined ? null : Math.round(xd.ms),
        zstd_bytes: zs?.bytes ?? null,
        zstd_ms: zs === undefined ? null : Math.round(zs.ms),
        ours_vs_bsdiff_pct: bs === undefined ? null : Math.round((10000 * patch.length) / bs.bytes) / 100,
      });
    }
  }
}
rmSync(patchDir, { recursive: true, force: true });
if (!keep) rmSync(work, { recursive: true, force: true });

// --- report -------------------------------------------------------------------------------------
const cell = (v: number | null): string => (v === null ? 'SKIPPED' : String(v));
const header = ['pair', 'new B', 'ours B', 'bsdiff B', 'xdelta3 B', 'zstd B', 'ours/bsdiff %', 'gen ms', 'bsdiff ms', 'apply ms', 'apply mem B', 'heap growth KiB'];
const rows = results.map((r) => [
  r.pair,
  String(r.new_bytes),
  String(r.ours_bytes),
  cell(r.bsdiff_bytes),
  cell(r.xdelta3_bytes),
  cell(r.zstd_bytes),
  r.ours_vs_bsdiff_pct === null ? 'SKIPPED' : r.ours_vs_bsdiff_pct.toFixed(1),
  String(r.ours_gen_ms),
  cell(r.bsdiff_ms),
  String(r.ours_apply_ms),
  String(r.ours_apply_working_bytes),
  (r.ours_apply_heap_growth_bytes / 1024).toFixed(1),
]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(line(header));
for (const row of rows) console.log(line(row));
console.log('apply mem = the patcher\'s own buffers and tables (workingMemoryBytes); heap growth = peak live V8 heap + ArrayBuffers above the level before the apply (GC before each sample), file to file');

const compared = results.filter((r) => r.ours_vs_bsdiff_pct !== null);
console.log(
  JSON.stringify({
    bench: 'delta',
    pairs: results,
    max_ours_vs_bsdiff_pct: compared.length === 0 ? null : Math.max(...compared.map((r) => r.ours_vs_bsdiff_pct!)),
    all_no_larger_than_bsdiff: compared.length === 0 ? null : compared.every((r) => r.ours_bytes <= r.bsdiff_bytes!),
    max_apply_working_bytes: Math.max(...results.map((r) => r.ours_apply_working_bytes)),
  }),
);
