/**
 * The hash-chained audit log on SQLite. An append reads the chain head, hashes and inserts the
 * record and advances the head inside one IMMEDIATE transaction: IMMEDIATE takes the database's
 * write lock before the head is read, so appends from other connections or processes queue
 * behind it (busy_timeout) and can never both extend the same head.
 *
 * Group commit: append() does not open a transaction of its own. It checks the entry, queues it
 * and returns a promise; the appends queued in one turn of the event loop are written together
 * in one IMMEDIATE transaction (at the next microtask checkpoint, or with the 'turn' window in
 * the check phase of this turn), and each promise settles only after that COMMIT —
 * a caller is never told a record was written before it was. The queue is written earlier
 * whenever anything else writes to the store: appendMany and Store.appendAuditAndPutRegistrations
 * take it into their own transaction (first), the repositories' writes too (SqliteContext.write,
 * runWrite below; the few that do not use it write the queue in a transaction of its own first,
 * SqliteContext.check), list()/verify() before reading, close() before closing. So records are
 * chained in call order, and the log never lags behind a write made after the append was called:
 * what a crash can lose is only appends whose promise had not settled.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { AUDIT_VERIFY_BATCH, AuditChainVerifier, hashAuditRecord } from '../audit-chain.js';
import { StoreCorruptError } from '../errors.js';
import { auditFromRow, toSafeInteger, type AuditRow } from '../rows.js';
import type { AuditEntry, AuditLog, AuditRecord, AuditVerification } from '../types.js';
import { normalizeAuditEntry, normalizeAuditListOptions, type NormalizedAuditEntry } from '../validate.js';
import { sqliteCode, type SqliteContext } from './context.js';

const VERIFY_BATCH = AUDIT_VERIFY_BATCH;

/**
 * When queued appends are committed: at the next microtask checkpoint (default), or in the check
 * phase of the current event-loop turn (`'turn'`, setImmediate).
 */
export type AuditCommitWindow = 'microtask' | 'turn';

/** An append() waiting for the next group commit. */
interface QueuedAppend {
  entry: NormalizedAuditEntry;
  resolve: (record: AuditRecord) => void;
  reject: (err: unknown) => void;
}

export class SqliteAuditLog implements AuditLog {
  readonly #ctx: SqliteContext;
  #queue: QueuedAppend[] = [];
  #flushScheduled = false;

  readonly #window: AuditCommitWindow;

  constructor(ctx: SqliteContext, window: AuditCommitWindow = 'microtask') {
    this.#ctx = ctx;
    this.#window = window;
  }

  /** Queues the record for this event-loop turn's group commit; settles after its COMMIT. */
  async append(entry: AuditEntry): Promise<AuditRecord> {
    const normalized = normalizeAuditEntry(entry);
    this.#ctx.checkOpen();
    return new Promise<AuditRecord>((resolve, reject) => {
      this.#queue.push({ entry: normalized, resolve, reject });
      if (this.#flushScheduled) return;
      this.#flushScheduled = true;
      // A microtask by default: the record is committed before the event loop moves on to
      // anything else (timers, I/O, another caller's setImmediate), as when append() ran its own
      // transaction at once — callers observe the same order of events as before. 'turn' waits
      // for the check phase of this turn (setImmediate): appends made by everything the turn runs
      // share one transaction, but a caller resumes one macrotask later (README: why it is not
      // the default).
      if (this.#window === 'turn') setImmediate(this.#flushSoon);
      else queueMicrotask(this.#flushSoon);
    });
  }

  readonly #flushSoon = (): void => {
    this.#flushScheduled = false;
    this.flushQueued();
  };

  /**
   * Runs a repository's write `fn` (synchronous statements) so that the audit appends queued
   * before it commit no later than it does: with nothing queued, `fn` runs as it is (its own
   * statement or transaction); otherwise ONE IMMEDIATE transaction inserts the queued records and
   * then runs `fn` inside a savepoint — a write that fails (a conflict, not found) undoes only its
   * own statements and throws its own error, the queued records still commit and their promises
   * resolve. If the audit part fails, those appends are rejected (as flushQueued would) and `fn`
   * runs on its own afterwards. One commit instead of two.
   */
  runWrite<T>(fn: () => T): T {
    if (this.#queue.length === 0) return fn();
    const queued = this.#queue;
    this.#queue = [];
    const db = this.#ctx.db;
    let done: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    let written: AuditRecord[];
    try {
      written = db.transaction(() => {
        const records = this.#insert(queued.map((q) => q.entry));
        try {
          done = { ok: true, value: db.transaction(fn)() };
        } catch (error) {
          done = { ok: false, error };
        }
        return records;
      }).immediate();
    } catch (err) {
      for (const q of queued) q.reject(err);
      // The audit part was refused before fn ran: the write goes ahead on its own, as after a
      // failed flushQueued. Otherwise the transaction as a whole failed (its COMMIT, or an error
      // of fn's that made SQLite roll back everything): fn's statements are undone as well, and
      // its caller gets fn's own error if it threw one, else the transaction's.
      if (done === undefined) return fn();
      if (!done.ok) throw done.error;
      throw err;
    }
    for (let i = 0; i < queued.length; i++) queued[i]!.resolve(written[i]!);
    if (!done!.ok) throw done!.error;
    return done!.value;
  }

  /** Appends in order inside one IMMEDIATE transaction (one commit for the batch). */
  async appendMany(entries: readonly AuditEntry[]): Promise<AuditRecord[]> {
    const normalized = entries.map((entry) => normalizeAuditEntry(entry));
    this.#ctx.checkOpen();
    if (normalized.length === 0) return [];
    return this.appendWith(normalized, () => undefined).records;
  }

  /**
   * Writes the queued appends (if any) in one IMMEDIATE transaction now and settles their
   * promises. Synchronous, so the store's close() can call it before closing the connection.
   */
  flushQueued(): void {
    if (this.#queue.length === 0) return;
    try {
      this.appendWith([], () => undefined);
    } catch {
      // appendWith rejected every queued append with the error; nobody else is waiting for it.
    }
  }

  /**
   * One IMMEDIATE transaction: the queued appends, then `entries` (checked already), then
   * `then()` — the rest of the caller's unit of work, run on the same connection inside the same
   * transaction. Anything thrown rolls all of it back; the queued appends are settled either way.
   */
  appendWith<T>(entries: readonly NormalizedAuditEntry[], then: () => T): { records: AuditRecord[]; result: T } {
    const queued = this.#queue;
    this.#queue = [];
    let out: { records: AuditRecord[]; result: T };
    try {
      this.#ctx.checkOpen();
      const tx = this.#ctx.db.transaction(() => {
        const all = this.#insert(queued.length === 0 ? entries : [...queued.map((q) => q.entry), ...entries]);
        const result = then();
        return { all, result };
      });
      const { all, result } = tx.immediate();
      for (let i = 0; i < queued.length; i++) queued[i]!.resolve(all[i]!);
      out = { records: queued.length === 0 ? all : all.slice(queued.length), result };
    } catch (err) {
      for (const q of queued) q.reject(err);
      throw err;
    }
    return out;
  }

  /**
   * Chains and inserts `entries` (checked already) onto the head inside the caller's IMMEDIATE
   * transaction, which must have taken the queued appends first (runWrite, appendWith): for
   * Store.updateDeviceAudited, whose record follows its update.
   */
  insertInTransaction(entries: readonly NormalizedAuditEntry[]): AuditRecord[] {
    return this.#insert(entries);
  }

  /** Chains and inserts `entries` onto the head; runs inside an IMMEDIATE transaction. */
  #insert(entries: readonly NormalizedAuditEntry[]): AuditRecord[] {
    if (entries.length === 0) return [];
    try {
      let head = this.#head();
      if (head.hash === '') throw new StoreCorruptError('audit_head row is missing; the audit log cannot be extended');
      const insert = this.#ctx.prepare(
        `INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const advance = this.#ctx.prepare('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1');
      const at = new Date().toISOString();
      const out: AuditRecord[] = [];
      for (const e of entries) {
        const unsigned = { seq: head.seq + 1, at, ...e, prevHash: head.hash };
        const record: AuditRecord = { ...unsigned, hash: hashAuditRecord(unsigned) };
        insert.run(record.seq, record.at, record.actor, record.action, record.subject, record.outcome, JSON.stringify(record.details), record.prevHash, record.hash);
        // The triggers want the head to advance one record at a time.
        advance.run(record.seq, record.hash);
        head = { seq: record.seq, hash: record.hash };
        out.push(record);
      }
      return out;
    } catch (err) {
      const code = sqliteCode(err);
      // Only possible when the log was written around the store (a row past the head, a trigger
      // dropped): the chain cannot be extended until someone looks at it.
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_TRIGGER') {
        throw new StoreCorruptError(`audit append refused by the database: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }

  #head(): { seq: number; hash: string } {
    const row = this.#ctx.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as { seq: unknown; hash: string } | undefined;
    // Without the head row the log cannot be appended to or checked: a damaged database.
    if (row === undefined) return { seq: 0, hash: '' };
    return { seq: toSafeInteger(row.seq, 'audit_head seq'), hash: row.hash };
  }

  async list(options?: { after?: number; limit?: number; subject?: string; action?: string }): Promise<AuditRecord[]> {
    const o = normalizeAuditListOptions(options);
    this.#ctx.checkOpen();
    // Read your own appends: whatever append() was called before this list() is in it.
    this.flushQueued();
    const parts = ['seq > ?'];
    const params: unknown[] = [o.after];
    if (o.subject !== undefined) {
      parts.push('subject = ?');
      params.push(o.subject);
    }
    if (o.action !== undefined) {
      parts.push('action = ?');
      params.push(o.action);
    }
    const rows = this.#ctx.prepare(`SELECT * FROM audit_log WHERE ${parts.join(' AND ')} ORDER BY seq LIMIT ?`).all(...params, o.limit) as AuditRow[];
    return rows.map((r) => auditFromRow(r));
  }

  async verify(): Promise<AuditVerification> {
    this.#ctx.checkOpen();
    this.flushQueued();
    const verifier = new AuditChainVerifier();
    // The chain as of now: the head is read first and the walk stops at it, so appends made while
    // a long verify runs neither extend the walk nor look like damage.
    const head = this.#head();
    const batch = this.#ctx.prepare('SELECT * FROM audit_log WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?');
    for (;;) {
      this.#ctx.checkOpen();
      const rows = batch.all(verifier.lastSeq, head.seq, VERIFY_BATCH) as AuditRow[];
      for (const row of rows) {
        if (verifier.push(auditFromRow(row, true)) !== undefined) return verifier.result();
      }
      if (rows.length < VERIFY_BATCH) break;
      // Let other work run between batches: a long log must not stall the event loop.
      await yieldToEventLoop();
    }
    if (verifier.checkHead(head) !== undefined) return verifier.result();
    // Records past the head: max(seq) is read before the head, and the head moves in the same
    // transaction as each insert, so a legitimate record is never past the head read after it.
    const max = this.#ctx.prepare('SELECT max(seq) AS seq FROM audit_log').get() as { seq: unknown };
    const now = this.#head();
    if (max.seq !== null && toSafeInteger(max.seq, 'audit_log max(seq)') > now.seq) verifier.recordBeyondHead(now.seq, toSafeInteger(max.seq, 'audit_log max(seq)'));
    return verifier.result();
  }
}
