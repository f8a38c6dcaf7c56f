// Child processes of a benchmark and what /proc says about them. Every child started through
// `track` is killed when the benchmark exits, fails or is interrupted, so no server or load
// generator outlives a run.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
let hooked = false;

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
  for (const f of cleanups) {
    try {
      f();
    } catch {
      // best effort on the way out
    }
  }
  cleanups.clear();
}

/** Runs `fn` when the benchmark exits, however it exits (temporary directories). Returns `fn`. */
export function atExit(fn: () => void): () => void {
  hook();
  cleanups.add(fn);
  return fn;
}

/** Registers a child to be killed on exit, uncaught failure, SIGINT or SIGTERM. */
export function track<T extends ChildProcess>(child: T): T {
  hook();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function hook(): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => {
        killAll();
        process.exit(130);
      });
    }
  }
}

/** Resolves when the child has exited; sends SIGTERM and, after `graceMs`, SIGKILL. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds a process has used so far (all its threads), from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may contain spaces): utime is the 14th field.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytesOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
