/**
 * What the PostgreSQL repositories share: the pool, the closed check, a transaction helper and
 * the mapping of SQLSTATE codes to store errors.
 */
import type pg from 'pg';

export interface PostgresContext {
  readonly pool: pg.Pool;
  /** Throws StoreClosedError after close(). */
  check(): void;
}

/** SQLSTATE of a driver error, if it carries one. */
export function sqlState(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
/** RAISE EXCEPTION without an explicit code, as the audit triggers use. */
export const RAISE_EXCEPTION = 'P0001';

/**
 * Runs `fn` in a transaction on one pooled connection. A connection whose ROLLBACK failed is
 * destroyed rather than returned to the pool, where it would hand a broken session to the next
 * caller.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError as Error;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}
