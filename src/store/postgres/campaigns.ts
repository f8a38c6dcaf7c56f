/**
 * CampaignRepository on PostgreSQL. Compare-and-set updates lock the row (SELECT ... FOR UPDATE)
 * inside a transaction, so two nodes deciding about the same device serialise on that row and
 * the second sees the first one's decision; addDevices locks the campaign row so positions of
 * concurrent joiners never collide.
 */
import { assertInteger } from '../../util/assert.js';
import {
  applyDevicePatch,
  assertCampaignId,
  campaignDeviceFromRow,
  campaignEventFromRow,
  campaignFromRow,
  deviceCountFromRow,
  newCampaignDeviceRecord,
  newCampaignRecord,
  nextCampaignRevision,
  normalizeCampaignDeviceQuery,
  normalizeCampaignEvent,
  normalizeCampaignListOptions,
  normalizeCampaignPatch,
  normalizeDevicePatchForCampaign,
  normalizeEventListOptions,
  normalizeExpectation,
  normalizeNewCampaign,
  normalizeNewCampaignDevices,
  type CampaignDeviceRow,
  type CampaignEventRow,
  type CampaignRow,
} from '../campaign-rows.js';
import type {
  CampaignDeviceCount,
  CampaignDeviceExpectation,
  CampaignDevicePatch,
  CampaignDeviceQuery,
  CampaignDeviceRecord,
  CampaignEventRecord,
  CampaignPatch,
  CampaignRecord,
  CampaignRepository,
  CampaignState,
  NewCampaign,
  NewCampaignDevice,
  NewCampaignEvent,
} from '../campaign-types.js';
import { StoreConflictError, StoreNotFoundError } from '../errors.js';
import { toSafeInteger } from '../rows.js';
import { assertEndpoint } from '../validate.js';
import { UNIQUE_VIOLATION, sqlState, withTransaction, type PostgresContext } from './context.js';
import type pg from 'pg';

type NormalizedEvent = ReturnType<typeof normalizeCampaignEvent>;
type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

async function insertEvent(db: Queryable, campaignId: string, e: NormalizedEvent, at: string): Promise<CampaignEventRecord> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO campaign_events (campaign_id, endpoint, at, type, details) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id',
    [campaignId, e.endpoint, at, e.type, JSON.stringify(e.details)],
  );
  return { id: toSafeInteger(rows[0]?.id, 'campaign_events id'), campaignId, endpoint: e.endpoint, at, type: e.type, details: e.details };
}

export class PostgresCampaignRepository implements CampaignRepository {
  readonly #ctx: PostgresContext;

  constructor(ctx: PostgresContext) {
    this.#ctx = ctx;
  }

  async create(campaign: NewCampaign, event?: NewCampaignEvent): Promise<CampaignRecord> {
    const c = normalizeNewCampaign(campaign);
    const e = event === undefined ? undefined : normalizeCampaignEvent(event);
    this.#ctx.check();
    const now = new Date().toISOString();
    try {
      await withTransaction(this.#ctx.pool, async (client) => {
        await client.query(
          `INSERT INTO campaigns (id, name, firmware_id, state, spec, progress, state_reason, revision, created_by, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, NULL, 1, $7, $8, $8)`,
          [c.id, c.name, c.firmwareId, c.state, JSON.stringify(c.spec), JSON.stringify(c.progress), c.createdBy, now],
        );
        if (e !== undefined) await insertEvent(client, c.id, e, now);
      });
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) throw new StoreConflictError(`campaign ${JSON.stringify(c.id)} already exists`, { cause: err });
      throw err;
    }
    return newCampaignRecord(c, now);
  }

  async get(id: string): Promise<CampaignRecord | undefined> {
    assertCampaignId(id);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<CampaignRow>('SELECT * FROM campaigns WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : campaignFromRow(rows[0]);
  }

  async list(options?: { state?: CampaignState | readonly CampaignState[]; after?: string; limit?: number }): Promise<CampaignRecord[]> {
    const o = normalizeCampaignListOptions(options);
    this.#ctx.check();
    const parts: string[] = [];
    const params: unknown[] = [];
    if (o.states !== undefined) {
      params.push(o.states);
      parts.push(`state = ANY($${params.length}::text[])`);
    }
    if (o.after !== undefined) {
      params.push(o.after);
      parts.push(`id > $${params.length}`);
    }
    params.push(o.limit);
    const where = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`;
    const { rows } = await this.#ctx.pool.query<CampaignRow>(`SELECT * FROM campaigns ${where} ORDER BY id LIMIT $${params.length}`, params);
    return rows.map(campaignFromRow);
  }

  async update(id: string, expectedRevision: number, patch: CampaignPatch, event?: NewCampaignEvent): Promise<CampaignRecord> {
    assertCampaignId(id);
    assertInteger(expectedRevision, 'expectedRevision', 1);
    const p = normalizeCampaignPatch(patch);
    const e = event === undefined ? undefined : normalizeCampaignEvent(event);
    this.#ctx.check();
    return withTransaction(this.#ctx.pool, async (client) => {
      const { rows } = await client.query<CampaignRow>('SELECT * FROM campaigns WHERE id = $1 FOR UPDATE', [id]);
      if (rows[0] === undefined) throw new StoreNotFoundError(`campaign ${JSON.stringify(id)} does not exist`);
      const current = campaignFromRow(rows[0]);
      const now = new Date().toISOString();
      const next = nextCampaignRevision(current, expectedRevision, p, now);
      await client.query(
        'UPDATE campaigns SET name = $1, state = $2, spec = $3::jsonb, progress = $4::jsonb, state_reason = $5, revision = $6, updated_at = $7 WHERE id = $8',
        [next.name, next.state, JSON.stringify(next.spec), JSON.stringify(next.progress), next.stateReason, next.revision, now, id],
      );
      if (e !== undefined) await insertEvent(client, id, e, now);
      return next;
    });
  }

  async delete(id: string): Promise<boolean> {
    assertCampaignId(id);
    this.#ctx.check();
    const r = await this.#ctx.pool.query('DELETE FROM campaigns WHERE id = $1', [id]);
    return (r.rowCount ?? 0) > 0;
  }

  async addDevices(id: string, devices: readonly NewCampaignDevice[]): Promise<CampaignDeviceRecord[]> {
    assertCampaignId(id);
    const list = normalizeNewCampaignDevices(devices);
    this.#ctx.check();
    return withTransaction(this.#ctx.pool, async (client) => {
      // Locking the campaign row serialises joiners, so max(position) + 1 is never taken twice.
      const found = await client.query('SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE', [id]);
      if (found.rowCount === 0) throw new StoreNotFoundError(`campaign ${JSON.stringify(id)} does not exist`);
      const last = await client.query<{ p: string }>('SELECT coalesce(max(position), 0) AS p FROM campaign_devices WHERE campaign_id = $1', [id]);
      let position = toSafeInteger(last.rows[0]?.p, 'campaign_devices position');
      const now = new Date().toISOString();
      const added: CampaignDeviceRecord[] = [];
      for (const d of list) {
        const r = await client.query(
          `INSERT INTO campaign_devices (campaign_id, endpoint, wave, position, status, attempt, from_version, failure, joined_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $8) ON CONFLICT (campaign_id, endpoint) DO NOTHING`,
          [id, d.endpoint, d.wave, position + 1, d.status, d.fromVersion, d.failure, now],
        );
        if ((r.rowCount ?? 0) === 0) continue;
        position++;
        added.push(newCampaignDeviceRecord(id, d, position, now));
      }
      return added;
    });
  }

  async getDevice(id: string, endpoint: string): Promise<CampaignDeviceRecord | undefined> {
    assertCampaignId(id);
    assertEndpoint(endpoint);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<CampaignDeviceRow>('SELECT * FROM campaign_devices WHERE campaign_id = $1 AND endpoint = $2', [id, endpoint]);
    return rows[0] === undefined ? undefined : campaignDeviceFromRow(rows[0]);
  }

  async listDevices(id: string, query?: CampaignDeviceQuery): Promise<CampaignDeviceRecord[]> {
    assertCampaignId(id);
    const q = normalizeCampaignDeviceQuery(query);
    this.#ctx.check();
    const params: unknown[] = [id];
    const parts = ['campaign_id = $1'];
    const add = (sql: (p: string) => string, value: unknown): void => {
      params.push(value);
      parts.push(sql(`$${params.length}`));
    };
    if (q.statuses !== undefined) add((p) => `status = ANY(${p}::text[])`, q.statuses);
    if (q.maxWave !== undefined) add((p) => `wave <= ${p}`, q.maxWave);
    if (q.dueBy !== undefined) add((p) => `due_at IS NOT NULL AND due_at <= ${p}`, q.dueBy);
    if (q.after !== undefined) add((p) => `position > ${p}`, q.after);
    params.push(q.limit);
    const { rows } = await this.#ctx.pool.query<CampaignDeviceRow>(
      `SELECT * FROM campaign_devices WHERE ${parts.join(' AND ')} ORDER BY position LIMIT $${params.length}`,
      params,
    );
    return rows.map(campaignDeviceFromRow);
  }

  async countDevices(id: string): Promise<CampaignDeviceCount[]> {
    assertCampaignId(id);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<{ wave: number; status: string; n: string }>(
      'SELECT wave, status, count(*) AS n FROM campaign_devices WHERE campaign_id = $1 GROUP BY wave, status ORDER BY wave, status COLLATE "C"',
      [id],
    );
    return rows.map(deviceCountFromRow);
  }

  async updateDevice(
    id: string,
    endpoint: string,
    expect: CampaignDeviceExpectation,
    patch: CampaignDevicePatch,
    event?: NewCampaignEvent,
  ): Promise<CampaignDeviceRecord | undefined> {
    assertCampaignId(id);
    assertEndpoint(endpoint);
    const x = normalizeExpectation(expect);
    const p = normalizeDevicePatchForCampaign(patch);
    const e = event === undefined ? undefined : normalizeCampaignEvent(event);
    this.#ctx.check();
    return withTransaction(this.#ctx.pool, async (client) => {
      const { rows } = await client.query<CampaignDeviceRow>('SELECT * FROM campaign_devices WHERE campaign_id = $1 AND endpoint = $2 FOR UPDATE', [id, endpoint]);
      if (rows[0] === undefined) throw new StoreNotFoundError(`device ${JSON.stringify(endpoint)} is not in campaign ${JSON.stringify(id)}`);
      const current = campaignDeviceFromRow(rows[0]);
      if (current.status !== x.status || current.attempt !== x.attempt) return undefined;
      const now = new Date().toISOString();
      const next = applyDevicePatch(current, p, now);
      await client.query(
        `UPDATE campaign_devices SET wave = $1, status = $2, attempt = $3, fw_state = $4, update_result = $5, progress = $6, reported_version = $7,
         package_kind = $8, failure = $9, due_at = $10, updated_at = $11 WHERE campaign_id = $12 AND endpoint = $13`,
        [next.wave, next.status, next.attempt, next.fwState, next.updateResult, next.progress, next.reportedVersion, next.packageKind, next.failure, next.dueAt, now, id, endpoint],
      );
      if (e !== undefined) await insertEvent(client, id, e, now);
      return next;
    });
  }

  async devicesByEndpoint(endpoint: string): Promise<CampaignDeviceRecord[]> {
    assertEndpoint(endpoint);
    this.#ctx.check();
    const { rows } = await this.#ctx.pool.query<CampaignDeviceRow>('SELECT * FROM campaign_devices WHERE endpoint = $1 ORDER BY campaign_id', [endpoint]);
    return rows.map(campaignDeviceFromRow);
  }

  async appendEvent(id: string, event: NewCampaignEvent): Promise<CampaignEventRecord> {
    assertCampaignId(id);
    const e = normalizeCampaignEvent(event);
    this.#ctx.check();
    return withTransaction(this.#ctx.pool, async (client) => {
      const found = await client.query('SELECT 1 FROM campaigns WHERE id = $1 FOR SHARE', [id]);
      if (found.rowCount === 0) throw new StoreNotFoundError(`campaign ${JSON.stringify(id)} does not exist`);
      return insertEvent(client, id, e, new Date().toISOString());
    });
  }

  async listEvents(id: string, options?: { endpoint?: string; after?: number; limit?: number }): Promise<CampaignEventRecord[]> {
    assertCampaignId(id);
    const o = normalizeEventListOptions(options);
    this.#ctx.check();
    const { rows } = o.endpoint === undefined
      ? await this.#ctx.pool.query<CampaignEventRow>('SELECT * FROM campaign_events WHERE campaign_id = $1 AND id > $2 ORDER BY id LIMIT $3', [id, o.after, o.limit])
      : await this.#ctx.pool.query<CampaignEventRow>(
        'SELECT * FROM campaign_events WHERE campaign_id = $1 AND endpoint = $2 AND id > $3 ORDER BY id LIMIT $4',
        [id, o.endpoint, o.after, o.limit],
      );
    return rows.map(campaignEventFromRow);
  }
}
