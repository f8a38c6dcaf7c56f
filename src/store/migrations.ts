/**
 * Versioned schema migrations, one list for both dialects. A migration is numbered, named and
 * holds the SQL statements for each database; it is applied once, inside a transaction, and
 * recorded in schema_migrations with a checksum of its SQL. To change the schema, append a
 * migration — never edit an applied one: the checksum check refuses a database whose history
 * differs from the code (a branch's migration, a hand edit), rather than guessing.
 */
import { createHash } from 'node:crypto';
import { StoreMigrationError } from './errors.js';
import { GENESIS_HASH } from './audit-chain.js';
import { CAMPAIGN_MIGRATION_POSTGRES, CAMPAIGN_MIGRATION_SQLITE } from './campaign-schema.js';
import { FIRMWARE_MIGRATION_POSTGRES, FIRMWARE_MIGRATION_SQLITE } from './firmware-schema.js';
import { MASA_MIGRATION_POSTGRES, MASA_MIGRATION_SQLITE } from './masa-schema.js';
import { OWNERSHIP_STATES } from './types.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  name: string;
  sqlite: readonly string[];
  postgres: readonly string[];
}

const STATES = OWNERSHIP_STATES.map((s) => `'${s}'`).join(', ');

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'devices, credentials, audit log, settings',
    sqlite: [
      `CREATE TABLE devices (
        endpoint TEXT NOT NULL PRIMARY KEY,
        model TEXT,
        firmware_version TEXT,
        tags TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags) AND json_type(tags) = 'array'),
        ownership_state TEXT NOT NULL DEFAULT 'RESET' CHECK (ownership_state IN (${STATES})),
        attributes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes) AND json_type(attributes) = 'object'),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      'CREATE INDEX devices_model ON devices (model, endpoint)',
      'CREATE INDEX devices_ownership_state ON devices (ownership_state, endpoint)',
      `CREATE TABLE device_credentials (
        kind TEXT NOT NULL CHECK (kind IN ('psk', 'rpk', 'x509')),
        lookup TEXT NOT NULL,
        endpoint TEXT NOT NULL REFERENCES devices (endpoint) ON DELETE CASCADE,
        material BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (kind, lookup)
      )`,
      'CREATE INDEX device_credentials_endpoint ON device_credentials (endpoint)',
      `CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('allow', 'deny', 'success', 'failure')),
        details TEXT NOT NULL CHECK (json_valid(details) AND json_type(details) = 'object'),
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE
      )`,
      'CREATE INDEX audit_log_subject ON audit_log (subject, seq)',
      'CREATE INDEX audit_log_action ON audit_log (action, seq)',
      // The chain head: one row naming the newest record. Appends lock it (so they serialise), and
      // verify() compares it with the end of the chain (so deleting the newest records shows).
      `CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
      )`,
      `INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}')`,
      `CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END`,
      `CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END`,
      `CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
       WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1)
         OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head WHERE id = 1)
       BEGIN SELECT RAISE(ABORT, 'audit_log insert does not extend the chain head'); END`,
      `CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
       BEGIN SELECT RAISE(ABORT, 'audit_head cannot be deleted'); END`,
      `CREATE TRIGGER audit_head_advances BEFORE UPDATE ON audit_head
       WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1
         OR NOT EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash)
       BEGIN SELECT RAISE(ABORT, 'audit_head may only advance to the record just appended'); END`,
      `CREATE TABLE settings (
        key TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
    ],
    postgres: [
      // COLLATE "C": keyset pagination orders by endpoint, and it must be the same byte order
      // (UTF-8, memcmp) SQLite uses, whatever locale the cluster was initialised with.
      `CREATE TABLE devices (
        endpoint text COLLATE "C" NOT NULL PRIMARY KEY,
        model text,
        firmware_version text,
        tags jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tags) = 'array'),
        ownership_state text NOT NULL DEFAULT 'RESET' CHECK (ownership_state IN (${STATES})),
        attributes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
      'CREATE INDEX devices_model ON devices (model, endpoint)',
      'CREATE INDEX devices_ownership_state ON devices (ownership_state, endpoint)',
      'CREATE INDEX devices_tags ON devices USING gin (tags)',
      `CREATE TABLE device_credentials (
        kind text NOT NULL CHECK (kind IN ('psk', 'rpk', 'x509')),
        lookup text NOT NULL,
        endpoint text COLLATE "C" NOT NULL REFERENCES devices (endpoint) ON DELETE CASCADE,
        material bytea NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (kind, lookup)
      )`,
      'CREATE INDEX device_credentials_endpoint ON device_credentials (endpoint)',
      // `at` is text, not timestamptz: the hash covers the exact string, so it is kept verbatim.
      `CREATE TABLE audit_log (
        seq bigint PRIMARY KEY CHECK (seq >= 1),
        at text NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        subject text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('allow', 'deny', 'success', 'failure')),
        details jsonb NOT NULL CHECK (jsonb_typeof(details) = 'object'),
        prev_hash text NOT NULL,
        hash text NOT NULL UNIQUE
      )`,
      'CREATE INDEX audit_log_subject ON audit_log (subject, seq)',
      'CREATE INDEX audit_log_action ON audit_log (action, seq)',
      `CREATE TABLE audit_head (
        id smallint PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        hash text NOT NULL
      )`,
      `INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${GENESIS_HASH}')`,
      `CREATE FUNCTION rootline_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
       END $$`,
      `CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
       FOR EACH ROW EXECUTE FUNCTION rootline_audit_append_only()`,
      `CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION rootline_audit_append_only()`,
      `CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head
       FOR EACH STATEMENT EXECUTE FUNCTION rootline_audit_append_only()`,
      `CREATE FUNCTION rootline_audit_extends_head() RETURNS trigger LANGUAGE plpgsql AS $$
       DECLARE head_seq bigint; head_hash text;
       BEGIN
         SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1;
         IF NEW.seq IS DISTINCT FROM head_seq + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN
           RAISE EXCEPTION 'audit_log insert does not extend the chain head (seq %, head %)', NEW.seq, head_seq;
         END IF;
         RETURN NEW;
       END $$`,
      `CREATE TRIGGER audit_log_extends_head BEFORE INSERT ON audit_log
       FOR EACH ROW EXECUTE FUNCTION rootline_audit_extends_head()`,
      `CREATE FUNCTION rootline_audit_head_advances() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq IS DISTINCT FROM OLD.seq + 1
            OR NOT EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash) THEN
           RAISE EXCEPTION 'audit_head may only advance to the record just appended';
         END IF;
         RETURN NEW;
       END $$`,
      `CREATE TRIGGER audit_head_advances BEFORE UPDATE ON audit_head
       FOR EACH ROW EXECUTE FUNCTION rootline_audit_head_advances()`,
      `CREATE TABLE settings (
        key text COLLATE "C" NOT NULL PRIMARY KEY,
        value text NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: 'lwm2m registrations, bootstrap configurations',
    sqlite: [
      `CREATE TABLE lwm2m_registrations (
        id TEXT NOT NULL PRIMARY KEY,
        endpoint TEXT NOT NULL UNIQUE REFERENCES devices (endpoint) ON DELETE CASCADE,
        lifetime INTEGER NOT NULL CHECK (lifetime >= 1),
        lwm2m_version TEXT NOT NULL,
        binding TEXT NOT NULL,
        queue_mode INTEGER NOT NULL CHECK (queue_mode IN (0, 1)),
        sms_number TEXT,
        object_links TEXT NOT NULL,
        security TEXT NOT NULL CHECK (security IN ('psk', 'rpk', 'x509', 'nosec')),
        peer TEXT,
        registered_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      )`,
      'CREATE INDEX lwm2m_registrations_expires_at ON lwm2m_registrations (expires_at)',
      `CREATE TABLE lwm2m_bootstrap_configs (
        endpoint TEXT NOT NULL PRIMARY KEY REFERENCES devices (endpoint) ON DELETE CASCADE,
        config TEXT NOT NULL CHECK (json_valid(config) AND json_type(config) = 'object'),
        updated_at TEXT NOT NULL
      )`,
    ],
    postgres: [
      `CREATE TABLE lwm2m_registrations (
        id text COLLATE "C" NOT NULL PRIMARY KEY,
        endpoint text COLLATE "C" NOT NULL UNIQUE REFERENCES devices (endpoint) ON DELETE CASCADE,
        lifetime bigint NOT NULL CHECK (lifetime >= 1),
        lwm2m_version text NOT NULL,
        binding text NOT NULL,
        queue_mode boolean NOT NULL,
        sms_number text,
        object_links text NOT NULL,
        security text NOT NULL CHECK (security IN ('psk', 'rpk', 'x509', 'nosec')),
        peer text,
        registered_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      )`,
      'CREATE INDEX lwm2m_registrations_expires_at ON lwm2m_registrations (expires_at)',
      `CREATE TABLE lwm2m_bootstrap_configs (
        endpoint text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES devices (endpoint) ON DELETE CASCADE,
        config jsonb NOT NULL CHECK (jsonb_typeof(config) = 'object'),
        updated_at timestamptz NOT NULL
      )`,
    ],
  },
  {
    version: 4,
    name: 'firmware images, firmware sequence counters',
    sqlite: FIRMWARE_MIGRATION_SQLITE,
    postgres: FIRMWARE_MIGRATION_POSTGRES,
  },
  {
    version: 5,
    name: 'firmware campaigns, campaign devices, campaign events',
    sqlite: CAMPAIGN_MIGRATION_SQLITE,
    postgres: CAMPAIGN_MIGRATION_POSTGRES,
  },
  {
    version: 6,
    name: 'MASA claims, used nonces, request log, pending remote releases',
    sqlite: MASA_MIGRATION_SQLITE,
    postgres: MASA_MIGRATION_POSTGRES,
  },
];

/** The schema version this code expects. */
// The highest version, not the last entry: rooms append migrations concurrently, so the list
// need not end with the newest number.
export const SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** Hex SHA-256 of a migration's SQL for one dialect, recorded when it is applied. */
export function migrationChecksum(migration: Migration, dialect: Dialect): string {
  return createHash('sha256').update(migration[dialect].join('\n;\n'), 'utf8').digest('hex');
}

export interface AppliedMigration {
  version: number;
  checksum: string;
}

/**
 * Compares what a database has applied with the code's list and returns the migrations still
 * to apply, oldest first. Throws StoreMigrationError when the database is ahead of the code or
 * its history differs: running older code against a newer schema could corrupt data silently.
 */
export function pendingMigrations(applied: readonly AppliedMigration[], dialect: Dialect, migrations: readonly Migration[] = MIGRATIONS): Migration[] {
  const known = new Map(migrations.map((m) => [m.version, m]));
  const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  const done = new Set<number>();
  for (const a of applied) {
    if (a.version > latest) {
      throw new StoreMigrationError(`database schema version ${a.version} is newer than this code (${latest}); upgrade rootline before opening it`);
    }
    const m = known.get(a.version);
    if (m === undefined) throw new StoreMigrationError(`database has migration ${a.version}, which this code does not know`);
    if (a.checksum !== migrationChecksum(m, dialect)) {
      throw new StoreMigrationError(`migration ${a.version} (${m.name}) in the database differs from the one in this code (checksum mismatch)`);
    }
    done.add(a.version);
  }
  return migrations.filter((m) => !done.has(m.version)).sort((a, b) => a.version - b.version);
}
