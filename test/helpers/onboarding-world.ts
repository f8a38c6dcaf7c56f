/**
 * The world an onboarding interop test stands in, built from the real CLI: a factory (`rootline
 * factory init`, devices from `rootline factory mint`), a domain (`rootline serve` with an
 * `onboarding` config; its registrar writes the domain CA under <data>/onboarding/) and, for the
 * remote-MASA tests, `rootline masa serve` with a TLS identity of its own.
 *
 * One temp dir per world; everything started in it is tracked, and close() — call it from
 * after() — closes the stores, stops every server (SIGTERM / shutdown signal), removes the dir
 * and then asserts that every server exited 0 (graceful shutdown is part of what is tested).
 * Ports are 0 (read back from the "rootline: <listener> listening on <url>" lines) except the
 * MASA's, which the IDevIDs carry and must be known before `factory init`: freePort().
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { createRootCa, domainCaPolicy } from '../../src/pki/index.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/types.js';
import { runCli } from '../cli/io.js';
import { request } from '../server/harness.js';

const REPO = resolve(import.meta.dirname, '../..');

/** An audit record as the API lists it (GET /api/v1/audit). */
export interface AuditView {
  actor: string;
  action: string;
  subject: string;
  outcome: string;
  details: Record<string, unknown>;
}

/** The audit records of one action from a serve's API (the newest 1000); the answer must be 200. */
export async function auditRecords(api: string, action: string): Promise<AuditView[]> {
  const r = await request(`${api}/api/v1/audit?action=${encodeURIComponent(action)}&limit=1000`);
  assert.equal(r.status, 200, r.text);
  return (r.body as { records: AuditView[] }).records;
}

/** A TCP port free on loopback now (for a server whose URL must be known before it starts). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => done(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** POST to a MASA over HTTPS with the given headers, trusting only `ca` (PEM). */
export function postToMasa(url: string, ca: string, body: Uint8Array, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = httpsRequest(url, { method: 'POST', ca, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(Buffer.from(body));
  });
}

/** A manufacturer made by `rootline factory init`. */
export interface Factory {
  /** Its data directory (factory keys, master.key, and the MASA's store when it serves one). */
  readonly data: string;
  /** <data>/factory/manufacturer-ca.pem: what a registrar is told to trust for this manufacturer. */
  readonly caFile: string;
  /** `rootline factory mint` into `out` (relative to the world's dir; default: the serial); returns the device directory. */
  mint(serial: string, model: string, out?: string): Promise<string>;
}

/** A registrar's `onboarding.manufacturers[]` entry. */
export interface TrustedManufacturer {
  caFile: string;
  /** The CA of the remote MASA's TLS certificate (absent: the system's). */
  masaTlsCaFile?: string;
}

/** The MASA's HTTPS identity: a TLS CA the domains are told to trust, and a server certificate for 127.0.0.1/localhost. */
export interface MasaTls {
  caPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A `rootline <command>` child process (the CLI from sources). */
export interface RootlineProcess {
  readonly child: ChildProcess;
  /** Listener name → URL, from the "listening on" lines it waited for. */
  readonly urls: Record<string, string>;
  stderr(): string;
  /** SIGTERM (once) and the exit code. */
  stop(): Promise<number | null>;
}

export interface MasaProcess extends RootlineProcess {
  /** The `masa` listener: https://127.0.0.1:<port> */
  readonly url: string;
}

/** `rootline serve` run in this process (main()), stopped through its shutdown signal. */
export interface InProcessServe {
  /** The URL of a listener once serve printed it (the test's timeout bounds the wait). */
  listenerUrl(name: string): Promise<string>;
  stderr(): string;
}

/**
 * Starts `rootline <args>` from sources with only PATH and HOME in its environment, and waits for
 * a "listening on" line of each of `listeners`.
 */
export async function startRootline(args: string[], listeners: string[]): Promise<RootlineProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main-entry.ts'), ...args], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  // Bounded: the log at warn level is small, but a failing peer must not grow it without end.
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-200_000)));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const urls = await new Promise<Record<string, string>>((done, fail) => {
    const found: Record<string, string> = {};
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      for (const m of out.matchAll(/^rootline: ([\w-]+) listening on (\S+)$/gm)) found[m[1]!] = m[2]!;
      if (listeners.every((l) => found[l] !== undefined)) done(found);
    });
    void exited.then((code) => fail(new Error(`rootline ${args[0]} exited (${code}) before listening:\n${err}`)));
  });
  return {
    child,
    urls,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

function onboardingConfig(file: string, o: { coaps: boolean; manufacturers: TrustedManufacturer[] }): void {
  // coapsPort: the registrar's CoAPs listener too ('brski-coaps': constrained BRSKI, RFC 9148).
  const onboarding = { approval: 'automatic', ...(o.coaps ? { coapsPort: 0 } : {}), manufacturers: o.manufacturers };
  writeFileSync(file, JSON.stringify({ onboarding }));
}

/** What startRemoteMasa() started. */
export interface RemoteMasa {
  factory: Factory;
  tls: MasaTls;
  masa: MasaProcess;
  /** The domains, in the order of their names. */
  domains: RootlineProcess[];
  /** The MASA's store (the factory's SQLite file), read beside the running MASA. */
  masaStore: Store;
}

interface Running {
  name: string;
  stop(): Promise<number | null>;
  stderr(): string;
}

export class OnboardingWorld {
  /** The temp dir: the CLI's cwd, and where every data directory and device lives. */
  readonly dir: string;
  readonly #running: Running[] = [];
  readonly #stores: Store[] = [];

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** A world in a new temp dir (mkdtemp with the prefix rootline-<name>-). */
  static create(name: string): OnboardingWorld {
    return new OnboardingWorld(mkdtempSync(join(tmpdir(), `rootline-${name}-`)));
  }

  /** `rootline factory init` into `data` (relative to the world's dir); `env` is the CLI's io.env (e.g. ROOTLINE_STORE_URL). */
  async initFactory(o: { data: string; masaUrl: string; manufacturer: string; env?: Record<string, string> }): Promise<Factory> {
    const env = o.env ?? {};
    const cwd = this.dir;
    const data = resolve(cwd, o.data);
    const init = await runCli(['factory', 'init', '--data', data, '--masa-url', o.masaUrl, '--manufacturer', o.manufacturer], { env, cwd });
    assert.equal(init.code, 0, init.stderr);
    return {
      data,
      caFile: join(data, 'factory', 'manufacturer-ca.pem'),
      async mint(serial, model, out = serial) {
        const r = await runCli(['factory', 'mint', '--data', data, '--serial', serial, '--model', model, '--out', out], { env, cwd });
        assert.equal(r.code, 0, r.stderr);
        return resolve(cwd, out);
      },
    };
  }

  /** A MASA TLS identity under <dir>/tls (P-256, CA 30 days, certificate 20). */
  async masaTls(): Promise<MasaTls> {
    const tlsCa = await createRootCa({ signer: keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey), subject: 'CN=MASA TLS CA', validityDays: 30 });
    const tlsKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const tlsCert = await domainCaPolicy.issueServerCertificate(tlsCa, { publicKey: keyObjectSigner(tlsKey).publicKey, subjectAltNames: { ip: ['127.0.0.1'], dns: ['localhost'] }, validityDays: 20 });
    const tls = join(this.dir, 'tls');
    mkdirSync(tls, { recursive: true });
    const files = { caFile: join(tls, 'masa-tls-ca.pem'), certFile: join(tls, 'masa-tls.pem'), keyFile: join(tls, 'masa-tls.key') };
    writeFileSync(files.caFile, tlsCa.chainPem);
    writeFileSync(files.certFile, tlsCert.pem + tlsCa.chainPem);
    writeFileSync(files.keyFile, tlsKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    return { caPem: tlsCa.chainPem, ...files };
  }

  /** `rootline masa serve` for `factory` on 127.0.0.1:`port` (0: any); `store` a store URL other than the factory's SQLite file. */
  async startMasa(o: { factory: Factory; tls: MasaTls; port?: number; store?: string }): Promise<MasaProcess> {
    const args = ['masa', 'serve', '--data', o.factory.data, ...(o.store !== undefined ? ['--store', o.store] : []), '--tls-cert', o.tls.certFile, '--tls-key', o.tls.keyFile, '--host', '127.0.0.1', '--port', String(o.port ?? 0), '--log-level', 'warn'];
    const p = await startRootline(args, ['masa']);
    this.#running.push({ name: 'masa serve', stop: () => p.stop(), stderr: () => p.stderr() });
    return { ...p, url: p.urls.masa! };
  }

  /**
   * A domain as its own `rootline serve` process: config <dir>/<name>.json, data <dir>/domain-<name>
   * (its domain CA at domain-<name>/onboarding/domain-ca.pem); resolves once http, est and, with
   * `coaps`, brski-coaps listen.
   */
  async startDomain(name: string, o: { manufacturers: TrustedManufacturer[]; coaps?: boolean }): Promise<RootlineProcess> {
    const config = join(this.dir, `${name}.json`);
    onboardingConfig(config, { coaps: o.coaps === true, manufacturers: o.manufacturers });
    const args = ['serve', '--config', config, '--data', join(this.dir, `domain-${name}`), '--host', '127.0.0.1', '--device-host', '127.0.0.1', '--http-port', '0', '--coap-port', '0', '--coaps-port', '0', '--est-port', '0', '--log-level', 'warn'];
    const p = await startRootline(args, ['http', 'est', ...(o.coaps === true ? ['brski-coaps'] : [])]);
    this.#running.push({ name: `domain ${name}`, stop: () => p.stop(), stderr: () => p.stderr() });
    return p;
  }

  /**
   * `rootline serve --masa` in this process on the factory's own data directory (registrar and
   * MASA in one, trusting that factory through <dir>/rootline.json), with `coaps` its
   * brski-coaps listener too.
   */
  serveInProcess(o: { factory: Factory; coaps?: boolean }): InProcessServe {
    const config = join(this.dir, 'rootline.json');
    // The manufacturer CA by a path relative to the config, as an operator would write it.
    onboardingConfig(config, { coaps: o.coaps === true, manufacturers: [{ caFile: relative(dirname(config), o.factory.caFile) }] });
    let stdout = '';
    let stderr = '';
    const shutdown = new AbortController();
    // No ROOTLINE_MASTER_KEY: `factory init` generated <data>/master.key, which serve then reads.
    const serving = main(['serve', '--config', config, '--masa', '--data', o.factory.data, '--http-port', '0', '--coap-port', '0', '--coaps-port', '0', '--est-port', '0', '--device-host', '127.0.0.1', '--log-level', 'error'], {
      env: {},
      cwd: this.dir,
      fetch: globalThis.fetch,
      shutdown: shutdown.signal,
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    });
    this.#running.push({
      name: 'serve (in process)',
      stop: async () => {
        shutdown.abort();
        return serving;
      },
      stderr: () => stderr,
    });
    return {
      stderr: () => stderr,
      async listenerUrl(name) {
        for (;;) {
          const m = new RegExp(`^rootline: ${name} listening on (\\S+)$`, 'm').exec(stdout);
          if (m !== null) return m[1]!;
          if ((await Promise.race([serving, new Promise((r) => setTimeout(() => r('wait'), 50))])) !== 'wait') {
            throw new Error(`serve ended before ${name} listened: ${stderr}`);
          }
        }
      },
    };
  }

  /**
   * The MASA as its own service: a factory ('manufacturer', Acme) whose IDevIDs carry the URL of
   * its `rootline masa serve` on a port chosen first (the registrars go exactly there), that MASA
   * with its own TLS identity, the devices minted, and a `rootline serve` domain per name trusting
   * the manufacturer and the MASA's TLS CA.
   */
  async startRemoteMasa(o: { devices: Array<{ serial: string; model: string; out: string }>; domains: string[]; coaps?: boolean }): Promise<RemoteMasa> {
    const port = await freePort();
    const tls = await this.masaTls();
    const factory = await this.initFactory({ data: 'manufacturer', masaUrl: `https://127.0.0.1:${port}`, manufacturer: 'Acme' });
    for (const d of o.devices) await factory.mint(d.serial, d.model, d.out);
    const masa = await this.startMasa({ factory, tls, port });
    const manufacturers = [{ caFile: factory.caFile, masaTlsCaFile: tls.caFile }];
    const domains = await Promise.all(o.domains.map((name) => this.startDomain(name, { manufacturers, coaps: o.coaps === true })));
    return { factory, tls, masa, domains, masaStore: await this.openMasaStore(factory) };
  }

  /** The factory's SQLite store, opened beside a running MASA (WAL: readers do not block it); closed by close(). */
  async openMasaStore(factory: Factory): Promise<Store> {
    const store = await openSqliteStore({ file: join(factory.data, 'rootline.db') });
    this.#stores.push(store);
    return store;
  }

  /** Closes the stores, stops every server, removes the dir; then asserts that every server exited 0. */
  async close(): Promise<void> {
    let codes: Array<number | null> = [];
    try {
      for (const store of this.#stores.splice(0)) await store.close();
      codes = await Promise.all(this.#running.map((r) => r.stop()));
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
    assert.deepEqual(codes, this.#running.map(() => 0), this.#running.map((r) => `${r.name}:\n${r.stderr()}`).join('\n'));
  }
}
