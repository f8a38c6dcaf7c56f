/**
 * Server-side cache of resumable sessions (RFC 5246 §7.3 abbreviated handshake by session ID).
 * Only sessions made with the extended master secret are cached: RFC 7627 §5.3 forbids resuming
 * a session without it when the new handshake uses it, and we never resume without it.
 */
import type { PeerIdentity } from './connection.js';

export interface CachedSession {
  sessionId: Uint8Array;
  masterSecret: Uint8Array;
  cipherSuite: number;
  identity: PeerIdentity;
  createdAt: number;
}

/** What a client keeps to resume a session later (`ClientSession.resumption`). */
export interface ResumptionState {
  sessionId: Uint8Array;
  masterSecret: Uint8Array;
  cipherSuite: number;
  identity: PeerIdentity;
}

export interface SessionCacheOptions {
  /** Entries kept (default 10,000); the oldest goes first. */
  maxEntries?: number;
  /** How long a session may be resumed (default 24 h). */
  lifetimeMs?: number;
}

/**
 * What is stored, compactly (a cache of 10,000 sessions is part of every idle session's cost):
 * the session ID is the map key only, the master secret and a PSK identity are latin1 strings
 * (one byte per byte, no typed array or ArrayBuffer each).
 */
interface StoredSession {
  masterSecret: string;
  cipherSuite: number;
  /** A PSK identity's raw bytes, or the identity object of other credentials. */
  identity: string | PeerIdentity;
  /** Milliseconds after TIME_BASE: a small integer to V8, where Date.now() would be a heap number. */
  createdAt: number;
}

const TIME_BASE = Date.now();

function smallIfInteger(x: number): number {
  return x === (x | 0) ? x | 0 : x;
}

/** Map key of a session ID: one byte per character, half the size of hex. */
function keyOf(sessionId: Uint8Array): string {
  return latin1(sessionId);
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function bytesOf(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

const textDecoder = new TextDecoder();

export class SessionCache {
  private readonly entries = new Map<string, StoredSession>();
  readonly maxEntries: number;
  readonly lifetimeMs: number;

  constructor(opts: SessionCacheOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.lifetimeMs = opts.lifetimeMs ?? 24 * 3600_000;
  }

  get size(): number {
    return this.entries.size;
  }

  get(sessionId: Uint8Array, now = Date.now()): CachedSession | undefined {
    const key = keyOf(sessionId);
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    const createdAt = TIME_BASE + e.createdAt;
    if (now - createdAt >= this.lifetimeMs) {
      this.entries.delete(key);
      return undefined;
    }
    let identity: PeerIdentity;
    if (typeof e.identity === 'string') {
      const raw = bytesOf(e.identity);
      identity = { type: 'psk', identity: textDecoder.decode(raw), raw };
    } else identity = e.identity;
    return { sessionId: Uint8Array.from(sessionId), masterSecret: bytesOf(e.masterSecret), cipherSuite: e.cipherSuite, identity, createdAt };
  }

  set(entry: CachedSession): void {
    const key = keyOf(entry.sessionId);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    const id = entry.identity;
    this.entries.set(key, {
      masterSecret: latin1(entry.masterSecret),
      cipherSuite: entry.cipherSuite,
      identity: id.type === 'psk' ? latin1(id.raw) : id,
      createdAt: smallIfInteger(entry.createdAt - TIME_BASE),
    });
  }

  delete(sessionId: Uint8Array): void {
    this.entries.delete(keyOf(sessionId));
  }

  clear(): void {
    this.entries.clear();
  }
}
