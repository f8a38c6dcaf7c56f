/**
 * The datagram transport a CoapEndpoint runs on. The endpoint knows peers only as opaque keys:
 * for plain UDP a key is `address:port` (`[v6]:port`); the DTLS room gives each DTLS session a
 * key, so one endpoint carries server-role and client-role traffic over the same session.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

export type PeerKey = string;

export interface DatagramTransport {
  /** Sends one datagram. May throw when the peer is unreachable for good (no DTLS session). */
  send(peer: PeerKey, data: Uint8Array): void;
  /** Registers the single receiver; a later call replaces it. */
  onDatagram(cb: (peer: PeerKey, data: Uint8Array) => void): void;
  /**
   * Optional (secure transports): registers the single receiver told when a new security
   * association with `peer` begins (a DTLS handshake completed). The endpoint then forgets the
   * message IDs it saw from that peer key, which belonged to the previous association.
   */
  onNewSession?(cb: (peer: PeerKey) => void): void;
  close(): void | Promise<void>;
}

/** `127.0.0.1:5683`, `[::1]:5683`. */
export function udpPeerKey(address: string, port: number): PeerKey {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Peer keys seen recently and their parsed address and port, so that sending a reply costs a map
 * lookup rather than a regular expression and an `isIP` per datagram. A key's parse is a pure
 * function of the key, so a cached answer is the same answer; the map is emptied when it reaches
 * PEER_CACHE_MAX (a server with more live peers than that parses again, as before).
 */
const PEER_CACHE_MAX = 4096;

export function parseUdpPeerKey(key: PeerKey): { address: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.%\w]+)\]|([0-9.]+)):(\d{1,5})$/.exec(key);
  const port = m ? Number(m[3]) : NaN;
  const address = m ? (m[1] ?? m[2])! : '';
  if (!m || port < 1 || port > 65535 || isIP(address) === 0) throw new InvalidArgumentError('peer', `not a UDP peer key: ${JSON.stringify(key)}`);
  return { address, port };
}

export interface UdpTransportOptions {
  /** Address to bind (default 127.0.0.1); an IPv6 address binds a udp6 socket. */
  address?: string;
  /** Port to bind; 0 (default) picks a free one. */
  port?: number;
}

/** Plain UDP over node:dgram: NoSec CoAP (RFC 7252 §9). */
export class UdpTransport implements DatagramTransport {
  readonly #socket: Socket;
  readonly #peers = new Map<PeerKey, { address: string; port: number; family: number }>();
  /** Source port → the last source address seen from it and its peer key (see #keyOf). */
  readonly #keys = new Map<number, { address: string; key: PeerKey }>();
  #receiver: ((peer: PeerKey, data: Uint8Array) => void) | undefined;
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (msg, rinfo) => {
      const receiver = this.#receiver;
      if (receiver === undefined) return;
      receiver(this.#keyOf(rinfo.address, rinfo.port, rinfo.family), new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
    });
    // ICMP errors and the like must not bring the process down; CoAP's retransmission covers loss.
    socket.on('error', () => {});
  }

  static bind(options: UdpTransportOptions = {}): Promise<UdpTransport> {
    const address = options.address ?? '127.0.0.1';
    const family = isIP(address);
    if (family === 0) throw new InvalidArgumentError('address', `not an IP address: ${address}`);
    // Peers are IP literals (peer keys): resolved in place rather than by dns.lookup, which
    // answers a literal on the next tick, once per datagram sent.
    const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6, lookup: literalLookup });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port: options.port ?? 0, exclusive: true }, () => {
        socket.off('error', reject);
        resolve(new UdpTransport(socket));
      });
    });
  }

  /**
   * The peer key of a datagram's source: the string made for the last datagram from that port
   * when the address is the same. A fresh key string per datagram was a concatenation to flatten
   * and hash again in every map it is looked up in (dedup cache, observers), and one more string
   * held per dedup entry.
   */
  #keyOf(address: string, port: number, family: string): PeerKey {
    const known = this.#keys.get(port);
    if (known !== undefined && known.address === address) return known.key;
    // rinfo.family says what isIP(address) would (the kernel gave a literal of that family).
    const key = family === 'IPv6' ? `[${address}]:${port}` : `${address}:${port}`;
    if (this.#keys.size >= PEER_CACHE_MAX) this.#keys.clear();
    this.#keys.set(port, { address, key });
    return key;
  }

  /** The bound address and port. */
  get local(): { address: string; port: number } {
    const a = this.#socket.address();
    return { address: a.address, port: a.port };
  }

  /** The key other endpoints use for this one. */
  get localKey(): PeerKey {
    const a = this.local;
    return udpPeerKey(a.address, a.port);
  }

  send(peer: PeerKey, data: Uint8Array): void {
    if (this.#closed) return;
    let p = this.#peers.get(peer);
    if (p === undefined) {
      const parsed = parseUdpPeerKey(peer); // throws InvalidArgumentError for a key that is no UDP peer
      p = { address: parsed.address, port: parsed.port, family: isIP(parsed.address) };
      if (this.#peers.size >= PEER_CACHE_MAX) this.#peers.clear();
      this.#peers.set(peer, p);
    }
    // dgram asks literalLookup for the address it was given: this one is known to be a literal.
    checkedLiteral = p.address;
    checkedFamily = p.family;
    this.#socket.send(data, p.port, p.address);
  }

  onDatagram(cb: (peer: PeerKey, data: Uint8Array) => void): void {
    this.#receiver = cb;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** The address UdpTransport.send is handing to dgram, already known to be an IP literal of checkedFamily. */
let checkedLiteral = '';
let checkedFamily = 0;

/** dgram's `lookup` for the IP literals of peer keys; anything else goes to dns.lookup. */
function literalLookup(hostname: string, options: LookupOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = hostname === checkedLiteral ? checkedFamily : isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, { ...(typeof options === 'number' ? { family: options } : options), all: false }, (err, address, fam) => callback(err, address, fam));
}
