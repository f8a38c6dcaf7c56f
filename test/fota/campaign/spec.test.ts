import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertTransition, canTransition, isTargetVersion, retryDelayMs, scheduleAllows, validateCampaignSpec, waveEnds } from '../../../src/fota/campaign/index.js';
import { waveOf } from '../../../src/fota/campaign/spec.js';

const minimal = { name: 'n', firmwareId: 'fw', target: { model: 'TH-1' } };

test('spec: defaults are filled in', () => {
  const { id, spec } = validateCampaignSpec(minimal);
  assert.equal(id, undefined);
  assert.deepEqual(spec, {
    target: { model: 'TH-1', versionRange: null, tags: [], endpoints: null },
    waves: ['all'],
    successThreshold: 90,
    errorThreshold: 20,
    maxInFlight: 50,
    schedule: { startAt: null, endAt: null, dailyWindow: null },
    retry: { maxAttempts: 3, backoffMs: 60_000, backoffFactor: 2, maxBackoffMs: 3_600_000, retryOn: [3, 4, 5, 8] },
    attemptTimeoutMs: 1_800_000,
    requiresApproval: false,
    packagePolicy: 'auto',
    delivery: null,
  });
  for (const delivery of ['lwm2m-pull', 'lwm2m-push', 'https-pull'] as const) assert.equal(validateCampaignSpec({ ...minimal, delivery }).spec.delivery, delivery);
  assert.equal(validateCampaignSpec({ ...minimal, delivery: null }).spec.delivery, null);
  const full = validateCampaignSpec({ ...minimal, waves: ['1%', '10.5%', '100%'], schedule: { startAt: '2026-03-01T02:00:00+01:00', dailyWindow: { from: '22:00', to: '04:00' } }, retry: { retryOn: [8, 4, 4] } }).spec;
  assert.deepEqual(full.waves, ['1%', '10.5%', 'all']);
  assert.equal(full.schedule.startAt, '2026-03-01T01:00:00.000Z');
  assert.deepEqual(full.retry.retryOn, [4, 8]);
});

test('spec: every bad field is ERR_CAMPAIGN_INVALID_SPEC naming it', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ ...minimal, name: '' }, 'name'],
    [{ ...minimal, firmwareId: 7 }, 'firmwareId'],
    [{ ...minimal, colour: 'red' }, 'colour'],
    [{ ...minimal, delivery: 'coap-pull' }, 'delivery'],
    [{ ...minimal, delivery: 'HTTPS-PULL' }, 'delivery'],
    [{ ...minimal, delivery: 1 }, 'delivery'],
    [{ ...minimal, target: 'TH-1' }, 'target'],
    [{ ...minimal, target: { model: 'TH-1', versionRange: '>=banana' } }, 'target.versionRange'],
    [{ ...minimal, target: { tags: ['a', 'a'] } }, 'target.tags[1]'],
    [{ ...minimal, target: { endpoints: [] } }, 'target.endpoints'],
    [{ ...minimal, target: { modell: 'x' } }, 'target.modell'],
    [{ ...minimal, waves: [] }, 'waves'],
    [{ ...minimal, waves: ['10%', '5%', 'all'] }, 'waves[1]'],
    [{ ...minimal, waves: [5, 50] }, 'waves[1]'],
    [{ ...minimal, waves: ['all', 'all'] }, 'waves[0]'],
    [{ ...minimal, waves: [0, 'all'] }, 'waves[0]'],
    [{ ...minimal, waves: ['150%'] }, 'waves[0]'],
    [{ ...minimal, successThreshold: 101 }, 'successThreshold'],
    [{ ...minimal, errorThreshold: -1 }, 'errorThreshold'],
    [{ ...minimal, maxInFlight: 0 }, 'maxInFlight'],
    [{ ...minimal, maxInFlight: 1.5 }, 'maxInFlight'],
    [{ ...minimal, schedule: { startAt: 'tomorrow' } }, 'schedule.startAt'],
    [{ ...minimal, schedule: { startAt: '2026-03-02T00:00:00Z', endAt: '2026-03-01T00:00:00Z' } }, 'schedule.endAt'],
    [{ ...minimal, schedule: { dailyWindow: { from: '24:00', to: '01:00' } } }, 'schedule.dailyWindow.from'],
    [{ ...minimal, schedule: { dailyWindow: { from: '01:00', to: '01:00' } } }, 'schedule.dailyWindow.to'],
    [{ ...minimal, retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ ...minimal, retry: { backoffFactor: 0.5 } }, 'retry.backoffFactor'],
    [{ ...minimal, retry: { backoffMs: 10_000, maxBackoffMs: 5000 } }, 'retry.maxBackoffMs'],
    [{ ...minimal, retry: { retryOn: [1] } }, 'retry.retryOn[0]'],
    [{ ...minimal, attemptTimeoutMs: 10 }, 'attemptTimeoutMs'],
    [{ ...minimal, requiresApproval: 'yes' }, 'requiresApproval'],
    [{ ...minimal, packagePolicy: 'delta' }, 'packagePolicy'],
    [{ ...minimal, id: 'a\u0000b' }, 'id'],
  ];
  for (const [input, field] of cases) {
    assert.throws(() => validateCampaignSpec(input), { code: 'ERR_CAMPAIGN_INVALID_SPEC', field }, `${field}: ${JSON.stringify(input)}`);
  }
  assert.throws(() => validateCampaignSpec(null), { code: 'ERR_CAMPAIGN_INVALID_SPEC', field: 'campaign' });
});

test('spec: wave boundaries are cumulative, round up and never shrink', () => {
  assert.deepEqual(waveEnds(['1%', '10%', 'all'], 100), [1, 10, 100]);
  assert.deepEqual(waveEnds(['1%', '10%', 'all'], 50), [1, 5, 50]);
  assert.deepEqual(waveEnds([5, 50, 'all'], 20), [5, 20, 20]);
  assert.deepEqual(waveEnds([5, '10%', 'all'], 20), [5, 5, 20]);
  assert.deepEqual(waveEnds(['all'], 0), [0]);
  const ends = waveEnds(['1%', '10%', 'all'], 100);
  assert.deepEqual([0, 1, 9, 10, 99].map((i) => waveOf(ends, i)), [0, 1, 1, 2, 2]);
});

test('spec: schedule window, including a daily window across midnight', () => {
  const s = { startAt: '2026-03-01T00:00:00.000Z', endAt: '2026-03-10T00:00:00.000Z', dailyWindow: { from: '22:00', to: '04:00' } };
  const at = (iso: string): boolean => scheduleAllows(s, Date.parse(iso));
  assert.equal(at('2026-02-28T23:00:00Z'), false, 'before startAt');
  assert.equal(at('2026-03-01T23:00:00Z'), true);
  assert.equal(at('2026-03-02T03:59:59Z'), true);
  assert.equal(at('2026-03-02T04:00:00Z'), false);
  assert.equal(at('2026-03-02T12:00:00Z'), false);
  assert.equal(at('2026-03-10T23:00:00Z'), false, 'after endAt');
  assert.equal(scheduleAllows({ startAt: null, endAt: null, dailyWindow: null }, 0), true);
});

test('spec: retry backoff grows by the factor up to the cap', () => {
  const retry = { maxAttempts: 5, backoffMs: 1000, backoffFactor: 3, maxBackoffMs: 5000, retryOn: [] };
  assert.deepEqual([1, 2, 3, 4].map((a) => retryDelayMs(retry, a)), [1000, 3000, 5000, 5000]);
});

test('spec: target version equality ignores build metadata only', () => {
  assert.ok(isTargetVersion('2.0.0', '2.0.0'));
  assert.ok(isTargetVersion('2.0.0+b7', '2.0.0'));
  assert.ok(!isTargetVersion('2.0.0-rc.1', '2.0.0'));
  assert.ok(!isTargetVersion('2.0.1', '2.0.0'));
  assert.ok(isTargetVersion('build-77', 'build-77'), 'non-SemVer versions compare as strings');
});

test('state machine: draft → (approved) → running ⇄ paused → completed | cancelled', () => {
  const legal = [['draft', 'approved'], ['draft', 'running'], ['approved', 'running'], ['running', 'paused'], ['paused', 'running'], ['running', 'completed'], ['paused', 'cancelled'], ['draft', 'cancelled']] as const;
  for (const [from, to] of legal) assert.ok(canTransition(from, to), `${from} → ${to}`);
  const illegal = [['completed', 'running'], ['cancelled', 'running'], ['paused', 'completed'], ['running', 'approved'], ['approved', 'paused'], ['draft', 'completed']] as const;
  for (const [from, to] of illegal) assert.throws(() => assertTransition(from, to), { code: 'ERR_CAMPAIGN_ILLEGAL_TRANSITION', from, to });
});
