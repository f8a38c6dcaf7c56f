/** LwM2M registrations and bootstrap configurations on PostgreSQL (see types.ts for the contract). */
import type pg from 'pg';
import { StoreConflictError, StoreNotFoundError } from '../errors.js';
import { toSafeInteger } from '../rows.js';
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
import { FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, sqlState, withTransaction, type PostgresContext } from './context.js';

export class PostgresRegistrationRepository implements RegistrationRepository {
  readonly #ctx: PostgresContext;

  constructor(ctx: PostgresContext) {
    this.#ctx = ctx;
  }

  async put(registration: RegistrationRecord): Promise<RegistrationRecord | undefined> {
    const [result] = await this.putMany([registration]);
    if (!result!.ok) throw result!.error;
    return result!.replaced;
  }

  /** One transaction; each item under a savepoint, so a failing one leaves the others. */
  async putMany(registrations: readonly RegistrationRecord[]): Promise<RegistrationPutResult[]> {
    const records = registrations.map((r) => normalizeRegistration(r));
    this.#ctx.check();
    if (records.length === 0) return [];
    return withTransaction(this.#ctx.pool, (client) => this.putOn(client, records));
  }

  /**
   * The statements of putMany for records already normalised, on `client` inside the caller's
   * open transaction (putMany's own, or Store.appendAuditAndPutRegistrations' one).
   */
  async putOn(client: pg.PoolClient, records: readonly RegistrationRecord[]): Promise<RegistrationPutResult[]> {
    const out: RegistrationPutResult[] = [];
    for (const r of records) {
      await client.query('SAVEPOINT put_registration');
      try {
        // One registration per endpoint: the old row (if any) goes in the same transaction.
        const old = await client.query<RegistrationRow>('DELETE FROM lwm2m_registrations WHERE endpoint = $1 RETURNING *', [r.endpoint]);
        await client.query(
          `INSERT INTO lwm2m_registrations (id, endpoint, lifetime, lwm2m_version, binding, queue_mode, sms_number, object_links, security, peer, registered_at, updated_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [r.id, r.endpoint, r.lifetime, r.lwm2mVersion, r.binding, r.queueMode, r.smsNumber, r.objectLinks, r.security, r.peer, r.registeredAt, r.updatedAt, r.expiresAt],
        );
        await client.query('RELEASE SAVEPOINT put_registration');
        out.push({ ok: true, replaced: old.rows[0] === undefined ? undefined : registrationFromRow(old.rows[0]) });
      } catch (err) {
        const state = sqlState(err);
        if (state !== UNIQUE_VIOLATION && state !== FOREIGN_KEY_VIOLATION) throw err;
        // Back to before this item: the old registration of the endpoint stays.
        await client.query('ROLLBACK TO SAVEPOINT put_registration');
        out.push({
          ok: false,
          error: state === UNIQUE_VIOLATION
            ? new StoreConflictError(`registration id ${JSON.stringify(r.id)} is taken`, { cause: err })
            : new StoreNotFoundError(`device ${JSON.stringify(r.endpoint)} does not exist`, { cause: err }),
        });
      }
    }
    return out;
  }

  async get(id: string): Promise<RegistrationRecord | undefined> {
    assertRegistrationId(id);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<RegistrationRow>('SELECT * FROM lwm2m_registrations WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : registrationFromRow(rows[0]);
  }

  async getByEndpoint(endpoint: string): Promise<RegistrationRecord | undefined> {
    assertEndpoint(endpoint);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<RegistrationRow>('SELECT * FROM lwm2m_registrations WHERE endpoint = $1', [endpoint]);
    return rows[0] === undefined ? undefined : registrationFromRow(rows[0]);
  }

  async update(id: string, patch: RegistrationPatch): Promise<RegistrationRecord | undefined> {
    assertRegistrationId(id);
    const p = normalizeRegistrationPatch(patch);
    this.#ctx.check();
    const params: unknown[] = [id];
    const sets: string[] = [];
    for (const [key, column] of REGISTRATION_PATCH_COLUMNS) {
      const v = p[key];
      if (v === undefined) continue;
      params.push(v);
      sets.push(`${column} = $${params.length}`);
    }
    const sql = sets.length === 0 ? 'SELECT * FROM lwm2m_registrations WHERE id = $1' : `UPDATE lwm2m_registrations SET ${sets.join(', ')} WHERE id = $1 RETURNING *`;
    const { rows } = await this.#ctx.pool.query<RegistrationRow>(sql, params);
    return rows[0] === undefined ? undefined : registrationFromRow(rows[0]);
  }

  async delete(id: string): Promise<boolean> {
    assertRegistrationId(id);
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM lwm2m_registrations WHERE id = $1', [id]);
    return (r.rowCount ?? 0) > 0;
  }

  async list(options?: { after?: string; limit?: number }): Promise<RegistrationRecord[]> {
    const o = normalizeListOptions(options);
    this.#ctx.check();
    const { rows } = o.after === undefined
      ? await this.#ctx.pool.query<RegistrationRow>('SELECT * FROM lwm2m_registrations ORDER BY endpoint COLLATE "C" LIMIT $1', [o.limit])
      : await this.#ctx.pool.query<RegistrationRow>('SELECT * FROM lwm2m_registrations WHERE endpoint > $1 COLLATE "C" ORDER BY endpoint COLLATE "C" LIMIT $2', [o.after, o.limit]);
    return rows.map(registrationFromRow);
  }

  async count(): Promise<number> {
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<{ n: string }>('SELECT count(*) AS n FROM lwm2m_registrations');
    return toSafeInteger(rows[0]?.n, 'registration count');
  }

  async deleteExpired(now: string): Promise<RegistrationRecord[]> {
    assertIsoTime(now, 'now');
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<RegistrationRow>('DELETE FROM lwm2m_registrations WHERE expires_at <= $1 RETURNING *', [new Date(now).toISOString()]);
    return rows.map(registrationFromRow).sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  }
}

export class PostgresBootstrapConfigRepository implements BootstrapConfigRepository {
  readonly #ctx: PostgresContext;

  constructor(ctx: PostgresContext) {
    this.#ctx = ctx;
  }

  async get(endpoint: string): Promise<BootstrapConfigRecord | undefined> {
    assertEndpoint(endpoint);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<BootstrapConfigRow>('SELECT * FROM lwm2m_bootstrap_configs WHERE endpoint = $1', [endpoint]);
    return rows[0] === undefined ? undefined : bootstrapConfigFromRow(rows[0]);
  }

  async set(endpoint: string, config: Record<string, unknown>): Promise<BootstrapConfigRecord> {
    assertEndpoint(endpoint);
    const c = normalizeBootstrapConfig(config);
    this.#ctx.check();
    const now = new Date().toISOString();
    try {
      await this.#ctx.pool.query(
        'INSERT INTO lwm2m_bootstrap_configs (endpoint, config, updated_at) VALUES ($1, $2::jsonb, $3) ON CONFLICT (endpoint) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at',
        [endpoint, JSON.stringify(c), now],
      );
    } catch (err) {
      if (sqlState(err) === FOREIGN_KEY_VIOLATION) throw new StoreNotFoundError(`device ${JSON.stringify(endpoint)} does not exist`, { cause: err });
      throw err;
    }
    return { endpoint, config: c, updatedAt: now };
  }

  async delete(endpoint: string): Promise<boolean> {
    assertEndpoint(endpoint);
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM lwm2m_bootstrap_configs WHERE endpoint = $1', [endpoint]);
    return (r.rowCount ?? 0) > 0;
  }
}
