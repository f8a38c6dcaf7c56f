/**
 * Campaign-level decisions shared by operator commands, the tick and report handling: state
 * changes and the automatic pause on the error threshold. Each is a compare-and-set on the
 * campaign's revision, so a decision taken on stale data (another node, an earlier call) is
 * refused instead of applied twice.
 */
import type { CampaignPatch, CampaignRecord, CampaignState } from '../../store/campaign-types.js';
import { StoreConflictError } from '../../store/errors.js';
import { audit, effectiveSize, progressOf, publish, specOf, summarize, type EngineContext } from './context.js';
import { CampaignConflictError } from './errors.js';
import { assertTransition } from './transitions.js';

const VERB: Record<CampaignState, string> = {
  draft: 'draft',
  approved: 'approve',
  running: 'start',
  paused: 'pause',
  completed: 'complete',
  cancelled: 'cancel',
};

export interface StateChange {
  to: CampaignState;
  actor: string;
  reason: string | null;
  /** Audit action override (e.g. 'campaign.resume' for paused → running). */
  action?: string;
  progress?: Record<string, unknown>;
  details?: Record<string, unknown>;
}

/** Moves a campaign to another state (checked against the state machine), recorded and audited. */
export async function changeState(ctx: EngineContext, c: CampaignRecord, change: StateChange): Promise<CampaignRecord> {
  assertTransition(c.state, change.to);
  const details = { from: c.state, to: change.to, reason: change.reason, actor: change.actor, ...change.details };
  const event = { type: 'campaign.state', details };
  const patch: CampaignPatch = { state: change.to, stateReason: change.reason };
  if (change.progress !== undefined) patch.progress = change.progress;
  let updated: CampaignRecord;
  try {
    updated = await ctx.store.campaigns.update(c.id, c.revision, patch, event);
  } catch (err) {
    if (err instanceof StoreConflictError) throw new CampaignConflictError(c.id, { cause: err });
    throw err;
  }
  await audit(ctx, change.actor, change.action ?? `campaign.${VERB[change.to]}`, c.id, 'success', details);
  publish(ctx, c.id, event);
  return updated;
}

/** Writes new engine bookkeeping (wave advance) with its event; CampaignConflictError if the campaign moved. */
export async function updateProgress(ctx: EngineContext, c: CampaignRecord, progress: Record<string, unknown>, type: string, details: Record<string, unknown>): Promise<CampaignRecord> {
  const event = { type, details };
  try {
    const updated = await ctx.store.campaigns.update(c.id, c.revision, { progress }, event);
    publish(ctx, c.id, event);
    return updated;
  } catch (err) {
    if (err instanceof StoreConflictError) throw new CampaignConflictError(c.id, { cause: err });
    throw err;
  }
}

/**
 * Pauses a running campaign whose failure rate over the waves started so far exceeds the error
 * threshold — unless every failure counted was already accepted by an operator's resume.
 * Returns the campaign as it is afterwards.
 */
export async function enforceErrorThreshold(ctx: EngineContext, c: CampaignRecord): Promise<CampaignRecord> {
  if (c.state !== 'running') return c;
  const spec = specOf(c);
  const progress = progressOf(c);
  const waves = summarize(await ctx.store.campaigns.countDevices(c.id), progress.waveEnds.length).filter((w) => w.wave <= progress.wave);
  const failed = waves.reduce((n, w) => n + w.failed, 0);
  const size = waves.reduce((n, w) => n + effectiveSize(w), 0);
  if (size === 0 || failed <= progress.acknowledgedFailures) return c;
  const rate = (100 * failed) / size;
  if (rate <= spec.errorThreshold) return c;
  const reason = `error rate ${rate.toFixed(1)}% (${failed} of ${size} devices failed) exceeds the ${spec.errorThreshold}% threshold`;
  return changeState(ctx, c, {
    to: 'paused',
    actor: ctx.systemActor,
    reason,
    progress: { ...progress, pausedBy: 'error-threshold' },
    details: { automatic: true, failed, size, errorRate: rate },
  });
}
