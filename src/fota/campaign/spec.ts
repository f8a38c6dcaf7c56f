/**
 * The campaign specification: what an operator writes (CampaignInput), how it is checked
 * (validateCampaignSpec: every field, each failure a CampaignSpecError naming the field), and
 * the pure rules derived from it — wave boundaries, the schedule window, retry backoff. The
 * normalised spec is what the store keeps, so the engine on any node reads the same decisions.
 */
import { CampaignSpecError } from './errors.js';
import { DEFAULT_RETRY_ON, isUpdateResult } from './object5.js';
import { SemVerRangeSyntaxError, parseSemVer, parseSemVerRange } from '../semver.js';

/** A wave's cumulative size: a device count, a percentage of the target set ('10%'), or 'all'. */
export type WaveSize = number | `${number}%` | 'all';

export interface CampaignTarget {
  /** Device model; defaults to the firmware's model. */
  model?: string;
  /** SemVer range of the device's current firmware version (`>=1.2.0 <2`, `^1.4`, `1.x`). */
  versionRange?: string;
  /** The device must carry every one of these tags. */
  tags?: string[];
  /** Only these endpoints (the other criteria still apply). */
  endpoints?: string[];
}

export interface CampaignScheduleInput {
  /** No attempt starts before this ISO time. */
  startAt?: string;
  /** No attempt starts after this ISO time; devices still waiting then are skipped. */
  endAt?: string;
  /** Attempts start only between these UTC times of day ('HH:MM'); from > to wraps midnight. */
  dailyWindow?: { from: string; to: string };
}

export interface RetryPolicyInput {
  /** Attempts per device including the first (1 = no retry). Default 3. */
  maxAttempts?: number;
  /** Delay before the 2nd attempt. Default 60 000 ms. */
  backoffMs?: number;
  /** Each further delay is multiplied by this. Default 2. */
  backoffFactor?: number;
  /** Upper bound of a delay. Default 3 600 000 ms. */
  maxBackoffMs?: number;
  /** Update Result codes worth retrying. Default [3, 4, 5, 8]. Timeouts and delivery errors always are. */
  retryOn?: number[];
}

export interface CampaignInput {
  /** Optional caller-chosen id; a UUID otherwise. */
  id?: string;
  name: string;
  firmwareId: string;
  target: CampaignTarget;
  /** Cumulative wave sizes, the last one covering everyone: ['1%', '10%', 'all'], [5, 50, 'all']. Default ['all']. */
  waves?: WaveSize[];
  /** Percent of a wave's devices that must succeed before the next wave starts. Default 90. */
  successThreshold?: number;
  /** Percent of failed devices (in the waves started so far) above which the campaign pauses. Default 20. */
  errorThreshold?: number;
  /** Devices with an attempt in progress at once. Default 50. */
  maxInFlight?: number;
  schedule?: CampaignScheduleInput;
  retry?: RetryPolicyInput;
  /** An attempt with no report for this long fails (device gone, lost message). Default 30 min. */
  attemptTimeoutMs?: number;
  requiresApproval?: boolean;
  /** 'auto': a delta when the firmware catalog has one for the device's version; 'full': always the image. */
  packagePolicy?: 'auto' | 'full';
  /**
   * How the package reaches the devices: 'lwm2m-pull' (Package URI /5/0/1, CoAPs Block2),
   * 'lwm2m-push' (Block1 write of /5/0/0) or 'https-pull' (Package URI to the server's HTTPS
   * package listener). Absent or null: the server's default (serve setting fotaDelivery).
   */
  delivery?: DeliveryMethod | null;
}

/** The delivery methods a campaign can ask for (the driver decides which it offers). */
export const DELIVERY_METHODS = ['lwm2m-pull', 'lwm2m-push', 'https-pull'] as const;
export type DeliveryMethod = (typeof DELIVERY_METHODS)[number];

export function isDeliveryMethod(value: unknown): value is DeliveryMethod {
  return typeof value === 'string' && (DELIVERY_METHODS as readonly string[]).includes(value);
}

export interface CampaignSpec {
  target: { model: string | null; versionRange: string | null; tags: string[]; endpoints: string[] | null };
  waves: WaveSize[];
  successThreshold: number;
  errorThreshold: number;
  maxInFlight: number;
  schedule: { startAt: string | null; endAt: string | null; dailyWindow: { from: string; to: string } | null };
  retry: { maxAttempts: number; backoffMs: number; backoffFactor: number; maxBackoffMs: number; retryOn: number[] };
  attemptTimeoutMs: number;
  requiresApproval: boolean;
  packagePolicy: 'auto' | 'full';
  /** null: the server's default method. Specs stored before this field existed read as null. */
  delivery: DeliveryMethod | null;
}

const TOP_FIELDS = ['id', 'name', 'firmwareId', 'target', 'waves', 'successThreshold', 'errorThreshold', 'maxInFlight', 'schedule', 'retry', 'attemptTimeoutMs', 'requiresApproval', 'packagePolicy', 'delivery'];
const MAX_NAME = 255;
const DAY_MS = 86_400_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function known(value: Record<string, unknown>, field: string, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new CampaignSpecError(field === '' ? key : `${field}.${key}`, 'unknown field');
  }
}

function label(value: unknown, field: string, max = MAX_NAME): string {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length === 0 || value.length > max || /[\u0000-\u001f\u007f-\u009f]/.test(value)) {
    throw new CampaignSpecError(field, `expected a non-empty string of at most ${max} characters without control characters`);
  }
  return value;
}

function integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new CampaignSpecError(field, `expected an integer in ${min}..${max}`);
  }
  return value;
}

function percent(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) throw new CampaignSpecError(field, 'expected a percentage in 0..100');
  return value;
}

function isoTime(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value)) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    throw new CampaignSpecError(field, 'expected an ISO 8601 date-time such as 2026-03-01T02:00:00Z');
  }
  return new Date(value).toISOString();
}

function timeOfDay(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(value)) throw new CampaignSpecError(field, "expected a UTC time of day 'HH:MM'");
  return value;
}

function parseWave(value: unknown, field: string): WaveSize {
  if (value === 'all') return 'all';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 1) throw new CampaignSpecError(field, 'a count must be a positive integer');
    return value;
  }
  if (typeof value === 'string') {
    const m = /^(\d{1,3}(?:\.\d{1,3})?)%$/.exec(value);
    const pct = m === null ? Number.NaN : Number(m[1]);
    if (!(pct > 0 && pct <= 100)) throw new CampaignSpecError(field, "a percentage is written like '10%' and lies in (0, 100]");
    return pct === 100 ? 'all' : (`${pct}%` as WaveSize);
  }
  throw new CampaignSpecError(field, "expected a count, a percentage like '10%', or 'all'");
}

function parseWaves(value: unknown): WaveSize[] {
  if (value === undefined) return ['all'];
  if (!Array.isArray(value) || value.length === 0 || value.length > 100) throw new CampaignSpecError('waves', 'expected 1..100 wave sizes');
  const waves = value.map((w, i) => parseWave(w, `waves[${i}]`));
  waves.forEach((w, i) => {
    if (w === 'all' && i !== waves.length - 1) throw new CampaignSpecError(`waves[${i}]`, "'all' (100%) can only be the last wave");
    const prev = waves[i - 1];
    // Cumulative sizes must grow; counts and percentages can only be compared once N is known.
    if (i > 0 && typeof w === typeof prev && w !== 'all' && waveNumber(w) <= waveNumber(prev!)) {
      throw new CampaignSpecError(`waves[${i}]`, 'wave sizes are cumulative and must increase');
    }
  });
  if (waves[waves.length - 1] !== 'all') throw new CampaignSpecError(`waves[${waves.length - 1}]`, "the last wave must be 'all' (or '100%') so that every matching device is covered");
  return waves;
}

function waveNumber(w: WaveSize): number {
  return typeof w === 'number' ? w : w === 'all' ? Number.POSITIVE_INFINITY : Number(w.slice(0, -1));
}

function parseTarget(value: unknown): CampaignSpec['target'] {
  if (!isObject(value)) throw new CampaignSpecError('target', 'expected an object with model, versionRange, tags and/or endpoints');
  known(value, 'target', ['model', 'versionRange', 'tags', 'endpoints']);
  const model = value.model === undefined ? null : label(value.model, 'target.model');
  let versionRange: string | null = null;
  if (value.versionRange !== undefined) {
    versionRange = label(value.versionRange, 'target.versionRange');
    try {
      parseSemVerRange(versionRange);
    } catch (err) {
      if (err instanceof SemVerRangeSyntaxError) throw new CampaignSpecError('target.versionRange', err.message);
      throw err;
    }
  }
  const list = (v: unknown, field: string, max: number): string[] => {
    if (!Array.isArray(v) || v.length > max) throw new CampaignSpecError(field, `expected an array of at most ${max} strings`);
    const seen = new Set<string>();
    return v.map((item, i) => {
      const s = label(item, `${field}[${i}]`);
      if (seen.has(s)) throw new CampaignSpecError(`${field}[${i}]`, `duplicate ${JSON.stringify(s)}`);
      seen.add(s);
      return s;
    });
  };
  const tags = value.tags === undefined ? [] : list(value.tags, 'target.tags', 64);
  const endpoints = value.endpoints === undefined ? null : list(value.endpoints, 'target.endpoints', 10_000);
  if (endpoints !== null && endpoints.length === 0) throw new CampaignSpecError('target.endpoints', 'an explicit list needs at least one endpoint');
  return { model, versionRange, tags, endpoints };
}

function parseSchedule(value: unknown): CampaignSpec['schedule'] {
  if (value === undefined) return { startAt: null, endAt: null, dailyWindow: null };
  if (!isObject(value)) throw new CampaignSpecError('schedule', 'expected an object');
  known(value, 'schedule', ['startAt', 'endAt', 'dailyWindow']);
  const startAt = isoTime(value.startAt, 'schedule.startAt');
  const endAt = isoTime(value.endAt, 'schedule.endAt');
  if (startAt !== null && endAt !== null && endAt <= startAt) throw new CampaignSpecError('schedule.endAt', 'must be after schedule.startAt');
  let dailyWindow: CampaignSpec['schedule']['dailyWindow'] = null;
  if (value.dailyWindow !== undefined) {
    if (!isObject(value.dailyWindow)) throw new CampaignSpecError('schedule.dailyWindow', "expected { from: 'HH:MM', to: 'HH:MM' }");
    known(value.dailyWindow, 'schedule.dailyWindow', ['from', 'to']);
    const from = timeOfDay(value.dailyWindow.from, 'schedule.dailyWindow.from');
    const to = timeOfDay(value.dailyWindow.to, 'schedule.dailyWindow.to');
    if (from === to) throw new CampaignSpecError('schedule.dailyWindow.to', 'an empty window never opens (omit dailyWindow for all day)');
    dailyWindow = { from, to };
  }
  return { startAt, endAt, dailyWindow };
}

function parseRetry(value: unknown): CampaignSpec['retry'] {
  if (value !== undefined && !isObject(value)) throw new CampaignSpecError('retry', 'expected an object');
  const r = (value ?? {}) as Record<string, unknown>;
  known(r, 'retry', ['maxAttempts', 'backoffMs', 'backoffFactor', 'maxBackoffMs', 'retryOn']);
  const backoffMs = integer(r.backoffMs, 'retry.backoffMs', 0, 7 * DAY_MS, 60_000);
  const maxBackoffMs = integer(r.maxBackoffMs, 'retry.maxBackoffMs', 0, 7 * DAY_MS, Math.max(3_600_000, backoffMs));
  if (maxBackoffMs < backoffMs) throw new CampaignSpecError('retry.maxBackoffMs', 'must be at least retry.backoffMs');
  let backoffFactor = 2;
  if (r.backoffFactor !== undefined) {
    if (typeof r.backoffFactor !== 'number' || !Number.isFinite(r.backoffFactor) || r.backoffFactor < 1 || r.backoffFactor > 10) {
      throw new CampaignSpecError('retry.backoffFactor', 'expected a number in 1..10');
    }
    backoffFactor = r.backoffFactor;
  }
  let retryOn = [...DEFAULT_RETRY_ON] as number[];
  if (r.retryOn !== undefined) {
    if (!Array.isArray(r.retryOn)) throw new CampaignSpecError('retry.retryOn', 'expected an array of Update Result codes 2..9');
    retryOn = r.retryOn.map((code, i) => {
      if (!isUpdateResult(code) || code < 2) throw new CampaignSpecError(`retry.retryOn[${i}]`, 'expected an Update Result failure code 2..9');
      return code;
    });
    retryOn = [...new Set(retryOn)].sort((a, b) => a - b);
  }
  return { maxAttempts: integer(r.maxAttempts, 'retry.maxAttempts', 1, 20, 3), backoffMs, backoffFactor, maxBackoffMs, retryOn };
}

/**
 * Checks an operator's campaign input and returns the normalised spec with every default filled
 * in. Throws CampaignSpecError naming the first bad field. The firmware's existence and model
 * are checked by the engine against the firmware catalog.
 */
export function validateCampaignSpec(input: unknown): { id: string | undefined; name: string; firmwareId: string; spec: CampaignSpec } {
  if (!isObject(input)) throw new CampaignSpecError('campaign', 'expected an object');
  known(input, '', TOP_FIELDS);
  const id = input.id === undefined ? undefined : label(input.id, 'id');
  const name = label(input.name, 'name');
  const firmwareId = label(input.firmwareId, 'firmwareId');
  if (input.requiresApproval !== undefined && typeof input.requiresApproval !== 'boolean') throw new CampaignSpecError('requiresApproval', 'expected a boolean');
  if (input.packagePolicy !== undefined && input.packagePolicy !== 'auto' && input.packagePolicy !== 'full') throw new CampaignSpecError('packagePolicy', "expected 'auto' or 'full'");
  if (input.delivery !== undefined && input.delivery !== null && !isDeliveryMethod(input.delivery)) throw new CampaignSpecError('delivery', `expected one of ${DELIVERY_METHODS.join(', ')} (or null for the server's default)`);
  const spec: CampaignSpec = {
    target: parseTarget(input.target),
    waves: parseWaves(input.waves),
    successThreshold: percent(input.successThreshold, 'successThreshold', 90),
    errorThreshold: percent(input.errorThreshold, 'errorThreshold', 20),
    maxInFlight: integer(input.maxInFlight, 'maxInFlight', 1, 100_000, 50),
    schedule: parseSchedule(input.schedule),
    retry: parseRetry(input.retry),
    attemptTimeoutMs: integer(input.attemptTimeoutMs, 'attemptTimeoutMs', 1000, 7 * DAY_MS, 30 * 60_000),
    requiresApproval: (input.requiresApproval as boolean | undefined) ?? false,
    packagePolicy: (input.packagePolicy as 'auto' | 'full' | undefined) ?? 'auto',
    delivery: (input.delivery as DeliveryMethod | null | undefined) ?? null,
  };
  return { id, name, firmwareId, spec };
}

/**
 * Cumulative device counts at which each wave ends, for `total` matching devices. Percentages
 * round up, so a 1 % canary of 50 devices is one device, not none; the sequence never shrinks.
 */
export function waveEnds(waves: readonly WaveSize[], total: number): number[] {
  let prev = 0;
  return waves.map((w) => {
    const n = w === 'all' ? total : typeof w === 'number' ? Math.min(w, total) : Math.min(total, Math.ceil((total * Number(w.slice(0, -1))) / 100));
    prev = Math.max(prev, n);
    return prev;
  });
}

/** The wave a device at 0-based rollout index `index` belongs to. */
export function waveOf(ends: readonly number[], index: number): number {
  const w = ends.findIndex((end) => index < end);
  return w === -1 ? ends.length - 1 : w;
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
}

/** Whether a new attempt may start at `now` (ms since the epoch) under the schedule. */
export function scheduleAllows(schedule: CampaignSpec['schedule'], now: number): boolean {
  if (schedule.startAt !== null && now < Date.parse(schedule.startAt)) return false;
  if (schedule.endAt !== null && now >= Date.parse(schedule.endAt)) return false;
  const w = schedule.dailyWindow;
  if (w === null) return true;
  const minute = Math.floor((now % DAY_MS) / 60_000);
  const from = minutesOf(w.from);
  const to = minutesOf(w.to);
  return from < to ? minute >= from && minute < to : minute >= from || minute < to;
}

export function scheduleEnded(schedule: CampaignSpec['schedule'], now: number): boolean {
  return schedule.endAt !== null && now >= Date.parse(schedule.endAt);
}

/** Delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed. */
export function retryDelayMs(retry: CampaignSpec['retry'], attempt: number): number {
  return Math.min(retry.maxBackoffMs, Math.round(retry.backoffMs * retry.backoffFactor ** Math.max(0, attempt - 1)));
}

/** Whether a device's reported version is the campaign's target (SemVer equality ignores build metadata). */
export function isTargetVersion(reported: string, target: string): boolean {
  if (reported === target) return true;
  const a = parseSemVer(reported);
  const b = parseSemVer(target);
  return a !== undefined && b !== undefined && a.major === b.major && a.minor === b.minor && a.patch === b.patch && a.prerelease.join('.') === b.prerelease.join('.');
}
