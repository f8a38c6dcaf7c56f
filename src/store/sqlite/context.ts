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
   * group commit (sqlite/audit.ts), so that every statement a repository runs after it commits
   * after the audit records of calls made before it — the log is never behind a later write.
   */
  check(): void;
  /** Throws StoreClosedError after close(); nothing else (what the audit log itself uses). */
  checkOpen(): void;
}

/** The SQLITE_* code of a driver error, if it carries one. */
export function sqliteCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
}
