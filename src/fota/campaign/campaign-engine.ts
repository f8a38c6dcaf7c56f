/**
 * The campaign engine (deployment management): operator commands, the tick that rolls waves
 * out, and the entry points for what devices report. It keeps no state of its own beyond
 * timers: everything it decides is in the store first, so a new engine on the same store (after
 * a restart, or on another node that became leader) carries on where the last one stopped.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { CampaignDeviceQuery, CampaignDeviceRecord, CampaignEventRecord, CampaignRecord } from '../../store/campaign-types.js';
import { StoreConflictError } from '../../store/errors.js';
import type { DeviceRecord, Store } from '../../store/types.js';
import { InvalidArgumentError } from '../../errors.js';
import { assertInteger, assertString } from '../../util/assert.js';
import { changeState, enforceErrorThreshold, updateProgress } from './campaign-state.js';
import {
  audit,
  effectiveSize,
  isTerminal,
  nowIso,
  progressOf,
  publish,
  specOf,
  summarize,
  type CampaignEngineEvent,
  type CampaignProgress,
  type EngineContext,
  type WaveSummary,
} from './context.js';
import { applyReport, expireAttempts, startAttempt, validateReport, type ReportOutcome } from './device-tracker.js';
import { singleNodeLeadership, systemClock, type CampaignClock, type CampaignFirmware, type DeliveryDriver, type FirmwareCatalog, type LeadershipLock } from './driver.js';
import { CampaignApprovalRequiredError, CampaignConflictError, CampaignEngineClosedError, CampaignNotFoundError, CampaignReportError, CampaignSpecError, CampaignTransitionError, CampaignUnknownFirmwareError } from './errors.js';
import { scheduleAllows, scheduleEnded, validateCampaignSpec, waveEnds, waveOf, type CampaignSpec } from './spec.js';
import { rolloutKey, targetMatcher } from './target.js';

export interface CampaignEngineOptions {
  store: Store;
  driver: DeliveryDriver;
  firmware: FirmwareCatalog;
  clock?: CampaignClock;
  lock?: LeadershipLock;
  /** Audit actor of the engine's own decisions. Default 'system:campaign-engine'. */
  systemActor?: string;
}

export interface CampaignView extends Omit<CampaignRecord, 'spec' | 'progress'> {
  spec: CampaignSpec;
  progress: CampaignProgress;
  waves: WaveSummary[];
}

export interface TickSummary {
  leader: boolean;
  campaigns: number;
  started: number;
  expired: number;
}

interface ActorOption {
  actor: string;
}

const PAGE = 500;

function assertActor(options: unknown): string {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected { actor }');
  const actor = (options as { actor?: unknown }).actor;
  assertString(actor, 'options.actor', { max: 255 });
  return actor;
}

function optionalReason(options: { reason?: unknown }): string | undefined {
  if (options.reason === undefined) return undefined;
  assertString(options.reason, 'options.reason', { max: 1024 });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(options.reason)) throw new InvalidArgumentError('options.reason', 'must not contain control characters');
  return options.reason;
}

export class CampaignEngine extends EventEmitter {
  readonly #ctx: EngineContext;
  readonly #lock: LeadershipLock;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: CampaignEngineOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'expected { store, driver, firmware }');
    const { store, driver, firmware } = options;
    if (typeof store?.campaigns !== 'object') throw new InvalidArgumentError('options.store', 'expected a Store with campaigns');
    if (typeof driver?.startUpdate !== 'function') throw new InvalidArgumentError('options.driver', 'expected a DeliveryDriver (startUpdate)');
    if (typeof firmware?.describe !== 'function' || typeof firmware.packageKindFor !== 'function') {
      throw new InvalidArgumentError('options.firmware', 'expected a FirmwareCatalog (describe, packageKindFor)');
    }
    const clock = options.clock ?? systemClock;
    if (typeof clock.now !== 'function') throw new InvalidArgumentError('options.clock', 'expected { now() }');
    this.#lock = options.lock ?? singleNodeLeadership;
    if (typeof this.#lock.isLeader !== 'function') throw new InvalidArgumentError('options.lock', 'expected { isLeader() }');
    const systemActor = options.systemActor ?? 'system:campaign-engine';
    assertString(systemActor, 'options.systemActor', { max: 255 });
    this.#ctx = { store, driver, catalog: firmware, clock, emitter: this, systemActor };
  }

  /**
   * Runs `fn` after every earlier engine operation: within one engine, ticks, reports and
   * commands never interleave. Across nodes, the store's compare-and-set does that job.
   */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new CampaignEngineClosedError());
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #load(id: string): Promise<CampaignRecord> {
    assertString(id, 'id', { max: 255 });
    const c = await this.#ctx.store.campaigns.get(id);
    if (c === undefined) throw new CampaignNotFoundError(id);
    return c;
  }

  async #view(c: CampaignRecord): Promise<CampaignView> {
    const waves = summarize(await this.#ctx.store.campaigns.countDevices(c.id), Math.max(1, progressOf(c).waveEnds.length));
    return { ...c, spec: specOf(c), progress: progressOf(c), waves };
  }

  // ---- operator commands ----

  /** Creates a draft campaign after checking the spec and the firmware. */
  async create(input: unknown, options: ActorOption): Promise<CampaignView> {
    const actor = assertActor(options);
    const { id, name, firmwareId, spec } = validateCampaignSpec(input);
    return this.#serial(async () => {
      const firmware = await this.#ctx.catalog.describe(firmwareId);
      if (firmware === undefined) throw new CampaignUnknownFirmwareError(firmwareId);
      if (spec.target.model !== null && firmware.model !== null && spec.target.model !== firmware.model) {
        throw new CampaignSpecError('target.model', `firmware ${JSON.stringify(firmwareId)} is built for model ${JSON.stringify(firmware.model)}`);
      }
      if (spec.target.model === null && firmware.model === null && spec.target.endpoints === null && spec.target.tags.length === 0) {
        throw new CampaignSpecError('target', 'give a model, tags or endpoints: the firmware fits any model, so the campaign would target every device');
      }
      const progress: CampaignProgress = { firmware, wave: 0, waveEnds: [], targetCount: 0, acknowledgedFailures: 0, passedWaves: [], pausedBy: null };
      const campaignId = id ?? randomUUID();
      const event = { type: 'campaign.created', details: { actor, firmwareId, version: firmware.version } };
      let c: CampaignRecord;
      try {
        c = await this.#ctx.store.campaigns.create(
          { id: campaignId, name, firmwareId, spec: spec as unknown as Record<string, unknown>, createdBy: actor, progress: progress as unknown as Record<string, unknown> },
          event,
        );
      } catch (err) {
        if (err instanceof StoreConflictError) throw new CampaignSpecError('id', `campaign ${JSON.stringify(campaignId)} already exists`);
        throw err;
      }
      await audit(this.#ctx, actor, 'campaign.create', c.id, 'success', { name, firmwareId, version: firmware.version, spec: spec as unknown as Record<string, unknown> });
      publish(this.#ctx, c.id, event);
      return this.#view(c);
    });
  }

  async approve(id: string, options: ActorOption): Promise<CampaignView> {
    const actor = assertActor(options);
    return this.#serial(async () => this.#view(await changeState(this.#ctx, await this.#load(id), { to: 'approved', actor, reason: null })));
  }

  /**
   * Starts a draft (when no approval is required) or approved campaign: selects the matching
   * devices, orders them, assigns waves and records all of it before the first attempt.
   */
  async start(id: string, options: ActorOption): Promise<CampaignView> {
    const actor = assertActor(options);
    return this.#serial(async () => {
      const c = await this.#load(id);
      const spec = specOf(c);
      if (c.state === 'draft' && spec.requiresApproval) throw new CampaignApprovalRequiredError(id);
      if (c.state !== 'draft' && c.state !== 'approved') {
        throw new CampaignTransitionError(c.state, 'running', c.state === 'paused' ? 'a paused campaign is resumed, not started' : `a ${c.state} campaign cannot be started`);
      }
      const firmware = await this.#ctx.catalog.describe(c.firmwareId);
      if (firmware === undefined) throw new CampaignUnknownFirmwareError(c.firmwareId);
      const devices = await this.#scanTargets(c, firmware);
      const ends = waveEnds(spec.waves, devices.length);
      // Devices first, state second: addDevices keeps rows that exist, so a start interrupted
      // between the two is simply repeated.
      for (let i = 0; i < devices.length; i += PAGE) {
        await this.#ctx.store.campaigns.addDevices(c.id, devices.slice(i, i + PAGE).map((d, j) => ({ endpoint: d.endpoint, wave: waveOf(ends, i + j), fromVersion: d.firmwareVersion })));
      }
      const progress: CampaignProgress = { ...progressOf(c), firmware, wave: 0, waveEnds: ends, targetCount: devices.length };
      const started = await changeState(this.#ctx, c, { to: 'running', actor, reason: null, progress: progress as unknown as Record<string, unknown>, details: { targetCount: devices.length, waveEnds: ends } });
      const event = { type: 'wave.started', details: { wave: 0, size: ends[0] ?? 0 } };
      await this.#ctx.store.campaigns.appendEvent(c.id, event);
      publish(this.#ctx, c.id, event);
      return this.#view(started);
    });
  }

  async pause(id: string, options: ActorOption & { reason?: string }): Promise<CampaignView> {
    const actor = assertActor(options);
    const reason = optionalReason(options) ?? 'paused by operator';
    return this.#serial(async () => {
      const c = await this.#load(id);
      return this.#view(await changeState(this.#ctx, c, { to: 'paused', actor, reason, progress: { ...c.progress, pausedBy: 'operator' } }));
    });
  }

  /**
   * Resumes a paused campaign. Resuming after an automatic pause is the operator's acceptance:
   * failures so far no longer count against the error threshold (new ones do), and a wave that
   * ended below the success threshold is let through.
   */
  async resume(id: string, options: ActorOption): Promise<CampaignView> {
    const actor = assertActor(options);
    return this.#serial(async () => {
      const c = await this.#load(id);
      if (c.state !== 'paused') throw new CampaignTransitionError(c.state, 'running', `only a paused campaign can be resumed (this one is ${c.state})`);
      const p = progressOf(c);
      const waves = summarize(await this.#ctx.store.campaigns.countDevices(c.id), p.waveEnds.length);
      const failed = waves.filter((w) => w.wave <= p.wave).reduce((n, w) => n + w.failed, 0);
      const progress: CampaignProgress = {
        ...p,
        pausedBy: null,
        acknowledgedFailures: p.pausedBy === 'error-threshold' ? failed : p.acknowledgedFailures,
        passedWaves: p.pausedBy === 'success-threshold' ? [...new Set([...p.passedWaves, p.wave])] : p.passedWaves,
      };
      return this.#view(await changeState(this.#ctx, c, { to: 'running', actor, reason: null, action: 'campaign.resume', progress: progress as unknown as Record<string, unknown> }));
    });
  }

  /** Cancels: no new attempts; waiting devices are marked cancelled; in-flight ones are tracked to their end. */
  async cancel(id: string, options: ActorOption & { reason?: string }): Promise<CampaignView> {
    const actor = assertActor(options);
    const reason = optionalReason(options) ?? 'cancelled by operator';
    return this.#serial(async () => {
      const c = await changeState(this.#ctx, await this.#load(id), { to: 'cancelled', actor, reason });
      await this.#sweep(c, 'cancelled', 'campaign-cancelled');
      return this.#view(c);
    });
  }

  async get(id: string): Promise<CampaignView> {
    return this.#view(await this.#load(id));
  }

  async list(options?: { state?: CampaignRecord['state'] | Array<CampaignRecord['state']>; after?: string; limit?: number }): Promise<CampaignView[]> {
    const rows = await this.#ctx.store.campaigns.list(options);
    return Promise.all(rows.map((c) => this.#view(c)));
  }

  async devices(id: string, query?: CampaignDeviceQuery): Promise<CampaignDeviceRecord[]> {
    await this.#load(id);
    return this.#ctx.store.campaigns.listDevices(id, query);
  }

  /** The campaign's timeline, or one device's when `endpoint` is given. */
  async timeline(id: string, options?: { endpoint?: string; after?: number; limit?: number }): Promise<CampaignEventRecord[]> {
    await this.#load(id);
    return this.#ctx.store.campaigns.listEvents(id, options);
  }

  // ---- what devices and the registry report ----

  /** A driver's observation of one device (Object 5 state, result, progress, version, loss). */
  async onDeviceReport(report: unknown): Promise<ReportOutcome> {
    const r = validateReport(report);
    return this.#serial(async () => {
      const c = await this.#load(r.campaignId);
      const row = await this.#ctx.store.campaigns.getDevice(c.id, r.endpoint);
      if (row === undefined) throw new CampaignReportError('endpoint', `device ${JSON.stringify(r.endpoint)} is not in campaign ${JSON.stringify(c.id)}`);
      return applyReport(this.#ctx, c, row, r);
    });
  }

  /**
   * The firmware version a device reports (/3/0/3, read when it registers again after a reboot)
   * when the caller does not know which campaign and attempt it belongs to: applied to every
   * attempt of that device in flight. Returns the ids of the campaigns it was applied to.
   */
  async onDeviceVersion(endpoint: string, version: string): Promise<string[]> {
    assertString(endpoint, 'endpoint', { max: 255 });
    assertString(version, 'version', { max: 255 });
    return this.#serial(async () => {
      const applied: string[] = [];
      for (const row of await this.#ctx.store.campaigns.devicesByEndpoint(endpoint)) {
        if (row.status !== 'in-flight') continue;
        const c = await this.#load(row.campaignId);
        if ((await applyReport(this.#ctx, c, row, { endpoint, campaignId: c.id, attempt: row.attempt, kind: 'version', version })) === 'applied') applied.push(c.id);
      }
      return applied;
    });
  }

  /**
   * A device registered or changed (model, version, tags): it joins every running or paused
   * campaign whose filter it now matches, in that campaign's current wave. Returns the ids joined.
   */
  async onDeviceMatched(endpoint: string): Promise<string[]> {
    assertString(endpoint, 'endpoint', { max: 255 });
    return this.#serial(async () => {
      const device = await this.#ctx.store.devices.get(endpoint);
      if (device === undefined) return [];
      const joined: string[] = [];
      for await (const c of this.#campaigns(['running', 'paused'])) {
        if (!targetMatcher(specOf(c), progressOf(c).firmware)(device)) continue;
        if ((await this.#join(c, [device])) > 0) joined.push(c.id);
      }
      return joined;
    });
  }

  /** Re-runs a running or paused campaign's filter over the whole registry; returns how many devices joined. */
  async reevaluate(id: string): Promise<number> {
    return this.#serial(async () => {
      const c = await this.#load(id);
      if (c.state !== 'running' && c.state !== 'paused') return 0;
      return this.#join(c, await this.#scanTargets(c, progressOf(c).firmware));
    });
  }

  async #join(c: CampaignRecord, devices: readonly DeviceRecord[]): Promise<number> {
    const wave = progressOf(c).wave;
    let count = 0;
    for (let i = 0; i < devices.length; i += PAGE) {
      const added = await this.#ctx.store.campaigns.addDevices(c.id, devices.slice(i, i + PAGE).map((d) => ({ endpoint: d.endpoint, wave, fromVersion: d.firmwareVersion })));
      for (const row of added) {
        const event = { endpoint: row.endpoint, type: 'device.joined', details: { wave, fromVersion: row.fromVersion } };
        await this.#ctx.store.campaigns.appendEvent(c.id, event);
        await audit(this.#ctx, this.#ctx.systemActor, 'campaign.device.join', row.endpoint, 'success', { campaignId: c.id, wave });
        publish(this.#ctx, c.id, event);
      }
      count += added.length;
    }
    return count;
  }

  /** Matching devices in rollout order. */
  async #scanTargets(c: CampaignRecord, firmware: CampaignFirmware): Promise<DeviceRecord[]> {
    const spec = specOf(c);
    const matches = targetMatcher(spec, firmware);
    const found: DeviceRecord[] = [];
    if (spec.target.endpoints !== null) {
      for (const endpoint of spec.target.endpoints) {
        const d = await this.#ctx.store.devices.get(endpoint);
        if (d !== undefined && matches(d)) found.push(d);
      }
    } else {
      const model = spec.target.model ?? firmware.model ?? undefined;
      const tag = spec.target.tags[0];
      let after: string | undefined;
      for (;;) {
        const page = await this.#ctx.store.devices.list({ model, tag, after, limit: 1000 });
        found.push(...page.filter(matches));
        if (page.length < 1000) break;
        after = page[page.length - 1]!.endpoint;
      }
    }
    const key = new Map(found.map((d) => [d.endpoint, rolloutKey(c.id, d.endpoint)]));
    return found.sort((a, b) => (key.get(a.endpoint)! < key.get(b.endpoint)! ? -1 : 1));
  }

  async *#campaigns(states: CampaignRecord['state'][]): AsyncGenerator<CampaignRecord> {
    let after: string | undefined;
    for (;;) {
      const page = await this.#ctx.store.campaigns.list({ state: states, after, limit: 100 });
      yield* page;
      if (page.length < 100) return;
      after = page[page.length - 1]!.id;
    }
  }

  /** Marks every waiting (pending, retry-wait) device of a campaign with a final status. */
  async #sweep(c: CampaignRecord, status: 'cancelled' | 'skipped', failure: string): Promise<number> {
    let count = 0;
    for (;;) {
      const rows = await this.#ctx.store.campaigns.listDevices(c.id, { status: ['pending', 'retry-wait'], limit: PAGE });
      if (rows.length === 0) return count;
      let moved = 0;
      for (const row of rows) {
        const event = { endpoint: row.endpoint, type: `device.${status}`, details: { reason: failure, attempt: row.attempt } };
        const done = await this.#ctx.store.campaigns.updateDevice(c.id, row.endpoint, { status: row.status, attempt: row.attempt }, { status, failure, dueAt: null }, event);
        if (done === undefined) continue;
        moved++;
        await audit(this.#ctx, this.#ctx.systemActor, `campaign.device.${status === 'cancelled' ? 'cancel' : 'skip'}`, row.endpoint, 'success', { campaignId: c.id, reason: failure });
        publish(this.#ctx, c.id, event);
      }
      count += moved;
      if (moved === 0) return count;
    }
  }

  // ---- the loop ----

  /**
   * One pass over every live campaign: expire silent attempts, finish cancelled and expired
   * ones, advance waves, enforce thresholds, and start attempts within max-in-flight and the
   * schedule. Only the leader acts. Call it from a timer (run()) or directly with a manual clock.
   */
  async tick(): Promise<TickSummary> {
    return this.#serial(async () => {
      const summary: TickSummary = { leader: false, campaigns: 0, started: 0, expired: 0 };
      if (!(await this.#lock.isLeader())) return summary;
      summary.leader = true;
      for await (const c of this.#campaigns(['running', 'paused', 'cancelled'])) {
        summary.campaigns++;
        try {
          await this.#tickCampaign(c, summary);
        } catch (err) {
          // Another node or call moved the campaign on: the next tick sees the new state.
          if (!(err instanceof CampaignConflictError)) throw err;
        }
      }
      return summary;
    });
  }

  async #tickCampaign(initial: CampaignRecord, summary: TickSummary): Promise<void> {
    summary.expired += await expireAttempts(this.#ctx, initial);
    let c = await this.#load(initial.id);
    if (c.state === 'cancelled') {
      await this.#sweep(c, 'cancelled', 'campaign-cancelled');
      return;
    }
    if (c.state !== 'running') return;
    const spec = specOf(c);
    const now = this.#ctx.clock.now();
    if (scheduleEnded(spec.schedule, now)) {
      await this.#sweep(c, 'skipped', 'schedule-ended');
      await this.#advance(c);
      return;
    }
    c = await this.#advance(c);
    c = await enforceErrorThreshold(this.#ctx, c);
    if (c.state !== 'running' || !scheduleAllows(spec.schedule, now)) return;
    summary.started += await this.#startAttempts(c);
  }

  /**
   * Moves to the next wave while the current one has met its success threshold; completes the
   * campaign when the last wave has no device left to wait for; pauses when a wave ended below
   * the threshold (an operator's resume lets it pass).
   */
  async #advance(initial: CampaignRecord): Promise<CampaignRecord> {
    let c = initial;
    for (;;) {
      const spec = specOf(c);
      const p = progressOf(c);
      const waves = summarize(await this.#ctx.store.campaigns.countDevices(c.id), p.waveEnds.length);
      const current = waves[p.wave]!;
      const last = p.wave >= p.waveEnds.length - 1;
      if (last) {
        if (!waves.every(isTerminal)) return c;
        const succeeded = waves.reduce((n, w) => n + w.succeeded, 0);
        const failed = waves.reduce((n, w) => n + w.failed, 0);
        return changeState(this.#ctx, c, { to: 'completed', actor: this.#ctx.systemActor, reason: `${succeeded} succeeded, ${failed} failed`, details: { succeeded, failed } });
      }
      const size = effectiveSize(current);
      const rate = size === 0 ? 100 : (100 * current.succeeded) / size;
      if (rate >= spec.successThreshold || p.passedWaves.includes(p.wave)) {
        const next = p.wave + 1;
        const progress: CampaignProgress = { ...p, wave: next };
        c = await updateProgress(this.#ctx, c, progress as unknown as Record<string, unknown>, 'wave.started', {
          wave: next,
          previous: { wave: p.wave, succeeded: current.succeeded, failed: current.failed, size, successRate: rate },
        });
        await audit(this.#ctx, this.#ctx.systemActor, 'campaign.wave', c.id, 'success', { wave: next, previousSuccessRate: rate });
        continue;
      }
      if (!isTerminal(current)) return c;
      return changeState(this.#ctx, c, {
        to: 'paused',
        actor: this.#ctx.systemActor,
        reason: `wave ${p.wave} ended with ${rate.toFixed(1)}% succeeded, below the ${spec.successThreshold}% success threshold`,
        progress: { ...p, pausedBy: 'success-threshold' },
        details: { automatic: true, wave: p.wave, successRate: rate },
      });
    }
  }

  async #startAttempts(c: CampaignRecord): Promise<number> {
    const spec = specOf(c);
    const p = progressOf(c);
    const waves = summarize(await this.#ctx.store.campaigns.countDevices(c.id), p.waveEnds.length);
    let slots = spec.maxInFlight - waves.reduce((n, w) => n + w.inFlight, 0);
    const now = nowIso(this.#ctx);
    let started = 0;
    let after: number | undefined;
    while (slots > 0) {
      const rows = await this.#ctx.store.campaigns.listDevices(c.id, { status: ['pending', 'retry-wait'], maxWave: p.wave, after, limit: 100 });
      for (const row of rows) {
        if (slots <= 0) break;
        if (row.status === 'retry-wait' && (row.dueAt === null || row.dueAt > now)) continue;
        if (await startAttempt(this.#ctx, c, row)) {
          started++;
          slots--;
        }
      }
      if (rows.length < 100) break;
      after = rows[rows.length - 1]!.position;
    }
    return started;
  }

  /**
   * Ticks every `intervalMs` on real timers until close(); tick failures are emitted as
   * 'tickError'. The timer keeps the process alive: a running engine is work in progress.
   */
  run(options: { intervalMs: number }): void {
    assertInteger(options?.intervalMs, 'options.intervalMs', 10, 3_600_000);
    if (this.#closed) throw new CampaignEngineClosedError();
    if (this.#timer !== undefined) return;
    const loop = (): void => {
      this.tick()
        .catch((err: unknown) => {
          if (!this.#closed) this.emit('tickError', err);
        })
        .finally(() => {
          if (!this.#closed) this.#timer = setTimeout(loop, options.intervalMs);
        });
    };
    this.#timer = setTimeout(loop, options.intervalMs);
  }

  /** Stops the timer, waits for the operation in progress and releases leadership. The store stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#queue;
    await this.#lock.release?.();
  }

  override on(event: 'event', listener: (e: CampaignEngineEvent) => void): this;
  override on(event: 'tickError', listener: (err: unknown) => void): this;
  override on(event: string | symbol, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
}
