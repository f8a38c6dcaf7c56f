/** Running libcoap's coap-client / coap-server binaries for the interop suites. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { UdpTransport, type DatagramTransport, type PeerKey } from '../../../src/coap/transport.js';

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion (killed after `killAfterMs` as a safety net, never as an assertion). */
export function run(cmd: string, args: string[], killAfterMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A port p such that p and p + 1 were both free a moment ago on 127.0.0.1: libcoap's servers bind
 * CoAP on p and CoAPs on p + 1, and a busy p + 1 leaves a server that answers pings but no DTLS.
 */
export async function freeUdpPortPair(): Promise<number> {
  for (let i = 0; ; i++) {
    const port = await freeUdpPort();
    const next = createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      next.once('error', () => r(false));
      next.bind(port + 1, '127.0.0.1', () => r(true));
    });
    await new Promise<void>((r) => next.close(() => r()));
    if (ok || i >= 20) return port;
  }
}

export interface LibcoapServer {
  port: number;
  peer: PeerKey;
  stop(): Promise<void>;
}

/** Starts `coap-server-*` on 127.0.0.1 and waits until it answers a CoAP ping. */
export async function startLibcoapServer(binary: string, extraArgs: string[] = []): Promise<LibcoapServer> {
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPortPair();
    const child: ChildProcess = spawn(binary, ['-A', '127.0.0.1', '-p', String(port), '-v', '0', ...extraArgs], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const peer = `127.0.0.1:${port}`;
    const probe = new CoapEndpoint(await UdpTransport.bind(), { transmission: { ackTimeoutMs: 100, maxRetransmit: 5 } });
    const up = await Promise.race([probe.ping(peer).then(() => true, () => false), exited.then(() => false)]);
    await probe.close();
    if (up) {
      return {
        port,
        peer,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
    if (attempt >= 3) throw new Error(`${binary} did not come up`);
  }
}

/** A transport decorator that records every datagram received, for assertions on the wire. */
export class RecordingTransport implements DatagramTransport {
  readonly received: Uint8Array[] = [];
  readonly #inner: DatagramTransport;

  constructor(inner: DatagramTransport) {
    this.#inner = inner;
  }

  send(peer: PeerKey, data: Uint8Array): void {
    this.#inner.send(peer, data);
  }

  onDatagram(cb: (peer: PeerKey, data: Uint8Array) => void): void {
    this.#inner.onDatagram((peer, data) => {
      this.received.push(data.slice());
      cb(peer, data);
    });
  }

  close(): void | Promise<void> {
    return this.#inner.close();
  }
}
