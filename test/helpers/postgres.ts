/**
 * A throwaway PostgreSQL server for tests: initdb into a temp dir, start on a free loopback port
 * with its unix socket inside that dir, durability off (fsync, synchronous_commit,
 * full_page_writes) because the data is discarded anyway. initdb and postgres refuse to run as
 * root, so under root they run as the `postgres` system user (runuser, else su) and the temp dir
 * is handed to that user.
 *
 * The server is stopped by stop() — call it from after(), which node:test runs even when tests
 * fail — and, as a last resort, killed from process 'exit' and on SIGINT/SIGTERM.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { findExecutable, requirePeer } from './peers.js';

export interface PostgresServer {
  /** Connection string of the `postgres` database, as the superuser `postgres` (trust auth, loopback only). */
  connectionString: string;
  host: string;
  port: number;
  /** The temp dir holding data, socket and log; removed by stop(). */
  dir: string;
  /** The postmaster's pid. */
  pid: number;
  /** Creates a fresh empty database and returns its connection string. */
  createDatabase(): Promise<string>;
  /** Drops a database made by createDatabase (disconnecting anyone still on it). */
  dropDatabase(connectionString: string): Promise<void>;
  /** Stops the server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

/** node:test `skip` value for suites that need PostgreSQL (throws under CI when it is missing). */
export function postgresSkip(): string | false {
  return requirePeer('PostgreSQL server', ['/usr/lib/postgresql/15/bin/postgres', 'postgres', 'pg_ctl'], 'apt-get install postgresql');
}

/** The directory holding initdb, pg_ctl and postgres: the newest /usr/lib/postgresql/N/bin, else PATH. */
export function findPostgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'initdb')) && existsSync(join(base, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(base, versions[0], 'bin');
  }
  const initdb = findExecutable('initdb');
  return initdb === undefined ? undefined : dirname(realpathSync(initdb));
}

function run(argv: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Prefix that runs a command as the postgres user when we are root; empty otherwise. */
function asPostgresUser(): { prefix: (argv: string[]) => string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { prefix: (argv) => argv };
  const id = (flag: string): number => {
    const r = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
    const n = Number(r.stdout.trim());
    if (r.status !== 0 || !Number.isInteger(n)) throw new Error('running as root but there is no `postgres` user to run PostgreSQL as');
    return n;
  };
  const uid = id('-u');
  const gid = id('-g');
  const runuser = findExecutable('runuser');
  if (runuser !== undefined) return { uid, gid, prefix: (argv) => [runuser, '-u', 'postgres', '--', ...argv] };
  const quoted = (argv: string[]): string => argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return { uid, gid, prefix: (argv) => ['su', 'postgres', '-s', '/bin/sh', '-c', quoted(argv)] };
}

/** True while `pid` runs (a zombie, waiting for a parent that may never reap it, does not count). */
function processRuns(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // No /proc (not Linux): fall back to signal 0, which also reports zombies as alive.
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

function waitForExitSync(pid: number, maxMs: number): void {
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < maxMs && processRuns(pid); waited += 20) Atomics.wait(tick, 0, 0, 20);
}

/**
 * The postgres user must reach the temp dir: if TMPDIR lies somewhere it cannot traverse (under
 * /root, say), use /tmp instead.
 */
function tempBaseForOtherUser(): string {
  const base = tmpdir();
  for (let d = base; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return '/tmp';
    if (dirname(d) === d) return base;
  }
}

let databaseCounter = 0;

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBinDir();
  if (bin === undefined) throw new Error('PostgreSQL binaries not found; install with: apt-get install postgresql');
  const user = asPostgresUser();
  const dir = mkdtempSync(join(user.uid === undefined ? tmpdir() : tempBaseForOtherUser(), 'rootline-pg-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  const log = join(dir, 'postgres.log');
  let pid: number | undefined;
  let stopped = false;

  // Last resort when the test process ends without stop(): SIGQUIT is PostgreSQL's immediate
  // shutdown. An 'exit' handler cannot await, so it waits synchronously for the postmaster to go
  // (it removes its own pid and lock files on the way out) before removing the directory.
  const killNow = (): void => {
    if (stopped) return;
    stopped = true;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGQUIT');
        waitForExitSync(pid, 10_000);
      } catch {
        // already gone
      }
    }
    try {
      // The postmaster may still be writing its log while it shuts down: retry on ENOTEMPTY.
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // Leaving a temp dir behind is better than throwing from an 'exit' handler.
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    killNow();
    detach();
    process.kill(process.pid, signal);
  };
  const detach = (): void => {
    process.off('exit', killNow);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('exit', killNow);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    mkdirSync(sock);
    if (user.uid !== undefined && user.gid !== undefined) {
      chownSync(dir, user.uid, user.gid);
      chownSync(sock, user.uid, user.gid);
    }
    await run(user.prefix([join(bin, 'initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']), dir);
    let port = 0;
    let lastError: unknown;
    // A port found free can be taken by someone else before postgres binds it: try a few.
    for (let attempt = 0; attempt < 3 && pid === undefined; attempt++) {
      port = await freePort();
      const opts = [
        `-p ${port}`,
        `-k ${sock}`,
        '-c listen_addresses=127.0.0.1',
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=200',
      ].join(' ');
      try {
        await run(user.prefix([join(bin, 'pg_ctl'), '-D', data, '-l', log, '-w', '-t', '60', '-o', opts, 'start']), dir);
        pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      } catch (err) {
        lastError = new Error(`${(err as Error).message}\n${existsSync(log) ? readFileSync(log, 'utf8') : ''}`);
      }
    }
    if (pid === undefined) throw lastError;
    const host = '127.0.0.1';
    const url = (db: string): string => `postgresql://postgres@${host}:${port}/${db}`;
    return {
      connectionString: url('postgres'),
      host,
      port,
      dir,
      pid,
      async createDatabase() {
        databaseCounter += 1;
        const name = `t_${process.pid}_${databaseCounter}`;
        const client = new pg.Client({ connectionString: url('postgres') });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return url(name);
      },
      async dropDatabase(connectionString) {
        const name = new URL(connectionString).pathname.slice(1);
        if (!/^t_\d+_\d+$/.test(name)) throw new Error(`not a database made by createDatabase: ${name}`);
        const client = new pg.Client({ connectionString: url('postgres') });
        await client.connect();
        try {
          await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await client.end();
        }
      },
      async stop() {
        if (stopped) return;
        try {
          await run(user.prefix([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']), dir);
          // Stopped and waited for: do not signal a pid the system may since have reused.
          pid = undefined;
        } catch {
          // pg_ctl could not stop it (or it was already down): make sure it is gone.
        }
        killNow();
        detach();
      },
    };
  } catch (err) {
    killNow();
    detach();
    throw err;
  }
}
