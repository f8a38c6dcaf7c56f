/**
 * Inventory reads: a device that registers without an attempt in flight has its /3/0/3 read in
 * the background — after the registrations have been quiet for `quietMs`, or at the latest
 * `maxDelayMs` after its registration — so that a registration storm is not slowed by a request
 * to every device. Real DTLS-PSK devices against the real LwM2M server (test/fota/drivers/harness.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLwm2mPushDriver } from '../../../src/fota/drivers/index.js';
import { createWorld, type World } from './harness.js';

interface ReadSeen {
  endpoint: string;
  path: string;
  at: number;
}

/** Records every read the driver sends (then sends it as before). */
function recordReads(w: World): ReadSeen[] {
  const seen: ReadSeen[] = [];
  const read = w.lwm2m.read.bind(w.lwm2m);
  w.lwm2m.read = ((endpoint: string, path: string, ...rest: unknown[]) => {
    seen.push({ endpoint, path, at: performance.now() });
    return (read as (...a: unknown[]) => ReturnType<typeof read>)(endpoint, path, ...rest);
  }) as typeof w.lwm2m.read;
  return seen;
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  // Rounds, not a deadline: the test runner's timeout is the guard.
  for (let round = 0; !(await check()); round++) {
    assert.ok(round < 3000, `still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('registration reads of /3/0/3 wait until the registrations are quiet, then each device is read once', async (t) => {
  const w = await createWorld(t, { inventoryReads: { quietMs: 4_000, maxDelayMs: 600_000 } });
  const seen = recordReads(w);
  const endpoints = ['inv-a', 'inv-b', 'inv-c', 'inv-d'];
  let lastRegistered = 0;
  for (const ep of endpoints) {
    await w.addDevice(ep, { noUpdater: true });
    lastRegistered = performance.now();
  }
  assert.deepEqual(seen.filter((r) => r.path === '/3/0/3'), [], 'no /3/0/3 read while devices were still registering');
  await until('a /3/0/3 read of every device', () => endpoints.every((ep) => seen.some((r) => r.endpoint === ep && r.path === '/3/0/3')));
  const reads = seen.filter((r) => r.path === '/3/0/3');
  assert.equal(reads.length, endpoints.length, 'one read per device');
  for (const r of reads) assert.ok(r.at >= lastRegistered, `${r.endpoint} was read before the last device registered`);
  // The version was recorded as before (the devices run 1.0.0, as the registry says).
  for (const ep of endpoints) assert.equal((await w.store.devices.get(ep))?.firmwareVersion, '1.0.0');
});

test('a device is read at the latest maxDelayMs after it registered, however busy registrations stay', async (t) => {
  // quietMs far beyond the test: only the maxDelayMs bound can start the read.
  const w = await createWorld(t, { inventoryReads: { quietMs: 60_000, maxDelayMs: 300 } });
  const seen = recordReads(w);
  await w.addDevice('inv-due', { noUpdater: true });
  await until('the /3/0/3 read of inv-due', () => seen.some((r) => r.endpoint === 'inv-due' && r.path === '/3/0/3'));
  assert.equal(seen.filter((r) => r.path === '/3/0/3').length, 1);
});

test('inventoryReads options are validated', async (t) => {
  const w = await createWorld(t);
  const base = {
    lwm2m: w.lwm2m,
    coap: undefined as never, // push only: the driver adds no package resource
    identityOf: () => undefined,
    store: w.store,
    firmware: w.firmware,
    deltas: w.deltas,
    packageBaseUri: w.coapsUri,
    reports: { onDeviceReport: async () => undefined, onDeviceVersion: async () => undefined },
  };
  for (const inventoryReads of [{ quietMs: -1 }, { quietMs: 0.5 }, { maxDelayMs: 3_600_001 }, { concurrency: 0 }, { concurrency: Number.NaN }]) {
    assert.throws(() => createLwm2mPushDriver({ ...base, inventoryReads }), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(inventoryReads));
  }
  const ok = createLwm2mPushDriver({ ...base, inventoryReads: { quietMs: 0, maxDelayMs: 0, concurrency: 1 } });
  await ok.close();
});
