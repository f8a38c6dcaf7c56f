/**
 * The hash-chained audit log on SQLite. An append reads the chain head, hashes and inserts the
 * record and advances the head inside one IMMEDIATE transaction: IMMEDIATE takes the database's
 * write lock before the head is read, so appends from other connections or processes queue
 * behind it (busy_timeout) and can never both extend the same head.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { AUDIT_VERIFY_BATCH, AuditChainVerifier, hashAuditRecord } from '../audit-chain.js';
import { StoreCorruptError } from '../errors.js';
import { auditFromRow, toSafeInteger, type AuditRow } from '../rows.js';
import type { AuditEntry, AuditLog, AuditRecord, AuditVerification } from '../types.js';
import { normalizeAuditEntry, normalizeAuditListOptions } from '../validate.js';
import type { SqliteContext } from './context.js';

const VERIFY_BATCH = AUDIT_VERIFY_BATCH;

export class SqliteAuditLog implements AuditLog {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async append(entry: AuditEntry): Promise<AuditRecord> {
    return (await this.appendMany([entry]))[0]!;
  }

  /** Appends in order inside one IMMEDIATE transaction (one commit for the batch). */
  async appendMany(entries: readonly AuditEntry[]): Promise<AuditRecord[]> {
    const normalized = entries.map((entry) => normalizeAuditEntry(entry));
    this.#ctx.check();
    if (normalized.length === 0) return [];
    const db = this.#ctx.db;
    const tx = db.transaction((): AuditRecord[] => {
      let head = this.#head();
      if (head.hash === '') throw new StoreCorruptError('audit_head row is missing; the audit log cannot be extended');
      const insert = this.#ctx.prepare(
        `INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const advance = this.#ctx.prepare('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1');
      const at = new Date().toISOString();
      const out: AuditRecord[] = [];
      for (const e of normalized) {
        const unsigned = { seq: head.seq + 1, at, ...e, prevHash: head.hash };
        const record: AuditRecord = { ...unsigned, hash: hashAuditRecord(unsigned) };
        insert.run(record.seq, record.at, record.actor, record.action, record.subject, record.outcome, JSON.stringify(record.details), record.prevHash, record.hash);
        // The triggers want the head to advance one record at a time.
        advance.run(record.seq, record.hash);
        head = { seq: record.seq, hash: record.hash };
        out.push(record);
      }
      return out;
    });
    try {
      return tx.immediate();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
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
    this.#ctx.check();
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
    this.#ctx.check();
    const verifier = new AuditChainVerifier();
    // The chain as of now: the head is read first and the walk stops at it, so appends made while
    // a long verify runs neither extend the walk nor look like damage.
    const head = this.#head();
    const batch = this.#ctx.prepare('SELECT * FROM audit_log WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?');
    for (;;) {
      this.#ctx.check();
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
