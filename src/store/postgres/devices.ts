/**
 * DeviceRepository on PostgreSQL: each method is one statement, atomic without a transaction,
 * except createWithCredentials, which is one transaction.
 */
import type pg from 'pg';
import { StoreConflictError, StoreNotFoundError } from '../errors.js';
import { credentialFromRow, deviceFromRow, toSafeInteger, type CredentialRow, type DeviceRow } from '../rows.js';
import type { CredentialKind, DeviceCredential, DevicePatch, DeviceQuery, DeviceRecord, DeviceRepository, NewDevice, OwnershipState } from '../types.js';
import {
  assertCredentialKind,
  assertEndpoint,
  assertLookup,
  normalizeCredential,
  normalizeCredentialList,
  normalizeDevicePatch,
  normalizeDeviceQuery,
  normalizeNewDevice,
  type NormalizedCredential,
  type NormalizedDevice,
  type NormalizedQuery,
} from '../validate.js';
import { FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, sqlState, withTransaction, type PostgresContext } from './context.js';

function whereClause(q: Omit<NormalizedQuery, 'limit'>, paging: boolean, params: unknown[]): string {
  const parts: string[] = [];
  const add = (sql: (placeholder: string) => string, param: unknown): void => {
    params.push(param);
    parts.push(sql(`$${params.length}`));
  };
  // strpos(), not LIKE: the same case-sensitive, wildcard-free substring test as SQLite's instr().
  if (q.search !== undefined) add((p) => `strpos(endpoint, ${p}) > 0`, q.search);
  if (q.model !== undefined) add((p) => `model = ${p}`, q.model);
  // jsonb `?`: the array holds this string as an element (served by the GIN index on tags).
  if (q.tag !== undefined) add((p) => `tags ? ${p}`, q.tag);
  if (q.ownershipState !== undefined) add((p) => `ownership_state = ${p}`, q.ownershipState);
  if (paging && q.after !== undefined) add((p) => `endpoint > ${p} COLLATE "C"`, q.after);
  return parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`;
}

/** A pool or a client inside a transaction: both can run the inserts. */
type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

async function insertDevice(db: Queryable, d: NormalizedDevice, now: string): Promise<DeviceRecord> {
  try {
    await db.query(
      `INSERT INTO devices (endpoint, model, firmware_version, tags, ownership_state, attributes, created_at, updated_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $7)`,
      [d.endpoint, d.model, d.firmwareVersion, JSON.stringify(d.tags), d.ownershipState, JSON.stringify(d.attributes), now],
    );
  } catch (err) {
    if (sqlState(err) === UNIQUE_VIOLATION) throw new StoreConflictError(`device ${JSON.stringify(d.endpoint)} already exists`, { cause: err });
    throw err;
  }
  return { ...d, createdAt: now, updatedAt: now };
}

async function insertCredential(db: Queryable, c: NormalizedCredential, now: string): Promise<DeviceCredential> {
  try {
    await db.query('INSERT INTO device_credentials (kind, lookup, endpoint, material, created_at) VALUES ($1, $2, $3, $4, $5)', [
      c.kind,
      c.lookup,
      c.endpoint,
      Buffer.from(c.material.buffer, c.material.byteOffset, c.material.byteLength),
      now,
    ]);
  } catch (err) {
    const state = sqlState(err);
    if (state === UNIQUE_VIOLATION) throw new StoreConflictError(`${c.kind} credential ${JSON.stringify(c.lookup)} is already bound to a device`, { cause: err });
    if (state === FOREIGN_KEY_VIOLATION) throw new StoreNotFoundError(`device ${JSON.stringify(c.endpoint)} does not exist`, { cause: err });
    throw err;
  }
  return { ...c, material: new Uint8Array(c.material), createdAt: now };
}

export class PostgresDeviceRepository implements DeviceRepository {
  readonly #ctx: PostgresContext;

  constructor(ctx: PostgresContext) {
    this.#ctx = ctx;
  }

  async create(device: NewDevice): Promise<DeviceRecord> {
    const d = normalizeNewDevice(device);
    this.#ctx.check();
    return insertDevice(this.#ctx.pool, d, new Date().toISOString());
  }

  async createWithCredentials(
    device: NewDevice,
    credentials: Array<Omit<DeviceCredential, 'createdAt' | 'endpoint'>>,
  ): Promise<{ device: DeviceRecord; credentials: DeviceCredential[] }> {
    const d = normalizeNewDevice(device);
    const creds = normalizeCredentialList(d.endpoint, credentials);
    this.#ctx.check();
    const now = new Date().toISOString();
    return withTransaction(this.#ctx.pool, async (client) => {
      const record = await insertDevice(client, d, now);
      const bound: DeviceCredential[] = [];
      for (const c of creds) bound.push(await insertCredential(client, c, now));
      return { device: record, credentials: bound };
    });
  }

  async get(endpoint: string): Promise<DeviceRecord | undefined> {
    assertEndpoint(endpoint);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<DeviceRow>('SELECT * FROM devices WHERE endpoint = $1', [endpoint]);
    return rows[0] === undefined ? undefined : deviceFromRow(rows[0]);
  }

  async list(query?: DeviceQuery): Promise<DeviceRecord[]> {
    const q = normalizeDeviceQuery(query);
    this.#ctx.check();
    const params: unknown[] = [];
    const where = whereClause(q, true, params);
    params.push(q.limit);
    const { rows } = await this.#ctx.pool.query<DeviceRow>(`SELECT * FROM devices ${where} ORDER BY endpoint COLLATE "C" LIMIT $${params.length}`, params);
    return rows.map(deviceFromRow);
  }

  async count(query?: Omit<DeviceQuery, 'limit' | 'after'>): Promise<number> {
    const q = normalizeDeviceQuery(query);
    this.#ctx.check();
    const params: unknown[] = [];
    const where = whereClause(q, false, params);
    const { rows } = await this.#ctx.pool.query<{ n: string }>(`SELECT count(*) AS n FROM devices ${where}`, params);
    return toSafeInteger(rows[0]?.n, 'device count');
  }

  async update(endpoint: string, patch: DevicePatch): Promise<DeviceRecord> {
    assertEndpoint(endpoint);
    const p = normalizeDevicePatch(patch);
    this.#ctx.check();
    return (await this.updateOn(this.#ctx.pool, endpoint, p, undefined))!;
  }

  /**
   * update()'s statement (checked arguments) on `db`: the pool, or a client inside the caller's
   * transaction (Store.updateDeviceAudited). With `expectedState`, a device in another ownership
   * state is left alone and `undefined` returned. Throws StoreNotFoundError.
   */
  async updateOn(db: Queryable, endpoint: string, p: DevicePatch, expectedState: OwnershipState | undefined): Promise<DeviceRecord | undefined> {
    const params: unknown[] = [endpoint];
    const sets: string[] = [];
    const set = (column: string, value: unknown, cast = ''): void => {
      params.push(value);
      sets.push(`${column} = $${params.length}${cast}`);
    };
    if (p.model !== undefined) set('model', p.model);
    if (p.firmwareVersion !== undefined) set('firmware_version', p.firmwareVersion);
    if (p.tags !== undefined) set('tags', JSON.stringify(p.tags), '::jsonb');
    if (p.ownershipState !== undefined) set('ownership_state', p.ownershipState);
    if (p.attributes !== undefined) set('attributes', JSON.stringify(p.attributes), '::jsonb');
    set('updated_at', new Date().toISOString());
    let where = 'endpoint = $1';
    if (expectedState !== undefined) {
      params.push(expectedState);
      where += ` AND ownership_state = $${params.length}`;
    }
    const { rows } = await db.query<DeviceRow>(`UPDATE devices SET ${sets.join(', ')} WHERE ${where} RETURNING *`, params);
    if (rows[0] !== undefined) return deviceFromRow(rows[0]);
    // No row: absent, or (compare-and-set) in another state — the two answers differ.
    if (expectedState !== undefined && (await db.query('SELECT 1 FROM devices WHERE endpoint = $1', [endpoint])).rows.length > 0) return undefined;
    throw new StoreNotFoundError(`device ${JSON.stringify(endpoint)} does not exist`);
  }

  async delete(endpoint: string): Promise<boolean> {
    assertEndpoint(endpoint);
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM devices WHERE endpoint = $1', [endpoint]);
    return (r.rowCount ?? 0) > 0;
  }

  async addCredential(credential: Omit<DeviceCredential, 'createdAt'>): Promise<DeviceCredential> {
    const c = normalizeCredential(credential);
    this.#ctx.check();
    return insertCredential(this.#ctx.pool, c, new Date().toISOString());
  }

  async credentials(endpoint: string): Promise<DeviceCredential[]> {
    assertEndpoint(endpoint);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<CredentialRow>(
      'SELECT * FROM device_credentials WHERE endpoint = $1 ORDER BY created_at, kind COLLATE "C", lookup COLLATE "C"',
      [endpoint],
    );
    return rows.map(credentialFromRow);
  }

  async findCredential(kind: CredentialKind, lookup: string): Promise<DeviceCredential | undefined> {
    assertCredentialKind(kind);
    assertLookup(lookup);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<CredentialRow>('SELECT * FROM device_credentials WHERE kind = $1 AND lookup = $2', [kind, lookup]);
    return rows[0] === undefined ? undefined : credentialFromRow(rows[0]);
  }

  async removeCredential(kind: CredentialKind, lookup: string): Promise<boolean> {
    assertCredentialKind(kind);
    assertLookup(lookup);
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM device_credentials WHERE kind = $1 AND lookup = $2', [kind, lookup]);
    return (r.rowCount ?? 0) > 0;
  }
}
