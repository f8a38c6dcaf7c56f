// Builds and runs the C load generator (bench/loadgen/coaps-loadgen.c). It is compiled with the
// system gcc against OpenSSL into a temporary directory on every run, so no binary is committed
// and the generator always matches this machine's OpenSSL.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { track, stopChild } from './processes.js';

const SOURCE = resolve(import.meta.dirname, '../loadgen/coaps-loadgen.c');

export interface LoadgenBuild {
  binary: string;
  remove(): void;
}

/** Compiles the generator; throws with gcc's message (and the packages to install) on failure. */
export function buildLoadgen(): LoadgenBuild {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-coaps-loadgen-'));
  const binary = join(dir, 'coaps-loadgen');
  const r = spawnSync('gcc', ['-O2', '-Wall', '-o', binary, SOURCE, '-lssl', '-lcrypto'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cannot build the load generator (apt-get install gcc libssl-dev): ${r.error?.message ?? r.stderr}`);
  }
  return { binary, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What the generator prints at the end of an rps or hs run (see coaps-loadgen.c). */
export interface LoadgenResult {
  mode: string;
  suite: string;
  cipher: string;
  sessions: number;
  depth: number;
  conc: number;
  wall_s: number;
  responses: number;
  rps: number;
  handshakes: number;
  hs_per_s: number;
  handshake_failures: number;
  timeouts: number;
  bad: number;
  send_failures: number;
  gen_cpu_s: number;
  gen_cpu_pct: number;
  established: number;
}

export interface LoadgenArgs {
  port: number;
  mode: 'rps' | 'hs' | 'idle';
  /** 'none': plain CoAP over UDP (NoSec), rps only. */
  suite: 'psk' | 'ecdhe' | 'none';
  sessions?: number;
  depth?: number;
  conc?: number;
  warmup?: number;
  seconds?: number;
  path?: string;
  identity: string;
  key: string;
}

function argv(a: LoadgenArgs): string[] {
  const out = ['--port', String(a.port), '--mode', a.mode, '--suite', a.suite, '--identity', a.identity, '--key', a.key];
  for (const [k, v] of [['sessions', a.sessions], ['depth', a.depth], ['conc', a.conc], ['warmup', a.warmup], ['seconds', a.seconds], ['path', a.path]] as const) {
    if (v !== undefined) out.push(`--${k}`, String(v));
  }
  return out;
}

/**
 * Runs an rps or hs measurement. `onMeasureStart` is called when the generator's measured
 * window opens, so the caller can sample the server's CPU time over the same window.
 */
export async function runLoad(binary: string, a: LoadgenArgs, onMeasureStart: () => void): Promise<LoadgenResult> {
  const child = track(spawn(binary, argv(a), { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let result: LoadgenResult | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const ev = JSON.parse(line) as { event: string } & LoadgenResult;
    if (ev.event === 'measure_start') onMeasureStart();
    else if (ev.event === 'result') result = ev;
  }
  const code = await exited;
  if (result === undefined || code !== 0) throw new Error(`load generator failed (exit ${code}): ${stderr}`);
  // Why handshakes failed, if any did (the generator reports the first few).
  if (stderr !== '') process.stderr.write(stderr);
  return result;
}

export interface IdleSessions {
  established: number;
  handshakeFailures: number;
  establishSeconds: number;
  /** Closes every session (close_notify) and waits for the generator to exit. */
  release(): Promise<void>;
}

/** Establishes `sessions` PSK sessions and keeps them open, silent, until `release()`. */
export async function holdIdleSessions(binary: string, a: Omit<LoadgenArgs, 'mode'>): Promise<IdleSessions> {
  const child = track(spawn(binary, argv({ ...a, mode: 'idle' }), { stdio: ['pipe', 'pipe', 'pipe'] }));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done === true) {
    await stopChild(child);
    throw new Error(`load generator failed: ${stderr}`);
  }
  const ev = JSON.parse(first.value) as { established: number; handshake_failures: number; establish_s: number };
  return {
    established: ev.established,
    handshakeFailures: ev.handshake_failures,
    establishSeconds: ev.establish_s,
    release: async () => {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin.end('\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
