/**
 * One device's way through a campaign: starting an attempt, consuming Object 5 reports,
 * deciding success (only on the reported version after reboot), retry or final failure.
 *
 * Ordering is what makes restarts safe: an attempt is written to the store (status in-flight,
 * attempt n, its deadline, its timeline event) by compare-and-set *before* the driver is asked
 * to deliver. A crash after the write but before the call leaves an in-flight row the next
 * engine does not start again; the deadline turns it into a failed attempt and the retry policy
 * decides. So no (device, attempt) is ever delivered twice, at the price of an idle wait when
 * the process dies in that instant.
 */
import type { CampaignDevicePatch, CampaignDeviceRecord, CampaignRecord, NewCampaignEvent } from '../../store/campaign-types.js';
import { enforceErrorThreshold } from './campaign-state.js';
import { audit, nowIso, progressOf, publish, specOf, summarize, type EngineContext } from './context.js';
import type { DeviceReport, UpdateRequest } from './driver.js';
import { CampaignConflictError, CampaignReportError } from './errors.js';
import { FIRMWARE_STATE_NAMES, UPDATE_RESULT, UPDATE_RESULT_NAMES, isFirmwareState, isUpdateResult, type UpdateResult } from './object5.js';
import { isTargetVersion, retryDelayMs } from './spec.js';

/** Why an attempt failed: a device-reported Update Result, or what the server saw. */
export type FailureReason = 'result-code' | 'timeout' | 'delivery-error' | 'version-mismatch';

export type ReportOutcome = 'applied' | 'stale';

/**
 * Emits the wave's counts after a device reached an outcome ('wave.progress'). Emitted only, not
 * stored: it is derived from the device rows, which are.
 */
async function publishWaveProgress(ctx: EngineContext, c: CampaignRecord, wave: number): Promise<void> {
  const waves = summarize(await ctx.store.campaigns.countDevices(c.id), progressOf(c).waveEnds.length);
  const w = waves[wave];
  if (w !== undefined) ctx.emitter.emit('event', { campaignId: c.id, endpoint: null, type: 'wave.progress', at: nowIso(ctx), details: { ...w } });
}

async function writeDevice(ctx: EngineContext, row: CampaignDeviceRecord, patch: CampaignDevicePatch, event: NewCampaignEvent): Promise<CampaignDeviceRecord | undefined> {
  const updated = await ctx.store.campaigns.updateDevice(row.campaignId, row.endpoint, { status: row.status, attempt: row.attempt }, patch, event);
  if (updated !== undefined) publish(ctx, row.campaignId, event);
  return updated;
}

/**
 * Starts the next attempt of a pending or retry-waiting device. Returns false when another
 * decision got there first (the row moved on), in which case nothing was delivered.
 */
export async function startAttempt(ctx: EngineContext, c: CampaignRecord, row: CampaignDeviceRecord): Promise<boolean> {
  const spec = specOf(c);
  const { firmware } = progressOf(c);
  // Object 5 has one instance: a device updating for another campaign must finish that first.
  const elsewhere = await ctx.store.campaigns.devicesByEndpoint(row.endpoint);
  if (elsewhere.some((r) => r.campaignId !== c.id && r.status === 'in-flight')) return false;
  // The registry holds what the device runs now (it may have changed since it joined: another
  // campaign, a manual update, a rollback); that is the base a delta must apply to.
  const device = await ctx.store.devices.get(row.endpoint);
  if (device !== undefined && row.attempt > 0 && device.firmwareVersion !== null && isTargetVersion(device.firmwareVersion, firmware.version)) {
    // An earlier attempt of this campaign got it there, but its /3/0/3 arrived only after that
    // attempt had ended (timed out while the server was down, say): the version the device
    // reported is the proof, so it counts as updated, not as "already current".
    await succeed(ctx, c, row, device.firmwareVersion, 'registry');
    return false;
  }
  if (device === undefined || (device.firmwareVersion !== null && isTargetVersion(device.firmwareVersion, firmware.version))) {
    const reason = device === undefined ? 'device-deleted' : 'already-current';
    const skipped = await writeDevice(ctx, row, { status: 'skipped', failure: reason, dueAt: null }, { endpoint: row.endpoint, type: 'device.skipped', details: { reason, attempt: row.attempt } });
    if (skipped !== undefined) await audit(ctx, ctx.systemActor, 'campaign.device.skip', row.endpoint, 'success', { campaignId: c.id, reason });
    return false;
  }
  // Nothing is recorded for a device the driver cannot reach now (no session since a server
  // restart, the server shutting down): it keeps its place and its attempts for a later tick.
  if (ctx.driver.canDeliver !== undefined && !(await ctx.driver.canDeliver(row.endpoint).catch(() => false))) return false;
  const fromVersion = device.firmwareVersion;
  const packageKind = spec.packagePolicy === 'full' ? 'full' : await ctx.catalog.packageKindFor(c.firmwareId, fromVersion);
  const attempt = row.attempt + 1;
  const started = await writeDevice(
    ctx,
    row,
    { status: 'in-flight', attempt, packageKind, dueAt: nowIso(ctx, spec.attemptTimeoutMs), fwState: null, progress: null, updateResult: null, failure: null },
    { endpoint: row.endpoint, type: 'device.attempt', details: { attempt, packageKind, wave: row.wave, fromVersion } },
  );
  if (started === undefined) return false;
  await audit(ctx, ctx.systemActor, 'campaign.device.attempt', row.endpoint, 'success', { campaignId: c.id, attempt, packageKind, firmwareId: c.firmwareId });
  const request: UpdateRequest = { endpoint: row.endpoint, campaignId: c.id, attempt, firmware, packageKind, fromVersion, delivery: spec.delivery ?? null };
  try {
    await ctx.driver.startUpdate(request);
  } catch (err) {
    await failAttempt(ctx, c, started, { reason: 'delivery-error', message: err instanceof Error ? err.message : String(err) });
    return true;
  }
  const event = { endpoint: row.endpoint, type: 'device.delivery-started', details: { attempt } };
  await ctx.store.campaigns.appendEvent(c.id, event);
  publish(ctx, c.id, event);
  return true;
}

interface Failure {
  reason: FailureReason;
  code?: UpdateResult;
  message?: string;
}

/** An attempt failed: schedule the next one if the policy allows, else fail the device for good. */
export async function failAttempt(ctx: EngineContext, c: CampaignRecord, row: CampaignDeviceRecord, failure: Failure): Promise<CampaignDeviceRecord | undefined> {
  const spec = specOf(c);
  const code = failure.code ?? null;
  // A rolled-back install is the device's "update failed" (8) as far as the policy goes.
  const policyCode = failure.reason === 'version-mismatch' ? UPDATE_RESULT.UPDATE_FAILED : code;
  const retryable = c.state !== 'cancelled'
    && row.attempt < spec.retry.maxAttempts
    && (policyCode === null || spec.retry.retryOn.includes(policyCode));
  const details: Record<string, unknown> = { attempt: row.attempt, reason: failure.reason };
  if (code !== null) {
    details.updateResult = code;
    details.updateResultName = UPDATE_RESULT_NAMES[code];
  }
  if (failure.message !== undefined) details.message = failure.message.slice(0, 500);
  const resultPatch = code === null ? {} : { updateResult: code };
  if (retryable) {
    const dueAt = nowIso(ctx, retryDelayMs(spec.retry, row.attempt));
    const updated = await writeDevice(ctx, row, { status: 'retry-wait', failure: failure.reason, dueAt, ...resultPatch }, { endpoint: row.endpoint, type: 'device.retry-scheduled', details: { ...details, nextAttemptAt: dueAt } });
    if (updated !== undefined) await audit(ctx, ctx.systemActor, 'campaign.device.retry', row.endpoint, 'failure', { campaignId: c.id, ...details, nextAttemptAt: dueAt });
    return updated;
  }
  const updated = await writeDevice(ctx, row, { status: 'failed', failure: failure.reason, dueAt: null, ...resultPatch }, { endpoint: row.endpoint, type: 'device.failed', details });
  if (updated === undefined) return undefined;
  await audit(ctx, ctx.systemActor, 'campaign.device.failed', row.endpoint, 'failure', { campaignId: c.id, ...details });
  await publishWaveProgress(ctx, c, row.wave);
  // Re-read: the campaign may have moved since `c` was loaded (another report, an operator).
  const fresh = await ctx.store.campaigns.get(c.id);
  try {
    if (fresh !== undefined) await enforceErrorThreshold(ctx, fresh);
  } catch (err) {
    // Someone else changed the campaign in between; the leader's next tick re-checks the threshold.
    if (!(err instanceof CampaignConflictError)) throw err;
  }
  return updated;
}

export function validateReport(report: unknown): DeviceReport {
  if (typeof report !== 'object' || report === null) throw new CampaignReportError('report', 'expected an object');
  const r = report as Record<string, unknown>;
  for (const f of ['endpoint', 'campaignId'] as const) {
    if (typeof r[f] !== 'string' || r[f].length === 0 || r[f].length > 255) throw new CampaignReportError(f, 'expected a non-empty string of at most 255 characters');
  }
  if (typeof r.attempt !== 'number' || !Number.isSafeInteger(r.attempt) || r.attempt < 1) throw new CampaignReportError('attempt', 'expected a positive integer');
  switch (r.kind) {
    case 'state':
      if (!isFirmwareState(r.state)) throw new CampaignReportError('state', 'expected an Object 5 State 0..3');
      break;
    case 'progress':
      if (typeof r.percent !== 'number' || !Number.isFinite(r.percent) || r.percent < 0 || r.percent > 100) throw new CampaignReportError('percent', 'expected 0..100');
      break;
    case 'result':
      if (!isUpdateResult(r.result)) throw new CampaignReportError('result', 'expected an Object 5 Update Result 0..9');
      break;
    case 'version':
      if (typeof r.version !== 'string' || r.version.length === 0 || r.version.length > 255) throw new CampaignReportError('version', 'expected a non-empty string');
      break;
    case 'error':
      if (typeof r.message !== 'string') throw new CampaignReportError('message', 'expected a string');
      break;
    default:
      throw new CampaignReportError('kind', "expected 'state', 'progress', 'result', 'version' or 'error'");
  }
  return r as unknown as DeviceReport;
}

/**
 * Applies one device report to its campaign row. Reports for another attempt, or for a device
 * no longer in flight, are 'stale': recorded in the timeline, changing nothing.
 */
export async function applyReport(ctx: EngineContext, c: CampaignRecord, row: CampaignDeviceRecord, report: DeviceReport): Promise<ReportOutcome> {
  const spec = specOf(c);
  const ep = row.endpoint;
  if (row.status !== 'in-flight' || row.attempt !== report.attempt) {
    const event = { endpoint: ep, type: 'device.report-ignored', details: { kind: report.kind, attempt: report.attempt, status: row.status, currentAttempt: row.attempt } };
    await ctx.store.campaigns.appendEvent(c.id, event);
    publish(ctx, c.id, event);
    return 'stale';
  }
  // Any sign of life pushes the deadline out: the timeout is for silence, not for slow devices.
  const dueAt = nowIso(ctx, spec.attemptTimeoutMs);
  const attempt = row.attempt;
  switch (report.kind) {
    case 'state':
      await writeDevice(ctx, row, { fwState: report.state, dueAt }, { endpoint: ep, type: 'device.state', details: { attempt, state: report.state, name: FIRMWARE_STATE_NAMES[report.state] } });
      return 'applied';
    case 'progress': {
      const percent = Math.floor(report.percent);
      const step = (p: number | null): number => (p === null ? -1 : Math.floor(p / 10));
      // The row always holds the latest figure; the timeline gets one entry per 10 % step.
      if (step(row.progress) === step(percent)) {
        await ctx.store.campaigns.updateDevice(c.id, ep, { status: row.status, attempt }, { progress: percent, dueAt });
      } else {
        await writeDevice(ctx, row, { progress: percent, dueAt }, { endpoint: ep, type: 'device.progress', details: { attempt, percent } });
      }
      return 'applied';
    }
    case 'result':
      if (report.result === UPDATE_RESULT.INITIAL || report.result === UPDATE_RESULT.SUCCESS) {
        await writeDevice(ctx, row, { updateResult: report.result, dueAt }, {
          endpoint: ep,
          type: 'device.result',
          details: { attempt, updateResult: report.result, name: UPDATE_RESULT_NAMES[report.result] },
        });
      } else {
        await failAttempt(ctx, c, row, { reason: 'result-code', code: report.result });
      }
      return 'applied';
    case 'version': {
      const target = progressOf(c).firmware.version;
      if (isTargetVersion(report.version, target)) {
        // The proof of success: the device booted the new image and says so.
        await succeed(ctx, c, row, report.version, 'report');
        return 'applied';
      }
      if (row.updateResult === UPDATE_RESULT.SUCCESS) {
        // The device claimed success but runs another version: it rolled back.
        const recorded = await writeDevice(ctx, row, { reportedVersion: report.version }, { endpoint: ep, type: 'device.version', details: { attempt, version: report.version, target } });
        if (recorded !== undefined) await failAttempt(ctx, c, recorded, { reason: 'version-mismatch', message: `reported ${report.version}, expected ${target}` });
        return 'applied';
      }
      await writeDevice(ctx, row, { reportedVersion: report.version, dueAt }, { endpoint: ep, type: 'device.version', details: { attempt, version: report.version, target } });
      return 'applied';
    }
    case 'error':
      await failAttempt(ctx, c, row, { reason: 'delivery-error', message: report.message });
      return 'applied';
  }
}

/**
 * The device runs the target version: the attempt (in flight, or one that already ended) counts
 * as succeeded. `via` says where the version came from: a driver's report of /3/0/3, or the
 * registry, where the driver recorded a /3/0/3 read it could not hand to this attempt.
 */
async function succeed(ctx: EngineContext, c: CampaignRecord, row: CampaignDeviceRecord, version: string, via: 'report' | 'registry'): Promise<CampaignDeviceRecord | undefined> {
  const done = await writeDevice(ctx, row, { status: 'succeeded', reportedVersion: version, dueAt: null, failure: null }, {
    endpoint: row.endpoint,
    type: 'device.succeeded',
    details: { attempt: row.attempt, version, ...(via === 'registry' ? { via } : {}) },
  });
  if (done !== undefined) {
    await audit(ctx, ctx.systemActor, 'campaign.device.succeeded', row.endpoint, 'success', { campaignId: c.id, attempt: row.attempt, version, via });
    await publishWaveProgress(ctx, c, row.wave);
  }
  return done;
}

/**
 * Fails in-flight attempts whose deadline passed, and asks the driver to drop them. A device the
 * registry already shows on the target version succeeded: its /3/0/3 was read (and recorded)
 * when no report could reach this attempt, e.g. while the server restarted.
 */
export async function expireAttempts(ctx: EngineContext, c: CampaignRecord): Promise<number> {
  let expired = 0;
  const seen = new Set<string>();
  for (;;) {
    // A row whose compare-and-set was lost is looked at once: whoever won decided about it.
    const due = (await ctx.store.campaigns.listDevices(c.id, { status: 'in-flight', dueBy: nowIso(ctx), limit: 100 })).filter((r) => !seen.has(`${r.endpoint}\u0000${r.attempt}`));
    if (due.length === 0) return expired;
    const target = progressOf(c).firmware.version;
    for (const row of due) {
      seen.add(`${row.endpoint}\u0000${row.attempt}`);
      const runs = (await ctx.store.devices.get(row.endpoint))?.firmwareVersion ?? null;
      if (runs !== null && isTargetVersion(runs, target)) {
        if ((await succeed(ctx, c, row, runs, 'registry')) !== undefined) continue;
      }
      const failed = await failAttempt(ctx, c, row, { reason: 'timeout', message: `no report since the deadline ${row.dueAt}` });
      if (failed === undefined) continue;
      expired++;
      if (ctx.driver.cancelUpdate !== undefined) {
        try {
          await ctx.driver.cancelUpdate({ endpoint: row.endpoint, campaignId: c.id, attempt: row.attempt });
        } catch (err) {
          const event = { endpoint: row.endpoint, type: 'device.cancel-failed', details: { attempt: row.attempt, message: err instanceof Error ? err.message : String(err) } };
          await ctx.store.campaigns.appendEvent(c.id, event);
          publish(ctx, c.id, event);
        }
      }
    }
  }
}
