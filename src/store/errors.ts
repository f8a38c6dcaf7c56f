/**
 * Typed failures of the storage room. Callers (the API, the LwM2M server, the CLI) match on the
 * stable `code`, never on messages or on driver errors: SQLite and PostgreSQL report the same
 * failure differently, and a domain service must not care which one is underneath.
 */
import { RootlineError } from '../errors.js';

/** Base class of every store failure, so `err instanceof StoreError` catches them all. */
export class StoreError extends RootlineError {}

/** The addressed record does not exist (update of an unknown device, credential for one). */
export class StoreNotFoundError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE_NOT_FOUND', message, options);
  }
}

/** A uniqueness rule would be broken (endpoint exists, (kind, lookup) already bound). */
export class StoreConflictError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE_CONFLICT', message, options);
  }
}

/**
 * The schema cannot be brought to this code's version: the database is newer than the code,
 * an applied migration differs from the one in the code, or a migration failed (rolled back).
 */
export class StoreMigrationError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE_MIGRATION', message, options);
  }
}

/** A stored row cannot be read back as a valid record (edited outside the store, or damaged). */
export class StoreCorruptError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_STORE_CORRUPT', message, options);
  }
}

/** The store was used after close(). */
export class StoreClosedError extends StoreError {
  constructor() {
    super('ERR_STORE_CLOSED', 'the store is closed');
  }
}
