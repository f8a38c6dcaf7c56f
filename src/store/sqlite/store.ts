/**
 * The embedded default: one SQLite file opened with better-sqlite3. WAL lets readers (the CLI,
 * a backup) run beside the server's writer; foreign keys are off in SQLite unless asked for, and
 * credentials rely on them to go away with their device.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { InvalidArgumentError } from '../../errors.js';
import { assertInteger, assertString } from '../../util/assert.js';
import { StoreClosedError } from '../errors.js';
import { masaArgs } from '../masa-args.js';
import type { MasaRequestLogEntry } from '../masa-types.js';
import { normalizeRegistration } from '../registration-rows.js';
import type { AuditedDeviceUpdate, AuditedDeviceUpdateOptions, AuditedRegistrationBatch, AuditEntry, AuditRecord, DevicePatch, RegistrationRecord, SettingsRepository, Store } from '../types.js';
import { assertSettingKey, assertSettingValue, normalizeAuditedDeviceUpdate, normalizeAuditEntry } from '../validate.js';
import { SqliteAuditLog, type AuditCommitWindow } from './audit.js';
import { SqliteCampaignRepository } from './campaigns.js';
import { SqliteFirmwareRepository } from './firmware.js';
import { SqliteMasaRepository } from './masa.js';
import type { SqliteContext } from './context.js';
import { SqliteDeviceRepository } from './devices.js';
import { migrateSqlite } from './migrate.js';
import { SqliteBootstrapConfigRepository, SqliteRegistrationRepository } from './registrations.js';

export interface SqliteStoreOptions {
  /** Database file path, or ':memory:' for a private in-memory database (tests, tools). */
  file: string;
  /** How long a writer waits for another connection's lock before SQLITE_BUSY (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  /**
   * Upper bound of this connection's page cache, in KiB (`PRAGMA cache_size = -N`). Default 2048
   * (2 MiB, SQLite's own stock default). better-sqlite3 builds SQLite with a 16 MiB default, and
   * every page a busy server touches stays cached up to that cap — a fixed cost per connection,
   * not per row. Larger values help only a database whose hot pages exceed the cap.
   */
  cacheSizeKiB?: number;
  /**
   * When single audit appends are group-committed: `'microtask'` (default) at the next microtask
   * checkpoint, `'turn'` in the check phase of the current event-loop turn (setImmediate) — more
   * appends per transaction under concurrent load, each caller resuming one macrotask later.
   * Durability is the same: a promise settles only after the COMMIT holding its record.
   */
  auditCommitWindow?: AuditCommitWindow;
}

/** The page-cache cap when `cacheSizeKiB` is not given: SQLite's own default (2 MiB). */
export const DEFAULT_SQLITE_CACHE_SIZE_KIB = 2048;

class SqliteSettings implements SettingsRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async get(key: string): Promise<string | undefined> {
    assertSettingKey(key);
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  async set(key: string, value: string): Promise<void> {
    assertSettingKey(key);
    assertSettingValue(value);
    this.#ctx.checkOpen();
    this.#ctx.write(() =>
      this.#ctx.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at')
        .run(key, value, new Date().toISOString()),
    );
  }

  async delete(key: string): Promise<boolean> {
    assertSettingKey(key);
    this.#ctx.check();
    return this.#ctx.prepare('DELETE FROM settings WHERE key = ?').run(key).changes > 0;
  }
}

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly devices: SqliteDeviceRepository;
  readonly audit: SqliteAuditLog;
  readonly settings: SqliteSettings;
  readonly registrations: SqliteRegistrationRepository;
  readonly campaigns: SqliteCampaignRepository;
  readonly firmware: SqliteFirmwareRepository;
  readonly masa: SqliteMasaRepository;
  readonly bootstrapConfigs: SqliteBootstrapConfigRepository;
  /** The page-cache cap this connection runs with, in KiB, as SQLite reports it. */
  readonly cacheSizeKiB: number;
  readonly #db: Database.Database;
  #closed = false;

  constructor(db: Database.Database, auditCommitWindow: AuditCommitWindow) {
    this.#db = db;
    const pages = db.pragma('cache_size', { simple: true }) as number;
    // Negative is KiB; positive is a page count.
    this.cacheSizeKiB = pages < 0 ? -pages : (pages * (db.pragma('page_size', { simple: true }) as number)) / 1024;
    const statements = new Map<string, Database.Statement>();
    const ctx: SqliteContext = {
      db,
      prepare: (sql) => {
        let stmt = statements.get(sql);
        if (stmt === undefined) {
          stmt = db.prepare(sql);
          statements.set(sql, stmt);
        }
        return stmt;
      },
      check: () => {
        if (this.#closed) throw new StoreClosedError();
        // Undefined only while the constructor builds the repositories.
        this.audit?.flushQueued();
      },
      checkOpen: () => {
        if (this.#closed) throw new StoreClosedError();
      },
      write: (fn) => this.audit.runWrite(fn),
    };
    this.devices = new SqliteDeviceRepository(ctx);
    this.audit = new SqliteAuditLog(ctx, auditCommitWindow);
    this.settings = new SqliteSettings(ctx);
    this.registrations = new SqliteRegistrationRepository(ctx);
    this.campaigns = new SqliteCampaignRepository(ctx);
    this.firmware = new SqliteFirmwareRepository(ctx);
    this.masa = new SqliteMasaRepository(ctx);
    this.bootstrapConfigs = new SqliteBootstrapConfigRepository(ctx);
  }

  /** One IMMEDIATE transaction: queued audit appends, `audit`, then the registrations (types.ts). */
  async appendAuditAndPutRegistrations(audit: readonly AuditEntry[], registrations: readonly RegistrationRecord[]): Promise<AuditedRegistrationBatch> {
    const entries = audit.map((entry) => normalizeAuditEntry(entry));
    const records = registrations.map((r) => normalizeRegistration(r));
    if (this.#closed) throw new StoreClosedError();
    // (The audit queue is not flushed on its own here: appendWith takes it into this transaction.)
    if (entries.length === 0 && records.length === 0) return { audit: [], registrations: [] };
    const { records: written, result } = this.audit.appendWith(entries, () => this.registrations.putInTransaction(records));
    return { audit: written, registrations: result };
  }

  /**
   * One IMMEDIATE transaction: the queued audit appends, then the update and its record inside a
   * savepoint (SqliteContext.write) — a refused update or record undoes both (types.ts).
   */
  async updateDeviceAudited(endpoint: string, patch: DevicePatch, audit: AuditEntry, options?: AuditedDeviceUpdateOptions): Promise<AuditedDeviceUpdate | undefined> {
    const a = normalizeAuditedDeviceUpdate(endpoint, patch, audit, options);
    if (this.#closed) throw new StoreClosedError();
    const unit = this.#db.transaction((): AuditedDeviceUpdate | undefined => {
      const device = this.devices.updateInTransaction(a.endpoint, a.patch, a.expectedState);
      if (device === undefined) return undefined;
      return { device, audit: this.audit.insertInTransaction([a.entry])[0]! };
    });
    return this.audit.runWrite(() => unit.immediate());
  }

  /** One IMMEDIATE transaction: the queued audit appends, then the log entry and its record (savepoint). */
  async appendRequestLogAndAudit(entry: MasaRequestLogEntry, audit: AuditEntry): Promise<AuditRecord> {
    const e = masaArgs.appendRequestLog(entry);
    const record = normalizeAuditEntry(audit, 'audit');
    if (this.#closed) throw new StoreClosedError();
    const unit = this.#db.transaction((): AuditRecord => {
      this.masa.appendRequestLogInTransaction(e);
      return this.audit.insertInTransaction([record])[0]!;
    });
    return this.audit.runWrite(() => unit.immediate());
  }

  async migrate(): Promise<void> {
    if (this.#closed) throw new StoreClosedError();
    migrateSqlite(this.#db);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Audit appends still waiting for their group commit are written (or rejected) first.
    this.audit.flushQueued();
    this.#closed = true;
    this.#db.close();
  }
}

/** Opens (creating if needed) a SQLite store and brings its schema up to date. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected { file }');
  assertString(options.file, 'options.file', { min: 1, max: 4096 });
  if (options.file.includes('\u0000')) throw new InvalidArgumentError('options.file', 'must not contain U+0000');
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  assertInteger(busyTimeoutMs, 'options.busyTimeoutMs', 0, 600_000);
  const cacheSizeKiB = options.cacheSizeKiB ?? DEFAULT_SQLITE_CACHE_SIZE_KIB;
  assertInteger(cacheSizeKiB, 'options.cacheSizeKiB', 64, 16_777_216);
  const auditCommitWindow = options.auditCommitWindow ?? 'microtask';
  if (auditCommitWindow !== 'microtask' && auditCommitWindow !== 'turn') throw new InvalidArgumentError('options.auditCommitWindow', "expected 'microtask' or 'turn'");
  const memory = options.file === ':memory:';
  if (!memory) mkdirSync(dirname(resolve(options.file)), { recursive: true });
  const db = new Database(options.file, { timeout: busyTimeoutMs });
  try {
    if (!memory) db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL stays consistent after a crash; it only may lose the last commits on
    // power loss, which FULL would protect at the price of an fsync per transaction.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // Negative: a size in KiB rather than in pages (validated integer above, so safe to inline).
    db.pragma(`cache_size = -${cacheSizeKiB}`);
    const store = new SqliteStore(db, auditCommitWindow);
    if (options.migrate !== false) await store.migrate();
    return store;
  } catch (err) {
    db.close();
    throw err;
  }
}
