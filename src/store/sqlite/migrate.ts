/**
 * Applies the pending migrations to a SQLite database in one IMMEDIATE transaction: the write
 * lock is taken before schema_migrations is read, so two processes opening the same file at
 * once apply each migration exactly once (the second waits on busy_timeout, then sees it done).
 */
import type BetterSqlite3 from 'better-sqlite3';
import { StoreError, StoreMigrationError } from '../errors.js';
import { MIGRATIONS, migrationChecksum, pendingMigrations, type AppliedMigration, type Migration } from '../migrations.js';

/** `migrations` is the code's list; tests pass a longer one to exercise upgrades and rollback. */
export function migrateSqlite(db: BetterSqlite3.Database, migrations: readonly Migration[] = MIGRATIONS): void {
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      checksum TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`);
    const applied = db.prepare('SELECT version, checksum FROM schema_migrations ORDER BY version').all() as AppliedMigration[];
    const record = db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)');
    for (const m of pendingMigrations(applied, 'sqlite', migrations)) {
      for (const sql of m.sqlite) db.exec(sql);
      record.run(m.version, m.name, migrationChecksum(m, 'sqlite'), new Date().toISOString());
    }
  });
  try {
    run.immediate();
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreMigrationError(`SQLite migration failed and was rolled back: ${(err as Error).message}`, { cause: err });
  }
}
