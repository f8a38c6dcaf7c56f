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

/**
 * Message-ID deduplication (RFC 7252 §4.5): "The recipient SHOULD acknowledge each duplicate
 * copy of a Confirmable message using the same Acknowledgement or Reset message but SHOULD
 * process any request or response in the message only once." Entries live EXCHANGE_LIFETIME
 * (NON_LIFETIME for NON); at `maxEntries` the oldest is evicted.
 *
 * Every registered device leaves one entry here for EXCHANGE_LIFETIME (247 s): its Register and
 * the reply to resend on a duplicate. So an entry is no object of its own: `add()` returns a
 * slot number, the slot's peer, message ID and expiry sit in plain arrays (a ring in insertion
 * order), and the reply bytes are copied into shared slabs (up to 64 KiB) (offset and length per slot)
 * rather than kept as one typed array each. A peer with one live entry is indexed by that slot
 * number alone; a per-peer map appears only when a peer has several live entries at once.
 */
export class DedupCache {
  /** Peer → slot of its only live entry, or message ID → slot when it has several. */
  readonly #index = new Map<PeerKey, number | Map<number, number>>();
  #size = 0;
  // The ring: slot s lives at array position s - #base; #head is the oldest slot still queued.
  // Not a map's own iteration order: V8 leaves a hole for every deleted Map entry until the next
  // rehash, so reading the "oldest" through `keys().next()` walks all holes left by earlier
  // evictions — at 50,000 entries and thousands of requests/s that walk was a quarter of the
  // server's CPU (bench/coaps.ts profile). Slots whose entry was re-added are skipped.
  #peers: PeerKey[] = [];
  #ids: number[] = [];
  #expires: number[] = [];
  /** Absolute byte position of the slot's reply in the slab stream, or -1 for none yet. */
  #replyAt: number[] = [];
  #replyLength: number[] = [];
  #base = 0;
  #head = 0;
  // Reply bytes: slabs in stream order, each with its first absolute byte position and the
  // newest slot whose reply it holds (it is dropped once that slot has left the ring).
  #slabs: Array<{ bytes: Uint8Array; start: number; lastSlot: number }> = [];
  #slabEnd = 0;
  #used = 0;
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#size;
  }

  /** The live slot for this peer and message ID, or -1. */
  get(peer: PeerKey, messageId: number, now: number): number {
    const found = this.#index.get(peer);
    if (found === undefined) return -1;
    const slot = typeof found === 'number' ? (this.#ids[found - this.#base] === messageId ? found : undefined) : found.get(messageId);
    if (slot === undefined || this.#expires[slot - this.#base]! <= now) return -1;
    return slot;
  }

  /** Records a first-seen message; returns its slot so the reply can be filled in later. */
  add(peer: PeerKey, messageId: number, now: number, lifetime: number): number {
    this.#sweep(now);
    const slot = this.#base + this.#peers.length;
    this.#peers.push(peer);
    this.#ids.push(messageId);
    this.#expires.push(now + lifetime);
    this.#replyAt.push(-1);
    this.#replyLength.push(0);
    const found = this.#index.get(peer);
    if (found === undefined) {
      this.#index.set(peer, slot);
      this.#size++;
    } else if (typeof found === 'number') {
      const other = this.#ids[found - this.#base]!;
      if (other === messageId) {
        this.#index.set(peer, slot);
        this.#ids[found - this.#base] = DEAD;
      } else {
        this.#index.set(peer, new Map([[other, found], [messageId, slot]]));
        this.#size++;
      }
    } else {
      const replaced = found.get(messageId);
      found.set(messageId, slot);
      if (replaced === undefined) this.#size++;
      else this.#ids[replaced - this.#base] = DEAD;
    }
    while (this.#size > this.#maxEntries) this.#dropOldest();
    return slot;
  }

  /**
   * Forgets every entry of `peer`: a new security association began at that address (a DTLS
   * handshake completed there). Message IDs are scoped to the association (RFC 7252 §9.1: the
   * DTLS session is the CoAP endpoint's association), and an address can pass to another client
   * — a reused ephemeral port, a NAT binding — whose first message IDs may equal ones still
   * cached; answering those from the cache would resend the earlier client's reply instead of
   * processing the new request. The slots stay in the ring and are skipped as dead.
   */
  forget(peer: PeerKey): void {
    const found = this.#index.get(peer);
    if (found === undefined) return;
    this.#index.delete(peer);
    if (typeof found === 'number') {
      this.#ids[found - this.#base] = DEAD;
      this.#size--;
    } else {
      for (const slot of found.values()) this.#ids[slot - this.#base] = DEAD;
      this.#size -= found.size;
    }
  }

  /** What was answered to the slot's message (ACK, RST, piggybacked response), to resend verbatim. */
  reply(slot: number): Uint8Array | undefined {
    const i = slot - this.#base;
    if (i < this.#head - this.#base || i >= this.#peers.length) return undefined;
    const at = this.#replyAt[i]!;
    if (at < 0) return undefined;
    for (let s = this.#slabs.length - 1; s >= 0; s--) {
      const slab = this.#slabs[s]!;
      if (slab.start <= at) return slab.bytes.subarray(at - slab.start, at - slab.start + this.#replyLength[i]!);
    }
    return undefined;
  }

  /** Keeps a copy of `bytes` as the slot's reply (a slot already evicted keeps nothing). */
  setReply(slot: number, bytes: Uint8Array): void {
    const i = slot - this.#base;
    if (i < this.#head - this.#base || i >= this.#peers.length) return;
    let slab = this.#slabs[this.#slabs.length - 1];
    if (slab === undefined || this.#used + bytes.length > slab.bytes.length) {
      // Slabs double from a small first one: an endpoint per simulated device holds one entry.
      const size = Math.max(bytes.length, slab === undefined ? FIRST_SLAB_BYTES : Math.min(MAX_SLAB_BYTES, slab.bytes.length * 2));
      slab = { bytes: new Uint8Array(size), start: this.#slabEnd, lastSlot: slot };
      this.#slabs.push(slab);
      this.#used = 0;
    }
    slab.bytes.set(bytes, this.#used);
    this.#replyAt[i] = slab.start + this.#used;
    this.#replyLength[i] = bytes.length;
    this.#used += bytes.length;
    this.#slabEnd = slab.start + this.#used;
    if (slot > slab.lastSlot) slab.lastSlot = slot;
  }

  /** Removes the oldest queued slot (and its index entry, if it is still the live one). */
  #dropOldest(): void {
    const i = this.#head - this.#base;
    const id = this.#ids[i]!;
    // A dead slot (replaced by a newer one, or forgotten) is no longer indexed: nothing to look up.
    if (id !== DEAD) {
      const peer = this.#peers[i]!;
      const found = this.#index.get(peer);
      if (found === this.#head) {
        this.#index.delete(peer);
        this.#size--;
      } else if (found !== undefined && typeof found !== 'number' && found.get(id) === this.#head) {
        found.delete(id);
        this.#size--;
        if (found.size === 0) this.#index.delete(peer);
      }
    }
    this.#head++;
    while (this.#slabs.length > 1 && this.#slabs[0]!.lastSlot < this.#head) this.#slabs.shift();
    // Compact the ring once most of it is consumed (amortised O(1) per entry).
    const consumed = this.#head - this.#base;
    if (consumed > 1024 && consumed * 2 > this.#peers.length) {
      this.#peers = this.#peers.slice(consumed);
      this.#ids = this.#ids.slice(consumed);
      this.#expires = this.#expires.slice(consumed);
      this.#replyAt = this.#replyAt.slice(consumed);
      this.#replyLength = this.#replyLength.slice(consumed);
      this.#base = this.#head;
    }
  }

  // Insertion order is roughly expiry order (CON and NON lifetimes differ), so dropping expired
  // entries from the front keeps the index bounded by traffic of the last lifetime.
  #sweep(now: number): void {
    while (this.#head - this.#base < this.#peers.length) {
      const i = this.#head - this.#base;
      if (this.#expires[i]! > now && this.#isLive(this.#head)) break;
      this.#dropOldest();
    }
  }

  /** Whether the slot is still its peer and message ID's indexed entry (every other is marked DEAD). */
  #isLive(slot: number): boolean {
    return this.#ids[slot - this.#base] !== DEAD;
  }
}

/** In place of a message ID: the slot was replaced by a newer one for the same peer and ID, or forgotten. */
const DEAD = -1;

/** Reply bytes are copied into slabs doubling from this size up to MAX_SLAB_BYTES (a Register reply is ~30 bytes). */
const FIRST_SLAB_BYTES = 128;
const MAX_SLAB_BYTES = 64 * 1024;

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
