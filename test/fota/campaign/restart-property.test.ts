/**
 * Property: whatever the fleet, its faults, the waves, the in-flight limit and the moments the
 * server restarts, a campaign ends with exactly the outcome the faults dictate, every
 * (device, attempt) delivered at most once, waves in order and max-in-flight respected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { WaveSize } from '../../../src/fota/campaign/index.js';
import type { UpdateResult } from '../../../src/fota/campaign/object5.js';
import { FIRMWARE, allDevices, allEvents, createHarness, endpointOf } from './harness.js';

type Fault = { kind: 'healthy' } | { kind: 'code'; code: UpdateResult } | { kind: 'flaky' };

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Fault>({ kind: 'healthy' }) },
  { weight: 2, arbitrary: fc.integer({ min: 2, max: 9 }).map((code): Fault => ({ kind: 'code', code: code as UpdateResult })) },
  { weight: 1, arbitrary: fc.constant<Fault>({ kind: 'flaky' }) },
);

const wavesArb: fc.Arbitrary<WaveSize[]> = fc.constantFrom<WaveSize[]>(['all'], ['10%', 'all'], ['1%', '10%', 'all'], [2, 'all'], [1, 3, 6, 'all']);

test('property: restarts at any moment never change the outcome nor deliver an attempt twice', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(faultArb, { minLength: 3, maxLength: 25 }),
      wavesArb,
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 1, max: 3 }),
      fc.uniqueArray(fc.integer({ min: 0, max: 120 }), { maxLength: 4 }),
      async (faults, waves, maxInFlight, maxAttempts, restartRounds) => {
        const h = await createHarness(t, { count: faults.length });
        faults.forEach((f, i) => {
          if (f.kind === 'code') h.fleet.faults.set(endpointOf(i), { result: f.code });
          // Connection lost on the first attempt only (code 4 is retried by default).
          if (f.kind === 'flaky') h.fleet.faults.set(endpointOf(i), { failAttempts: 1, result: 4 });
        });
        await h.engine.create({
          id: 'p', name: 'p', firmwareId: FIRMWARE.id, target: {}, waves, maxInFlight,
          successThreshold: 0, errorThreshold: 100, retry: { maxAttempts, backoffMs: 1000 }, attemptTimeoutMs: 20_000,
        }, { actor: 'operator:prop' });
        await h.engine.start('p', { actor: 'operator:prop' });
        let state = 'running';
        for (let round = 0; round < 600 && state !== 'completed'; round++) {
          if (restartRounds.includes(round)) await h.restart();
          await h.engine.tick();
          await h.fleet.step();
          h.clock.advance(1000);
          state = (await h.engine.get('p')).state;
        }
        assert.equal(state, 'completed');
        assert.deepEqual(h.fleet.duplicateAttempts(), []);
        assert.ok(h.fleet.maxActive <= maxInFlight);
        const rows = new Map((await allDevices(h.store, 'p')).map((d) => [d.endpoint, d]));
        faults.forEach((f, i) => {
          const d = rows.get(endpointOf(i))!;
          if (f.kind === 'healthy') assert.deepEqual([d.status, d.attempt], ['succeeded', 1]);
          if (f.kind === 'flaky') assert.deepEqual([d.status, d.attempt], maxAttempts >= 2 ? ['succeeded', 2] : ['failed', 1]);
          if (f.kind === 'code') {
            const retried = [3, 4, 5, 8].includes(f.code);
            assert.deepEqual([d.status, d.updateResult, d.attempt], ['failed', f.code, retried ? maxAttempts : 1]);
          }
        });
        const events = await allEvents(h.store, 'p');
        const waveStart = new Map(events.filter((e) => e.type === 'wave.started').map((e) => [e.details.wave as number, e.id]));
        for (const e of events.filter((x) => x.type === 'device.attempt')) assert.ok(e.id > waveStart.get(e.details.wave as number)!);
      },
    ),
    { numRuns: 25, seed: 20260302 },
  );
});
