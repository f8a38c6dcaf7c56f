/**
 * Observe (RFC 7641): the server's list of observers and the client's freshness rule. Pure
 * bookkeeping; the endpoint sends the notifications.
 */
import type { PeerKey } from './transport.js';

/** RFC 7641 §4.4: sequence numbers are 24-bit and wrap. */
export const OBSERVE_SEQ_MODULUS = 1 << 24;

/**
 * RFC 7641 §3.4: a notification (V2, arriving at T2) is newer than the last one (V1, T1) if
 *   (V1 < V2 and V2 - V1 < 2^23) or (V1 > V2 and V1 - V2 > 2^23) or (T2 > T1 + 128 seconds).
 */
export function isFresherNotification(v1: number, t1Ms: number, v2: number, t2Ms: number): boolean {
  const half = 1 << 23;
  return (v1 < v2 && v2 - v1 < half) || (v1 > v2 && v1 - v2 > half) || t2Ms > t1Ms + 128_000;
}

export interface ObserveRelation<R> {
  peer: PeerKey;
  token: Uint8Array;
  /** The resource path key the relation is on. */
  resource: string;
  /** What the server needs to regenerate a notification (the registering request). */
  request: R;
  /** Notifications sent so far (the registration response counts as one). */
  notifications: number;
  /** When the last CON notification was acknowledged or the relation made (ms). */
  lastConfirmedAt: number;
  /** Cancels the CON notification currently being retransmitted, if any. */
  cancelPending: (() => void) | undefined;
}

export interface ObserveLimits {
  /** Most relations one peer may hold (default 32). */
  maxPerPeer?: number;
  /** Most relations in total (default 100000). */
  maxTotal?: number;
}

function tokenHex(t: Uint8Array): string {
  return Buffer.from(t.buffer, t.byteOffset, t.length).toString('hex');
}

/**
 * RFC 7641 §4.1: "the entry in the list of observers is keyed by the client endpoint and the
 * token specified by the client in the request. If an entry with a matching endpoint/token pair
 * is already present in the list ..., the server MUST NOT add a new entry but MUST replace or
 * update the existing one."
 */
export class ObserveRegistry<R> {
  readonly #relations = new Map<string, ObserveRelation<R>>();
  readonly #perPeer = new Map<PeerKey, number>();
  readonly #maxPerPeer: number;
  readonly #maxTotal: number;
  #seq: number;

  constructor(limits: ObserveLimits = {}, initialSeq = 2) {
    this.#maxPerPeer = limits.maxPerPeer ?? 32;
    this.#maxTotal = limits.maxTotal ?? 100_000;
    this.#seq = initialSeq % OBSERVE_SEQ_MODULUS;
  }

  get size(): number {
    return this.#relations.size;
  }

  /** The next sequence number: one counter for the endpoint, so it only grows (mod 2^24). */
  nextSequence(): number {
    this.#seq = (this.#seq + 1) % OBSERVE_SEQ_MODULUS;
    return this.#seq;
  }

  get(peer: PeerKey, token: Uint8Array): ObserveRelation<R> | undefined {
    // Most requests come from peers observing nothing: no key string for them.
    if (!this.#perPeer.has(peer)) return undefined;
    return this.#relations.get(`${peer}|${tokenHex(token)}`);
  }

  /** Adds or replaces; returns undefined when a limit refuses a new entry. */
  add(peer: PeerKey, token: Uint8Array, resource: string, request: R, now: number): ObserveRelation<R> | undefined {
    const key = `${peer}|${tokenHex(token)}`;
    const existing = this.#relations.get(key);
    if (existing !== undefined) {
      existing.cancelPending?.();
      existing.cancelPending = undefined;
      existing.resource = resource;
      existing.request = request;
      existing.lastConfirmedAt = now;
      return existing;
    }
    const count = this.#perPeer.get(peer) ?? 0;
    if (count >= this.#maxPerPeer || this.#relations.size >= this.#maxTotal) return undefined;
    const rel: ObserveRelation<R> = { peer, token, resource, request, notifications: 0, lastConfirmedAt: now, cancelPending: undefined };
    this.#relations.set(key, rel);
    this.#perPeer.set(peer, count + 1);
    return rel;
  }

  remove(peer: PeerKey, token: Uint8Array): boolean {
    if (!this.#perPeer.has(peer)) return false;
    const key = `${peer}|${tokenHex(token)}`;
    const rel = this.#relations.get(key);
    if (rel === undefined) return false;
    rel.cancelPending?.();
    rel.cancelPending = undefined;
    this.#relations.delete(key);
    const count = (this.#perPeer.get(peer) ?? 1) - 1;
    if (count <= 0) this.#perPeer.delete(peer);
    else this.#perPeer.set(peer, count);
    return true;
  }

  /** Relations on one resource (a snapshot, safe to modify the registry while iterating). */
  forResource(resource: string): ObserveRelation<R>[] {
    return [...this.#relations.values()].filter((r) => r.resource === resource);
  }

  /** All relations of a peer (e.g. to drop them when its DTLS session ends). */
  forPeer(peer: PeerKey): ObserveRelation<R>[] {
    return [...this.#relations.values()].filter((r) => r.peer === peer);
  }

  countForPeer(peer: PeerKey): number {
    return this.#perPeer.get(peer) ?? 0;
  }

  clear(): void {
    for (const r of this.#relations.values()) r.cancelPending?.();
    this.#relations.clear();
    this.#perPeer.clear();
  }
}
