/**
 * The DTLS 1.2 server over node:dgram: stateless cookie exchange in front, a table of
 * per-peer sessions behind it, and the limits that keep a flood from exhausting memory.
 *
 * Events: 'session' (session) when a handshake completes; 'handshakeError' (err, peerKey,
 * session?) when one fails (a DtlsHandshakeTimeoutError carries `peer` and the `identity`
 * presented so far); 'sessionClosed' (session, err?) when an established session ends; 'limit' (peerKey)
 * (peerKey, DtlsLimitError) when maxSessions, maxHalfOpen or handshakeRate refuses a handshake; 'addressChange' (session, previousAddress)
 * when a session with a connection ID moves (RFC 9146 §6).
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { lookup as dnsLookup, type LookupOptions } from 'node:dns';
import { isIP, type AddressInfo } from 'node:net';
import { ContentType, DTLS_1_0, HandshakeType } from './constants.js';
import { CookieJar } from './cookie.js';
import { peerKeyOf, type ConnectionHooks } from './connection.js';
import { decodeHandshakeFragments, encodeHandshakeMessage } from './handshake-fragment.js';
import { decodeClientHello, encodeHelloVerifyRequest, type ClientHello } from './handshake.js';
import { decodeDatagram, encodeRecord, type DtlsRecord } from './record.js';
import { ServerSession, type ServerSessionOptions } from './server-session.js';
import { SessionCache, type SessionCacheOptions } from './session-cache.js';
import { DtlsError, DtlsHandshakeTimeoutError, DtlsLimitError } from './errors.js';
import { InvalidArgumentError } from '../errors.js';
import { loadFastPath, NativeServerSocket } from './native-fastpath.js';
import { assertInteger } from '../util/assert.js';

export interface DtlsServerOptions extends ServerSessionOptions {
  /** A bound or unbound UDP socket to serve on; otherwise one is created on `port`/`host`. */
  socket?: Socket;
  port?: number;
  /** Default 127.0.0.1 (loopback); pass '0.0.0.0' or '::' to serve every interface. */
  host?: string;
  /** An IPv6 `host` serves IPv6 only (no IPv4-mapped peers), as node:dgram's `ipv6Only`. Default false. */
  ipv6Only?: boolean;
  /** Established plus half-open sessions (default 10,000). */
  maxSessions?: number;
  /** Handshakes past the cookie exchange but not finished (default 1,000). */
  maxHalfOpen?: number;
  /** An established session with no authenticated record for this long is dropped (default 15 min). */
  idleTimeoutMs?: number;
  /** A handshake not finished in this time is dropped (default 60 s). */
  handshakeTimeoutMs?: number;
  /** How often the cookie secret rotates (default 60 s). */
  cookieRotationMs?: number;
  /**
   * Handshakes one IP address may start (past the cookie) per window (default 10,000 per 10 s:
   * generous, because a fleet behind one NAT shares an address and reconnects at once after an
   * outage). Counted only after the cookie checks out, so spoofed floods allocate nothing.
   */
  handshakeRate?: { perAddress: number; windowMs: number };
  /** Session resumption by session ID (RFC 5246 §7.3); `false` turns it off. Default 10,000 entries, 24 h. */
  sessionCache?: SessionCacheOptions | false;
  /**
   * Serve on the native fast path (native-fastpath.ts) when the addon is built and the server
   * makes its own socket on an IP literal (default true; `ROOTLINE_DTLS_NATIVE=0` also turns it
   * off). Otherwise node:dgram.
   */
  nativeFastPath?: boolean;
}

export class DtlsServer extends EventEmitter {
  /**
   * Every session (half-open ones too) by peer key: `address:port`, or `cid:<hex>` once a
   * session with an RFC 9146 connection ID is established (it may then change address).
   */
  readonly sessions = new Map<string, ServerSession>();
  /**
   * Routing by the address records currently come from, keyed by port (a small integer: no
   * `address:port` string per datagram); the address is then compared. Several sessions on one
   * port (different addresses) share an array.
   */
  private readonly byPort = new Map<number, ServerSession | ServerSession[]>();
  private readonly byCid = new Map<string, ServerSession>();
  private readonly cidLength: number;
  /** Resumable sessions (absent when resumption is off). */
  readonly sessionCache: SessionCache | undefined;
  private readonly rate: { perAddress: number; windowMs: number };
  private readonly handshakesByIp = new Map<string, { start: number; count: number }>();
  private halfOpen = 0;
  private readonly cookies: CookieJar;
  private readonly sweeper: NodeJS.Timeout;
  private readonly ownsSocket: boolean;
  private readonly maxSessions: number;
  private readonly maxHalfOpen: number;
  private readonly idleTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.handleDatagram(msg, rinfo);
  private closed = false;

  /** The node:dgram socket, when the server is not on the native fast path. */
  readonly socket: Socket | undefined;
  /** The native fast path's socket, when it serves. */
  private readonly native: NativeServerSocket | undefined;

  constructor(
    socket: Socket | NativeServerSocket,
    ownsSocket: boolean,
    private readonly opts: DtlsServerOptions,
  ) {
    super();
    this.ownsSocket = ownsSocket;
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.maxHalfOpen = opts.maxHalfOpen ?? 1_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 15 * 60_000;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 60_000;
    assertInteger(this.maxSessions, 'maxSessions', 1);
    assertInteger(this.maxHalfOpen, 'maxHalfOpen', 1);
    assertInteger(this.idleTimeoutMs, 'idleTimeoutMs', 1);
    assertInteger(this.handshakeTimeoutMs, 'handshakeTimeoutMs', 1);
    this.rate = opts.handshakeRate ?? { perAddress: 10_000, windowMs: 10_000 };
    assertInteger(this.rate.perAddress, 'handshakeRate.perAddress', 1);
    assertInteger(this.rate.windowMs, 'handshakeRate.windowMs', 1);
    this.sessionCache = opts.sessionCache === false ? undefined : new SessionCache(opts.sessionCache);
    this.cidLength = opts.connectionIdLength ?? 6;
    assertInteger(this.cidLength, 'connectionIdLength', 0, 32);
    this.cookies = new CookieJar(opts.cookieRotationMs ?? 60_000);
    if (socket instanceof NativeServerSocket) {
      this.native = socket;
      this.socket = undefined;
    } else {
      this.native = undefined;
      this.socket = socket;
      socket.on('message', this.onMessage);
    }
    const sweepEvery = Math.max(20, Math.min(this.idleTimeoutMs, this.handshakeTimeoutMs) / 4);
    this.sweeper = setInterval(() => this.sweep(), sweepEvery);
    this.sweeper.unref();
  }

  address(): AddressInfo {
    return this.native !== undefined ? this.native.address() : this.socket!.address();
  }

  /** Whether the native fast path serves (and how many sessions it carries now). */
  get nativeFastPath(): { fastSessions: number; droppedSends: number } | undefined {
    return this.native?.stats();
  }

  /** A datagram the native fast path hands to JS (everything but fast sessions' application data). */
  rawDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    this.handleDatagram(msg, rinfo);
    // A session taken back for this datagram (or one that could not be adopted earlier, e.g.
    // while its handshake's last step was still running) goes (back) to the fast path.
    const s = this.sessionAt(rinfo.address, rinfo.port);
    if (s !== undefined && s.fastHandle < 0 && s.established) this.native?.adopt(s);
  }

  /** Handshakes in progress past the cookie exchange. */
  get halfOpenCount(): number {
    return this.halfOpen;
  }

  getSession(peerKey: string): ServerSession | undefined {
    const s = this.sessions.get(peerKey);
    return s?.established === true ? s : undefined;
  }

  /** Sends close_notify to every session and stops serving (closing the socket if we made it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const s of [...this.sessions.values()]) s.close();
    this.sessions.clear();
    this.byPort.clear();
    this.byCid.clear();
    if (this.native !== undefined) {
      // Its sends are synchronous: the close_notify alerts above are out.
      this.native.close();
      return;
    }
    const socket = this.socket!;
    socket.off('message', this.onMessage);
    // Closing a socket cancels queued sends; let the close_notify alerts go out first.
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    if (this.ownsSocket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private inFlight = 0;
  private drained: (() => void) | undefined;

  private transmitTo(address: string, port: number): (d: Uint8Array) => void {
    return (d) => this.sendDatagram(d, address, port);
  }

  private readonly onSent = (): void => {
    this.inFlight--;
    if (this.inFlight === 0) this.drained?.();
  };

  private sendDatagram(d: Uint8Array, address: string, port: number): void {
    if (this.native !== undefined) {
      this.native.send(d, port, address);
      return;
    }
    const socket = this.socket!;
    try {
      if (!this.closed) {
        // No completion callback while serving (node would schedule one per datagram).
        socket.send(d, port, address);
        return;
      }
      // While closing, the last datagrams (close_notify) are counted so that the socket is
      // closed only after them; libuv sends in order, so every earlier datagram is out too.
      this.inFlight++;
      socket.send(d, port, address, this.onSent);
    } catch {
      if (this.closed) this.onSent();
      // The socket is closing; the datagram is lost like any other.
    }
  }

  /** A fresh connection ID no live session uses. */
  private allocateConnectionId = (): Uint8Array => {
    for (;;) {
      const cid = new Uint8Array(randomBytes(this.cidLength));
      if (!this.byCid.has(Buffer.from(cid).toString('hex'))) return cid;
    }
  };

  /** The session a tls12_cid datagram belongs to, by the CID in its first record's header. */
  private routeByCid(msg: Buffer): ServerSession | undefined {
    if (this.cidLength === 0 || msg.length < 11 + this.cidLength || msg[0] !== ContentType.tls12Cid) return undefined;
    return this.byCid.get(msg.subarray(11, 11 + this.cidLength).toString('hex'));
  }

  private handleDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    try {
      const byCid = this.routeByCid(msg);
      if (byCid !== undefined) {
        byCid.handleDatagram(msg, rinfo);
        return;
      }
      const session = this.sessionAt(rinfo.address, rinfo.port);
      if (session !== undefined) {
        // Only an epoch-0 handshake record can start a new handshake: everything else (the
        // application data of established sessions) goes straight to the session.
        let hello = isEpoch0Handshake(msg) ? parseInitialClientHello(msg) : undefined;
        // A replayed or retransmitted ClientHello (same random) belongs to the association; one
        // with another random is a new handshake from this address (a rebooted client, or a new
        // client on a reused port while an abandoned handshake is still half-open) and must not
        // be fed to the old one, which would answer with its own, stale flight.
        if (hello !== undefined && session.isHelloReplay(hello.clientHello.random)) hello = undefined;
        // RFC 6347 §4.2.8: a ClientHello with epoch 0 on an established association may be a
        // rebooted client; it goes through the cookie exchange and only then replaces the
        // old association ("MUST NOT destroy the existing association until the client has
        // demonstrated reachability").
        if (hello === undefined) {
          session.handleDatagram(msg, rinfo);
          return;
        }
        this.stateless(msg, rinfo, peerKeyOf(rinfo.address, rinfo.port), hello, session);
        return;
      }
      const hello = parseInitialClientHello(msg);
      if (hello !== undefined) this.stateless(msg, rinfo, peerKeyOf(rinfo.address, rinfo.port), hello, undefined);
    } catch (err) {
      // Nothing a datagram contains may take the server down.
      if (!(err instanceof DtlsError)) this.emit('handshakeError', err, peerKeyOf(rinfo.address, rinfo.port));
    }
  }

  private stateless(msg: Buffer, rinfo: RemoteInfo, key: string, hello: ParsedHello, existing: ServerSession | undefined): void {
    const { record, messageSeq, clientHello } = hello;
    if (!this.cookies.verify(rinfo.address, rinfo.port, clientHello)) {
      // RFC 6347 §4.2.1: answer with a HelloVerifyRequest and keep no state. "The server MUST
      // use the record sequence number in the ClientHello as the record sequence number in
      // the HelloVerifyRequest", and SHOULD use DTLS 1.0 as its version.
      const cookie = this.cookies.create(rinfo.address, rinfo.port, clientHello);
      const hvr = encodeHandshakeMessage({
        msgType: HandshakeType.helloVerifyRequest,
        messageSeq,
        body: encodeHelloVerifyRequest({ serverVersion: DTLS_1_0, cookie }),
      });
      this.transmitTo(rinfo.address, rinfo.port)(
        encodeRecord({ type: ContentType.handshake, version: DTLS_1_0, epoch: 0, sequenceNumber: record.sequenceNumber, fragment: hvr }),
      );
      return;
    }
    // A session this handshake replaces does not count against the limits.
    const sessions = this.sessions.size - (existing === undefined || existing.closed ? 0 : 1);
    const halfOpen = this.halfOpen - (existing === undefined || existing.wasEstablished || existing.closed ? 0 : 1);
    if (sessions >= this.maxSessions || halfOpen >= this.maxHalfOpen) {
      this.emit('limit', key, new DtlsLimitError(halfOpen >= this.maxHalfOpen ? 'maxHalfOpen reached' : 'maxSessions reached'));
      return;
    }
    if (!this.countHandshake(rinfo.address)) {
      this.emit('limit', key, new DtlsLimitError(`handshake rate of ${rinfo.address} exceeded`));
      return;
    }
    if (existing !== undefined) existing.destroy();
    const session: ServerSession = new ServerSession(
      this.hooks,
      rinfo.address,
      rinfo.port,
      this.opts,
      messageSeq,
      record.sequenceNumber,
      this.cidLength > 0 ? this.allocateConnectionId : undefined,
      this.sessionCache,
    );
    // The session's own peerKey string is the map key (one string per session, not two).
    this.sessions.set(session.peerKey, session);
    this.route(session);
    this.halfOpen++;
    session.handleDatagram(msg, rinfo);
  }

  /** Receiver of every established session's application data (the CoAP transport). */
  private dataReceiver: ((session: ServerSession, data: Uint8Array) => void) | undefined;

  /**
   * Sets the single receiver of application data from every session (a later call replaces
   * it): what a transport uses instead of a 'data' listener per session. Sessions still emit
   * 'data' too.
   */
  setDataReceiver(cb: ((session: ServerSession, data: Uint8Array) => void) | undefined): void {
    this.dataReceiver = cb;
  }

  /** One hooks object for every session: no listener or closure per session. */
  private readonly hooks: ConnectionHooks<ServerSession> = {
    transmit: (session, d) => this.sendDatagram(d, session.remoteAddress, session.remotePort),
    established: (session) => {
      this.halfOpen--;
      const key = session.initialPeerKey;
      if (session.peerKey !== key) {
        if (this.sessions.get(key) === session) this.sessions.delete(key);
        this.sessions.get(session.peerKey)?.destroy();
        this.sessions.set(session.peerKey, session);
      }
      const cid = session.connectionId;
      if (cid !== undefined) this.byCid.set(Buffer.from(cid).toString('hex'), session);
      this.native?.adopt(session);
      this.emit('session', session);
    },
    addressChange: (session, previous, previousPort) => {
      // RFC 9146 §6: the session moved; route its new address to it.
      this.unroute(session, previousPort);
      const other = this.sessionAt(session.remoteAddress, session.remotePort);
      if (other !== undefined && other !== session) other.destroy();
      this.route(session);
      this.emit('addressChange', session, previous);
    },
    closed: (session, err) => {
      const key = session.initialPeerKey;
      if (!session.wasEstablished) this.halfOpen--;
      if (this.sessions.get(session.peerKey) === session) this.sessions.delete(session.peerKey);
      if (this.sessions.get(key) === session) this.sessions.delete(key);
      this.unroute(session, session.remotePort);
      const cid = session.connectionId;
      if (cid !== undefined && this.byCid.get(Buffer.from(cid).toString('hex')) === session) this.byCid.delete(Buffer.from(cid).toString('hex'));
      if (session.wasEstablished) this.emit('sessionClosed', session, err);
      else if (err !== undefined) {
        if (err instanceof DtlsHandshakeTimeoutError) {
          // Who timed out and with which identity, so the refusal can be audited (e.g. a
          // wrong PSK shows only as a Finished that never authenticates).
          err.peer ??= key;
          if (err.identity === undefined && session.identity.type !== 'none') err.identity = session.identity;
        }
        this.emit('handshakeError', err, key, session);
      }
    },
    data: (session, data) => this.dataReceiver?.(session, data),
    reclaim: (session) => this.native?.reclaim(session),
    fastSend: (session, data) => this.native !== undefined && this.native.fastSend(session, data),
  };

  /** The session whose records currently come from `address`:`port`. */
  private sessionAt(address: string, port: number): ServerSession | undefined {
    const at = this.byPort.get(port);
    if (at === undefined) return undefined;
    if (!Array.isArray(at)) return at.remoteAddress === address ? at : undefined;
    for (const s of at) if (s.remoteAddress === address) return s;
    return undefined;
  }

  private route(session: ServerSession): void {
    const port = session.remotePort;
    const at = this.byPort.get(port);
    if (at === undefined) this.byPort.set(port, session);
    else if (Array.isArray(at)) at.push(session);
    else this.byPort.set(port, [at, session]);
  }

  private unroute(session: ServerSession, port: number): void {
    const at = this.byPort.get(port);
    if (at === session) this.byPort.delete(port);
    else if (Array.isArray(at)) {
      const i = at.indexOf(session);
      if (i >= 0) at.splice(i, 1);
      if (at.length === 1) this.byPort.set(port, at[0]!);
      else if (at.length === 0) this.byPort.delete(port);
    }
  }

  private countHandshake(ip: string): boolean {
    const now = Date.now();
    let entry = this.handshakesByIp.get(ip);
    if (entry === undefined || now - entry.start >= this.rate.windowMs) {
      // Bound the table itself: it only holds addresses that passed a cookie exchange.
      if (entry === undefined && this.handshakesByIp.size >= this.maxSessions) this.pruneRates(now);
      entry = { start: now, count: 0 };
      this.handshakesByIp.set(ip, entry);
    }
    entry.count++;
    return entry.count <= this.rate.perAddress;
  }

  private pruneRates(now: number): void {
    for (const [ip, e] of this.handshakesByIp) if (now - e.start >= this.rate.windowMs) this.handshakesByIp.delete(ip);
    if (this.handshakesByIp.size >= this.maxSessions) this.handshakesByIp.clear();
  }

  private sweep(): void {
    const now = Date.now();
    this.pruneRates(now);
    for (const s of [...this.sessions.values()]) {
      if (s.established) {
        if (now - s.lastActivity > this.idleTimeoutMs) s.destroy();
      } else if (now - s.createdAt > this.handshakeTimeoutMs) {
        // Reported as a handshake error: e.g. a wrong PSK shows only as a Finished that never decrypts.
        s.destroy(new DtlsHandshakeTimeoutError(`handshake not finished within ${this.handshakeTimeoutMs} ms`));
      }
    }
  }
}

interface ParsedHello {
  record: DtlsRecord;
  messageSeq: number;
  clientHello: ClientHello;
}

/** A cheap look at the first record header: handshake content type in epoch 0. */
function isEpoch0Handshake(msg: Uint8Array): boolean {
  return msg.length >= 13 && msg[0] === ContentType.handshake && msg[3] === 0 && msg[4] === 0;
}

/** The first record of the datagram, if it is an unfragmented epoch-0 ClientHello. */
function parseInitialClientHello(msg: Uint8Array): ParsedHello | undefined {
  const record = decodeDatagram(msg)[0];
  if (record === undefined || record.type !== ContentType.handshake || record.epoch !== 0) return undefined;
  let frag;
  try {
    frag = decodeHandshakeFragments(record.fragment)[0];
    if (frag === undefined || frag.msgType !== HandshakeType.clientHello || frag.fragmentOffset !== 0 || frag.body.length !== frag.length) {
      return undefined;
    }
    return { record, messageSeq: frag.messageSeq, clientHello: decodeClientHello(frag.body) };
  } catch (err) {
    if (err instanceof DtlsError) return undefined;
    throw err;
  }
}


const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

/** dgram's `lookup` for IP literals: answered synchronously; anything else goes to dns.lookup. */
export function literalLookup(hostname: string, options: LookupOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, { ...(typeof options === 'number' ? { family: options } : options), all: false }, (err, address, fam) => callback(err, address, fam));
}

/** Creates a DTLS server and resolves once its socket is bound. */
export async function createDtlsServer(opts: DtlsServerOptions): Promise<DtlsServer> {
  if (opts.psk === undefined && opts.certificate === undefined) {
    throw new InvalidArgumentError('opts', 'give psk and/or certificate credentials');
  }
  if (opts.socket !== undefined) return new DtlsServer(opts.socket, false, opts);
  const host = opts.host ?? '127.0.0.1';
  const addon = opts.nativeFastPath === false || isIP(host) === 0 ? undefined : loadFastPath();
  if (addon !== undefined) {
    // The socket's raw datagrams go to the server made right after it (nothing arrives before
    // the event loop turns).
    const owner = { server: undefined as DtlsServer | undefined, rawDatagram: (msg: Buffer, rinfo: RemoteInfo) => owner.server?.rawDatagram(msg, rinfo) };
    const server = new DtlsServer(new NativeServerSocket(addon, host, opts.port ?? 0, owner, opts.ipv6Only === true), true, opts);
    owner.server = server;
    return server;
  }
  // Peers are always addressed by the IP literal their datagrams came from: resolve it in place
  // (node's default dns.lookup answers an IP literal on the next tick, per datagram sent).
  const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', ...(opts.ipv6Only === true ? { ipv6Only: true } : {}), lookup: literalLookup });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port ?? 0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A socket error (e.g. ICMP unreachable surfacing on some platforms) must not crash the process.
  socket.on('error', () => undefined);
  // The kernel default (~200 KiB) overflows when thousands of devices handshake at once, and each
  // dropped flight costs the device a retransmission (1 s and up): ask for 4 MiB, as the native
  // fast path does (the kernel caps it at net.core.rmem_max).
  try {
    socket.setRecvBufferSize(RECV_BUFFER_BYTES);
  } catch {
    // Not permitted or not supported: the default buffer still works, only less well under bursts.
  }
  return new DtlsServer(socket, true, opts);
}
