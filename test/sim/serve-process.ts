/**
 * `rootline serve` as a real child process (the CLI from sources: node --import tsx
 * src/cli/main-entry.ts serve ...), for tests that kill and restart it and for benches that
 * measure its CPU and memory alone. Ports 0 unless given; the chosen ones are read from the
 * "rootline: <listener> listening on <url>" lines serve prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../..');

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** http://127.0.0.1:<port> */
  readonly api: string;
  /** coaps://127.0.0.1:<port> */
  readonly coaps: string;
  readonly coapsPort: number;
  /** Everything serve wrote to stderr so far (its log at the chosen level). */
  stderr(): string;
  /** Sends `signal` (default SIGTERM: serve shuts down in order) and resolves once it exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServeProcessOptions {
  dataDir: string;
  /** Fixed CoAPs port (a restart keeps the address devices know); default 0. */
  coapsPort?: number;
  logLevel?: string;
  /** ROOTLINE_* settings, e.g. { ROOTLINE_CAMPAIGN_TICK_MS: '50' }. */
  env?: Record<string, string>;
  /** Extra serve flags. */
  args?: string[];
  /** Node flags for the server process (e.g. --max-semi-space-size=32). */
  execArgv?: string[];
  /** Give up waiting for the listeners after this long (default 120 s: a loaded machine). */
  startTimeoutMs?: number;
}

export async function startServeProcess(o: ServeProcessOptions): Promise<ServeProcess> {
  const args = [
    ...(o.execArgv ?? []),
    '--import',
    'tsx',
    resolve(REPO, 'src/cli/main-entry.ts'),
    'serve',
    '--data',
    o.dataDir,
    '--host',
    '127.0.0.1',
    '--device-host',
    '127.0.0.1',
    '--http-port',
    '0',
    '--coap-port',
    '0',
    '--coaps-port',
    String(o.coapsPort ?? 0),
    '--est-port',
    '0',
    '--log-level',
    o.logLevel ?? 'warn',
    ...(o.args ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: REPO, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    // Bounded: a long run at a chatty level must not grow the test's memory without end.
    err = (err + s).slice(-1_000_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const urls = await new Promise<Record<string, string>>((done, fail) => {
    const found: Record<string, string> = {};
    const timer = setTimeout(() => fail(new Error(`serve did not print its listeners in ${o.startTimeoutMs ?? 120_000} ms; stderr:\n${err}`)), o.startTimeoutMs ?? 120_000);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      for (const m of out.matchAll(/^rootline: (\w+) listening on (\S+)$/gm)) found[m[1]!] = m[2]!;
      if (found.http !== undefined && found.coaps !== undefined) {
        clearTimeout(timer);
        done(found);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      fail(new Error(`serve exited (${code ?? signal}) before it listened; stderr:\n${err}`));
    });
  });
  const coaps = urls.coaps!;
  return {
    child,
    pid: child.pid!,
    api: urls.http!.replace(/\/$/, ''),
    coaps,
    coapsPort: Number(new URL(coaps.replace(/^coaps:/, 'http:')).port),
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
