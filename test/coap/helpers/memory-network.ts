/**
 * An in-memory datagram network for endpoint tests: each transport has a peer key, delivery is
 * asynchronous (setImmediate), and datagrams can be lost with a seeded probability or dropped
 * by a filter. Every datagram is recorded for assertions on the wire.
 */
import type { DatagramTransport, PeerKey } from '../../../src/coap/transport.js';

export interface WireRecord {
  from: PeerKey;
  to: PeerKey;
  data: Uint8Array;
  dropped: boolean;
}

/** Mulberry32: a small seeded PRNG so lossy runs are reproducible. */
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

export class MemoryNetwork {
  readonly wire: WireRecord[] = [];
  readonly #receivers = new Map<PeerKey, (peer: PeerKey, data: Uint8Array) => void>();
  readonly #random: () => number;
  loss = 0;
  /** Return true to drop a datagram. */
  filter: ((from: PeerKey, to: PeerKey, data: Uint8Array) => boolean) | undefined;

  constructor(seed = 1) {
    this.#random = seededRandom(seed);
  }

  transport(key: PeerKey): MemoryTransport {
    return new MemoryTransport(this, key);
  }

  register(key: PeerKey, cb: (peer: PeerKey, data: Uint8Array) => void): void {
    this.#receivers.set(key, cb);
  }

  unregister(key: PeerKey): void {
    this.#receivers.delete(key);
  }

  deliver(from: PeerKey, to: PeerKey, data: Uint8Array): void {
    const dropped = (this.filter?.(from, to, data) ?? false) || (this.loss > 0 && this.#random() < this.loss);
    this.wire.push({ from, to, data: data.slice(), dropped });
    if (dropped) return;
    const copy = data.slice();
    setImmediate(() => this.#receivers.get(to)?.(from, copy));
  }

  /** Datagrams from → to that were not dropped. */
  delivered(from: PeerKey, to: PeerKey): Uint8Array[] {
    return this.wire.filter((w) => w.from === from && w.to === to && !w.dropped).map((w) => w.data);
  }
}

export class MemoryTransport implements DatagramTransport {
  readonly key: PeerKey;
  readonly #net: MemoryNetwork;
  #closed = false;

  constructor(net: MemoryNetwork, key: PeerKey) {
    this.#net = net;
    this.key = key;
  }

  send(peer: PeerKey, data: Uint8Array): void {
    if (!this.#closed) this.#net.deliver(this.key, peer, data);
  }

  onDatagram(cb: (peer: PeerKey, data: Uint8Array) => void): void {
    this.#net.register(this.key, cb);
  }

  close(): void {
    this.#closed = true;
    this.#net.unregister(this.key);
  }
}

/** Resolves on the next macrotask turns, letting in-flight datagrams land. */
export function settle(turns = 5): Promise<void> {
  return new Promise((resolve) => {
    let n = 0;
    const step = (): void => {
      if (++n >= turns) resolve();
      else setImmediate(step);
    };
    setImmediate(step);
  });
}
