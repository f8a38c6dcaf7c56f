/**
 * The registry writes Registers that arrive together in one batch: their audit records and then
 * the registrations in one Store.appendAuditAndPutRegistrations transaction (a store without it:
 * AuditLog.appendMany, then RegistrationRepository.putMany). What must not change with batching:
 * the audit record is written before the registration (fail closed), one device's failure is that
 * device's alone, a second Register of an endpoint replaces the first, and a store without the
 * batch methods still works.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { RegistrationRegistry } from '../../../src/lwm2m/server/registration-registry.js';
import type { AuditEntry, RegistrationRecord, Store } from '../../../src/store/types.js';
import { tempStore } from './helpers.js';

/** `target` with some members replaced; the others bound to it (class instances with #private fields). */
function override<T extends object>(target: T, members: Record<string, unknown>): T {
  return new Proxy(target, {
    get(t, key) {
      if (typeof key === 'string' && key in members) return members[key];
      const v = Reflect.get(t, key, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

interface Spied {
  store: Store;
  appendBatches: number[];
  putBatches: number[];
  /** [audit records, registrations] of each Store.appendAuditAndPutRegistrations call. */
  unitBatches: Array<[number, number]>;
}

async function setup(
  t: TestContext,
  devices: string[],
  members: { store?: Record<string, unknown>; audit?: Record<string, unknown>; registrations?: Record<string, unknown> } = {},
): Promise<Spied & { raw: Store; file: string }> {
  const temp = tempStore(t);
  const raw = await temp.open();
  for (const ep of devices) await raw.devices.create({ endpoint: ep });
  const appendBatches: number[] = [];
  const putBatches: number[] = [];
  const unitBatches: Array<[number, number]> = [];
  const audit = override(raw.audit, {
    appendMany: async (entries: readonly AuditEntry[]) => {
      appendBatches.push(entries.length);
      return raw.audit.appendMany!(entries);
    },
    ...members.audit,
  });
  const registrations = override(raw.registrations, {
    putMany: async (records: readonly RegistrationRecord[]) => {
      putBatches.push(records.length);
      return raw.registrations.putMany!(records);
    },
    ...members.registrations,
  });
  const unit = async (entries: readonly AuditEntry[], records: readonly RegistrationRecord[]) => {
    unitBatches.push([entries.length, records.length]);
    return raw.appendAuditAndPutRegistrations!(entries, records);
  };
  return { raw, file: temp.file, store: override(raw, { audit, registrations, appendAuditAndPutRegistrations: unit, ...members.store }), appendBatches, putBatches, unitBatches };
}

function record(endpoint: string, id: string): RegistrationRecord {
  const now = new Date().toISOString();
  return {
    id, endpoint, lifetime: 300, lwm2mVersion: '1.1', binding: 'U', queueMode: false, smsNumber: null, objectLinks: '</1/0>,</3/0>',
    security: 'psk', peer: `127.0.0.1:${5000 + id.length}`, registeredAt: now, updatedAt: now, expiresAt: new Date(Date.now() + 300_000).toISOString(),
  };
}

function auditFor(endpoint: string): AuditEntry {
  return { actor: `device:${endpoint}`, action: 'lwm2m.register', subject: endpoint, outcome: 'allow', details: {} };
}

test('Registers of one moment: one store transaction for audit records and registrations, in order, all cached', async (t) => {
  const eps = Array.from({ length: 20 }, (_, i) => `dev-${i}`);
  const { store, raw, appendBatches, putBatches, unitBatches } = await setup(t, eps);
  const registry = new RegistrationRegistry(store);
  const replaced = await Promise.all(eps.map((ep, i) => registry.put(record(ep, `r${i}`), { audit: auditFor(ep) })));
  assert.deepEqual(replaced, eps.map(() => undefined));
  assert.deepEqual(unitBatches, [[20, 20]]);
  assert.deepEqual(appendBatches, []);
  assert.deepEqual(putBatches, []);
  assert.deepEqual((await raw.audit.list()).map((a) => a.subject), eps);
  assert.equal(await raw.registrations.count(), 20);
  assert.equal(registry.cachedCount, 20);
  assert.equal(registry.cachedByEndpoint('dev-7')?.id, 'r7');
  assert.deepEqual(await raw.audit.verify(), { ok: true, count: 20, lastHash: (await raw.audit.list()).at(-1)!.hash });
});

test('batches are bounded by maxBatch and written one after the other', async (t) => {
  const eps = Array.from({ length: 10 }, (_, i) => `dev-${i}`);
  const { store, unitBatches } = await setup(t, eps);
  const registry = new RegistrationRegistry(store, { maxBatch: 4 });
  await Promise.all(eps.map((ep, i) => registry.put(record(ep, `r${i}`), { audit: auditFor(ep) })));
  assert.deepEqual(unitBatches, [[4, 4], [4, 4], [2, 2]]);
});

test('a second Register of an endpoint in the same batch replaces the first', async (t) => {
  const { store, raw } = await setup(t, ['dev-a']);
  const registry = new RegistrationRegistry(store);
  const [first, second] = await Promise.all([registry.put(record('dev-a', 'one'), { audit: auditFor('dev-a') }), registry.put(record('dev-a', 'two'), { audit: auditFor('dev-a') })]);
  assert.equal(first, undefined);
  assert.equal(second?.id, 'one');
  assert.equal((await raw.registrations.getByEndpoint('dev-a'))?.id, 'two');
  assert.equal(registry.cachedByEndpoint('dev-a')?.id, 'two');
  assert.equal(await registry.get('one'), undefined);
});

test('a device the store does not know fails alone (ERR_STORE_NOT_FOUND); the others are stored', async (t) => {
  const { store, raw } = await setup(t, ['dev-a', 'dev-b']);
  const registry = new RegistrationRegistry(store);
  const results = await Promise.allSettled([
    registry.put(record('dev-a', 'ra'), { audit: auditFor('dev-a') }),
    registry.put(record('ghost', 'rg'), { audit: auditFor('ghost') }),
    registry.put(record('dev-b', 'rb'), { audit: auditFor('dev-b') }),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(((results[1] as PromiseRejectedResult).reason as { code?: string }).code, 'ERR_STORE_NOT_FOUND');
  assert.deepEqual((await raw.registrations.list()).map((r) => r.id), ['ra', 'rb']);
  assert.equal(registry.cachedByEndpoint('ghost'), undefined);
});

test('fail closed: when the batch transaction fails, every Register of it fails and nothing is cached', async (t) => {
  const { store, raw } = await setup(t, ['dev-a', 'dev-b'], { store: { appendAuditAndPutRegistrations: () => Promise.reject(new Error('disk full')) } });
  const registry = new RegistrationRegistry(store);
  const results = await Promise.allSettled([registry.put(record('dev-a', 'ra'), { audit: auditFor('dev-a') }), registry.put(record('dev-b', 'rb'), { audit: auditFor('dev-b') })]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /disk full/);
  assert.equal(await raw.registrations.count(), 0);
  assert.equal(registry.cachedCount, 0);
  assert.equal(await new RegistrationRegistry(raw).put(record('dev-a', 'ok'), { audit: auditFor('dev-a') }), undefined);
});

test('fail closed, for real: an audit append the database refuses stores no registration of the batch', async (t) => {
  const { store, raw, file } = await setup(t, ['dev-a', 'dev-b']);
  // A record written around the store at the next seq (triggers dropped first, as an attacker
  // with file access could): the store's next append collides with it and is refused.
  const db = new Database(file);
  t.after(() => db.close());
  const head = db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as { seq: number; hash: string };
  const triggers = db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'").all() as Array<{ name: string }>;
  for (const { name } of triggers) db.exec(`DROP TRIGGER "${name}"`);
  db.prepare("INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash) VALUES (?, '2026-01-01T00:00:00.000Z', 'x', 'x', 'x', 'allow', '{}', ?, ?)")
    .run(head.seq + 1, head.hash, 'f'.repeat(64));
  const registry = new RegistrationRegistry(store);
  const results = await Promise.allSettled([registry.put(record('dev-a', 'ra'), { audit: auditFor('dev-a') }), registry.put(record('dev-b', 'rb'), { audit: auditFor('dev-b') })]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.equal(((results[0] as PromiseRejectedResult).reason as { code?: string }).code, 'ERR_STORE_CORRUPT');
  assert.equal(await raw.registrations.count(), 0);
  assert.equal(registry.cachedCount, 0);
});

test('fail closed without the one-transaction method: a failed appendMany stores no registration', async (t) => {
  const { store, raw, putBatches } = await setup(t, ['dev-a', 'dev-b'], { store: { appendAuditAndPutRegistrations: undefined }, audit: { appendMany: () => Promise.reject(new Error('disk full')) } });
  const registry = new RegistrationRegistry(store);
  const results = await Promise.allSettled([registry.put(record('dev-a', 'ra'), { audit: auditFor('dev-a') }), registry.put(record('dev-b', 'rb'), { audit: auditFor('dev-b') })]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /disk full/);
  assert.deepEqual(putBatches, []);
  assert.equal(await raw.registrations.count(), 0);
  assert.equal(registry.cachedCount, 0);
  // The next batch is written normally.
  assert.equal(await new RegistrationRegistry(raw).put(record('dev-a', 'ok'), { audit: auditFor('dev-a') }), undefined);
});

test('a store without appendMany / putMany: append and put one by one, same outcomes', async (t) => {
  const { store, raw, appendBatches, putBatches } = await setup(t, ['dev-a', 'dev-b'], {
    store: { appendAuditAndPutRegistrations: undefined },
    audit: { appendMany: undefined },
    registrations: { putMany: undefined },
  });
  const registry = new RegistrationRegistry(store);
  const results = await Promise.allSettled([
    registry.put(record('dev-a', 'ra'), { audit: auditFor('dev-a') }),
    registry.put(record('ghost', 'rg'), { audit: auditFor('ghost') }),
    registry.put(record('dev-a', 'ra2'), { audit: auditFor('dev-a') }),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(((results[2] as PromiseFulfilledResult<RegistrationRecord | undefined>).value)?.id, 'ra');
  assert.deepEqual(appendBatches, []);
  assert.deepEqual(putBatches, []);
  assert.deepEqual((await raw.audit.list()).map((a) => a.subject), ['dev-a', 'ghost', 'dev-a']);
  assert.deepEqual((await raw.registrations.list()).map((r) => r.id), ['ra2']);
});
