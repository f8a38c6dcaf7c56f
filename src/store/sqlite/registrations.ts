/** LwM2M registrations and bootstrap configurations on SQLite (see types.ts for the contract). */
import { StoreConflictError, StoreNotFoundError } from '../errors.js';
import {
  assertIsoTime,
  assertRegistrationId,
  bootstrapConfigFromRow,
  normalizeBootstrapConfig,
  normalizeListOptions,
  normalizeRegistration,
  normalizeRegistrationPatch,
  registrationFromRow,
  REGISTRATION_PATCH_COLUMNS,
  type BootstrapConfigRow,
  type RegistrationRow,
} from '../registration-rows.js';
import type { BootstrapConfigRecord, BootstrapConfigRepository, RegistrationPatch, RegistrationPutResult, RegistrationRecord, RegistrationRepository } from '../types.js';
import { assertEndpoint } from '../validate.js';
import { sqliteCode, type SqliteContext } from './context.js';

export class SqliteRegistrationRepository implements RegistrationRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async put(registration: RegistrationRecord): Promise<RegistrationRecord | undefined> {
    const [result] = await this.putMany([registration]);
    if (!result!.ok) throw result!.error;
    return result!.replaced;
  }

  /** One IMMEDIATE transaction for the batch; a failing item is only that item's statement. */
  async putMany(registrations: readonly RegistrationRecord[]): Promise<RegistrationPutResult[]> {
    // Arguments are checked first: a malformed record is the caller's bug and fails the call.
    const records = registrations.map((r) => normalizeRegistration(r));
    this.#ctx.checkOpen();
    if (records.length === 0) return [];
    const tx = this.#ctx.db.transaction(() => this.putInTransaction(records));
    return this.#ctx.write(() => tx.immediate());
  }

  /**
   * The statements of putMany for records already normalised, run inside the caller's open
   * transaction (putMany's own, or Store.appendAuditAndPutRegistrations' one).
   */
  putInTransaction(records: readonly RegistrationRecord[]): RegistrationPutResult[] {
    const byEndpoint = this.#ctx.prepare('SELECT * FROM lwm2m_registrations WHERE endpoint = ?');
    const remove = this.#ctx.prepare('DELETE FROM lwm2m_registrations WHERE id = ?');
    const insert = this.#ctx.prepare(
      `INSERT INTO lwm2m_registrations (id, endpoint, lifetime, lwm2m_version, binding, queue_mode, sms_number, object_links, security, peer, registered_at, updated_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return records.map((r): RegistrationPutResult => {
      const old = byEndpoint.get(r.endpoint) as RegistrationRow | undefined;
      try {
        // A failed INSERT undoes only itself (SQLite statement rollback), so the DELETE is
        // undone by hand: the old registration stays when the new one cannot be stored.
        if (old !== undefined) remove.run(old.id);
        try {
          insert.run(r.id, r.endpoint, r.lifetime, r.lwm2mVersion, r.binding, r.queueMode ? 1 : 0, r.smsNumber, r.objectLinks, r.security, r.peer, r.registeredAt, r.updatedAt, r.expiresAt);
        } catch (err) {
          if (old !== undefined) {
            insert.run(old.id, old.endpoint, old.lifetime, old.lwm2m_version, old.binding, old.queue_mode, old.sms_number, old.object_links, old.security, old.peer, old.registered_at, old.updated_at, old.expires_at);
          }
          throw err;
        }
      } catch (err) {
        const code = sqliteCode(err);
        if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return { ok: false, error: new StoreConflictError(`registration id ${JSON.stringify(r.id)} is taken`, { cause: err }) };
        if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return { ok: false, error: new StoreNotFoundError(`device ${JSON.stringify(r.endpoint)} does not exist`, { cause: err }) };
        throw err;
      }
      return { ok: true, replaced: old === undefined ? undefined : registrationFromRow(old) };
    });
  }

  async get(id: string): Promise<RegistrationRecord | undefined> {
    assertRegistrationId(id);
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT * FROM lwm2m_registrations WHERE id = ?').get(id) as RegistrationRow | undefined;
    return row === undefined ? undefined : registrationFromRow(row);
  }

  async getByEndpoint(endpoint: string): Promise<RegistrationRecord | undefined> {
    assertEndpoint(endpoint);
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT * FROM lwm2m_registrations WHERE endpoint = ?').get(endpoint) as RegistrationRow | undefined;
    return row === undefined ? undefined : registrationFromRow(row);
  }

  async update(id: string, patch: RegistrationPatch): Promise<RegistrationRecord | undefined> {
    assertRegistrationId(id);
    const p = normalizeRegistrationPatch(patch);
    this.#ctx.checkOpen();
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [key, column] of REGISTRATION_PATCH_COLUMNS) {
      const v = p[key];
      if (v === undefined) continue;
      sets.push(`${column} = ?`);
      params.push(typeof v === 'boolean' ? (v ? 1 : 0) : v);
    }
    const tx = this.#ctx.db.transaction((): RegistrationRecord | undefined => {
      if (sets.length > 0) this.#ctx.prepare(`UPDATE lwm2m_registrations SET ${sets.join(', ')} WHERE id = ?`).run(...params, id);
      const row = this.#ctx.prepare('SELECT * FROM lwm2m_registrations WHERE id = ?').get(id) as RegistrationRow | undefined;
      return row === undefined ? undefined : registrationFromRow(row);
    });
    return this.#ctx.write(() => tx.immediate());
  }

  async delete(id: string): Promise<boolean> {
    assertRegistrationId(id);
    this.#ctx.check();
    return this.#ctx.prepare('DELETE FROM lwm2m_registrations WHERE id = ?').run(id).changes > 0;
  }

  async list(options?: { after?: string; limit?: number }): Promise<RegistrationRecord[]> {
    const o = normalizeListOptions(options);
    this.#ctx.checkOpen();
    const rows = (o.after === undefined
      ? this.#ctx.prepare('SELECT * FROM lwm2m_registrations ORDER BY endpoint LIMIT ?').all(o.limit)
      : this.#ctx.prepare('SELECT * FROM lwm2m_registrations WHERE endpoint > ? ORDER BY endpoint LIMIT ?').all(o.after, o.limit)) as RegistrationRow[];
    return rows.map(registrationFromRow);
  }

  async count(): Promise<number> {
    this.#ctx.checkOpen();
    return (this.#ctx.prepare('SELECT count(*) AS n FROM lwm2m_registrations').get() as { n: number }).n;
  }

  async deleteExpired(now: string): Promise<RegistrationRecord[]> {
    assertIsoTime(now, 'now');
    const at = new Date(now).toISOString();
    this.#ctx.check();
    // ISO 8601 UTC strings of one fixed shape (toISOString) order as text the way they order in time.
    const tx = this.#ctx.db.transaction((): RegistrationRecord[] => {
      const rows = this.#ctx.prepare('SELECT * FROM lwm2m_registrations WHERE expires_at <= ? ORDER BY endpoint').all(at) as RegistrationRow[];
      this.#ctx.prepare('DELETE FROM lwm2m_registrations WHERE expires_at <= ?').run(at);
      return rows.map(registrationFromRow);
    });
    return tx.immediate();
  }
}

export class SqliteBootstrapConfigRepository implements BootstrapConfigRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async get(endpoint: string): Promise<BootstrapConfigRecord | undefined> {
    assertEndpoint(endpoint);
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT * FROM lwm2m_bootstrap_configs WHERE endpoint = ?').get(endpoint) as BootstrapConfigRow | undefined;
    return row === undefined ? undefined : bootstrapConfigFromRow(row);
  }

  async set(endpoint: string, config: Record<string, unknown>): Promise<BootstrapConfigRecord> {
    assertEndpoint(endpoint);
    const c = normalizeBootstrapConfig(config);
    this.#ctx.checkOpen();
    const now = new Date().toISOString();
    try {
      this.#ctx.write(() =>
        this.#ctx.prepare('INSERT INTO lwm2m_bootstrap_configs (endpoint, config, updated_at) VALUES (?, ?, ?) ON CONFLICT (endpoint) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at')
          .run(endpoint, JSON.stringify(c), now),
      );
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreNotFoundError(`device ${JSON.stringify(endpoint)} does not exist`, { cause: err });
      throw err;
    }
    return { endpoint, config: c, updatedAt: now };
  }

  async delete(endpoint: string): Promise<boolean> {
    assertEndpoint(endpoint);
    this.#ctx.check();
    return this.#ctx.prepare('DELETE FROM lwm2m_bootstrap_configs WHERE endpoint = ?').run(endpoint).changes > 0;
  }
}
