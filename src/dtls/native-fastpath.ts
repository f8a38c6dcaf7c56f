/**
 * The DTLS server's native fast path: a small N-API addon (native/dtls-fastpath/fastpath.c, built
 * by scripts/build-native.mjs into build/native/fastpath.node) that owns the server's UDP socket,
 * receives and sends in batches (recvmmsg/sendmmsg) and opens/seals the application-data records
 * of established AES-128-CCM-8 / AES-128-GCM sessions with node's own OpenSSL. Everything else —
 * handshakes, alerts, unknown peers, connection IDs, other suites — reaches the JS DTLS code as
 * the raw datagram it always got. Why and what it does not cover: src/dtls/README.md.
 *
 * Missing addon (not built, not Linux), `ROOTLINE_DTLS_NATIVE=0`, the server option
 * `nativeFastPath: false` or a caller-provided socket: the server runs on node:dgram as before.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { RemoteInfo } from 'node:dgram';
import type { DtlsConnection } from './connection.js';

/** The addon's functions (fastpath.c). `fp` is the opaque handle `open` returns. */
export interface FastPathAddon {
  readonly outputCapacity: number;
  open(host: string, port: number, out: Buffer, onBatch: (bytes: number) => void, ipv6Only: boolean): [unknown, string, number];
  register(
    fp: unknown,
    address: string,
    port: number,
    suite: number,
    epoch: number,
    readKey: Uint8Array,
    readKeyOffset: number,
    readSalt: number,
    writeKey: Uint8Array,
    writeKeyOffset: number,
    writeSalt: number,
    top: number,
    low: number,
    high: number,
    writeSeq: number,
  ): number;
  take(fp: unknown, handle: number, state: Float64Array): boolean;
  send(fp: unknown, handle: number, data: Uint8Array): number;
  sendRaw(fp: unknown, data: Uint8Array, address: string, port: number): boolean;
  close(fp: unknown): void;
  stats(fp: unknown): [number, number];
  /** The record seal/open of the socket path on one record (for the differential tests). */
  sealRecord(suite: number, key: Uint8Array, salt: number, epoch: number, seq: number, plaintext: Uint8Array): Buffer;
  openRecord(suite: number, key: Uint8Array, salt: number, record: Uint8Array): Buffer | null;
}

let loaded: FastPathAddon | null | undefined;

/** Received plaintexts up to half this size share slabs of it (node's Buffer.poolSize). */
const SLAB_SIZE = 8192;

/** Where the built addon is, from src/dtls (tsx) or dist/src/dtls (compiled). */
function addonPath(): string | undefined {
  for (const rel of ['../../build/native/fastpath.node', '../../../build/native/fastpath.node']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The addon, or undefined when it is not built, cannot load, or ROOTLINE_DTLS_NATIVE=0. */
export function loadFastPath(): FastPathAddon | undefined {
  if (process.env.ROOTLINE_DTLS_NATIVE === '0') return undefined;
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  const path = addonPath();
  if (path === undefined || process.platform !== 'linux') return undefined;
  try {
    loaded = createRequire(import.meta.url)(path) as FastPathAddon;
  } catch {
    // A build for another node (ABI) or platform: node:dgram serves.
    loaded = null;
  }
  return loaded ?? undefined;
}

/** What the DTLS server gives the socket: where raw datagrams go. */
export interface FastPathOwner {
  /** A datagram for the JS DTLS code, exactly as node:dgram's 'message' gave it. */
  rawDatagram(msg: Buffer, rinfo: RemoteInfo): void;
}

/** The server's socket on the native fast path. */
export class NativeServerSocket {
  private readonly fp: unknown;
  private readonly out: Buffer;
  private readonly local: AddressInfo;
  /** Sessions by fast-path handle. */
  private readonly sessions: Array<DtlsConnection | undefined> = [];
  private readonly state = new Float64Array(4);
  private closed = false;
  /** Where received plaintexts are copied (see onBatch). */
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private slabUsed = 0;

  constructor(
    private readonly addon: FastPathAddon,
    host: string,
    port: number,
    private readonly owner: FastPathOwner,
    ipv6Only = false,
  ) {
    // One buffer for every batch: the addon writes items into it, onBatch reads them.
    this.out = Buffer.allocUnsafeSlow(addon.outputCapacity);
    const [fp, address, boundPort] = addon.open(host, port, this.out, this.onBatch, ipv6Only);
    this.fp = fp;
    this.local = { address, port: boundPort, family: address.includes(':') ? 'IPv6' : 'IPv4' };
  }

  address(): AddressInfo {
    return { ...this.local };
  }

  /** Fast sessions and datagrams the kernel refused (diagnostics). */
  stats(): { fastSessions: number; droppedSends: number } {
    const [fastSessions, droppedSends] = this.addon.stats(this.fp);
    return { fastSessions, droppedSends };
  }

  /** Sends a datagram the JS code encoded (handshake flights, alerts, records of other sessions). */
  send(d: Uint8Array, port: number, address: string): void {
    if (this.closed) return;
    this.addon.sendRaw(this.fp, d, address, port);
  }

  /** Hands an established session's records to the native path, if it can carry them. */
  adopt(session: DtlsConnection): void {
    if (this.closed) return;
    const st = session.fastPathState();
    if (st === undefined) return;
    const h = this.addon.register(
      this.fp,
      session.remoteAddress,
      session.remotePort,
      st.suite,
      st.epoch,
      st.readKey,
      st.readKeyOffset,
      st.readSalt,
      st.writeKey,
      st.writeKeyOffset,
      st.writeSalt,
      st.top,
      st.low,
      st.high,
      st.writeSeq,
    );
    if (h < 0) return;
    this.sessions[h] = session;
    session.fastHandle = h;
  }

  /** Takes a session's record state back into JS (ConnectionHooks.reclaim). */
  reclaim(session: DtlsConnection): void {
    const h = session.fastHandle;
    if (h < 0) return;
    if (this.sessions[h] === session) this.sessions[h] = undefined;
    if (this.closed || !this.addon.take(this.fp, h, this.state)) return;
    const s = this.state;
    session.restoreRecordState(s[0]!, s[1]!, s[2]!, s[3]!);
  }

  /** Seals and sends application data natively (ConnectionHooks.fastSend); false = use JS. */
  fastSend(session: DtlsConnection, data: Uint8Array): boolean {
    if (this.closed) return false;
    return this.addon.send(this.fp, session.fastHandle, data) === 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.fp);
    this.sessions.length = 0;
  }

  /** One call per received batch: `bytes` of items in `out` (layout: fastpath.c's header). */
  private readonly onBatch = (bytes: number): void => {
    const out = this.out;
    // The receiver may keep the data, so it must not stay in `out` (reused by the next batch).
    // Plaintexts are copied into a slab and handed out as views of it, as node's Buffer pool
    // does for small buffers: an ArrayBuffer per record (a malloc each, GC-tracked) made the
    // collector the largest item of the profile. A kept view keeps its 8 KiB slab alive.
    let o = 0;
    while (o < bytes) {
      const kind = out[o]!;
      if (kind === 1) {
        const h = out.readUInt32LE(o + 1);
        const len = out.readUInt32LE(o + 5);
        const start = o + 9;
        o = start + len;
        const session = this.sessions[h];
        if (session === undefined) continue;
        let data: Buffer;
        if (len > SLAB_SIZE / 2) {
          data = Buffer.allocUnsafeSlow(len);
          out.copy(data, 0, start, start + len);
        } else {
          if (this.slabUsed + len > SLAB_SIZE) {
            this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
            this.slabUsed = 0;
          }
          const at = this.slabUsed;
          out.copy(this.slab, at, start, start + len);
          data = this.slab.subarray(at, at + len);
          // 8-byte aligned like node's pool.
          this.slabUsed = (at + len + 7) & ~7;
        }
        session.deliverFastRecord(data);
      } else if (kind === 3) {
        const h = out.readUInt32LE(o + 1);
        o += 5;
        const session = this.sessions[h];
        if (session !== undefined && session.fastHandle === h) this.reclaim(session);
      } else if (kind === 2) {
        const textLength = out[o + 1]!;
        const address = out.toString('latin1', o + 2, o + 2 + textLength);
        let p = o + 2 + textLength;
        const port = out.readUInt16LE(p);
        const len = out.readUInt32LE(p + 2);
        p += 6;
        o = p + len;
        const msg = Buffer.allocUnsafeSlow(len);
        out.copy(msg, 0, p, p + len);
        this.owner.rawDatagram(msg, { address, port, family: address.includes(':') ? 'IPv6' : 'IPv4', size: len });
      } else {
        // Cannot happen (the addon writes only the kinds above); stop rather than misread.
        return;
      }
    }
  };
}
