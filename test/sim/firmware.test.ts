/**
 * The simulator's firmware side without a server: the --faults grammar (fuzzed: only typed errors
 * escape), the deterministic fault assignment, and slots that share image buffers. The updaters
 * themselves run against serve in test/sim/fota-serve.test.ts and test/interop/serve-fota-rollout.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { RootlineError } from '../../src/errors.js';
import { assignFaults, FAULT_KINDS, faultsOf, parseFaultSpec, SharedSlot, SimFaultSpecError } from '../../src/sim/index.js';

test('parseFaultSpec: percentages and counts per kind; every mistake is ERR_SIM_FAULT_SPEC', () => {
  assert.deepEqual(parseFaultSpec('corrupt=2%,signature=1%,power-loss=1%,boot-failure=1%,connection-loss=1%'), {
    corrupt: { percent: 2 },
    signature: { percent: 1 },
    'power-loss': { percent: 1 },
    'boot-failure': { percent: 1 },
    'connection-loss': { percent: 1 },
  });
  assert.deepEqual(parseFaultSpec('boot-failure=3, corrupt=0.5%'), { 'boot-failure': { count: 3 }, corrupt: { percent: 0.5 } });
  for (const bad of ['', 'corrupt', 'corrupt=', 'corrupt=x%', 'corrupt=2%%', 'flood=1%', 'corrupt=1%,corrupt=2%', 'corrupt=101%', 'corrupt=60%,signature=41%', 'corrupt=-1', 'corrupt=1.2345%', ',', 'x'.repeat(2000)]) {
    assert.throws(() => parseFaultSpec(bad), (e: unknown) => e instanceof SimFaultSpecError && e.code === 'ERR_SIM_FAULT_SPEC', bad);
  }
});

test('parseFaultSpec fuzz: random and mutated specs either parse or throw ERR_SIM_FAULT_SPEC', () => {
  const kind = fc.constantFrom(...FAULT_KINDS, 'bogus', '');
  const item = fc.tuple(kind, fc.oneof(fc.nat(200).map(String), fc.double({ min: 0, max: 150, noNaN: true }).map((d) => `${d.toFixed(3)}%`), fc.string({ maxLength: 6 }))).map(([k, v]) => `${k}=${v}`);
  const spec = fc.oneof(fc.array(item, { maxLength: 7 }).map((a) => a.join(',')), fc.string({ maxLength: 80 }), fc.string({ maxLength: 40, unit: 'binary' }));
  fc.assert(
    fc.property(spec, (s) => {
      try {
        const parsed = parseFaultSpec(s);
        const pct = Object.values(parsed).reduce((n, share) => n + ('percent' in share ? share.percent : 0), 0);
        assert.ok(pct <= 100.0000001);
        for (const k of Object.keys(parsed)) assert.ok((FAULT_KINDS as readonly string[]).includes(k));
      } catch (e) {
        assert.ok(e instanceof RootlineError && e.code === 'ERR_SIM_FAULT_SPEC', String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test('assignFaults: exact shares, disjoint, the same for the same seed, spread differently for another', () => {
  const eps = Array.from({ length: 100 }, (_, i) => `dev-${i}`);
  const spec = parseFaultSpec('corrupt=2%,signature=1%,power-loss=1%,boot-failure=1%,connection-loss=3');
  const a = assignFaults(eps, spec, 's1');
  const count = (m: Map<string, string>, k: string): number => [...m.values()].filter((v) => v === k).length;
  assert.equal(a.size, 8);
  assert.deepEqual(FAULT_KINDS.map((k) => count(a, k)), [2, 1, 1, 1, 3]);
  assert.deepEqual([...assignFaults(eps, spec, 's1')], [...a], 'deterministic');
  assert.notDeepEqual([...assignFaults(eps, spec, 's2').keys()].sort(), [...a.keys()].sort(), 'another seed picks other devices');
  for (const ep of a.keys()) assert.ok(eps.includes(ep));
  assert.equal(assignFaults(eps, {}, 's').size, 0);
  assert.throws(() => assignFaults(eps.slice(0, 3), { corrupt: { count: 4 } }, 's'), SimFaultSpecError);
  assert.deepEqual(faultsOf('power-loss', 100_000), { powerLossAtByte: 50_000 });
  assert.deepEqual(faultsOf('power-loss', 1_000_000), { powerLossAtByte: 65_536 });
  assert.deepEqual(faultsOf(undefined, 10), {});
});

test('SharedSlot: reads the shared image, writes copy on write without touching it, erase frees, share swaps pages for a buffer', async () => {
  const image = new Uint8Array(randomBytes(40_000));
  const copy = Uint8Array.from(image);
  const slot = new SharedSlot(100_000, image);
  assert.deepEqual(await slot.read(0, 40_000), copy);
  assert.deepEqual(await slot.read(39_990, 20), Uint8Array.from([...copy.subarray(39_990), ...new Uint8Array(10).fill(0xff)]));
  assert.equal(slot.ownBytes, 0);
  await slot.write(16_380, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  assert.deepEqual(image, copy, 'the shared buffer is never written');
  assert.equal(slot.ownBytes, 32 * 1024, 'two 16 KiB pages copied');
  const expect = Uint8Array.from(copy);
  expect.set([1, 2, 3, 4, 5, 6, 7, 8], 16_380);
  assert.deepEqual(await slot.read(0, 40_000), expect);
  await slot.erase();
  assert.equal(slot.sharedImage, undefined);
  assert.equal(slot.ownBytes, 0);
  assert.deepEqual(await slot.read(99_990, 10), new Uint8Array(10).fill(0xff));
  await slot.write(0, copy.subarray(0, 20_000));
  assert.deepEqual(await slot.read(0, 20_000), copy.subarray(0, 20_000));
  slot.share(image);
  assert.equal(slot.ownBytes, 0);
  assert.equal(slot.sharedImage, image);
  await assert.rejects(slot.read(99_999, 2), (e: unknown) => e instanceof RootlineError);
  assert.throws(() => new SharedSlot(10, image), (e: unknown) => e instanceof RootlineError && e.code === 'ERR_INVALID_ARGUMENT');
  assert.equal(createHash('sha256').update(image).digest('hex'), createHash('sha256').update(copy).digest('hex'));
});

test('SharedSlot property: any sequence of writes, erases and shares reads like a flat flash model; the shared buffer never changes', async () => {
  const CAP = 40_000;
  const base = new Uint8Array(randomBytes(20_000));
  const baseCopy = Uint8Array.from(base);
  const op = fc.oneof(
    fc.record({ kind: fc.constant('write' as const), offset: fc.nat(CAP - 1), length: fc.integer({ min: 0, max: 20_000 }), fill: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('erase' as const) }),
    fc.record({ kind: fc.constant('share' as const) }),
    fc.record({ kind: fc.constant('read' as const), offset: fc.nat(CAP - 1), length: fc.integer({ min: 0, max: 20_000 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(op, { maxLength: 12 }), async (startShared, ops) => {
      const slot = new SharedSlot(CAP, startShared ? base : undefined);
      const model = new Uint8Array(CAP).fill(0xff);
      if (startShared) model.set(base);
      for (const o of ops) {
        if (o.kind === 'write') {
          const len = Math.min(o.length, CAP - o.offset);
          const bytes = new Uint8Array(len).fill(o.fill);
          await slot.write(o.offset, bytes);
          model.set(bytes, o.offset);
        } else if (o.kind === 'erase') {
          await slot.erase();
          model.fill(0xff);
        } else if (o.kind === 'share') {
          slot.share(base);
          model.fill(0xff);
          model.set(base);
        } else {
          const len = Math.min(o.length, CAP - o.offset);
          assert.deepEqual(await slot.read(o.offset, len), model.subarray(o.offset, o.offset + len));
        }
      }
      assert.deepEqual(await slot.read(0, CAP), model);
      assert.deepEqual(base, baseCopy);
    }),
    { numRuns: 300 },
  );
});
