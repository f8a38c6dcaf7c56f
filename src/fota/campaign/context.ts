/**
 * What the engine's parts share: the store, the injected collaborators, and the one way to
 * record a decision — write it (with its timeline event) first, audit it, then tell listeners.
 */
import type { EventEmitter } from 'node:events';
import type { CampaignDeviceCount, CampaignDeviceStatus, CampaignRecord, NewCampaignEvent } from '../../store/campaign-types.js';
import type { AuditOutcome, Store } from '../../store/types.js';
import type { CampaignClock, CampaignFirmware, DeliveryDriver, FirmwareCatalog } from './driver.js';
import type { CampaignSpec } from './spec.js';

/** Engine bookkeeping kept in CampaignRecord.progress. */
export interface CampaignProgress {
  /** The target firmware, captured when the campaign was created. */
  firmware: CampaignFirmware;
  /** 0-based index of the current wave. */
  wave: number;
  /** Cumulative device counts at which each wave ends (planned at start). */
  waveEnds: number[];
  /** Matching devices when the campaign started. */
  targetCount: number;
  /** Failures the operator accepted by resuming after an automatic pause. */
  acknowledgedFailures: number;
  /** Waves the operator let pass below the success threshold (by resuming). */
  passedWaves: number[];
  /** Why the campaign is paused: 'operator', 'error-threshold' or 'success-threshold'. */
  pausedBy: string | null;
}

/** An event as the engine emits it ('event') after it is stored. */
export interface CampaignEngineEvent {
  campaignId: string;
  endpoint: string | null;
  type: string;
  at: string;
  details: Record<string, unknown>;
}

export interface EngineContext {
  readonly store: Store;
  readonly driver: DeliveryDriver;
  readonly catalog: FirmwareCatalog;
  readonly clock: CampaignClock;
  readonly emitter: EventEmitter;
  /** Actor of decisions the engine takes on its own (timeouts, waves, automatic pauses). */
  readonly systemActor: string;
}

export function nowIso(ctx: EngineContext, offsetMs = 0): string {
  return new Date(ctx.clock.now() + offsetMs).toISOString();
}

export function specOf(c: CampaignRecord): CampaignSpec {
  return c.spec as unknown as CampaignSpec;
}

export function progressOf(c: CampaignRecord): CampaignProgress {
  return c.progress as unknown as CampaignProgress;
}

/** Emits an event already written to the store. */
export function publish(ctx: EngineContext, campaignId: string, event: NewCampaignEvent): void {
  const e: CampaignEngineEvent = { campaignId, endpoint: event.endpoint ?? null, type: event.type, at: nowIso(ctx), details: event.details ?? {} };
  ctx.emitter.emit('event', e);
}

export async function audit(ctx: EngineContext, actor: string, action: string, subject: string, outcome: AuditOutcome, details: Record<string, unknown>): Promise<void> {
  await ctx.store.audit.append({ actor, action, subject, outcome, details });
}

/** Per-wave device counts of one campaign. */
export interface WaveSummary {
  wave: number;
  total: number;
  pending: number;
  inFlight: number;
  retryWait: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelled: number;
}

const FIELD: Record<CampaignDeviceStatus, keyof Omit<WaveSummary, 'wave' | 'total'>> = {
  pending: 'pending',
  'in-flight': 'inFlight',
  'retry-wait': 'retryWait',
  succeeded: 'succeeded',
  failed: 'failed',
  skipped: 'skipped',
  cancelled: 'cancelled',
};

export function summarize(counts: readonly CampaignDeviceCount[], waveCount: number): WaveSummary[] {
  const waves: WaveSummary[] = [];
  const at = (w: number): WaveSummary => {
    while (waves.length <= w) waves.push({ wave: waves.length, total: 0, pending: 0, inFlight: 0, retryWait: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 });
    return waves[w]!;
  };
  at(Math.max(0, waveCount - 1));
  for (const c of counts) {
    const s = at(c.wave);
    s.total += c.count;
    s[FIELD[c.status]] += c.count;
  }
  return waves;
}

/** Devices that still count for rates: skipped and cancelled ones were never part of the outcome. */
export function effectiveSize(s: WaveSummary): number {
  return s.total - s.skipped - s.cancelled;
}

export function isTerminal(s: WaveSummary): boolean {
  return s.pending + s.inFlight + s.retryWait === 0;
}
