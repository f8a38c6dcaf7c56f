// The two CoAPs servers bench/coaps.ts compares, each in its own process: rootline
// (rootline-coaps-server.ts on our DTLS and CoAP rooms) and libcoap's coap-server-openssl.
// Both serve PSK and ECDHE-ECDSA (the same P-256 certificate) on 127.0.0.1 only.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stopChild, track } from './processes.js';

export interface BenchCredentials {
  identity: string;
  key: string;
  certPem: string;
  certDer: string;
  keyPem: string;
  remove(): void;
}

/** A self-signed P-256 certificate made with the openssl CLI, plus the PSK both servers accept. */
export function makeCredentials(): BenchCredentials {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-coaps-bench-'));
  const keyPem = join(dir, 'key.pem');
  const certPem = join(dir, 'cert.pem');
  const certDer = join(dir, 'cert.der');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPem]);
  execFileSync('openssl', ['req', '-x509', '-new', '-key', keyPem, '-subj', '/CN=127.0.0.1', '-days', '2', '-sha256', '-out', certPem]);
  execFileSync('openssl', ['x509', '-in', certPem, '-outform', 'DER', '-out', certDer]);
  return { identity: 'bench-device', key: 'bench-psk-0123456789', certPem, certDer, keyPem, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunningServer {
  name: string;
  pid: number;
  /** The DTLS port. */
  port: number;
  /** The same server's plain CoAP (NoSec) port, where it has one. */
  plainPort?: number;
  /** The path the load generator GETs. */
  path: string;
  /**
   * Lets the process settle its memory before an RSS reading (a full GC for Node); resolves with
   * the JS heap in use after it and the young generation's resident bytes, where the server has them.
   */
  settle(): Promise<{ heapUsed?: number; young?: number }>;
  /** CPU profiling of a measured window (rootline only). */
  profile?: { start(): void; stop(file: string): Promise<void> };
  stop(): Promise<void>;
}

/** Our server in a child Node process. */
export async function startRootline(cred: BenchCredentials): Promise<RunningServer> {
  const script = resolve(import.meta.dirname, 'rootline-coaps-server.ts');
  const child = track(spawn(process.execPath, ['--import', 'tsx', script, cred.identity, cred.key, cred.certDer, cred.keyPem], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const { port, plainPort } = await new Promise<{ port: number; plainPort: number }>((res, rej) => {
    child.once('exit', (code) => rej(new Error(`rootline server exited (${code}) before it was ready`)));
    child.once('message', (m: { type: string; port: number; plainPort: number }) => (m.type === 'ready' ? res(m) : rej(new Error('unexpected message'))));
  });
  return {
    name: 'rootline',
    pid: child.pid!,
    port,
    plainPort,
    path: '/',
    settle: () =>
      new Promise<{ heapUsed?: number; young?: number }>((res) => {
        child.once('message', (m: { heapUsed?: number; young?: number }) => res({ heapUsed: m.heapUsed, young: m.young }));
        child.send({ type: 'rss' });
      }),
    profile: {
      start: () => child.send({ type: 'profile-start' }),
      stop: (file) =>
        new Promise<void>((res) => {
          child.once('message', () => res());
          child.send({ type: 'profile-stop', file });
        }),
    },
    stop: async () => {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      if (child.connected) child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function freeUdpPortPair(): Promise<number> {
  for (;;) {
    const a = createSocket('udp4');
    const b = createSocket('udp4');
    try {
      await new Promise<void>((r, j) => (a.once('error', j), a.bind(0, '127.0.0.1', () => r())));
      const p = a.address().port;
      if (p >= 65535) continue;
      const ok = await new Promise<boolean>((r) => (b.once('error', () => r(false)), b.bind(p + 1, '127.0.0.1', () => r(true))));
      if (ok) return p;
    } finally {
      a.close();
      try {
        b.close();
      } catch {
        // never bound
      }
    }
  }
}

/** Resolves once a CoAP ping (an empty CON) on plain UDP gets its RST, i.e. the server loop runs. */
async function coapPing(port: number, child: ChildProcess): Promise<void> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolveUp, rejectUp) => {
      const timer = setInterval(() => s.send(Buffer.from([0x40, 0x00, 0x12, 0x34]), port, '127.0.0.1'), 100);
      const fail = (): void => (clearInterval(timer), rejectUp(new Error('coap-server-openssl exited at start-up')));
      child.once('exit', fail);
      s.on('message', () => (clearInterval(timer), child.off('exit', fail), resolveUp()));
      setTimeout(() => (clearInterval(timer), child.off('exit', fail), rejectUp(new Error('coap-server-openssl did not answer a ping in 10 s'))), 10_000).unref();
    });
  } finally {
    s.close();
  }
}

/** libcoap's example server with PSK (-k/-h) and PKI (-c/-j, -n: no client certificate asked). */
export async function startLibcoap(cred: BenchCredentials): Promise<RunningServer> {
  const udp = await freeUdpPortPair();
  const args = ['-A', '127.0.0.1', '-p', String(udp), '-v', '0', '-k', cred.key, '-h', 'rootline-bench', '-c', cred.certPem, '-j', cred.keyPem, '-n'];
  const child = track(spawn('coap-server-openssl', args, { stdio: ['ignore', 'ignore', 'inherit'] }));
  await coapPing(udp, child);
  return {
    name: 'libcoap',
    pid: child.pid!,
    port: udp + 1, // libcoap serves DTLS on the port after the UDP one
    plainPort: udp,
    path: '/',
    settle: () => new Promise<{ heapUsed?: number }>((r) => setTimeout(() => r({}), 200)),
    stop: () => stopChild(child),
  };
}

/** A bare node:dgram CoAP responder (bench/lib/bare-udp-server.ts): the ceiling of a Node server. */
export async function startBareUdp(): Promise<RunningServer> {
  const script = resolve(import.meta.dirname, 'bare-udp-server.ts');
  const child = track(spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const port = await new Promise<number>((res, rej) => {
    child.once('exit', (code) => rej(new Error(`bare UDP server exited (${code}) before it was ready`)));
    child.once('message', (m: { type: string; port: number }) => (m.type === 'ready' ? res(m.port) : rej(new Error('unexpected message'))));
  });
  return {
    name: 'node-dgram',
    pid: child.pid!,
    port,
    plainPort: port,
    path: '/',
    settle: () => Promise.resolve({}),
    stop: () => stopChild(child),
  };
}
