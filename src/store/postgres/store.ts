/**
 * The scale-out store: PostgreSQL through a pg Pool. Every node of a cluster may open it at once;
 * migrations and audit appends are serialised in the database, not in this process.
 */
import { channel } from 'node:diagnostics_channel';
import pg from 'pg';
import { InvalidArgumentError } from '../../errors.js';
import { assertString, describeType } from '../../util/assert.js';
import { StoreClosedError } from '../errors.js';
import { masaArgs } from '../masa-args.js';
import type { MasaRequestLogEntry } from '../masa-types.js';
import { normalizeRegistration } from '../registration-rows.js';
import type { AuditedDeviceUpdate, AuditedDeviceUpdateOptions, AuditedRegistrationBatch, AuditEntry, AuditRecord, DevicePatch, RegistrationRecord, SettingsRepository, Store } from '../types.js';
import { assertSettingKey, assertSettingValue, normalizeAuditedDeviceUpdate, normalizeAuditEntry } from '../validate.js';
import { PostgresAuditLog } from './audit.js';
import { PostgresCampaignRepository } from './campaigns.js';
import { PostgresFirmwareRepository } from './firmware.js';
import { PostgresMasaRepository } from './masa.js';
import { withTransaction, type PostgresContext } from './context.js';
import { PostgresDeviceRepository } from './devices.js';
import { migratePostgres } from './migrate.js';
import { PostgresBootstrapConfigRepository, PostgresRegistrationRepository } from './registrations.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (anything pg accepts). */
  connectionString?: string;
  /** Full pg Pool configuration; `connectionString` above, if given, takes precedence. */
  pool?: pg.PoolConfig;
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
}

/**
 * Errors of idle pooled connections (server restart, network cut) are published here instead of
 * crashing the process; the pool replaces the connection and the next query reports any outage.
 */
export const poolErrorChannel = channel('rootline:store:postgres:pool-error');

class PostgresSettings implements SettingsRepository {
  readonly #ctx: PostgresContext;

  constructor(ctx: PostgresContext) {
    this.#ctx = ctx;
  }

  async get(key: string): Promise<string | undefined> {
    assertSettingKey(key);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
    return rows[0]?.value;
  }

  async set(key: string, value: string): Promise<void> {
    assertSettingKey(key);
    assertSettingValue(value);
    this.#ctx.check();
    await this.#ctx.pool.query(
      'INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, now()) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      [key, value],
    );
  }

  async delete(key: string): Promise<boolean> {
    assertSettingKey(key);
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM settings WHERE key = $1', [key]);
    return (r.rowCount ?? 0) > 0;
  }
}

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly devices: PostgresDeviceRepository;
  readonly audit: PostgresAuditLog;
  readonly settings: PostgresSettings;
  readonly registrations: PostgresRegistrationRepository;
  readonly campaigns: PostgresCampaignRepository;
  readonly firmware: PostgresFirmwareRepository;
  readonly masa: PostgresMasaRepository;
  readonly bootstrapConfigs: PostgresBootstrapConfigRepository;
  readonly #pool: pg.Pool;
  #closed = false;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    const ctx: PostgresContext = {
      pool,
      check: () => {
        if (this.#closed) throw new StoreClosedError();
      },
    };
    this.devices = new PostgresDeviceRepository(ctx);
    this.audit = new PostgresAuditLog(ctx);
    this.settings = new PostgresSettings(ctx);
    this.registrations = new PostgresRegistrationRepository(ctx);
    this.campaigns = new PostgresCampaignRepository(ctx);
    this.firmware = new PostgresFirmwareRepository(ctx);
    this.masa = new PostgresMasaRepository(ctx);
    this.bootstrapConfigs = new PostgresBootstrapConfigRepository(ctx);
  }

  /** One transaction: the audit records under the head-row lock, then the registrations (types.ts). */
  async appendAuditAndPutRegistrations(audit: readonly AuditEntry[], registrations: readonly RegistrationRecord[]): Promise<AuditedRegistrationBatch> {
    const entries = audit.map((entry) => normalizeAuditEntry(entry));
    const records = registrations.map((r) => normalizeRegistration(r));
    if (this.#closed) throw new StoreClosedError();
    if (entries.length === 0 && records.length === 0) return { audit: [], registrations: [] };
    return withTransaction(this.#pool, async (client) => {
      const written = await this.audit.appendOn(client, entries);
      return { audit: written, registrations: await this.registrations.putOn(client, records) };
    });
  }

  /**
   * One transaction: the (conditional) UPDATE, which locks the device row, then the audit record
   * under the head-row lock (types.ts). A compare-and-set miss commits nothing.
   */
  async updateDeviceAudited(endpoint: string, patch: DevicePatch, audit: AuditEntry, options?: AuditedDeviceUpdateOptions): Promise<AuditedDeviceUpdate | undefined> {
    const a = normalizeAuditedDeviceUpdate(endpoint, patch, audit, options);
    if (this.#closed) throw new StoreClosedError();
    return withTransaction(this.#pool, async (client) => {
      const device = await this.devices.updateOn(client, a.endpoint, a.patch, a.expectedState);
      if (device === undefined) return undefined;
      return { device, audit: (await this.audit.appendOn(client, [a.entry]))[0]! };
    });
  }

  /** One transaction: the log entry, then its record under the head-row lock. */
  async appendRequestLogAndAudit(entry: MasaRequestLogEntry, audit: AuditEntry): Promise<AuditRecord> {
    const e = masaArgs.appendRequestLog(entry);
    const record = normalizeAuditEntry(audit, 'audit');
    if (this.#closed) throw new StoreClosedError();
    return withTransaction(this.#pool, async (client) => {
      await this.masa.appendRequestLogOn(client, e);
      return (await this.audit.appendOn(client, [record]))[0]!;
    });
  }

  async migrate(): Promise<void> {
    if (this.#closed) throw new StoreClosedError();
    await migratePostgres(this.#pool);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

/** Connects a pool to PostgreSQL and brings the schema up to date. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', `expected { connectionString } or { pool }, got ${describeType(options)}`);
  }
  if (options.connectionString !== undefined) assertString(options.connectionString, 'options.connectionString', { min: 1, max: 4096 });
  if (options.pool !== undefined && (typeof options.pool !== 'object' || options.pool === null)) {
    throw new InvalidArgumentError('options.pool', `expected a pg PoolConfig, got ${describeType(options.pool)}`);
  }
  if (options.connectionString === undefined && options.pool === undefined) {
    throw new InvalidArgumentError('options', 'give connectionString or pool');
  }
  const config: pg.PoolConfig = { application_name: 'rootline', ...options.pool };
  if (options.connectionString !== undefined) config.connectionString = options.connectionString;
  const pool = new pg.Pool(config);
  pool.on('error', (err) => {
    if (poolErrorChannel.hasSubscribers) poolErrorChannel.publish({ error: err });
  });
  try {
    const store = new PostgresStore(pool);
    if (options.migrate !== false) await store.migrate();
    return store;
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}
