/**
 * The SQL of migration 5 (campaigns), kept beside the campaign repositories so that
 * migrations.ts only lists it. Never edit these statements once released: their checksum is
 * recorded by every database that applied them (see migrations.ts); change the schema with a
 * new migration instead.
 *
 * Times are ISO text in both dialects (see campaign-rows.ts). No foreign key from
 * campaign_devices to devices: a campaign's record of what happened to a device must outlive
 * the device's deletion.
 */
import { CAMPAIGN_DEVICE_STATUSES, CAMPAIGN_STATES } from './campaign-types.js';

const STATES = CAMPAIGN_STATES.map((s) => `'${s}'`).join(', ');
const STATUSES = CAMPAIGN_DEVICE_STATUSES.map((s) => `'${s}'`).join(', ');

export const CAMPAIGN_MIGRATION_SQLITE: readonly string[] = [
  `CREATE TABLE campaigns (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    firmware_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN (${STATES})),
    spec TEXT NOT NULL CHECK (json_valid(spec) AND json_type(spec) = 'object'),
    progress TEXT NOT NULL CHECK (json_valid(progress) AND json_type(progress) = 'object'),
    state_reason TEXT,
    revision INTEGER NOT NULL CHECK (revision >= 1),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  )`,
  'CREATE INDEX campaigns_state ON campaigns (state, id)',
  `CREATE TABLE campaign_devices (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL,
    wave INTEGER NOT NULL CHECK (wave >= 0),
    position INTEGER NOT NULL CHECK (position >= 1),
    status TEXT NOT NULL CHECK (status IN (${STATUSES})),
    attempt INTEGER NOT NULL CHECK (attempt >= 0),
    fw_state INTEGER CHECK (fw_state BETWEEN 0 AND 3),
    update_result INTEGER CHECK (update_result BETWEEN 0 AND 255),
    progress INTEGER CHECK (progress BETWEEN 0 AND 100),
    from_version TEXT,
    reported_version TEXT,
    package_kind TEXT CHECK (package_kind IN ('delta', 'full')),
    failure TEXT,
    due_at TEXT,
    joined_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (campaign_id, endpoint),
    UNIQUE (campaign_id, position)
  )`,
  'CREATE INDEX campaign_devices_status ON campaign_devices (campaign_id, status, position)',
  'CREATE INDEX campaign_devices_due ON campaign_devices (campaign_id, due_at) WHERE due_at IS NOT NULL',
  'CREATE INDEX campaign_devices_endpoint ON campaign_devices (endpoint)',
  `CREATE TABLE campaign_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    endpoint TEXT,
    at TEXT NOT NULL,
    type TEXT NOT NULL,
    details TEXT NOT NULL CHECK (json_valid(details) AND json_type(details) = 'object')
  )`,
  'CREATE INDEX campaign_events_campaign ON campaign_events (campaign_id, id)',
  'CREATE INDEX campaign_events_device ON campaign_events (campaign_id, endpoint, id)',
];

export const CAMPAIGN_MIGRATION_POSTGRES: readonly string[] = [
  `CREATE TABLE campaigns (
    id text COLLATE "C" NOT NULL PRIMARY KEY,
    name text NOT NULL,
    firmware_id text NOT NULL,
    state text NOT NULL CHECK (state IN (${STATES})),
    spec jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    progress jsonb NOT NULL CHECK (jsonb_typeof(progress) = 'object'),
    state_reason text,
    revision bigint NOT NULL CHECK (revision >= 1),
    created_by text NOT NULL,
    created_at text COLLATE "C" NOT NULL,
    updated_at text COLLATE "C" NOT NULL
  )`,
  'CREATE INDEX campaigns_state ON campaigns (state, id)',
  `CREATE TABLE campaign_devices (
    campaign_id text COLLATE "C" NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    endpoint text COLLATE "C" NOT NULL,
    wave integer NOT NULL CHECK (wave >= 0),
    position bigint NOT NULL CHECK (position >= 1),
    status text NOT NULL CHECK (status IN (${STATUSES})),
    attempt integer NOT NULL CHECK (attempt >= 0),
    fw_state smallint CHECK (fw_state BETWEEN 0 AND 3),
    update_result smallint CHECK (update_result BETWEEN 0 AND 255),
    progress smallint CHECK (progress BETWEEN 0 AND 100),
    from_version text,
    reported_version text,
    package_kind text CHECK (package_kind IN ('delta', 'full')),
    failure text,
    due_at text COLLATE "C",
    joined_at text COLLATE "C" NOT NULL,
    updated_at text COLLATE "C" NOT NULL,
    PRIMARY KEY (campaign_id, endpoint),
    UNIQUE (campaign_id, position)
  )`,
  'CREATE INDEX campaign_devices_status ON campaign_devices (campaign_id, status, position)',
  'CREATE INDEX campaign_devices_due ON campaign_devices (campaign_id, due_at) WHERE due_at IS NOT NULL',
  'CREATE INDEX campaign_devices_endpoint ON campaign_devices (endpoint)',
  `CREATE TABLE campaign_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id text COLLATE "C" NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    endpoint text COLLATE "C",
    at text COLLATE "C" NOT NULL,
    type text NOT NULL,
    details jsonb NOT NULL CHECK (jsonb_typeof(details) = 'object')
  )`,
  'CREATE INDEX campaign_events_campaign ON campaign_events (campaign_id, id)',
  'CREATE INDEX campaign_events_device ON campaign_events (campaign_id, endpoint, id)',
];
