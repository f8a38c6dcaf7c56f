/**
 * SQLite audit group commit (src/store/sqlite/audit.ts): append() queues its record and the
 * appends made before the next microtask checkpoint are written in one IMMEDIATE transaction.
 * What must hold: a promise settles only after its record is committed (another connection sees
 * it), records are chained in call order (also against appendMany and
 * appendAuditAndPutRegistrations called later), any other store call writes the queue before its
 * own statements, a bad entry is refused alone and at once, a failed group rejects every append of
 * it and writes none, reads see appends made before them, and close() writes what is queued.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
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

test('any other store call writes the queued appends before its own statements', async (t) => {
  const { store, file } = await open(t);
  void store.audit.append(entry(0));
  // The call runs its closed check (and so the flush) synchronously, before its first await.
  const created = store.devices.create({ endpoint: 'ep-1' });
  assert.deepEqual(committedSeqs(file), [1]);
  await created;
  void store.audit.append(entry(1));
  const read = store.devices.get('ep-1');
  assert.deepEqual(committedSeqs(file), [1, 2]);
  assert.equal((await read)?.endpoint, 'ep-1');
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
