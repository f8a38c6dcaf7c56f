/**
 * CampaignRepository on SQLite. Every compare-and-set runs in one IMMEDIATE transaction: the
 * write lock is taken before the row is read, so two processes on one file cannot both see the
 * old row and both apply their decision.
 */
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
import { assertInteger } from '../../util/assert.js';
import { assertEndpoint } from '../validate.js';
import type { SqliteContext } from './context.js';

type NormalizedEvent = ReturnType<typeof normalizeCampaignEvent>;

export class SqliteCampaignRepository implements CampaignRepository {
  readonly #ctx: SqliteContext;

  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }

  #insertEvent(campaignId: string, e: NormalizedEvent, at: string): CampaignEventRecord {
    const r = this.#ctx.prepare('INSERT INTO campaign_events (campaign_id, endpoint, at, type, details) VALUES (?, ?, ?, ?, ?)')
      .run(campaignId, e.endpoint, at, e.type, JSON.stringify(e.details));
    return { id: Number(r.lastInsertRowid), campaignId, endpoint: e.endpoint, at, type: e.type, details: e.details };
  }

  #get(id: string): CampaignRecord | undefined {
    const row = this.#ctx.prepare('SELECT * FROM campaigns WHERE id = ?').get(id) as CampaignRow | undefined;
    return row === undefined ? undefined : campaignFromRow(row);
  }

  #getDevice(id: string, endpoint: string): CampaignDeviceRecord | undefined {
    const row = this.#ctx.prepare('SELECT * FROM campaign_devices WHERE campaign_id = ? AND endpoint = ?').get(id, endpoint) as CampaignDeviceRow | undefined;
    return row === undefined ? undefined : campaignDeviceFromRow(row);
  }

  async create(campaign: NewCampaign, event?: NewCampaignEvent): Promise<CampaignRecord> {
    const c = normalizeNewCampaign(campaign);
    const e = event === undefined ? undefined : normalizeCampaignEvent(event);
    this.#ctx.check();
    const now = new Date().toISOString();
    const tx = this.#ctx.db.transaction((): CampaignRecord => {
      if (this.#get(c.id) !== undefined) throw new StoreConflictError(`campaign ${JSON.stringify(c.id)} already exists`);
      this.#ctx.prepare(
        `INSERT INTO campaigns (id, name, firmware_id, state, spec, progress, state_reason, revision, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, NULL, 1, ?, ?, ?)`,
      ).run(c.id, c.name, c.firmwareId, c.state, JSON.stringify(c.spec), JSON.stringify(c.progress), c.createdBy, now, now);
      if (e !== undefined) this.#insertEvent(c.id, e, now);
      return newCampaignRecord(c, now);
    });
    return tx.immediate();
  }

  async get(id: string): Promise<CampaignRecord | undefined> {
    assertCampaignId(id);
    this.#ctx.checkOpen();
    return this.#get(id);
  }

  async list(options?: { state?: CampaignState | readonly CampaignState[]; after?: string; limit?: number }): Promise<CampaignRecord[]> {
    const o = normalizeCampaignListOptions(options);
    this.#ctx.checkOpen();
    const parts: string[] = [];
    const params: unknown[] = [];
    if (o.states !== undefined) {
      parts.push(`state IN (${o.states.map(() => '?').join(', ')})`);
      params.push(...o.states);
    }
    if (o.after !== undefined) {
      parts.push('id > ?');
      params.push(o.after);
    }
    const where = parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`;
    const rows = this.#ctx.prepare(`SELECT * FROM campaigns ${where} ORDER BY id LIMIT ?`).all(...params, o.limit) as CampaignRow[];
    return rows.map(campaignFromRow);
  }

  async update(id: string, expectedRevision: number, patch: CampaignPatch, event?: NewCampaignEvent): Promise<CampaignRecord> {
    assertCampaignId(id);
    assertInteger(expectedRevision, 'expectedRevision', 1);
    const p = normalizeCampaignPatch(patch);
    const e = event === undefined ? undefined : normalizeCampaignEvent(event);
    this.#ctx.check();
    const tx = this.#ctx.db.transaction((): CampaignRecord => {
      const current = this.#get(id);
      if (current === undefined) throw new StoreNotFoundError(`campaign ${JSON.stringify(id)} does not exist`);
      const now = new Date().toISOString();
      const next = nextCampaignRevision(current, expectedRevision, p, now);
      this.#ctx.prepare('UPDATE campaigns SET name = ?, state = ?, spec = ?, progress = ?, state_reason = ?, revision = ?, updated_at = ? WHERE id = ?')
        .run(next.name, next.state, JSON.stringify(next.spec), JSON.stringify(next.progress), next.stateReason, next.revision, now, id);
      if (e !== undefined) this.#insertEvent(id, e, now);
      return next;
    });
    return tx.immediate();
  }

  async delete(id: string): Promise<boolean> {
    assertCampaignId(id);
    this.#ctx.check();
    return this.#ctx.prepare('DELETE FROM campaigns WHERE id = ?').run(id).changes > 0;
  }

  async addDevices(id: string, devices: readonly NewCampaignDevice[]): Promise<CampaignDeviceRecord[]> {
    assertCampaignId(id);
    const list = normalizeNewCampaignDevices(devices);
    this.#ctx.check();
    const tx = this.#ctx.db.transaction((): CampaignDeviceRecord[] => {
      if (this.#get(id) === undefined) throw new StoreNotFoundError(`campaign ${JSON.stringify(id)} does not exist`);
      const last = this.#ctx.prepare('SELECT coalesce(max(position), 0) AS p FROM campaign_devices WHERE campaign_id = ?').get(id) as { p: number };
      let position = last.p;
      const now = new Date().toISOString();
      const added: CampaignDeviceRecord[] = [];
      const insert = this.#ctx.prepare(
        `INSERT INTO campaign_devices (campaign_id, endpoint, wave, position, status, attempt, from_version, failure, joined_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT (campaign_id, endpoint) DO NOTHING`,
      );
      for (const d of list) {
        if (insert.run(id, d.endpoint, d.wave, position + 1, d.status, d.fromVersion, d.failure, now, now).changes === 0) continue;
        position++;
        added.push(newCampaignDeviceRecord(id, d, position, now));
      }
      return added;
    });
    return tx.immediate();
  }

  async getDevice(id: string, endpoint: string): Promise<CampaignDeviceRecord | undefined> {
    assertCampaignId(id);
    assertEndpoint(endpoint);
    this.#ctx.checkOpen();
    return this.#getDevice(id, endpoint);
  }

  async listDevices(id: string, query?: CampaignDeviceQuery): Promise<CampaignDeviceRecord[]> {
    assertCampaignId(id);
    const q = normalizeCampaignDeviceQuery(query);
    this.#ctx.checkOpen();
    const parts = ['campaign_id = ?'];
    const params: unknown[] = [id];
    if (q.statuses !== undefined) {
      parts.push(`status IN (${q.statuses.map(() => '?').join(', ')})`);
      params.push(...q.statuses);
    }
    if (q.maxWave !== undefined) {
      parts.push('wave <= ?');
      params.push(q.maxWave);
    }
    if (q.dueBy !== undefined) {
      parts.push('due_at IS NOT NULL AND due_at <= ?');
      params.push(q.dueBy);
    }
    if (q.after !== undefined) {
      parts.push('position > ?');
      params.push(q.after);
    }
    const rows = this.#ctx.prepare(`SELECT * FROM campaign_devices WHERE ${parts.join(' AND ')} ORDER BY position LIMIT ?`).all(...params, q.limit) as CampaignDeviceRow[];
    return rows.map(campaignDeviceFromRow);
  }

  async countDevices(id: string): Promise<CampaignDeviceCount[]> {
    assertCampaignId(id);
    this.#ctx.checkOpen();
    const rows = this.#ctx.prepare('SELECT wave, status, count(*) AS n FROM campaign_devices WHERE campaign_id = ? GROUP BY wave, status ORDER BY wave, status')
      .all(id) as Array<{ wave: number; status: string; n: number }>;
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
    const tx = this.#ctx.db.transaction((): CampaignDeviceRecord | undefined => {
      const current = this.#getDevice(id, endpoint);
      if (current === undefined) throw new StoreNotFoundError(`device ${JSON.stringify(endpoint)} is not in campaign ${JSON.stringify(id)}`);
      if (current.status !== x.status || current.attempt !== x.attempt) return undefined;
      const now = new Date().toISOString();
      const next = applyDevicePatch(current, p, now);
      this.#ctx.prepare(
        `UPDATE campaign_devices SET wave = ?, status = ?, attempt = ?, fw_state = ?, update_result = ?, progress = ?, reported_version = ?,
         package_kind = ?, failure = ?, due_at = ?, updated_at = ? WHERE campaign_id = ? AND endpoint = ?`,
      ).run(next.wave, next.status, next.attempt, next.fwState, next.updateResult, next.progress, next.reportedVersion, next.packageKind, next.failure, next.dueAt, now, id, endpoint);
      if (e !== undefined) this.#insertEvent(id, e, now);
      return next;
    });
    return tx.immediate();
  }

  async devicesByEndpoint(endpoint: string): Promise<CampaignDeviceRecord[]> {
    assertEndpoint(endpoint);
    this.#ctx.checkOpen();
    const rows = this.#ctx.prepare('SELECT * FROM campaign_devices WHERE endpoint = ? ORDER BY campaign_id').all(endpoint) as CampaignDeviceRow[];
    return rows.map(campaignDeviceFromRow);
  }

  async appendEvent(id: string, event: NewCampaignEvent): Promise<CampaignEventRecord> {
    assertCampaignId(id);
    const e = normalizeCampaignEvent(event);
    this.#ctx.check();
    const tx = this.#ctx.db.transaction((): CampaignEventRecord => {
      if (this.#get(id) === undefined) throw new StoreNotFoundError(`campaign ${JSON.stringify(id)} does not exist`);
      return this.#insertEvent(id, e, new Date().toISOString());
    });
    return tx.immediate();
  }

  async listEvents(id: string, options?: { endpoint?: string; after?: number; limit?: number }): Promise<CampaignEventRecord[]> {
    assertCampaignId(id);
    const o = normalizeEventListOptions(options);
    this.#ctx.checkOpen();
    const rows = (o.endpoint === undefined
      ? this.#ctx.prepare('SELECT * FROM campaign_events WHERE campaign_id = ? AND id > ? ORDER BY id LIMIT ?').all(id, o.after, o.limit)
      : this.#ctx.prepare('SELECT * FROM campaign_events WHERE campaign_id = ? AND endpoint = ? AND id > ? ORDER BY id LIMIT ?').all(id, o.endpoint, o.after, o.limit)) as CampaignEventRow[];
    return rows.map(campaignEventFromRow);
  }
}
