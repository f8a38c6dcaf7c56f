/**
 * Applies the pending migrations to a PostgreSQL database in one transaction holding an advisory
 * lock, so that N nodes starting together apply each migration exactly once: the others wait on
 * the lock, then find nothing pending. PostgreSQL DDL is transactional, so a failing migration
 * leaves the schema as it was.
 */
import type pg from 'pg';
import { StoreError, StoreMigrationError } from '../errors.js';
import { MIGRATIONS, migrationChecksum, pendingMigrations, type AppliedMigration, type Migration } from '../migrations.js';
import { withTransaction } from './context.js';

/** pg_advisory_xact_lock key for migrations: the ASCII bytes of "rootline" as an int8. */
export const MIGRATION_LOCK_KEY = '8245931988564405861';

/** `migrations` is the code's list; tests pass a longer one to exercise upgrades and rollback. */
export async function migratePostgres(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  try {
    await withTransaction(pool, async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::bigint)`);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL
      )`);
      const applied = (await client.query<AppliedMigration>('SELECT version, checksum FROM schema_migrations ORDER BY version')).rows;
      for (const m of pendingMigrations(applied, 'postgres', migrations)) {
        for (const sql of m.postgres) await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, now())', [
          m.version,
          m.name,
          migrationChecksum(m, 'postgres'),
        ]);
      }
    });
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreMigrationError(`PostgreSQL migration failed and was rolled back: ${(err as Error).message}`, { cause: err });
  }
}
