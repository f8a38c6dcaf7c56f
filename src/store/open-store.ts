/**
 * One string picks the store, so `rootline serve`, the CLI and config files all say where the
 * data lives the same way:
 *   sqlite:./data/rootline.db   sqlite:///var/lib/rootline/db   sqlite::memory:
 *   ./data/rootline.db          (a plain path is SQLite)   file:///var/lib/rootline/db
 *   postgres://user:pass@host:5432/rootline   postgresql://...
 */
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from '../errors.js';
import { assertString } from '../util/assert.js';
import { openPostgresStore } from './postgres/store.js';
import { openSqliteStore } from './sqlite/store.js';
import type { Store } from './types.js';

export interface OpenStoreOptions {
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  /** SQLite only: when single audit appends are group-committed (SqliteStoreOptions). Ignored for PostgreSQL. */
  auditCommitWindow?: 'microtask' | 'turn';
}

export type StoreLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; connectionString: string };

/** Parses a store URL or path without opening anything (for config validation and `--help`). */
export function parseStoreUrl(url: string): StoreLocation {
  assertString(url, 'url', { min: 1, max: 4096 });
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', connectionString: url };
  if (/^sqlite:/i.test(url)) {
    let rest = url.slice('sqlite:'.length);
    // sqlite:///abs/path (URL form, empty host) and sqlite:./rel or sqlite:/abs (opaque form).
    if (rest.startsWith('//')) rest = rest.slice(2);
    if (rest === '') throw new InvalidArgumentError('url', 'sqlite: needs a file path, e.g. sqlite:./data/rootline.db');
    return { kind: 'sqlite', file: rest };
  }
  if (/^file:/i.test(url)) {
    try {
      return { kind: 'sqlite', file: fileURLToPath(url) };
    } catch (err) {
      throw new InvalidArgumentError('url', `not a valid file: URL (${(err as Error).message})`, { cause: err });
    }
  }
  // Any other scheme is a mistake (mysql://, redis://), not a file name with a colon in it.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme !== null) throw new InvalidArgumentError('url', `unsupported store scheme ${JSON.stringify(scheme[1])}; use sqlite:, postgres:// or a file path`);
  return { kind: 'sqlite', file: url };
}

/** Opens the store a URL or path names, migrated to this code's schema. */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const location = parseStoreUrl(url);
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected an object');
  const migrate = options.migrate !== false;
  return location.kind === 'postgres'
    ? openPostgresStore({ connectionString: location.connectionString, migrate })
    : openSqliteStore({ file: location.file, migrate, ...(options.auditCommitWindow !== undefined ? { auditCommitWindow: options.auditCommitWindow } : {}) });
}
