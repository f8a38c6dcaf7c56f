/**
 * SQLite audit group commit (src/store/sqlite/audit.ts): append() queues its record and the
 * appends made before the next microtask checkpoint are written in one IMMEDIATE transaction.
 * What must hold: a promise settles only after its record is committed (another connection sees
 * it), records are chained in call order (also against appendMany and
 * appendAuditAndPutRegistrations called later), a write takes the queue into its own transaction
 * (first; its own failure undoes only itself), a read leaves it, a bad entry is refused alone and at once, a failed group rejects every append of
 * it and writes none, reads see appends made before them, and close() writes what is queued.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/open-store.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { AuditEntry, Store } from '../../src/store/types.js';

async function open(t: TestContext): Promise<{ store: Store; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-audit-group-'));
  const file = join(dir, 'rootline.db');
  const store = await openSqliteStore({ file });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, file };
}

function entry(i: number, subject = `s${i}`): AuditEntry {
  return { actor: 'system', action: 'test.append', subject, outcome: 'success', details: { i } };
}

/** Devices as another connection sees them. */
function committedEndpoints(file: string): string[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT endpoint FROM devices ORDER BY endpoint').all() as Array<{ endpoint: string }>).map((r) => r.endpoint);
  } finally {
    db.close();
  }
}

/** Rows as another connection (another process) sees them: only what was committed. */
function committedSeqs(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT seq FROM audit_log ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq);
  } finally {
    db.close();
  }
}

test('appends made together: one transaction (one `at`), call order, each settled after its commit', async (t) => {
  const { store, file } = await open(t);
  const pending = Array.from({ length: 25 }, (_, i) => store.audit.append(entry(i)));
  // Nothing is committed before the current synchronous run ends.
  assert.deepEqual(committedSeqs(file), []);
  const records = await Promise.all(pending);
  assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 25 }, (_, i) => i + 1));
  assert.deepEqual(records.map((r) => r.subject), Array.from({ length: 25 }, (_, i) => `s${i}`));
  assert.equal(new Set(records.map((r) => r.at)).size, 1, 'one transaction stamps one time');
  assert.deepEqual(committedSeqs(file), records.map((r) => r.seq));
  for (let i = 1; i < records.length; i++) assert.equal(records[i]!.prevHash, records[i - 1]!.hash);
  assert.deepEqual(await store.audit.verify(), { ok: true, count: 25, lastHash: records[24]!.hash });
});

test('a record is committed before its promise settles, also for appends awaited one by one', async (t) => {
  const { store, file } = await open(t);
  for (let i = 0; i < 5; i++) {
    const r = await store.audit.append(entry(i));
    assert.deepEqual(committedSeqs(file).at(-1), r.seq);
  }
});

test('queued appends come before a later appendMany / appendAuditAndPutRegistrations, in one transaction with it', async (t) => {
  const { store } = await open(t);
  await store.devices.create({ endpoint: 'ep-a' });
  const early = [store.audit.append(entry(0)), store.audit.append(entry(1))];
  const batch = await store.audit.appendMany!([entry(2), entry(3)]);
  const [a, b] = await Promise.all(early);
  assert.deepEqual([a!.seq, b!.seq, ...batch.map((r) => r.seq)], [1, 2, 3, 4]);
  assert.equal(a!.at, batch[0]!.at);
  const late = store.audit.append(entry(4));
  const now = new Date().toISOString();
  const unit = await store.appendAuditAndPutRegistrations!([entry(5, 'ep-a')], [
    { id: 'r1', endpoint: 'ep-a', lifetime: 60, lwm2mVersion: '1.1', binding: 'U', queueMode: false, smsNumber: null, objectLinks: '</3/0>', security: 'psk', peer: null, registeredAt: now, updatedAt: now, expiresAt: now },
  ]);
  assert.equal((await late).seq, 5);
  assert.deepEqual(unit.audit.map((r) => r.seq), [6]);
  assert.equal((await store.audit.verify()).ok, true);
});

test('a write takes the queued appends into its own transaction, first; a read does not write them', async (t) => {
  const { store, file } = await open(t);
  void store.audit.append(entry(0));
  // The write runs its statements synchronously, before its first await: the queued record and
  // the device are committed together, the record first.
  const created = store.devices.create({ endpoint: 'ep-1' });
  assert.deepEqual(committedSeqs(file), [1]);
  assert.deepEqual(committedEndpoints(file), ['ep-1']);
  await created;
  const queued = store.audit.append(entry(1));
  const read = store.devices.get('ep-1');
  // A read leaves the queue to its group commit (it reads no audit record)...
  assert.deepEqual(committedSeqs(file), [1]);
  assert.equal((await read)?.endpoint, 'ep-1');
  // ...which happens before the event loop moves on.
  assert.equal((await queued).seq, 2);
  assert.deepEqual(committedSeqs(file), [1, 2]);
  // Each write path that takes the queue along.
  const writes: Array<[string, () => Promise<unknown>]> = [
    ['devices.update', () => store.devices.update('ep-1', { model: 'm', attributes: { a: 1 } })],
    ['devices.addCredential', () => store.devices.addCredential({ endpoint: 'ep-1', kind: 'psk', lookup: 'id-1', material: new Uint8Array([1]) })],
    ['devices.removeCredential', () => store.devices.removeCredential('psk', 'id-1')],
    ['devices.createWithCredentials', () => store.devices.createWithCredentials({ endpoint: 'ep-2' }, [{ kind: 'psk', lookup: 'id-2', material: new Uint8Array([2]) }])],
    ['settings.set', () => store.settings.set('k', 'v')],
    ['bootstrapConfigs.set', () => store.bootstrapConfigs.set('ep-1', { servers: [] })],
    ['masa.useNonce', () => store.masa.useNonce('SN-1', 'voucher', 'a'.repeat(64), null, '2026-01-01T00:00:00.000Z')],
    ['masa.appendRequestLog', () => store.masa.appendRequestLog({ serial: 'SN-1', date: '2026-01-01T00:00:00.000Z', domainId: 'd', nonce: null, assertion: 'verified' })],
    ['devices.delete', () => store.devices.delete('ep-2')],
  ];
  let seq = 2;
  for (const [name, write] of writes) {
    const pending = store.audit.append(entry(seq));
    const done = write();
    seq += 1;
    assert.deepEqual(committedSeqs(file).at(-1), seq, name);
    await done;
    assert.equal((await pending).seq, seq, name);
  }
  assert.equal((await store.audit.verify()).ok, true);
});

test('a write that fails with queued appends: the appends are written, the write is undone alone with its own error', async (t) => {
  const { store, file } = await open(t);
  await store.devices.createWithCredentials({ endpoint: 'ep-1' }, [{ kind: 'psk', lookup: 'taken', material: new Uint8Array([1]) }]);
  // A device whose second credential is taken: all or nothing, and the queued records stay.
  const before = store.audit.append(entry(0));
  await assert.rejects(
    store.devices.createWithCredentials({ endpoint: 'ep-2' }, [{ kind: 'psk', lookup: 'free', material: new Uint8Array([2]) }, { kind: 'psk', lookup: 'taken', material: new Uint8Array([3]) }]),
    (err: unknown) => (err as { code?: string }).code === 'ERR_STORE_CONFLICT',
  );
  assert.equal((await before).seq, 1);
  assert.deepEqual(committedSeqs(file), [1]);
  assert.deepEqual(committedEndpoints(file), ['ep-1']);
  assert.equal(await store.devices.findCredential('psk', 'free'), undefined);
  // An update of an unknown device, a duplicate endpoint: typed errors, the records written.
  const more = [store.audit.append(entry(1))];
  await assert.rejects(store.devices.update('nope', { model: 'm' }), (err: unknown) => (err as { code?: string }).code === 'ERR_STORE_NOT_FOUND');
  more.push(store.audit.append(entry(2)));
  await assert.rejects(store.devices.create({ endpoint: 'ep-1' }), (err: unknown) => (err as { code?: string }).code === 'ERR_STORE_CONFLICT');
  assert.deepEqual((await Promise.all(more)).map((r) => r.seq), [2, 3]);
  assert.deepEqual(committedSeqs(file), [1, 2, 3]);
  assert.deepEqual(await store.audit.verify(), { ok: true, count: 3, lastHash: (await store.audit.list({ after: 2 }))[0]!.hash });
});

test('a write with queued appends the database refuses: the appends are rejected, the write still happens', async (t) => {
  const { store, file } = await open(t);
  const first = await store.audit.append(entry(0));
  const db = new Database(file);
  t.after(() => db.close());
  const triggers = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_log', 'audit_head')").all() as Array<{ name: string; sql: string }>;
  db.transaction(() => {
    for (const tr of triggers) db.exec(`DROP TRIGGER ${tr.name}`);
    db.prepare("INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash) VALUES (2, '2026-01-01T00:00:00.000Z', 'x', 'x', 'x', 'allow', '{}', ?, ?)").run(first.hash, 'f'.repeat(64));
    for (const tr of triggers) db.exec(tr.sql);
  })();
  const refused = store.audit.append(entry(1));
  const created = await store.devices.create({ endpoint: 'ep-1' });
  assert.equal(created.endpoint, 'ep-1');
  await assert.rejects(refused, (err: unknown) => (err as { code?: string }).code === 'ERR_STORE_CORRUPT');
  assert.deepEqual(committedSeqs(file), [1, 2]);
  assert.deepEqual(committedEndpoints(file), ['ep-1']);
});

test("the 'turn' window: appends of separate callbacks of one turn share a transaction, each settled after it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-audit-group-'));
  const file = join(dir, 'rootline.db');
  // Through openStore, as serve would ask for it.
  const store = await openStore(`sqlite:${file}`, { auditCommitWindow: 'turn' });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // Two chains that each wait for a macrotask (as for I/O) before each append: with the default
  // window each append would commit right after its own callback; with 'turn' both chains'
  // appends of one step share the transaction of that turn.
  const chain = async (k: number): Promise<string[]> => {
    const ats: string[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      const r = await store.audit.append(entry(k * 10 + i));
      assert.ok(committedSeqs(file).includes(r.seq));
      ats.push(r.at);
    }
    return ats;
  };
  const pending = [chain(1), chain(2)];
  assert.deepEqual(committedSeqs(file), []);
  const [a, b] = await Promise.all(pending);
  assert.deepEqual(a, b, 'the two chains were written in the same three transactions');
  assert.deepEqual(committedSeqs(file), [1, 2, 3, 4, 5, 6]);
  assert.equal((await store.audit.verify()).ok, true);
  await assert.rejects(openSqliteStore({ file: join(dir, 'x.db'), auditCommitWindow: 'later' as never }), (err: unknown) => (err as { code?: string }).code === 'ERR_INVALID_ARGUMENT');
});

test('appends of separate event-loop turns commit before the loop moves on (no later than a setImmediate)', async (t) => {
  const { store, file } = await open(t);
  void store.audit.append(entry(0));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(committedSeqs(file), [1]);
});

test('a bad entry is refused at once and alone; the others of the turn are written', async (t) => {
  const { store } = await open(t);
  const results = await Promise.allSettled([store.audit.append(entry(0)), store.audit.append({ ...entry(1), outcome: 'maybe' } as never), store.audit.append(entry(2))]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(((results[1] as PromiseRejectedResult).reason as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  assert.deepEqual((await store.audit.list()).map((r) => r.subject), ['s0', 's2']);
});

test('a group the database refuses: every append of it is rejected, none is written, the next group works', async (t) => {
  const { store, file } = await open(t);
  const first = await store.audit.append(entry(0));
  // A record written around the store at the next seq, with the triggers dropped and put back.
  const db = new Database(file);
  const triggers = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_log', 'audit_head')").all() as Array<{ name: string; sql: string }>;
  db.transaction(() => {
    for (const tr of triggers) db.exec(`DROP TRIGGER ${tr.name}`);
    db.prepare("INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash) VALUES (2, '2026-01-01T00:00:00.000Z', 'x', 'x', 'x', 'allow', '{}', ?, ?)").run(first.hash, 'f'.repeat(64));
    for (const tr of triggers) db.exec(tr.sql);
  })();
  const results = await Promise.allSettled([store.audit.append(entry(1)), store.audit.append(entry(2))]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  for (const r of results) assert.equal(((r as PromiseRejectedResult).reason as { code?: string }).code, 'ERR_STORE_CORRUPT');
  assert.deepEqual(committedSeqs(file), [1, 2]);
  // Removing the stray row lets the chain go on.
  db.transaction(() => {
    for (const tr of triggers) db.exec(`DROP TRIGGER ${tr.name}`);
    db.exec('DELETE FROM audit_log WHERE seq = 2');
    for (const tr of triggers) db.exec(tr.sql);
  })();
  db.close();
  assert.equal((await store.audit.append(entry(3))).seq, 2);
  assert.equal((await store.audit.verify()).ok, true);
});

test('list() and verify() see appends made before them, awaited or not', async (t) => {
  const { store } = await open(t);
  void store.audit.append(entry(0));
  void store.audit.append(entry(1));
  assert.deepEqual((await store.audit.list()).map((r) => r.seq), [1, 2]);
  void store.audit.append(entry(2));
  const v = await store.audit.verify();
  assert.ok(v.ok && v.count === 3, JSON.stringify(v));
});

test('close() writes the queued appends before closing; later appends are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-audit-group-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rootline.db');
  const store = await openSqliteStore({ file });
  const pending = [store.audit.append(entry(0)), store.audit.append(entry(1))];
  await store.close();
  assert.deepEqual((await Promise.all(pending)).map((r) => r.seq), [1, 2]);
  assert.deepEqual(committedSeqs(file), [1, 2]);
  await assert.rejects(store.audit.append(entry(2)), (err: unknown) => (err as { code?: string }).code === 'ERR_STORE_CLOSED');
});

test('updateDeviceAudited takes the queued appends first, in its transaction; a miss or a conflict still commits them', async (t) => {
  const { store, file } = await open(t);
  await store.devices.create({ endpoint: 'ep-a', ownershipState: 'RFPRO' });
  const transition = { actor: 'device:ep-a', action: 'ownership.transition', subject: 'ep-a', outcome: 'success' as const, details: { from: 'RFPRO', to: 'RFNOP' } };
  const early = store.audit.append(entry(0));
  const unit = store.updateDeviceAudited!('ep-a', { ownershipState: 'RFNOP' }, transition, { expectedState: 'RFPRO' });
  // Synchronous before its first await: the queued record, then the update's, committed together.
  assert.deepEqual(committedSeqs(file), [1, 2]);
  const [a, done] = await Promise.all([early, unit]);
  assert.deepEqual([a.seq, done?.audit.seq, done?.audit.prevHash], [1, 2, a.hash]);
  // Each record is stamped when it is made: the same millisecond or later, never earlier.
  assert.ok(done!.audit.at >= a.at, `${done!.audit.at} before ${a.at}`);
  // A compare-and-set miss: the queued record commits, nothing of the miss does.
  const queued = store.audit.append(entry(1));
  assert.equal(await store.updateDeviceAudited!('ep-a', { ownershipState: 'SRESET' }, transition, { expectedState: 'RFPRO' }), undefined);
  assert.equal((await queued).seq, 3);
  // An unknown device: its own error, the queued record resolves.
  const again = store.audit.append(entry(2));
  await assert.rejects(store.updateDeviceAudited!('ghost', {}, transition), { code: 'ERR_STORE_NOT_FOUND' });
  assert.equal((await again).seq, 4);
  assert.deepEqual(committedSeqs(file), [1, 2, 3, 4]);
  assert.equal((await store.devices.get('ep-a'))?.ownershipState, 'RFNOP');
  assert.equal((await store.audit.verify()).ok, true);
});
