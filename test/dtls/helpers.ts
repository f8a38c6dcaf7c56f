/** Test helpers for the DTLS room: keys, self-signed certificates, and a lossy UDP proxy. */
import { generateKeyPairSync } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { ecdsaRawToDer } from '../../src/crypto/ecdsa-signature.js';
import type { Signer } from '../../src/crypto/keystore/types.js';
import type { DtlsConnection } from '../../src/dtls/connection.js';

export const PSK = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

export function ecdsaSigner(): Signer {
  return keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
}

function der(tag: number, ...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

const ECDSA_SHA256 = der(0x30, Buffer.from('06082a8648ce3d040302', 'hex'));

function name(cn: string, ou: string): Buffer {
  const rdn = (oid: string, v: string) => der(0x31, der(0x30, Buffer.from(oid, 'hex'), der(0x0c, Buffer.from(v))));
  return der(0x30, rdn('0603550403', cn), ...(ou === '' ? [] : [rdn('060355040b', ou)]));
}

function utcTime(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return der(0x17, Buffer.from(s));
}

/**
 * A self-signed P-256 X.509 certificate (DER) built by hand, and its Signer; `padding` grows it
 * with a long organizational unit so that it must be fragmented.
 */
export async function selfSigned(cn: string, padding = 0): Promise<{ der: Uint8Array; signer: Signer }> {
  const signer = ecdsaSigner();
  const subject = name(cn, 'x'.repeat(padding));
  const tbs = der(
    0x30,
    der(0xa0, der(0x02, Buffer.of(2))),
    der(0x02, Buffer.of(1)),
    ECDSA_SHA256,
    subject,
    der(0x30, utcTime(new Date(Date.now() - 3600_000)), utcTime(new Date(Date.now() + 86400_000))),
    subject,
    Buffer.from(signer.publicKey),
  );
  const sig = ecdsaRawToDer(await signer.sign(tbs));
  return { der: der(0x30, tbs, ECDSA_SHA256, der(0x03, Buffer.of(0), sig)), signer };
}

/** Deterministic PRNG (mulberry32) so lossy tests drop the same datagrams on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ProxyOptions {
  /** Returns true to drop a datagram; `n` counts datagrams in that direction from 0. */
  dropToServer?: (d: Buffer, n: number) => boolean;
  dropToClient?: (d: Buffer, n: number) => boolean;
  /** Sends every forwarded datagram twice. */
  duplicate?: boolean;
  /** Swaps each pair of datagrams per direction (a held one goes out after the next arrives). */
  swapPairs?: boolean;
}

/** A UDP proxy between one client and a server on loopback, recording and optionally dropping datagrams. */
export class UdpProxy {
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  private client: RemoteInfo | undefined;
  private heldToServer: Buffer | undefined;
  private heldToClient: Buffer | undefined;

  private forward(d: Buffer, dir: 'server' | 'client'): void {
    const send = (x: Buffer): void => {
      for (let i = 0; i < (this.opts.duplicate === true ? 2 : 1); i++) {
        if (dir === 'server') this.back.send(x, this.serverPort, '127.0.0.1');
        else if (this.client !== undefined) this.front.send(x, this.client.port, this.client.address);
      }
    };
    if (this.opts.swapPairs !== true) return send(d);
    const held = dir === 'server' ? this.heldToServer : this.heldToClient;
    if (held === undefined) {
      if (dir === 'server') this.heldToServer = d;
      else this.heldToClient = d;
      return;
    }
    if (dir === 'server') this.heldToServer = undefined;
    else this.heldToClient = undefined;
    send(d);
    send(held);
  }

  private constructor(
    private readonly front: Socket,
    private back: Socket,
    private readonly serverPort: number,
    private readonly opts: ProxyOptions,
  ) {
    front.on('message', (d, rinfo) => {
      this.client = rinfo;
      const n = this.toServer.length;
      this.toServer.push(d);
      if (this.opts.dropToServer?.(d, n) !== true) this.forward(d, 'server');
    });
    this.attachBack(back);
  }

  private attachBack(back: Socket): void {
    back.on('message', (d) => {
      const n = this.toClient.length;
      this.toClient.push(d);
      if (this.opts.dropToClient?.(d, n) !== true) this.forward(d, 'client');
    });
  }

  /** Moves the server-facing side to a new source port, like a NAT rebinding. */
  async rebind(): Promise<void> {
    const next = createSocket('udp4');
    await new Promise<void>((r) => next.bind(0, '127.0.0.1', () => r()));
    this.back.close();
    this.back = next;
    this.attachBack(next);
  }

  get serverFacingPort(): number {
    return this.back.address().port;
  }

  static async create(serverPort: number, opts: ProxyOptions = {}): Promise<UdpProxy> {
    const bind = async (): Promise<Socket> => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      return s;
    };
    return new UdpProxy(await bind(), await bind(), serverPort, opts);
  }

  get port(): number {
    return this.front.address().port;
  }

  /** Sends `d` to the server as if the client had. */
  injectToServer(d: Uint8Array): void {
    this.back.send(d, this.serverPort, '127.0.0.1');
  }

  close(): void {
    this.front.close();
    this.back.close();
  }
}

export async function rawSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

export function nextMessage(s: Socket): Promise<Buffer> {
  return new Promise((resolve) => s.once('message', (d) => resolve(d)));
}

export function once<T = unknown>(emitter: { once(ev: string, cb: (v: T) => void): unknown }, ev: string): Promise<T> {
  return new Promise((resolve) => emitter.once(ev, resolve));
}


/**
 * Sends `text` and resends it every `everyMs` until the reply `expected` arrives (application
 * data has no retransmission of its own, and a loaded host may drop loopback datagrams when a
 * socket buffer overflows during a flood). Resolves with the number of sends; rejects if the
 * session closes.
 */
export function sendUntilReply(c: DtlsConnection, text: string, expected: string, everyMs = 250): Promise<number> {
  return new Promise((resolve, reject) => {
    let sends = 0;
    const send = (): void => {
      sends++;
      c.send(Buffer.from(text));
    };
    const done = (): void => {
      clearInterval(timer);
      c.off('data', onData);
      c.off('close', onClose);
    };
    const onData = (d: Uint8Array): void => {
      if (Buffer.from(d).toString() !== expected) return;
      done();
      resolve(sends);
    };
    const onClose = (err?: Error): void => {
      done();
      reject(err ?? new Error('session closed'));
    };
    c.on('data', onData);
    c.on('close', onClose);
    const timer = setInterval(send, everyMs);
    send();
  });
}
