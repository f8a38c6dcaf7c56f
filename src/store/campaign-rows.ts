/**
 * Argument checks and row mapping for the campaign tables, shared by both stores so that SQLite
 * and PostgreSQL refuse exactly the same inputs and hand back identical records.
 *
 * Times are ISO 8601 strings as Date#toISOString() writes them, stored as text in both
 * databases: that form sorts lexicographically in time order, so `due_at <= now` is a plain
 * string comparison in both dialects and the value read back is byte-identical to the one given.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertInteger, describeType } from '../util/assert.js';
import {
  CAMPAIGN_DEVICE_STATUSES,
  CAMPAIGN_STATES,
  type CampaignDeviceCount,
  type CampaignDeviceExpectation,
  type CampaignDevicePatch,
  type CampaignDeviceRecord,
  type CampaignDeviceStatus,
  type CampaignEventRecord,
  type CampaignPatch,
  type CampaignRecord,
  type CampaignState,
  type NewCampaign,
  type NewCampaignDevice,
} from './campaign-types.js';
import { StoreConflictError, StoreCorruptError } from './errors.js';
import { toSafeInteger } from './rows.js';
import { STORE_LIMITS, assertEndpoint, assertLabel, normalizeJsonObject } from './validate.js';

/** A batch of addDevices() is bounded so that one call is one reasonable transaction. */
export const CAMPAIGN_LIMITS = { addBatch: 10_000, failure: 255, eventType: 255 } as const;

function assertObject(value: unknown, name: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(name, `expected an object, got ${describeType(value)}`);
  }
}

function assertKnownKeys(value: Record<string, unknown>, name: string, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new InvalidArgumentError(`${name}.${key}`, 'unknown field');
  }
}

export function assertCampaignId(value: unknown, name = 'id'): asserts value is string {
  assertLabel(value, name);
}

export function assertIsoTime(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length !== 24 || Number.isNaN(Date.parse(value)) || new Date(value).toISOString() !== value) {
    throw new InvalidArgumentError(name, `expected an ISO time as toISOString() writes it, got ${describeType(value)}`);
  }
}

function assertState(value: unknown, name: string): asserts value is CampaignState {
  if (!CAMPAIGN_STATES.includes(value as CampaignState)) throw new InvalidArgumentError(name, `expected one of ${CAMPAIGN_STATES.join(', ')}, got ${describeType(value)}`);
}

function assertStatus(value: unknown, name: string): asserts value is CampaignDeviceStatus {
  if (!CAMPAIGN_DEVICE_STATUSES.includes(value as CampaignDeviceStatus)) {
    throw new InvalidArgumentError(name, `expected one of ${CAMPAIGN_DEVICE_STATUSES.join(', ')}, got ${describeType(value)}`);
  }
}

function nullableLabel(value: unknown, name: string, max: number = STORE_LIMITS.label): string | null {
  if (value === null) return null;
  assertLabel(value, name, max);
  return value;
}

function nullableInteger(value: unknown, name: string, min: number, max: number): number | null {
  if (value === null) return null;
  assertInteger(value, name, min, max);
  return value;
}

function pageLimit(value: unknown, name: string): number {
  if (value === undefined) return STORE_LIMITS.defaultPageSize;
  assertInteger(value, name, 1, STORE_LIMITS.maxPageSize);
  return value;
}

export function normalizeNewCampaign(value: unknown, name = 'campaign'): Required<NewCampaign> {
  assertObject(value, name);
  assertKnownKeys(value, name, ['id', 'name', 'firmwareId', 'spec', 'createdBy', 'state', 'progress']);
  assertCampaignId(value.id, `${name}.id`);
  assertLabel(value.name, `${name}.name`);
  assertLabel(value.firmwareId, `${name}.firmwareId`);
  assertLabel(value.createdBy, `${name}.createdBy`);
  const state = value.state ?? 'draft';
  assertState(state, `${name}.state`);
  return {
    id: value.id,
    name: value.name,
    firmwareId: value.firmwareId,
    createdBy: value.createdBy,
    state,
    spec: normalizeJsonObject(value.spec, `${name}.spec`),
    progress: normalizeJsonObject(value.progress ?? {}, `${name}.progress`),
  };
}

export function normalizeCampaignPatch(value: unknown, name = 'patch'): CampaignPatch {
  assertObject(value, name);
  assertKnownKeys(value, name, ['name', 'state', 'spec', 'progress', 'stateReason']);
  const out: CampaignPatch = {};
  if (value.name !== undefined) {
    assertLabel(value.name, `${name}.name`);
    out.name = value.name;
  }
  if (value.state !== undefined) {
    assertState(value.state, `${name}.state`);
    out.state = value.state;
  }
  if (value.spec !== undefined) out.spec = normalizeJsonObject(value.spec, `${name}.spec`);
  if (value.progress !== undefined) out.progress = normalizeJsonObject(value.progress, `${name}.progress`);
  if (value.stateReason !== undefined) out.stateReason = nullableLabel(value.stateReason, `${name}.stateReason`, 1024);
  return out;
}

export function normalizeCampaignListOptions(value: unknown, name = 'options'): { states: CampaignState[] | undefined; after: string | undefined; limit: number } {
  if (value === undefined) return { states: undefined, after: undefined, limit: STORE_LIMITS.defaultPageSize };
  assertObject(value, name);
  assertKnownKeys(value, name, ['state', 'after', 'limit']);
  let states: CampaignState[] | undefined;
  if (value.state !== undefined) {
    const list: unknown[] = Array.isArray(value.state) ? value.state : [value.state];
    if (list.length === 0) throw new InvalidArgumentError(`${name}.state`, 'expected at least one state');
    list.forEach((s, i) => assertState(s, `${name}.state[${i}]`));
    states = list as CampaignState[];
  }
  if (value.after !== undefined) assertCampaignId(value.after, `${name}.after`);
  return { states, after: value.after as string | undefined, limit: pageLimit(value.limit, `${name}.limit`) };
}

export function normalizeNewCampaignDevices(value: unknown, name = 'devices'): Array<Required<NewCampaignDevice>> {
  if (!Array.isArray(value)) throw new InvalidArgumentError(name, `expected an array, got ${describeType(value)}`);
  if (value.length > CAMPAIGN_LIMITS.addBatch) throw new InvalidArgumentError(name, `at most ${CAMPAIGN_LIMITS.addBatch} devices per call`);
  const seen = new Set<string>();
  return value.map((d: unknown, i) => {
    const n = `${name}[${i}]`;
    assertObject(d, n);
    assertKnownKeys(d, n, ['endpoint', 'wave', 'fromVersion', 'status', 'failure']);
    assertEndpoint(d.endpoint, `${n}.endpoint`);
    if (seen.has(d.endpoint)) throw new InvalidArgumentError(`${n}.endpoint`, `duplicate endpoint ${JSON.stringify(d.endpoint)}`);
    seen.add(d.endpoint);
    assertInteger(d.wave, `${n}.wave`, 0, 1000);
    const status = d.status ?? 'pending';
    assertStatus(status, `${n}.status`);
    return {
      endpoint: d.endpoint,
      wave: d.wave,
      fromVersion: nullableLabel(d.fromVersion, `${n}.fromVersion`),
      status,
      failure: nullableLabel(d.failure ?? null, `${n}.failure`, CAMPAIGN_LIMITS.failure),
    };
  });
}

export function normalizeExpectation(value: unknown, name = 'expect'): CampaignDeviceExpectation {
  assertObject(value, name);
  assertKnownKeys(value, name, ['status', 'attempt']);
  assertStatus(value.status, `${name}.status`);
  assertInteger(value.attempt, `${name}.attempt`, 0, 1_000_000);
  return { status: value.status, attempt: value.attempt };
}

export function normalizeDevicePatchForCampaign(value: unknown, name = 'patch'): CampaignDevicePatch {
  assertObject(value, name);
  assertKnownKeys(value, name, ['wave', 'status', 'attempt', 'fwState', 'updateResult', 'progress', 'reportedVersion', 'packageKind', 'failure', 'dueAt']);
  const out: CampaignDevicePatch = {};
  if (value.wave !== undefined) {
    assertInteger(value.wave, `${name}.wave`, 0, 1000);
    out.wave = value.wave;
  }
  if (value.status !== undefined) {
    assertStatus(value.status, `${name}.status`);
    out.status = value.status;
  }
  if (value.attempt !== undefined) {
    assertInteger(value.attempt, `${name}.attempt`, 0, 1_000_000);
    out.attempt = value.attempt;
  }
  if (value.fwState !== undefined) out.fwState = nullableInteger(value.fwState, `${name}.fwState`, 0, 3);
  if (value.updateResult !== undefined) out.updateResult = nullableInteger(value.updateResult, `${name}.updateResult`, 0, 255);
  if (value.progress !== undefined) out.progress = nullableInteger(value.progress, `${name}.progress`, 0, 100);
  if (value.reportedVersion !== undefined) out.reportedVersion = nullableLabel(value.reportedVersion, `${name}.reportedVersion`);
  if (value.packageKind !== undefined) {
    if (value.packageKind !== null && value.packageKind !== 'delta' && value.packageKind !== 'full') {
      throw new InvalidArgumentError(`${name}.packageKind`, `expected 'delta', 'full' or null, got ${describeType(value.packageKind)}`);
    }
    out.packageKind = value.packageKind;
  }
  if (value.failure !== undefined) out.failure = nullableLabel(value.failure, `${name}.failure`, CAMPAIGN_LIMITS.failure);
  if (value.dueAt !== undefined) {
    if (value.dueAt !== null) assertIsoTime(value.dueAt, `${name}.dueAt`);
    out.dueAt = value.dueAt as string | null;
  }
  return out;
}

export interface NormalizedDeviceQuery {
  statuses: CampaignDeviceStatus[] | undefined;
  maxWave: number | undefined;
  dueBy: string | undefined;
  after: number | undefined;
  limit: number;
}

export function normalizeCampaignDeviceQuery(value: unknown, name = 'query'): NormalizedDeviceQuery {
  if (value === undefined) return { statuses: undefined, maxWave: undefined, dueBy: undefined, after: undefined, limit: STORE_LIMITS.defaultPageSize };
  assertObject(value, name);
  assertKnownKeys(value, name, ['status', 'maxWave', 'dueBy', 'after', 'limit']);
  let statuses: CampaignDeviceStatus[] | undefined;
  if (value.status !== undefined) {
    const list: unknown[] = Array.isArray(value.status) ? value.status : [value.status];
    if (list.length === 0) throw new InvalidArgumentError(`${name}.status`, 'expected at least one status');
    list.forEach((s, i) => assertStatus(s, `${name}.status[${i}]`));
    statuses = list as CampaignDeviceStatus[];
  }
  if (value.maxWave !== undefined) assertInteger(value.maxWave, `${name}.maxWave`, 0, 1000);
  if (value.dueBy !== undefined) assertIsoTime(value.dueBy, `${name}.dueBy`);
  if (value.after !== undefined) assertInteger(value.after, `${name}.after`, 0);
  return {
    statuses,
    maxWave: value.maxWave as number | undefined,
    dueBy: value.dueBy as string | undefined,
    after: value.after as number | undefined,
    limit: pageLimit(value.limit, `${name}.limit`),
  };
}

export function normalizeCampaignEvent(value: unknown, name = 'event'): { endpoint: string | null; type: string; details: Record<string, unknown> } {
  assertObject(value, name);
  assertKnownKeys(value, name, ['endpoint', 'type', 'details']);
  const endpoint = value.endpoint ?? null;
  if (endpoint !== null) assertEndpoint(endpoint, `${name}.endpoint`);
  assertLabel(value.type, `${name}.type`, CAMPAIGN_LIMITS.eventType);
  return { endpoint: endpoint as string | null, type: value.type, details: normalizeJsonObject(value.details ?? {}, `${name}.details`) };
}

export function normalizeEventListOptions(value: unknown, name = 'options'): { endpoint: string | undefined; after: number; limit: number } {
  if (value === undefined) return { endpoint: undefined, after: 0, limit: STORE_LIMITS.defaultPageSize };
  assertObject(value, name);
  assertKnownKeys(value, name, ['endpoint', 'after', 'limit']);
  if (value.endpoint !== undefined) assertEndpoint(value.endpoint, `${name}.endpoint`);
  if (value.after !== undefined) assertInteger(value.after, `${name}.after`, 0);
  return { endpoint: value.endpoint as string | undefined, after: (value.after as number | undefined) ?? 0, limit: pageLimit(value.limit, `${name}.limit`) };
}

// ---- rows → records (checked on the way out: a hand-edited row is a StoreCorruptError) ----

export interface CampaignRow {
  id: string;
  name: string;
  firmware_id: string;
  state: string;
  spec: unknown;
  progress: unknown;
  state_reason: string | null;
  revision: unknown;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface CampaignDeviceRow {
  campaign_id: string;
  endpoint: string;
  wave: unknown;
  position: unknown;
  status: string;
  attempt: unknown;
  fw_state: unknown;
  update_result: unknown;
  progress: unknown;
  from_version: string | null;
  reported_version: string | null;
  package_kind: string | null;
  failure: string | null;
  due_at: string | null;
  joined_at: string;
  updated_at: string;
}

export interface CampaignEventRow {
  id: unknown;
  campaign_id: string;
  endpoint: string | null;
  at: string;
  type: string;
  details: unknown;
}

function jsonObject(value: unknown, where: string): Record<string, unknown> {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      throw new StoreCorruptError(`${where}: stored JSON does not parse`, { cause: err });
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new StoreCorruptError(`${where}: not a JSON object`);
  return parsed as Record<string, unknown>;
}

function nullableInt(value: unknown, where: string): number | null {
  return value === null ? null : toSafeInteger(value, where);
}

export function campaignFromRow(row: CampaignRow): CampaignRecord {
  const where = `campaign ${JSON.stringify(row.id)}`;
  if (!CAMPAIGN_STATES.includes(row.state as CampaignState)) throw new StoreCorruptError(`${where}: unknown state ${JSON.stringify(row.state)}`);
  return {
    id: row.id,
    name: row.name,
    firmwareId: row.firmware_id,
    state: row.state as CampaignState,
    spec: jsonObject(row.spec, `${where} spec`),
    progress: jsonObject(row.progress, `${where} progress`),
    stateReason: row.state_reason,
    revision: toSafeInteger(row.revision, `${where} revision`),
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function campaignDeviceFromRow(row: CampaignDeviceRow): CampaignDeviceRecord {
  const where = `campaign ${JSON.stringify(row.campaign_id)} device ${JSON.stringify(row.endpoint)}`;
  if (!CAMPAIGN_DEVICE_STATUSES.includes(row.status as CampaignDeviceStatus)) throw new StoreCorruptError(`${where}: unknown status ${JSON.stringify(row.status)}`);
  if (row.package_kind !== null && row.package_kind !== 'delta' && row.package_kind !== 'full') throw new StoreCorruptError(`${where}: unknown package kind`);
  return {
    campaignId: row.campaign_id,
    endpoint: row.endpoint,
    wave: toSafeInteger(row.wave, `${where} wave`),
    position: toSafeInteger(row.position, `${where} position`),
    status: row.status as CampaignDeviceStatus,
    attempt: toSafeInteger(row.attempt, `${where} attempt`),
    fwState: nullableInt(row.fw_state, `${where} fw_state`),
    updateResult: nullableInt(row.update_result, `${where} update_result`),
    progress: nullableInt(row.progress, `${where} progress`),
    fromVersion: row.from_version,
    reportedVersion: row.reported_version,
    packageKind: row.package_kind as CampaignDeviceRecord['packageKind'],
    failure: row.failure,
    dueAt: row.due_at,
    joinedAt: row.joined_at,
    updatedAt: row.updated_at,
  };
}

export function campaignEventFromRow(row: CampaignEventRow): CampaignEventRecord {
  const id = toSafeInteger(row.id, 'campaign_events id');
  return { id, campaignId: row.campaign_id, endpoint: row.endpoint, at: row.at, type: row.type, details: jsonObject(row.details, `campaign event ${id} details`) };
}

export function deviceCountFromRow(row: { wave: unknown; status: string; n: unknown }): CampaignDeviceCount {
  if (!CAMPAIGN_DEVICE_STATUSES.includes(row.status as CampaignDeviceStatus)) throw new StoreCorruptError(`campaign device count: unknown status ${JSON.stringify(row.status)}`);
  return { wave: toSafeInteger(row.wave, 'campaign device count wave'), status: row.status as CampaignDeviceStatus, count: toSafeInteger(row.n, 'campaign device count') };
}

/** The record of a campaign just inserted, as both stores hand it back. */
export function newCampaignRecord(c: Required<NewCampaign>, now: string): CampaignRecord {
  return { ...c, stateReason: null, revision: 1, createdAt: now, updatedAt: now };
}

/**
 * The campaign after a patch at the next revision; a StoreConflictError when the stored
 * revision is not the one the caller decided on.
 */
export function nextCampaignRevision(current: CampaignRecord, expectedRevision: number, patch: CampaignPatch, now: string): CampaignRecord {
  if (current.revision !== expectedRevision) {
    throw new StoreConflictError(`campaign ${JSON.stringify(current.id)} is at revision ${current.revision}, not ${expectedRevision}`);
  }
  return { ...current, ...patch, revision: current.revision + 1, updatedAt: now };
}

/** The record of a device just added to a campaign at `position`, as both stores hand it back. */
export function newCampaignDeviceRecord(campaignId: string, d: Required<NewCampaignDevice>, position: number, now: string): CampaignDeviceRecord {
  return {
    campaignId, endpoint: d.endpoint, wave: d.wave, position, status: d.status, attempt: 0, fwState: null, updateResult: null, progress: null,
    fromVersion: d.fromVersion, reportedVersion: null, packageKind: null, failure: d.failure, dueAt: null, joinedAt: now, updatedAt: now,
  };
}

/** The device row after a patch, as both stores write it back. */
export function applyDevicePatch(current: CampaignDeviceRecord, patch: CampaignDevicePatch, now: string): CampaignDeviceRecord {
  return { ...current, ...patch, updatedAt: now };
}
