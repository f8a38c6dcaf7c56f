/**
 * Property test of the device repository against a model: random records, patches and queries
 * either behave exactly as the model says (round-trip, conflict, not found, filtering, keyset
 * order) or — for junk input — fail with ERR_INVALID_ARGUMENT and change nothing. Never a driver
 * error, never a TypeError. Run against SQLite and, when present, PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { OWNERSHIP_STATES, type DevicePatch, type DeviceQuery, type DeviceRecord, type NewDevice, type Store } from '../../src/store/types.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const noControl = (s: string): boolean => ![...s].some((c) => c.charCodeAt(0) <= 0x1f || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f));
const label = (max: number) => fc.string({ unit: 'binary', minLength: 1, maxLength: max }).filter((s) => s.length <= max && noControl(s));
const endpointArb = fc.oneof(label(255), fc.constantFrom('a', 'b', 'ab', 'é', '😀', 'Z', 'dev-1', 'dev-10'));
const modelPool = fc.constantFrom('M1', 'M2', 'ü-model');
const tagPool = fc.constantFrom('north', 'south', 'roof', '🏠');
const jsonObject = fc
  .dictionary(fc.string({ unit: 'binary', maxLength: 20 }), fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), { maxKeys: 6 })
  .filter((o) => !JSON.stringify(o).includes('\\u0000'));
const validDevice: fc.Arbitrary<NewDevice> = fc.record(
  {
    endpoint: endpointArb,
    model: fc.option(fc.oneof(modelPool, label(255))),
    firmwareVersion: fc.option(label(255)),
    tags: fc.uniqueArray(fc.oneof(tagPool, label(128)), { maxLength: 5 }),
    ownershipState: fc.constantFrom(...OWNERSHIP_STATES),
    attributes: jsonObject,
  },
  { requiredKeys: ['endpoint'] },
);
const validPatch: fc.Arbitrary<DevicePatch> = fc.record(
  {
    model: fc.option(modelPool),
    firmwareVersion: fc.option(label(20)),
    tags: fc.uniqueArray(tagPool, { maxLength: 3 }),
    ownershipState: fc.constantFrom(...OWNERSHIP_STATES),
    attributes: jsonObject,
  },
  { requiredKeys: [] },
);
const queryParts = {
  search: fc.oneof(fc.constantFrom('a', 'dev', '1', '😀'), label(3)),
  model: modelPool,
  tag: tagPool,
  ownershipState: fc.constantFrom(...OWNERSHIP_STATES),
  limit: fc.integer({ min: 1, max: 1000 }),
  after: endpointArb,
};
// At most two fields, so that filters still match something in a table of a dozen devices.
const validQuery: fc.Arbitrary<DeviceQuery> = fc
  .subarray(Object.keys(queryParts) as Array<keyof typeof queryParts>, { maxLength: 2 })
  .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, queryParts[k]])) as { [K in keyof typeof queryParts]: (typeof queryParts)[K] }, { requiredKeys: [] }))
  .map((q) => q as DeviceQuery);
// Junk: a valid value with one field (or the whole thing) replaced by anything at all.
const junk = <T extends object>(valid: fc.Arbitrary<T>, keys: string[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.anything(),
    fc.tuple(valid, fc.constantFrom(...keys), fc.oneof(fc.anything(), fc.string({ unit: 'binary' }), fc.constant(''), fc.constant('\u0000'), fc.constant('\ud800')))
      .map(([v, k, x]) => ({ ...v, [k]: x })),
  );

type Op =
  | { op: 'create'; device: unknown; valid: boolean }
  | { op: 'update'; endpoint: unknown; patch: unknown; valid: boolean }
  | { op: 'delete'; endpoint: string }
  | { op: 'list'; query: unknown; valid: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: validDevice.map((device) => ({ op: 'create' as const, device, valid: true })), weight: 4 },
  { arbitrary: junk(validDevice, ['endpoint', 'model', 'firmwareVersion', 'tags', 'ownershipState', 'attributes', 'extra']).map((device) => ({ op: 'create' as const, device, valid: false })), weight: 2 },
  { arbitrary: fc.tuple(endpointArb, validPatch).map(([endpoint, patch]) => ({ op: 'update' as const, endpoint, patch, valid: true })), weight: 2 },
  { arbitrary: fc.tuple(fc.oneof(endpointArb, fc.anything()), junk(validPatch, ['model', 'tags', 'attributes', 'ownershipState', 'endpoint'])).map(([endpoint, patch]) => ({ op: 'update' as const, endpoint, patch, valid: false })), weight: 1 },
  { arbitrary: endpointArb.map((endpoint) => ({ op: 'delete' as const, endpoint })), weight: 1 },
  { arbitrary: validQuery.map((query) => ({ op: 'list' as const, query, valid: true })), weight: 3 },
  { arbitrary: junk(validQuery, ['search', 'model', 'tag', 'limit', 'after', 'ownershipState']).map((query) => ({ op: 'list' as const, query, valid: false })), weight: 1 },
);

const utf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const sansTimes = (d: DeviceRecord): Omit<DeviceRecord, 'createdAt' | 'updatedAt'> => {
  const { createdAt: _c, updatedAt: _u, ...rest } = d;
  return rest;
};

async function expectInvalidOrSuccess<T>(fn: () => Promise<T>, alsoAllowed?: string): Promise<{ ok: true; value: T } | { ok: false }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (alsoAllowed === undefined || code !== alsoAllowed) {
      assert.equal(code, 'ERR_INVALID_ARGUMENT', `only typed argument errors may escape, got ${String(err)}`);
    }
    return { ok: false };
  }
}

async function runOps(store: Store, ops: Op[]): Promise<void> {
  for (const d of await store.devices.list({ limit: 1000 })) await store.devices.delete(d.endpoint);
  const model = new Map<string, DeviceRecord>();
  for (const o of ops) {
    if (o.op === 'create') {
      const candidate = o.device as NewDevice;
      const exists = o.valid && model.has(candidate.endpoint);
      if (exists) {
        await assert.rejects(store.devices.create(candidate), { code: 'ERR_STORE_CONFLICT' });
        continue;
      }
      // Junk can still be a valid record by chance; then an existing endpoint is a fair conflict.
      const taken = typeof candidate?.endpoint === 'string' && model.has(candidate.endpoint) ? 'ERR_STORE_CONFLICT' : undefined;
      const r = o.valid ? { ok: true as const, value: await store.devices.create(candidate) } : await expectInvalidOrSuccess(() => store.devices.create(candidate), taken);
      if (!r.ok) continue;
      if (!o.valid && model.has(r.value.endpoint)) assert.fail('a create of an existing endpoint succeeded');
      const expected = { model: null, firmwareVersion: null, tags: [], ownershipState: 'RESET', attributes: {}, ...json(candidate) };
      if (o.valid) assert.deepEqual(sansTimes(r.value), expected);
      assert.deepEqual(await store.devices.get(r.value.endpoint), r.value);
      model.set(r.value.endpoint, r.value);
    } else if (o.op === 'update') {
      const endpoint = o.endpoint as string;
      if (o.valid) {
        const current = model.get(endpoint);
        if (current === undefined) {
          await assert.rejects(store.devices.update(endpoint, o.patch as DevicePatch), { code: 'ERR_STORE_NOT_FOUND' });
          continue;
        }
        const next = await store.devices.update(endpoint, o.patch as DevicePatch);
        assert.deepEqual(sansTimes(next), sansTimes({ ...current, ...json(o.patch as DevicePatch) }));
        assert.equal(next.createdAt, current.createdAt);
        model.set(endpoint, next);
      } else {
        const before = typeof endpoint === 'string' ? model.get(endpoint) : undefined;
        try {
          const next = await store.devices.update(endpoint, o.patch as DevicePatch);
          assert.ok(before !== undefined, 'update of an unknown device succeeded');
          model.set(endpoint, next);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          assert.ok(code === 'ERR_INVALID_ARGUMENT' || (code === 'ERR_STORE_NOT_FOUND' && before === undefined), `unexpected ${String(err)}`);
          if (before !== undefined) assert.deepEqual(await store.devices.get(endpoint), before, 'a refused update changed nothing');
        }
      }
    } else if (o.op === 'delete') {
      assert.equal(await store.devices.delete(o.endpoint), model.delete(o.endpoint));
    } else {
      const r = o.valid ? { ok: true as const, value: await store.devices.list(o.query as DeviceQuery) } : await expectInvalidOrSuccess(() => store.devices.list(o.query as DeviceQuery));
      if (!r.ok || !o.valid) continue;
      const q = o.query as DeviceQuery;
      const matches = [...model.values()]
        .filter((d) => (q.search === undefined || d.endpoint.includes(q.search)) && (q.model === undefined || d.model === q.model))
        .filter((d) => (q.tag === undefined || d.tags.includes(q.tag)) && (q.ownershipState === undefined || d.ownershipState === q.ownershipState))
        .sort((a, b) => utf8(a.endpoint, b.endpoint));
      const page = matches.filter((d) => q.after === undefined || utf8(d.endpoint, q.after) > 0).slice(0, q.limit ?? 100);
      assert.deepEqual(r.value, page);
      const { limit: _l, after: _a, ...countQuery } = q;
      assert.equal(await store.devices.count(countQuery), matches.length);
    }
  }
  // Walk the whole table by keyset pages of a few rows: every record, in UTF-8 byte order, once.
  const all = [...model.values()].sort((a, b) => utf8(a.endpoint, b.endpoint));
  const walked: DeviceRecord[] = [];
  const pageSize = 1 + (ops.length % 4);
  for (let after: string | undefined; ; ) {
    const page = await store.devices.list(after === undefined ? { limit: pageSize } : { limit: pageSize, after });
    walked.push(...page);
    if (page.length < pageSize) break;
    after = page[page.length - 1]!.endpoint;
  }
  assert.deepEqual(walked, all);
  assert.equal(await store.devices.count(), model.size);
}

function registerProperty(name: string, skip: string | false, open: () => Promise<Store>, numRuns: number): void {
  describe(`device repository properties: ${name}`, { skip }, () => {
    let store: Store | undefined;
    before(async () => {
      if (skip === false) store = await open();
    });
    after(async () => {
      await store?.close();
    });
    test('random records, patches and queries match the model or fail with typed errors', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => runOps(store!, ops)),
        { numRuns },
      );
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'rootline-prop-'));
after(() => rmSync(dir, { recursive: true, force: true }));
registerProperty('SQLite', false, () => openSqliteStore({ file: join(dir, 'prop.db') }), 150);

const pgSkip = postgresSkip();
let server: PostgresServer | undefined;
before(async () => {
  if (pgSkip === false) server = await startPostgres();
});
after(async () => {
  await server?.stop();
});
registerProperty('PostgreSQL', pgSkip, async () => openPostgresStore({ connectionString: await server!.createDatabase() }), 60);
