/**
 * RFC 7252 §4.8 transmission parameters and the bookkeeping that follows from them: the
 * message-ID deduplication cache (§4.5) and the NSTART limit (§4.7). No sockets; the cache
 * expires entries lazily, so it holds no timers.
 */
import type { PeerKey } from './transport.js';

export interface TransmissionParameters {
  /** ACK_TIMEOUT, default 2000 ms. */
  ackTimeoutMs: number;
  /** ACK_RANDOM_FACTOR, default 1.5. */
  ackRandomFactor: number;
  /** MAX_RETRANSMIT, default 4. */
  maxRetransmit: number;
  /** NSTART, default 1. */
  nstart: number;
  /** MAX_LATENCY, default 100 s. */
  maxLatencyMs: number;
}

export const DEFAULT_TRANSMISSION: TransmissionParameters = {
  ackTimeoutMs: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  nstart: 1,
  maxLatencyMs: 100_000,
};

/** RFC 7252 §4.8.2: MAX_TRANSMIT_SPAN = ACK_TIMEOUT * ((2 ** MAX_RETRANSMIT) - 1) * ACK_RANDOM_FACTOR. */
export function maxTransmitSpan(p: TransmissionParameters): number {
  return p.ackTimeoutMs * (2 ** p.maxRetransmit - 1) * p.ackRandomFactor;
}

/** MAX_TRANSMIT_WAIT = ACK_TIMEOUT * ((2 ** (MAX_RETRANSMIT + 1)) - 1) * ACK_RANDOM_FACTOR. */
export function maxTransmitWait(p: TransmissionParameters): number {
  return p.ackTimeoutMs * (2 ** (p.maxRetransmit + 1) - 1) * p.ackRandomFactor;
}

/** EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 * MAX_LATENCY + PROCESSING_DELAY (= ACK_TIMEOUT). */
export function exchangeLifetime(p: TransmissionParameters): number {
  return maxTransmitSpan(p) + 2 * p.maxLatencyMs + p.ackTimeoutMs;
}

/** NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY. */
export function nonLifetime(p: TransmissionParameters): number {
  return maxTransmitSpan(p) + p.maxLatencyMs;
}

/**
 * RFC 7252 §4.2: "the initial timeout is set to a random duration ... between ACK_TIMEOUT and
 * (ACK_TIMEOUT * ACK_RANDOM_FACTOR)"; each retransmission doubles it.
 */
export function initialTimeout(p: TransmissionParameters, random: () => number): number {
  return p.ackTimeoutMs * (1 + random() * (p.ackRandomFactor - 1));
}

export interface DedupEntry {
  expires: number;
  /** What we answered (ACK, RST, piggybacked response); resent verbatim on a duplicate. */
  reply: Uint8Array | undefined;
}

/**
 * Message-ID deduplication (RFC 7252 §4.5): "The recipient SHOULD acknowledge each duplicate
 * copy of a Confirmable message using the same Acknowledgement or Reset message but SHOULD
 * process any request or response in the message only once." Entries live EXCHANGE_LIFETIME
 * (NON_LIFETIME for NON); at `maxEntries` the oldest is evicted.
 */
export class DedupCache {
  /**
   * Entries by peer, then message ID: no `peer|mid` string is built per message (the peer key
   * is a string the caller already holds; the message ID a small integer).
   */
  readonly #byPeer = new Map<PeerKey, Map<number, DedupEntry>>();
  #size = 0;
  // Insertion order kept beside the maps, consumed from `#head`. Not a map's own iteration
  // order: V8 leaves a hole for every deleted Map entry until the next rehash, so reading the
  // "oldest" through `keys().next()` walks all holes left by earlier evictions — at 50,000
  // entries and thousands of requests/s that walk was a quarter of the server's CPU
  // (bench/coaps.ts profile). Slots whose entry was re-added or already dropped are skipped.
  #orderPeers: PeerKey[] = [];
  #orderIds: number[] = [];
  #orderEntries: DedupEntry[] = [];
  #head = 0;
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#size;
  }

  /** The live entry for this peer and message ID, if any. */
  get(peer: PeerKey, messageId: number, now: number): DedupEntry | undefined {
    const e = this.#byPeer.get(peer)?.get(messageId);
    if (e === undefined || e.expires <= now) return undefined;
    return e;
  }

  /** Records a first-seen message; returns its entry so the reply can be filled in later. */
  add(peer: PeerKey, messageId: number, now: number, lifetime: number): DedupEntry {
    this.#sweep(now);
    const e: DedupEntry = { expires: now + lifetime, reply: undefined };
    let ids = this.#byPeer.get(peer);
    if (ids === undefined) {
      ids = new Map();
      this.#byPeer.set(peer, ids);
    }
    const before = ids.size;
    ids.set(messageId, e);
    if (ids.size !== before) this.#size++;
    this.#orderPeers.push(peer);
    this.#orderIds.push(messageId);
    this.#orderEntries.push(e);
    while (this.#size > this.#maxEntries) this.#dropOldest();
    return e;
  }

  /** Removes the oldest queued entry (if it is still the live one for its peer and ID). */
  #dropOldest(): void {
    const peer = this.#orderPeers[this.#head]!;
    const ids = this.#byPeer.get(peer);
    if (ids !== undefined) {
      const id = this.#orderIds[this.#head]!;
      if (ids.get(id) === this.#orderEntries[this.#head]) {
        ids.delete(id);
        this.#size--;
        if (ids.size === 0) this.#byPeer.delete(peer);
      }
    }
    this.#head++;
    // Compact the queue once most of it is consumed (amortised O(1) per entry).
    if (this.#head > 1024 && this.#head * 2 > this.#orderPeers.length) {
      this.#orderPeers = this.#orderPeers.slice(this.#head);
      this.#orderIds = this.#orderIds.slice(this.#head);
      this.#orderEntries = this.#orderEntries.slice(this.#head);
      this.#head = 0;
    }
  }

  // Insertion order is roughly expiry order (CON and NON lifetimes differ), so dropping expired
  // entries from the front keeps the maps bounded by traffic of the last lifetime.
  #sweep(now: number): void {
    while (this.#head < this.#orderPeers.length) {
      const e = this.#orderEntries[this.#head]!;
      if (e.expires > now && this.#byPeer.get(this.#orderPeers[this.#head]!)?.get(this.#orderIds[this.#head]!) === e) break;
      this.#dropOldest();
    }
  }
}

/**
 * RFC 7252 §4.7: "In order not to cause congestion, clients (including proxies) MUST strictly
 * limit the number of simultaneous outstanding interactions that they maintain to a given server
 * (including proxies) to NSTART." Each outstanding interaction holds a slot until released.
 */
export class NstartLimiter {
  readonly #limit: number;
  readonly #peers = new Map<PeerKey, { active: number; waiting: Array<() => void> }>();

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Resolves with a release function once the peer has a free slot. */
  acquire(peer: PeerKey): Promise<() => void> {
    let p = this.#peers.get(peer);
    if (p === undefined) {
      p = { active: 0, waiting: [] };
      this.#peers.set(peer, p);
    }
    const slot = p;
    const grant = (): (() => void) => {
      slot.active++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        slot.active--;
        const next = slot.waiting.shift();
        if (next !== undefined) next();
        else if (slot.active === 0) this.#peers.delete(peer);
      };
    };
    if (slot.active < this.#limit) return Promise.resolve(grant());
    return new Promise((resolve) => slot.waiting.push(() => resolve(grant())));
  }

  /** Outstanding plus queued interactions for a peer. */
  pending(peer: PeerKey): number {
    const p = this.#peers.get(peer);
    return p === undefined ? 0 : p.active + p.waiting.length;
  }
}
