/**
 * Audit records for DTLS handshake decisions (action `dtls.handshake`, outcome allow/deny),
 * rate-limited so that a flood cannot fill the audit log, without losing the count of anything.
 *
 * Why this scheme: every handshake is a security decision, but the audit log is an append-only
 * hash chain on disk, and a peer can start handshakes far faster than anyone reads them. So:
 * - Per (outcome, credential kind, identity) the first decision in a window (default 60 s) is
 *   written at once; repeats inside the window are only counted. When the window has passed, the
 *   count is written as one record with `details.repeated` (by the sweep, or by the next
 *   decision for the same key), so a device that reconnects every few seconds or a brute-force
 *   run on one identity costs one record per window, and the log still says how many there were.
 * - Over all keys at most `maxRecordsPerWindow` records (default 120) are written per window;
 *   beyond that (a flood of random identities) decisions are counted per outcome and written as
 *   one `dtls.handshake.suppressed` record per window. Tracked keys are capped (`maxTracked`)
 *   so memory is bounded too.
 * Identities come from the network: they are truncated to MAX_IDENTITY_CHARS in records. Keys
 * are never passed here.
 */
import type { AuditEntry } from '../store/types.js';

export type HandshakeOutcome = 'allow' | 'deny';
export type HandshakeCredential = 'psk' | 'rpk' | 'x509' | 'none';

export interface HandshakeDecision {
  outcome: HandshakeOutcome;
  credential: HandshakeCredential;
  /** PSK identity, RPK fingerprint, certificate subject; '' when the peer never named one. */
  identity: string;
  /** `address:port` of the peer, when known. */
  peer?: string;
  /** The device the credential is bound to, when it is known. */
  endpoint?: string;
  /** Why a handshake was refused (error code or short text). */
  reason?: string;
  cipherSuite?: string;
}

export interface HandshakeAuditOptions {
  windowMs?: number;
  maxRecordsPerWindow?: number;
  maxTracked?: number;
  /** Clock (tests drive it). */
  now?: () => number;
  /** Sweep on a timer (default true; tests call sweep() themselves). */
  timer?: boolean;
  /** Called when an append fails; the handshake outcome itself is never changed by it. */
  onError?: (err: unknown) => void;
}

const MAX_IDENTITY_CHARS = 128;

interface Tracked {
  windowStart: number;
  repeated: number;
  last: HandshakeDecision;
}

export class HandshakeAuditor {
  readonly #append: (entry: AuditEntry) => Promise<unknown>;
  readonly #windowMs: number;
  readonly #maxRecords: number;
  readonly #maxTracked: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown) => void;
  readonly #tracked = new Map<string, Tracked>();
  readonly #pending = new Set<Promise<unknown>>();
  #globalWindowStart: number;
  #writtenInWindow = 0;
  #suppressed = { allow: 0, deny: 0 };
  #timer: NodeJS.Timeout | undefined;

  constructor(append: (entry: AuditEntry) => Promise<unknown>, options: HandshakeAuditOptions = {}) {
    this.#append = append;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxRecords = options.maxRecordsPerWindow ?? 120;
    this.#maxTracked = options.maxTracked ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
    this.#globalWindowStart = this.#now();
    if (options.timer !== false) {
      this.#timer = setInterval(() => this.sweep(), this.#windowMs);
      this.#timer.unref();
    }
  }

  /** Records one decision (written now, counted, or summarised later). Never throws. */
  record(decision: HandshakeDecision): void {
    const now = this.#now();
    this.#rollGlobalWindow(now);
    const d = { ...decision, identity: decision.identity.slice(0, MAX_IDENTITY_CHARS) };
    const key = JSON.stringify([d.outcome, d.credential, d.identity]);
    const t = this.#tracked.get(key);
    if (t !== undefined && now - t.windowStart < this.#windowMs) {
      t.repeated++;
      t.last = d;
      return;
    }
    if (this.#writtenInWindow >= this.#maxRecords || (t === undefined && this.#tracked.size >= this.#maxTracked)) {
      this.#suppressed[d.outcome]++;
      return;
    }
    // A key whose window ended: its repeats go into this record rather than a separate one.
    this.#write(d, t?.repeated ?? 0);
    this.#tracked.set(key, { windowStart: now, repeated: 0, last: d });
  }

  /** Writes the counts of windows that have ended and forgets idle keys. */
  sweep(): void {
    const now = this.#now();
    for (const [key, t] of this.#tracked) {
      if (now - t.windowStart < this.#windowMs) continue;
      this.#tracked.delete(key);
      // Summaries are exempt from the per-window cap: they are at most one per tracked key.
      if (t.repeated > 0) this.#write(t.last, t.repeated);
    }
    this.#rollGlobalWindow(now);
  }

  /** Writes every pending count now and waits for all appends (server shutdown). */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const t of this.#tracked.values()) if (t.repeated > 0) this.#write(t.last, t.repeated);
    this.#tracked.clear();
    this.#flushSuppressed();
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #rollGlobalWindow(now: number): void {
    if (now - this.#globalWindowStart < this.#windowMs) return;
    this.#flushSuppressed();
    this.#globalWindowStart = now;
    this.#writtenInWindow = 0;
  }

  #flushSuppressed(): void {
    const { allow, deny } = this.#suppressed;
    if (allow + deny === 0) return;
    this.#suppressed = { allow: 0, deny: 0 };
    this.#appendEntry({
      actor: 'system',
      action: 'dtls.handshake.suppressed',
      subject: 'dtls',
      outcome: deny > 0 ? 'deny' : 'allow',
      details: { allow, deny, windowMs: this.#windowMs, reason: 'audit rate limit' },
    });
  }

  #write(d: HandshakeDecision, repeated: number): void {
    this.#writtenInWindow++;
    const details: Record<string, unknown> = { credential: d.credential, identity: d.identity };
    if (d.peer !== undefined) details.peer = d.peer;
    if (d.endpoint !== undefined) details.endpoint = d.endpoint;
    if (d.reason !== undefined) details.reason = d.reason;
    if (d.cipherSuite !== undefined) details.cipherSuite = d.cipherSuite;
    if (repeated > 0) {
      details.repeated = repeated;
      details.windowMs = this.#windowMs;
    }
    this.#appendEntry({
      actor: d.endpoint !== undefined ? `device:${d.endpoint}` : 'system',
      action: 'dtls.handshake',
      subject: `${d.credential}:${d.identity}`,
      outcome: d.outcome,
      details,
    });
  }

  #appendEntry(entry: AuditEntry): void {
    const p = this.#append(entry).catch((err: unknown) => this.#onError(err));
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }
}
