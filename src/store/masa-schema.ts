/**
 * The SQL of migration 6 (MASA claims, used nonces, request log, pending remote releases), kept
 * beside the MASA repositories so that migrations.ts only lists it. Never edit these statements
 * once released: their checksum is recorded by every database that applied them.
 *
 * masa_claims has one row per device serial. Claiming is a single INSERT ... ON CONFLICT DO
 * UPDATE ... WHERE (released, expired or same owner) in both dialects, so nodes sharing one
 * PostgreSQL can never both claim a device: the loser's statement affects no row.
 */

export const MASA_MIGRATION_SQLITE: readonly string[] = [
  `CREATE TABLE masa_claims (
    serial TEXT NOT NULL PRIMARY KEY,
    owner TEXT NOT NULL CHECK (length(owner) = 64),
    domain_id TEXT NOT NULL,
    pinned_domain_cert TEXT NOT NULL,
    nonce TEXT,
    claimed_at TEXT NOT NULL,
    expires_at TEXT,
    released_at TEXT
  )`,
  `CREATE TABLE masa_nonces (
    serial TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('voucher', 'release', 'auditlog')),
    nonce_hash TEXT NOT NULL CHECK (length(nonce_hash) = 64),
    used_at TEXT NOT NULL,
    expires_at TEXT,
    PRIMARY KEY (serial, purpose, nonce_hash)
  )`,
  'CREATE INDEX masa_nonces_expires_at ON masa_nonces (expires_at) WHERE expires_at IS NOT NULL',
  `CREATE TABLE masa_request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    serial TEXT NOT NULL,
    date TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    nonce TEXT,
    assertion TEXT NOT NULL
  )`,
  'CREATE INDEX masa_request_log_serial ON masa_request_log (serial, id)',
  `CREATE TABLE masa_pending_releases (
    serial TEXT NOT NULL PRIMARY KEY,
    endpoint TEXT NOT NULL,
    masa_url TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL
  )`,
  'CREATE INDEX masa_pending_releases_due ON masa_pending_releases (next_attempt_at)',
];

export const MASA_MIGRATION_POSTGRES: readonly string[] = [
  `CREATE TABLE masa_claims (
    serial text COLLATE "C" NOT NULL PRIMARY KEY,
    owner text NOT NULL CHECK (length(owner) = 64),
    domain_id text NOT NULL,
    pinned_domain_cert text NOT NULL,
    nonce text,
    claimed_at timestamptz NOT NULL,
    expires_at timestamptz,
    released_at timestamptz
  )`,
  `CREATE TABLE masa_nonces (
    serial text COLLATE "C" NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('voucher', 'release', 'auditlog')),
    nonce_hash text NOT NULL CHECK (length(nonce_hash) = 64),
    used_at timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (serial, purpose, nonce_hash)
  )`,
  'CREATE INDEX masa_nonces_expires_at ON masa_nonces (expires_at) WHERE expires_at IS NOT NULL',
  `CREATE TABLE masa_request_log (
    id bigserial PRIMARY KEY,
    serial text COLLATE "C" NOT NULL,
    date text NOT NULL,
    domain_id text NOT NULL,
    nonce text,
    assertion text NOT NULL
  )`,
  'CREATE INDEX masa_request_log_serial ON masa_request_log (serial, id)',
  `CREATE TABLE masa_pending_releases (
    serial text COLLATE "C" NOT NULL PRIMARY KEY,
    endpoint text NOT NULL,
    masa_url text NOT NULL,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error text,
    created_at timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL
  )`,
  'CREATE INDEX masa_pending_releases_due ON masa_pending_releases (next_attempt_at)',
];
