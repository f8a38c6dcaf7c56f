/**
 * The SQL of migration 4 (firmware images), kept beside the firmware repositories so that
 * migrations.ts only lists it. Never edit these statements once released: their checksum is
 * recorded by every database that applied them; change the schema with a new migration.
 */

export const FIRMWARE_MIGRATION_SQLITE: readonly string[] = [
  `CREATE TABLE firmware_images (
    id TEXT NOT NULL PRIMARY KEY,
    vendor TEXT NOT NULL,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    sequence INTEGER NOT NULL CHECK (sequence >= 1),
    size INTEGER NOT NULL CHECK (size >= 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    manifest BLOB NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes) AND json_type(attributes) = 'object'),
    created_at TEXT NOT NULL,
    UNIQUE (vendor, model, version),
    UNIQUE (vendor, model, sequence)
  )`,
  'CREATE INDEX firmware_images_sha256 ON firmware_images (sha256)',
  // The counter outlives deleted images: sequence numbers are never reused (anti-rollback).
  `CREATE TABLE firmware_sequences (
    vendor TEXT NOT NULL,
    model TEXT NOT NULL,
    last_sequence INTEGER NOT NULL CHECK (last_sequence >= 1),
    PRIMARY KEY (vendor, model)
  )`,
];

export const FIRMWARE_MIGRATION_POSTGRES: readonly string[] = [
  `CREATE TABLE firmware_images (
    id text COLLATE "C" NOT NULL PRIMARY KEY,
    vendor text COLLATE "C" NOT NULL,
    model text COLLATE "C" NOT NULL,
    version text COLLATE "C" NOT NULL,
    sequence bigint NOT NULL CHECK (sequence >= 1),
    size bigint NOT NULL CHECK (size >= 0),
    sha256 text NOT NULL CHECK (length(sha256) = 64),
    manifest bytea NOT NULL,
    attributes jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
    created_at text NOT NULL,
    UNIQUE (vendor, model, version),
    UNIQUE (vendor, model, sequence)
  )`,
  'CREATE INDEX firmware_images_sha256 ON firmware_images (sha256)',
  `CREATE TABLE firmware_sequences (
    vendor text COLLATE "C" NOT NULL,
    model text COLLATE "C" NOT NULL,
    last_sequence bigint NOT NULL CHECK (last_sequence >= 1),
    PRIMARY KEY (vendor, model)
  )`,
];
