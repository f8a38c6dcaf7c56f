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
 * the session ID is the map key only. A PSK session (the common case) is one latin1 string —
 * master secret (48 bytes), cipher suite (2), creation time in ms (6, big-endian), then the PSK
 * identity's raw bytes — one heap object per entry instead of an object and two strings. Other
 * identities (RPK, certificate) keep the object form, their identity object by reference.
 */
interface StoredSession {
  masterSecret: string;
  cipherSuite: number;
  identity: PeerIdentity;
  /** Milliseconds after TIME_BASE: a small integer to V8, where Date.now() would be a heap number. */
  createdAt: number;
}

const TIME_BASE = Date.now();
const MASTER_LENGTH = 48;
/** Offset of the PSK identity in a packed entry. */
const PACKED_HEADER = MASTER_LENGTH + 2 + 6;
const MAX_PACKED_TIME = 2 ** 48;

function smallIfInteger(x: number): number {
  return x === (x | 0) ? x | 0 : x;
}

/** Map key of a session ID: one byte per character, half the size of hex. */
function keyOf(sessionId: Uint8Array): string {
  return latin1(sessionId);
}

/** Bytes as a flat one-byte string (every char code < 256). */
function latin1(b: Uint8Array): string {
  return String.fromCharCode.apply(null, b as unknown as number[]);
}

function bytesOf(s: string, from = 0, to = s.length): Uint8Array {
  const out = new Uint8Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = s.charCodeAt(i);
  return out;
}

/** One PSK session as a string (see above), or undefined when it does not fit that form. */
function pack(entry: CachedSession, raw: Uint8Array): string | undefined {
  const t = entry.createdAt;
  if (entry.masterSecret.length !== MASTER_LENGTH || raw.length > 1024 || !Number.isSafeInteger(t) || t < 0 || t >= MAX_PACKED_TIME) return undefined;
  const codes = new Uint8Array(PACKED_HEADER + raw.length);
  codes.set(entry.masterSecret, 0);
  codes[MASTER_LENGTH] = entry.cipherSuite >>> 8;
  codes[MASTER_LENGTH + 1] = entry.cipherSuite & 0xff;
  const hi = Math.floor(t / 2 ** 32);
  const lo = t >>> 0;
  codes[MASTER_LENGTH + 2] = (hi >>> 8) & 0xff;
  codes[MASTER_LENGTH + 3] = hi & 0xff;
  codes[MASTER_LENGTH + 4] = lo >>> 24;
  codes[MASTER_LENGTH + 5] = (lo >>> 16) & 0xff;
  codes[MASTER_LENGTH + 6] = (lo >>> 8) & 0xff;
  codes[MASTER_LENGTH + 7] = lo & 0xff;
  codes.set(raw, PACKED_HEADER);
  const s = latin1(codes);
  codes.fill(0);
  return s;
}

function packedCreatedAt(s: string): number {
  const c = (i: number): number => s.charCodeAt(MASTER_LENGTH + 2 + i);
  return (c(0) * 256 + c(1)) * 2 ** 32 + ((c(2) << 24) >>> 0) + c(3) * 65536 + c(4) * 256 + c(5);
}

const textDecoder = new TextDecoder();

export class SessionCache {
  private readonly entries = new Map<string, string | StoredSession>();
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
    const createdAt = typeof e === 'string' ? packedCreatedAt(e) : TIME_BASE + e.createdAt;
    if (now - createdAt >= this.lifetimeMs) {
      this.entries.delete(key);
      return undefined;
    }
    if (typeof e !== 'string') return { sessionId: Uint8Array.from(sessionId), masterSecret: bytesOf(e.masterSecret), cipherSuite: e.cipherSuite, identity: e.identity, createdAt };
    const raw = bytesOf(e, PACKED_HEADER);
    return {
      sessionId: Uint8Array.from(sessionId),
      masterSecret: bytesOf(e, 0, MASTER_LENGTH),
      cipherSuite: (e.charCodeAt(MASTER_LENGTH) << 8) | e.charCodeAt(MASTER_LENGTH + 1),
      identity: { type: 'psk', identity: textDecoder.decode(raw), raw },
      createdAt,
    };
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
    const packed = id.type === 'psk' ? pack(entry, id.raw) : undefined;
    this.entries.set(
      key,
      packed ?? {
        masterSecret: latin1(entry.masterSecret),
        cipherSuite: entry.cipherSuite,
        identity: id,
        createdAt: smallIfInteger(entry.createdAt - TIME_BASE),
      },
    );
  }

  delete(sessionId: Uint8Array): void {
    this.entries.delete(keyOf(sessionId));
  }

  clear(): void {
    this.entries.clear();
  }
}
