/**
 * DeviceRepository on SQLite. better-sqlite3 is synchronous, so each method runs to completion
 * before the next starts on this connection; other processes are held off by SQLite's locks.
 */
import { StoreConflictError, StoreNotFoundError } from '../errors.js';
import { credentialFromRow, deviceFromRow, type CredentialRow, type DeviceRow } from '../rows.js';
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
import { sqliteCode, type SqliteContext } from './context.js';

function whereClause(q: Omit<NormalizedQuery, 'limit'>, paging: boolean): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, param: unknown): void => {
    parts.push(sql);
    params.push(param);
  };
  // instr(), not LIKE: LIKE is case-insensitive in SQLite and case-sensitive in PostgreSQL, and
  // treats % and _ as wildcards; a plain case-sensitive substring means the same in both.
  if (q.search !== undefined) add('instr(endpoint, ?) > 0', q.search);
  if (q.model !== undefined) add('model = ?', q.model);
  if (q.tag !== undefined) add('EXISTS (SELECT 1 FROM json_each(devices.tags) WHERE json_each.value = ?)', q.tag);
  if (q.ownershipState !== undefined) add('ownership_state = ?', q.ownershipState);
  if (paging && q.after !== undefined) add('endpoint > ?', q.after);
  return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

/** Patch fields and their columns, in the order update() writes them. */
const PATCH_COLUMNS: ReadonlyArray<readonly [keyof DevicePatch, string]> = [
  ['model', 'model'],
  ['firmwareVersion', 'firmware_version'],
  ['tags', 'tags'],
  ['ownershipState', 'ownership_state'],
  ['attributes', 'attributes'],
];

export class SqliteDeviceRepository implements DeviceRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  async create(device: NewDevice): Promise<DeviceRecord> {
    const d = normalizeNewDevice(device);
    this.#ctx.checkOpen();
    return this.#ctx.write(() => this.#insertDevice(d, new Date().toISOString()));
  }

  async createWithCredentials(
    device: NewDevice,
    credentials: Array<Omit<DeviceCredential, 'createdAt' | 'endpoint'>>,
  ): Promise<{ device: DeviceRecord; credentials: DeviceCredential[] }> {
    const d = normalizeNewDevice(device);
    const creds = normalizeCredentialList(d.endpoint, credentials);
    this.#ctx.checkOpen();
    const now = new Date().toISOString();
    const tx = this.#ctx.db.transaction(() => ({ device: this.#insertDevice(d, now), credentials: creds.map((c) => this.#insertCredential(c, now)) }));
    return this.#ctx.write(() => tx.immediate());
  }

  #insertDevice(d: NormalizedDevice, now: string): DeviceRecord {
    try {
      this.#ctx.prepare(
          `INSERT INTO devices (endpoint, model, firmware_version, tags, ownership_state, attributes, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(d.endpoint, d.model, d.firmwareVersion, JSON.stringify(d.tags), d.ownershipState, JSON.stringify(d.attributes), now, now);
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StoreConflictError(`device ${JSON.stringify(d.endpoint)} already exists`, { cause: err });
      }
      throw err;
    }
    return { ...d, createdAt: now, updatedAt: now };
  }

  #insertCredential(c: NormalizedCredential, now: string): DeviceCredential {
    try {
      this.#ctx.prepare('INSERT INTO device_credentials (kind, lookup, endpoint, material, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(c.kind, c.lookup, c.endpoint, Buffer.from(c.material.buffer, c.material.byteOffset, c.material.byteLength), now);
    } catch (err) {
      const code = sqliteCode(err);
      if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StoreConflictError(`${c.kind} credential ${JSON.stringify(c.lookup)} is already bound to a device`, { cause: err });
      }
      if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new StoreNotFoundError(`device ${JSON.stringify(c.endpoint)} does not exist`, { cause: err });
      }
      throw err;
    }
    return { ...c, material: new Uint8Array(c.material), createdAt: now };
  }

  async get(endpoint: string): Promise<DeviceRecord | undefined> {
    assertEndpoint(endpoint);
    this.#ctx.checkOpen();
    return this.#get(endpoint);
  }

  #get(endpoint: string): DeviceRecord | undefined {
    const row = this.#ctx.prepare('SELECT * FROM devices WHERE endpoint = ?').get(endpoint) as DeviceRow | undefined;
    return row === undefined ? undefined : deviceFromRow(row);
  }

  async list(query?: DeviceQuery): Promise<DeviceRecord[]> {
    const q = normalizeDeviceQuery(query);
    this.#ctx.checkOpen();
    const where = whereClause(q, true);
    const rows = this.#ctx.prepare(`SELECT * FROM devices ${where.sql} ORDER BY endpoint LIMIT ?`).all(...where.params, q.limit) as DeviceRow[];
    return rows.map(deviceFromRow);
  }

  async count(query?: Omit<DeviceQuery, 'limit' | 'after'>): Promise<number> {
    const q = normalizeDeviceQuery(query);
    this.#ctx.checkOpen();
    const where = whereClause(q, false);
    const row = this.#ctx.prepare(`SELECT count(*) AS n FROM devices ${where.sql}`).get(...where.params) as { n: number };
    return row.n;
  }

  async update(endpoint: string, patch: DevicePatch): Promise<DeviceRecord> {
    assertEndpoint(endpoint);
    const p = normalizeDevicePatch(patch);
    this.#ctx.checkOpen();
    const apply = this.#ctx.db.transaction((): DeviceRecord => this.updateInTransaction(endpoint, p, undefined)!);
    return this.#ctx.write(() => apply.immediate());
  }

  /**
   * The read-check-write of update() (checked arguments), to run inside the caller's transaction
   * (update's own, or Store.updateDeviceAudited's). With `expectedState`, a device in another
   * ownership state is left alone and `undefined` returned. Throws StoreNotFoundError.
   */
  updateInTransaction(endpoint: string, p: DevicePatch, expectedState: OwnershipState | undefined): DeviceRecord | undefined {
    const current = this.#get(endpoint);
    if (current === undefined) throw new StoreNotFoundError(`device ${JSON.stringify(endpoint)} does not exist`);
    if (expectedState !== undefined && current.ownershipState !== expectedState) return undefined;
    // Only the patched columns are written (and serialised): the others keep what was read.
    const sets: string[] = [];
    const params: unknown[] = [];
    for (const [key, column] of PATCH_COLUMNS) {
      const value = p[key];
      if (value === undefined) continue;
      sets.push(`${column} = ?`);
      // tags and attributes are JSON text; model and firmware version a string or NULL.
      params.push(key === 'tags' || key === 'attributes' ? JSON.stringify(value) : value);
    }
    const next: DeviceRecord = { ...current, ...p, updatedAt: new Date().toISOString() };
    this.#ctx.prepare(`UPDATE devices SET ${sets.join(', ')}${sets.length === 0 ? '' : ', '}updated_at = ? WHERE endpoint = ?`).run(...params, next.updatedAt, endpoint);
    return next;
  }

  async delete(endpoint: string): Promise<boolean> {
    assertEndpoint(endpoint);
    this.#ctx.checkOpen();
    return this.#ctx.write(() => this.#ctx.prepare('DELETE FROM devices WHERE endpoint = ?').run(endpoint).changes > 0);
  }

  async addCredential(credential: Omit<DeviceCredential, 'createdAt'>): Promise<DeviceCredential> {
    const c = normalizeCredential(credential);
    this.#ctx.checkOpen();
    return this.#ctx.write(() => this.#insertCredential(c, new Date().toISOString()));
  }

  async credentials(endpoint: string): Promise<DeviceCredential[]> {
    assertEndpoint(endpoint);
    this.#ctx.checkOpen();
    const rows = this.#ctx.prepare('SELECT * FROM device_credentials WHERE endpoint = ? ORDER BY created_at, kind, lookup')
      .all(endpoint) as CredentialRow[];
    return rows.map(credentialFromRow);
  }

  async findCredential(kind: CredentialKind, lookup: string): Promise<DeviceCredential | undefined> {
    assertCredentialKind(kind);
    assertLookup(lookup);
    this.#ctx.checkOpen();
    const row = this.#ctx.prepare('SELECT * FROM device_credentials WHERE kind = ? AND lookup = ?').get(kind, lookup) as CredentialRow | undefined;
    return row === undefined ? undefined : credentialFromRow(row);
  }

  async removeCredential(kind: CredentialKind, lookup: string): Promise<boolean> {
    assertCredentialKind(kind);
    assertLookup(lookup);
    this.#ctx.checkOpen();
    return this.#ctx.write(() => this.#ctx.prepare('DELETE FROM device_credentials WHERE kind = ? AND lookup = ?').run(kind, lookup).changes > 0);
  }
}
