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

/** What is stored: the session ID is the map key only (no second copy per entry). */
type StoredSession = Omit<CachedSession, 'sessionId'>;

/** Map key of a session ID: one byte per character, half the size of hex. */
function keyOf(sessionId: Uint8Array): string {
  return Buffer.from(sessionId.buffer, sessionId.byteOffset, sessionId.byteLength).toString('latin1');
}

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
    if (now - e.createdAt >= this.lifetimeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return { sessionId: Uint8Array.from(sessionId), ...e };
  }

  set(entry: CachedSession): void {
    const key = keyOf(entry.sessionId);
    this.entries.delete(key);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(key, { masterSecret: entry.masterSecret, cipherSuite: entry.cipherSuite, identity: entry.identity, createdAt: entry.createdAt });
  }

  delete(sessionId: Uint8Array): void {
    this.entries.delete(keyOf(sessionId));
  }

  clear(): void {
    this.entries.clear();
  }
}
