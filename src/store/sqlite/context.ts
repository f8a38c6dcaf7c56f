/**
 * What the SQLite repositories share: the connection, the statement cache, the closed check and
 * the reading of better-sqlite3 error codes.
 */
import type BetterSqlite3 from 'better-sqlite3';

export interface SqliteContext {
  readonly db: BetterSqlite3.Database;
  /** A prepared statement for `sql`, compiled once per connection and then reused. */
  prepare(sql: string): BetterSqlite3.Statement;
  /**
   * Throws StoreClosedError after close(); then writes the audit appends still queued for their
   * group commit (sqlite/audit.ts) in a transaction of their own, so that every statement a
   * repository runs after it commits after the audit records of calls made before it — the log
   * is never behind a later write. For writes that do not go through write().
   */
  check(): void;
  /**
   * Throws StoreClosedError after close(); nothing else. What reads use (they never read the
   * audit log, so the queued appends need not be written before them) and the audit log itself.
   */
  checkOpen(): void;
  /**
   * Runs a write's synchronous statements so that the audit appends queued before it commit in
   * the same IMMEDIATE transaction, first (sqlite/audit.ts runWrite). Call checkOpen() before.
   */
  write<T>(fn: () => T): T;
}

/** The SQLITE_* code of a driver error, if it carries one. */
export function sqliteCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
}
