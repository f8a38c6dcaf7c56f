/**
 * The hash-chained audit log on PostgreSQL. An append locks the chain-head row with
 * SELECT ... FOR UPDATE, hashes the record onto the head it read, inserts it and advances the
 * head, all in one transaction. Every appender on every node takes that same row lock first, so
 * appends are serialised and two can never extend the same head (which would fork the chain);
 * under READ COMMITTED the waiter re-reads the row after the lock is released and so sees the
 * head the previous append left. Triggers refuse UPDATE/DELETE/TRUNCATE of the log and any
 * insert that does not extend the head.
 */
import type pg from 'pg';
import { AUDIT_VERIFY_BATCH, AuditChainVerifier, hashAuditRecord } from '../audit-chain.js';
import { StoreCorruptError } from '../errors.js';
import { auditFromRow, toSafeInteger, type AuditRow } from '../rows.js';
import type { AuditEntry, AuditLog, AuditRecord, AuditVerification } from '../types.js';
import { normalizeAuditEntry, normalizeAuditListOptions, type NormalizedAuditEntry } from '../validate.js';
import { RAISE_EXCEPTION, UNIQUE_VIOLATION, sqlState, withTransaction, type PostgresContext } from './context.js';

const VERIFY_BATCH = AUDIT_VERIFY_BATCH;

const COLUMNS = 'seq, at, actor, action, subject, outcome, details, prev_hash, hash';

export class PostgresAuditLog implements AuditLog {
  readonly #ctx: PostgresContext;

  constructor(ctx: PostgresContext) {
    this.#ctx = ctx;
  }

  async append(entry: AuditEntry): Promise<AuditRecord> {
    return (await this.appendMany([entry]))[0]!;
  }

  /** Appends in order under one lock of the head row, in one transaction. */
  async appendMany(entries: readonly AuditEntry[]): Promise<AuditRecord[]> {
    const normalized = entries.map((entry) => normalizeAuditEntry(entry));
    this.#ctx.check();
    if (normalized.length === 0) return [];
    return withTransaction(this.#ctx.pool, (client) => this.appendOn(client, normalized));
  }

  /**
   * Locks the head row, then chains and inserts `entries` (normalised already) on `client`, inside
   * the caller's open transaction (appendMany's own, or Store.appendAuditAndPutRegistrations').
   */
  async appendOn(client: pg.PoolClient, entries: readonly NormalizedAuditEntry[]): Promise<AuditRecord[]> {
    if (entries.length === 0) return [];
    try {
      const { rows } = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE');
      if (rows[0] === undefined) throw new StoreCorruptError('audit_head row is missing; the audit log cannot be extended');
      let head = { seq: toSafeInteger(rows[0].seq, 'audit_head seq'), hash: rows[0].hash };
      const at = new Date().toISOString();
      const out: AuditRecord[] = [];
      for (const e of entries) {
        const unsigned = { seq: head.seq + 1, at, ...e, prevHash: head.hash };
        const record: AuditRecord = { ...unsigned, hash: hashAuditRecord(unsigned) };
        await client.query(`INSERT INTO audit_log (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)`, [
          record.seq,
          record.at,
          record.actor,
          record.action,
          record.subject,
          record.outcome,
          JSON.stringify(record.details),
          record.prevHash,
          record.hash,
        ]);
        // The triggers want the head to advance one record at a time.
        await client.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [record.seq, record.hash]);
        head = { seq: record.seq, hash: record.hash };
        out.push(record);
      }
      return out;
    } catch (err) {
      const state = sqlState(err);
      // Only possible when the log was written around the store (a row past the head, a trigger
      // disabled): the chain cannot be extended until someone looks at it.
      if (state === UNIQUE_VIOLATION || state === RAISE_EXCEPTION) {
        throw new StoreCorruptError(`audit append refused by the database: ${(err as Error).message}`, { cause: err });
      }
      throw err;
    }
  }

  async #head(): Promise<{ seq: number; hash: string }> {
    const { rows } = await this.#ctx.pool.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
    if (rows[0] === undefined) return { seq: 0, hash: '' };
    return { seq: toSafeInteger(rows[0].seq, 'audit_head seq'), hash: rows[0].hash };
  }

  async list(options?: { after?: number; limit?: number; subject?: string; action?: string }): Promise<AuditRecord[]> {
    const o = normalizeAuditListOptions(options);
    this.#ctx.check();
    const params: unknown[] = [o.after];
    const parts = ['seq > $1'];
    if (o.subject !== undefined) {
      params.push(o.subject);
      parts.push(`subject = $${params.length}`);
    }
    if (o.action !== undefined) {
      params.push(o.action);
      parts.push(`action = $${params.length}`);
    }
    params.push(o.limit);
    const { rows } = await this.#ctx.pool.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_log WHERE ${parts.join(' AND ')} ORDER BY seq LIMIT $${params.length}`, params);
    return rows.map((r) => auditFromRow(r));
  }

  async verify(): Promise<AuditVerification> {
    this.#ctx.check();
    const verifier = new AuditChainVerifier();
    // The chain as of now: the head is read first and the walk stops at it, so appends committed
    // while a long verify runs neither extend the walk nor look like damage.
    const head = await this.#head();
    for (;;) {
      this.#ctx.check();
      const { rows } = await this.#ctx.pool.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, [
        verifier.lastSeq,
        head.seq,
        VERIFY_BATCH,
      ]);
      for (const row of rows) {
        if (verifier.push(auditFromRow(row, true)) !== undefined) return verifier.result();
      }
      if (rows.length < VERIFY_BATCH) break;
    }
    if (verifier.checkHead(head) !== undefined) return verifier.result();
    // Records past the head: max(seq) is read in a statement before the head's, and the head moves
    // in the same transaction as each insert, so under READ COMMITTED a legitimate record is never
    // past the head read after it.
    const max = await this.#ctx.pool.query<{ seq: string | null }>('SELECT max(seq) AS seq FROM audit_log');
    const now = await this.#head();
    const maxSeq = max.rows[0]?.seq;
    if (maxSeq !== null && maxSeq !== undefined && toSafeInteger(maxSeq, 'audit_log max(seq)') > now.seq) {
      verifier.recordBeyondHead(now.seq, toSafeInteger(maxSeq, 'audit_log max(seq)'));
    }
    return verifier.result();
  }
}
