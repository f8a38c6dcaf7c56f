/**
 * What the SQLite repositories share: the connection, the statement cache, the closed check and
 * the reading of better-sqlite3 error codes.
 */
import type BetterSqlite3 from 'better-sqlite3';

export interface SqliteContext {
  readonly db: BetterSqlite3.Database;
  /** A prepared statement for `sql`, compiled once per connection and then reused. */
  prepare(sql: string): BetterSqlite3.Statement;
  /** Throws StoreClosedError after close(). */
  check(): void;
}

/** The SQLITE_* code of a driver error, if it carries one. */
export function sqliteCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
}
