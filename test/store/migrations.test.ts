import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, SCHEMA_VERSION, migrationChecksum, pendingMigrations, type Migration } from '../../src/store/migrations.js';
import { migrateSqlite } from '../../src/store/sqlite/migrate.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';

const m = (version: number, sql = `CREATE TABLE t${version} (x INTEGER)`): Migration => ({ version, name: `m${version}`, sqlite: [sql], postgres: [sql] });

// Rooms reserve version numbers and append their migrations independently, so a number may be
// missing while its room's work is in progress; what must hold is uniqueness and ascending order.
test('migrations: versions are unique and ascending, with SQL for both dialects', () => {
  MIGRATIONS.forEach((mig, i) => {
    assert.ok(Number.isSafeInteger(mig.version) && mig.version >= 1);
    if (i > 0) assert.ok(mig.version > MIGRATIONS[i - 1]!.version, `migration ${mig.version} listed after ${MIGRATIONS[i - 1]!.version}`);
    assert.ok(mig.sqlite.length > 0 && mig.postgres.length > 0);
  });
  assert.equal(SCHEMA_VERSION, Math.max(...MIGRATIONS.map((mig) => mig.version)));
});

test('pendingMigrations: returns what is missing in order, refuses newer or different histories', () => {
  const list = [m(1), m(2), m(3)];
  const applied = (...vs: number[]) => vs.map((v) => ({ version: v, checksum: migrationChecksum(list[v - 1]!, 'sqlite') }));
  assert.deepEqual(pendingMigrations([], 'sqlite', list).map((x) => x.version), [1, 2, 3]);
  assert.deepEqual(pendingMigrations(applied(1), 'sqlite', list).map((x) => x.version), [2, 3]);
  assert.deepEqual(pendingMigrations(applied(1, 2, 3), 'sqlite', list), []);
  assert.throws(() => pendingMigrations([...applied(1), { version: 4, checksum: 'x' }], 'sqlite', list), { code: 'ERR_STORE_MIGRATION', message: /newer than this code/ });
  assert.throws(() => pendingMigrations([{ version: 2, checksum: 'edited' }], 'sqlite', list), { code: 'ERR_STORE_MIGRATION', message: /checksum/ });
  assert.throws(() => pendingMigrations([{ version: 2, checksum: 'x' }], 'sqlite', [m(1), m(3)]), { code: 'ERR_STORE_MIGRATION', message: /does not know/ });
  // The checksum is per dialect: it covers the SQL that was actually run.
  const split: Migration = { version: 1, name: 'x', sqlite: ['A'], postgres: ['B'] };
  assert.notEqual(migrationChecksum(split, 'sqlite'), migrationChecksum(split, 'postgres'));
});

test('SQLite: a later migration is applied on the next open; a failing one rolls back completely', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-migrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'db.sqlite');
  const store = await openSqliteStore({ file });
  await store.devices.create({ endpoint: 'before' });
  await store.close();

  const db = new Database(file);
  t.after(() => db.close());
  const broken: Migration = { version: SCHEMA_VERSION + 1, name: 'broken', sqlite: ['CREATE TABLE half_done (x INTEGER)', 'THIS IS NOT SQL'], postgres: [] };
  assert.throws(() => migrateSqlite(db, [...MIGRATIONS, broken]), { code: 'ERR_STORE_MIGRATION', message: /rolled back/ });
  const tables = () => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
  assert.ok(!tables().includes('half_done'), 'the first statement of the failed migration was rolled back');
  assert.deepEqual(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(), MIGRATIONS.map((m) => ({ version: m.version })));

  const next: Migration = {
    version: SCHEMA_VERSION + 1,
    name: 'firmware',
    sqlite: ['CREATE TABLE firmware (id TEXT PRIMARY KEY)', "INSERT INTO firmware (id) VALUES ('seed')"],
    postgres: [],
  };
  migrateSqlite(db, [...MIGRATIONS, next]);
  migrateSqlite(db, [...MIGRATIONS, next]);
  assert.deepEqual(db.prepare('SELECT id FROM firmware').all(), [{ id: 'seed' }]);
  assert.deepEqual(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(), [...MIGRATIONS, next].map((m) => ({ version: m.version })));
  assert.equal((db.prepare("SELECT endpoint FROM devices").get() as { endpoint: string }).endpoint, 'before');
  // This code's list now lags the database: opening with it is refused.
  await assert.rejects(openSqliteStore({ file }), { code: 'ERR_STORE_MIGRATION', message: /newer/ });
});
