import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { DEFAULT_SQLITE_CACHE_SIZE_KIB, openSqliteStore } from '../../src/store/sqlite/store.js';
import { registerStoreContract, type StoreHarness } from './contract.js';

function sqliteHarness(): StoreHarness {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-sqlite-'));
  const file = join(dir, 'rootline.db');
  return {
    open: () => openSqliteStore({ file }),
    async raw(sql, options) {
      const db = new Database(file, { timeout: 5000 });
      try {
        if (!options?.bypassTriggers) {
          db.exec(sql);
          return;
        }
        // SQLite cannot switch triggers off; an attacker with the file drops them, edits, and
        // puts them back, which is what this does.
        const triggers = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_log', 'audit_head')").all() as Array<{ name: string; sql: string }>;
        db.transaction(() => {
          for (const tr of triggers) db.exec(`DROP TRIGGER ${tr.name}`);
          db.exec(sql);
          for (const tr of triggers) db.exec(tr.sql);
        })();
      } finally {
        db.close();
      }
    },
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

registerStoreContract({ name: 'SQLite', skip: false, createHarness: async () => sqliteHarness() });

test('SQLite: opens in WAL mode with foreign keys on, creating the parent directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-sqlite-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'nested', 'deeper', 'rootline.db');
  const store = await openSqliteStore({ file });
  await store.close();
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    assert.deepEqual(tables, ['audit_head', 'audit_log', 'campaign_devices', 'campaign_events', 'campaigns', 'device_credentials', 'devices', 'firmware_images', 'firmware_sequences', 'lwm2m_bootstrap_configs', 'lwm2m_registrations', 'masa_claims', 'masa_nonces', 'masa_pending_releases', 'masa_request_log', 'schema_migrations', 'settings', 'sqlite_sequence']);
    assert.deepEqual(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(), MIGRATIONS.map((m) => ({ version: m.version })));
  } finally {
    db.close();
  }
});

test('SQLite: the page cache is capped at 2 MiB unless cacheSizeKiB says otherwise', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-sqlite-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cacheOf = (s: unknown): number => (s as { cacheSizeKiB: number }).cacheSizeKiB;
  const byDefault = await openSqliteStore({ file: join(dir, 'a.db') });
  try {
    // better-sqlite3's own build default is 16,000 KiB; the store sets SQLite's stock 2 MiB.
    assert.equal(cacheOf(byDefault), DEFAULT_SQLITE_CACHE_SIZE_KIB);
    assert.equal(DEFAULT_SQLITE_CACHE_SIZE_KIB, 2048);
  } finally {
    await byDefault.close();
  }
  const chosen = await openSqliteStore({ file: join(dir, 'b.db'), cacheSizeKiB: 512 });
  try {
    assert.equal(cacheOf(chosen), 512);
    await chosen.devices.create({ endpoint: 'c' });
    assert.equal(await chosen.devices.count(), 1);
  } finally {
    await chosen.close();
  }
  for (const bad of [0, 63, -1, 1.5, 16_777_217, '2048', Number.NaN]) {
    await assert.rejects(openSqliteStore({ file: join(dir, 'c.db'), cacheSizeKiB: bad as number }), { code: 'ERR_INVALID_ARGUMENT', message: /cacheSizeKiB/ });
  }
});

test('SQLite: a ":memory:" store works for tools and tests', async () => {
  const store = await openSqliteStore({ file: ':memory:' });
  try {
    await store.devices.create({ endpoint: 'm' });
    assert.equal(await store.devices.count(), 1);
  } finally {
    await store.close();
  }
});

test('SQLite: bad options are ERR_INVALID_ARGUMENT', async () => {
  await assert.rejects(openSqliteStore({ file: '' }), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(openSqliteStore(null as never), { code: 'ERR_INVALID_ARGUMENT' });
  await assert.rejects(openSqliteStore({ file: 'x.db', busyTimeoutMs: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
});

test('SQLite: appends from two processes at once form one unbroken chain', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-sqlite-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'shared.db');
  const setup = await openSqliteStore({ file });
  await setup.close();
  const storeModule = new URL('../../src/store/sqlite/store.ts', import.meta.url).href;
  const N = 500;
  // Each child opens the store, says "ready", and starts appending only when told "go" — so the
  // two really contend for the write lock instead of running one after the other.
  const start = (name: string) => {
    const script = [
      `import { openSqliteStore } from ${JSON.stringify(storeModule)};`,
      `const store = await openSqliteStore({ file: ${JSON.stringify(file)} });`,
      'process.stdout.write("ready\\n");',
      'await new Promise((resolve) => process.stdin.once("data", resolve));',
      `for (let i = 0; i < ${N}; i++) await store.audit.append({ actor: 'system', action: 'load', subject: ${JSON.stringify(name)}, outcome: 'success', details: { i } });`,
      'await store.close();',
      'process.exit(0);',
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => child.kill());
    const ready = new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, ready, exited };
  };
  const children = [start('p1'), start('p2')];
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.child.stdin.write('go\n');
  assert.deepEqual(await Promise.all(children.map((c) => c.exited)), [0, 0]);
  const store = await openSqliteStore({ file });
  try {
    const v = await store.audit.verify();
    assert.ok(v.ok && v.count === 2 * N, JSON.stringify(v));
    assert.equal((await store.audit.list({ subject: 'p1', limit: 1000 })).length, N);
    assert.equal((await store.audit.list({ subject: 'p2', limit: 1000 })).length, N);
  } finally {
    await store.close();
  }
});
