import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { MIGRATIONS, SCHEMA_VERSION, type Migration } from '../../src/store/migrations.js';
import { openStore } from '../../src/store/open-store.js';
import { migratePostgres } from '../../src/store/postgres/migrate.js';
import { openPostgresStore } from '../../src/store/postgres/store.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { registerStoreContract, type StoreHarness } from './contract.js';

const skip = postgresSkip();
let server: PostgresServer | undefined;

// One server for the whole file (a database per test): after() runs whether tests pass or not.
before(async () => {
  if (skip === false) server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

async function rawQuery(connectionString: string, sql: string, bypassTriggers = false): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    // Replica mode skips ordinary triggers: a superuser's way around the append-only rules.
    if (bypassTriggers) await client.query('SET session_replication_role = replica');
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function postgresHarness(): Promise<StoreHarness> {
  if (server === undefined) throw new Error('PostgreSQL server not started');
  const connectionString = await server.createDatabase();
  return {
    open: () => openPostgresStore({ connectionString }),
    raw: (sql, options) => rawQuery(connectionString, sql, options?.bypassTriggers ?? false),
    async dispose() {
      await server?.dropDatabase(connectionString);
    },
  };
}

registerStoreContract({ name: 'PostgreSQL', skip, createHarness: postgresHarness });

describe('PostgreSQL specifics', { skip }, () => {
  test('N stores migrating the same database at once apply each migration exactly once', async (t) => {
    const connectionString = await server!.createDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore({ connectionString })));
    t.after(async () => {
      for (const s of stores) await s.close();
    });
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows, MIGRATIONS.map((m) => ({ version: m.version })));
      const triggers = await client.query("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'audit_log'::regclass ORDER BY tgname");
      assert.deepEqual(
        triggers.rows.map((r: { tgname: string }) => r.tgname),
        ['audit_log_extends_head', 'audit_log_no_truncate', 'audit_log_no_update_delete'],
      );
      await assert.rejects(client.query('TRUNCATE audit_log'), /append-only/);
    } finally {
      await client.end();
    }
  });

  test('a failing migration rolls back completely; a later one is applied once', async (t) => {
    const connectionString = await server!.createDatabase();
    const pool = new pg.Pool({ connectionString });
    t.after(() => pool.end());
    await migratePostgres(pool);
    const broken: Migration = { version: SCHEMA_VERSION + 1, name: 'broken', sqlite: [], postgres: ['CREATE TABLE half_done (x int)', 'THIS IS NOT SQL'] };
    await assert.rejects(migratePostgres(pool, [...MIGRATIONS, broken]), { code: 'ERR_STORE_MIGRATION', message: /rolled back/ });
    const exists = await pool.query("SELECT to_regclass('half_done') AS t");
    assert.equal(exists.rows[0].t, null);
    const next: Migration = { version: SCHEMA_VERSION + 1, name: 'firmware', sqlite: [], postgres: ['CREATE TABLE firmware (id text PRIMARY KEY)'] };
    await Promise.all([migratePostgres(pool, [...MIGRATIONS, next]), migratePostgres(pool, [...MIGRATIONS, next])]);
    const versions = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(versions.rows, [...MIGRATIONS, next].map((m) => ({ version: m.version })));
    await assert.rejects(openPostgresStore({ connectionString }), { code: 'ERR_STORE_MIGRATION', message: /newer/ });
  });

  test('openStore picks PostgreSQL for a postgresql:// URL', async (t) => {
    const store = await openStore(await server!.createDatabase());
    t.after(() => store.close());
    assert.equal(store.kind, 'postgres');
    await store.devices.create({ endpoint: 'via-url' });
    assert.equal(await store.devices.count(), 1);
  });

  test('an insert that does not extend the chain head is refused by the database', async (t) => {
    const connectionString = await server!.createDatabase();
    const store = await openPostgresStore({ connectionString });
    t.after(() => store.close());
    await store.audit.append({ actor: 'system', action: 'a', subject: 's', outcome: 'success' });
    await assert.rejects(
      rawQuery(connectionString, `INSERT INTO audit_log (seq, at, actor, action, subject, outcome, details, prev_hash, hash) VALUES (5, 'x', 'a', 'b', 'c', 'allow', '{}', '${'0'.repeat(64)}', '${'1'.repeat(64)}')`),
      /does not extend the chain head/,
    );
  });

  test('bad options are ERR_INVALID_ARGUMENT; an unreachable server is a driver error, not a hang', async () => {
    await assert.rejects(openPostgresStore({}), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(openPostgresStore(null as never), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(openPostgresStore({ connectionString: '' }), { code: 'ERR_INVALID_ARGUMENT' });
    // Port 1 on loopback refuses connections at once.
    await assert.rejects(openPostgresStore({ connectionString: 'postgresql://postgres@127.0.0.1:1/postgres' }), /ECONNREFUSED|migration failed/);
  });
});
