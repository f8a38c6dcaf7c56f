/**
 * The PostgreSQL test harness must not leak servers: a test process that exits or is killed by
 * SIGTERM without calling stop() still takes its server and temp dir with it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { postgresSkip } from '../helpers/postgres.js';

const helper = new URL('../helpers/postgres.ts', import.meta.url).href;

/** True while `pid` is a live (not zombie) process. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number): Promise<boolean> {
  // Immediate shutdown takes milliseconds; the bound only keeps a broken harness from hanging.
  for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
  return !alive(pid);
}

async function runChild(then: 'exit' | 'wait-for-sigterm'): Promise<{ pid: number; dir: string; signal: NodeJS.Signals | null }> {
  const script = [
    `import { startPostgres } from ${JSON.stringify(helper)};`,
    'const s = await startPostgres();',
    'process.stdout.write(JSON.stringify({ pid: s.pid, dir: s.dir }) + "\\n");',
    // Wait for the parent to look at the running server first; then exit without stop().
    'process.stdin.once("data", () => process.exit(0));',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    return await superviseChild(child, then);
  } finally {
    // On a failed assertion the child must not linger (SIGTERM makes it clean up its server).
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

async function superviseChild(child: ChildProcessByStdio<Writable, Readable, null>, then: 'exit' | 'wait-for-sigterm'): Promise<{ pid: number; dir: string; signal: NodeJS.Signals | null }> {
  let out = '';
  const info = await new Promise<{ pid: number; dir: string }>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(JSON.parse(line) as { pid: number; dir: string });
    });
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting: ${out}`)));
  });
  assert.ok(alive(info.pid), 'the server runs while the child lives');
  if (then === 'wait-for-sigterm') child.kill('SIGTERM');
  else child.stdin.write('exit\n');
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode);
    else child.once('exit', (_code, sig) => resolve(sig));
  });
  return { ...info, signal };
}

describe('PostgreSQL test harness cleanup', { skip: postgresSkip() }, () => {
  test('a process that exits without stop() still stops its server and removes its dir', async () => {
    const { pid, dir } = await runChild('exit');
    assert.equal(existsSync(dir), false, `temp dir ${dir} was left behind`);
    assert.ok(await waitUntilGone(pid), `postmaster ${pid} outlived the test process`);
  });

  test('SIGTERM stops the server, removes the dir, and still ends the process by that signal', async () => {
    const { pid, dir, signal } = await runChild('wait-for-sigterm');
    assert.equal(signal, 'SIGTERM');
    assert.equal(existsSync(dir), false, `temp dir ${dir} was left behind`);
    assert.ok(await waitUntilGone(pid), `postmaster ${pid} outlived the test process`);
  });
});
