/**
 * Row → record conversion shared by both stores. Rows are checked on the way out, not trusted:
 * a row edited by hand or damaged on disk becomes a StoreCorruptError naming the row, instead of
 * a record that breaks some domain service far from the cause.
 */
import { StoreCorruptError } from './errors.js';
import { OWNERSHIP_STATES, type AuditRecord, type CredentialKind, type DeviceCredential, type DeviceRecord, type OwnershipState } from './types.js';

export interface DeviceRow {
  endpoint: string;
  model: string | null;
  firmware_version: string | null;
  /** JSON text (SQLite) or already parsed (PostgreSQL jsonb). */
  tags: unknown;
  ownership_state: string;
  attributes: unknown;
  /** ISO text (SQLite) or Date (PostgreSQL timestamptz). */
  created_at: string | Date;
  updated_at: string | Date;
}

export interface CredentialRow {
  endpoint: string;
  kind: string;
  lookup: string;
  material: Uint8Array;
  created_at: string | Date;
}

export interface AuditRow {
  seq: number | string | bigint;
  at: string;
  actor: string;
  action: string;
  subject: string;
  outcome: string;
  details: unknown;
  prev_hash: string;
  hash: string;
}

function parseJson(value: unknown, where: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new StoreCorruptError(`${where}: stored JSON does not parse`, { cause: err });
  }
}

function toIso(value: string | Date, where: string): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new StoreCorruptError(`${where}: invalid timestamp`);
    return value.toISOString();
  }
  if (typeof value !== 'string') throw new StoreCorruptError(`${where}: timestamp is not text`);
  return value;
}

/** Reads an integer column that the driver may hand back as a string (PostgreSQL int8) or bigint. */
export function toSafeInteger(value: unknown, where: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' || typeof value === 'bigint' ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new StoreCorruptError(`${where}: not a safe integer (${String(value)})`);
  return n;
}

export function deviceFromRow(row: DeviceRow): DeviceRecord {
  const where = `device ${JSON.stringify(row.endpoint)}`;
  const tags = parseJson(row.tags, `${where} tags`);
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw new StoreCorruptError(`${where}: tags is not an array of strings`);
  const attributes = parseJson(row.attributes, `${where} attributes`);
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
    throw new StoreCorruptError(`${where}: attributes is not an object`);
  }
  if (!OWNERSHIP_STATES.includes(row.ownership_state as OwnershipState)) {
    throw new StoreCorruptError(`${where}: unknown ownership state ${JSON.stringify(row.ownership_state)}`);
  }
  return {
    endpoint: row.endpoint,
    model: row.model,
    firmwareVersion: row.firmware_version,
    tags: tags as string[],
    ownershipState: row.ownership_state as OwnershipState,
    attributes: attributes as Record<string, unknown>,
    createdAt: toIso(row.created_at, `${where} created_at`),
    updatedAt: toIso(row.updated_at, `${where} updated_at`),
  };
}

export function credentialFromRow(row: CredentialRow): DeviceCredential {
  return {
    endpoint: row.endpoint,
    kind: row.kind as CredentialKind,
    lookup: row.lookup,
    // A fresh Uint8Array: callers get neither a driver Buffer nor a view into a shared pool.
    material: new Uint8Array(row.material),
    createdAt: toIso(row.created_at, `credential ${row.kind}:${JSON.stringify(row.lookup)} created_at`),
  };
}

/**
 * Audit rows are not shape-checked here beyond parsing: verify() must see exactly what is
 * stored, so that a damaged record is reported by the chain check with its seq.
 */
export function auditFromRow(row: AuditRow, forVerify = false): AuditRecord {
  const seq = toSafeInteger(row.seq, 'audit_log seq');
  let details: unknown;
  try {
    details = parseJson(row.details, `audit record ${seq} details`);
  } catch (err) {
    // verify() reports the record as malformed at its seq instead of aborting the walk.
    if (!forVerify) throw err;
    details = null;
  }
  return {
    seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    outcome: row.outcome as AuditRecord['outcome'],
    details: details as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
