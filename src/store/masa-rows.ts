/**
 * What both stores share for the MASA tables' rows: row → record conversion, checked on the way
 * out as in rows.ts (a row that cannot be read back is ERR_STORE_CORRUPT). The argument checks
 * are in masa-args.ts.
 */
import { StoreCorruptError } from './errors.js';
import { HEX64 } from './masa-args.js';
import { toSafeInteger } from './rows.js';
import type { MasaClaimRecord, MasaRequestLogEntry, PendingMasaRelease } from './masa-types.js';

type Time = string | Date;

function iso(value: Time, where: string): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw new StoreCorruptError(`${where}: invalid timestamp`);
  return d.toISOString();
}

export interface MasaClaimRow {
  serial: string;
  owner: string;
  domain_id: string;
  pinned_domain_cert: string;
  nonce: string | null;
  claimed_at: Time;
  expires_at: Time | null;
  released_at: Time | null;
}

export function claimFromRow(row: MasaClaimRow): MasaClaimRecord {
  const where = `MASA claim ${JSON.stringify(row.serial)}`;
  if (!HEX64.test(row.owner)) throw new StoreCorruptError(`${where}: owner is not a SHA-256`);
  return {
    serial: row.serial,
    owner: row.owner,
    domainId: row.domain_id,
    pinnedDomainCert: row.pinned_domain_cert,
    nonce: row.nonce,
    claimedAt: iso(row.claimed_at, `${where} claimed_at`),
    expiresAt: row.expires_at === null ? null : iso(row.expires_at, `${where} expires_at`),
    releasedAt: row.released_at === null ? null : iso(row.released_at, `${where} released_at`),
  };
}

export interface MasaRequestLogRow {
  serial: string;
  date: string;
  domain_id: string;
  nonce: string | null;
  assertion: string;
}

export function requestLogFromRow(row: MasaRequestLogRow): MasaRequestLogEntry {
  return { serial: row.serial, date: row.date, domainId: row.domain_id, nonce: row.nonce, assertion: row.assertion };
}

export interface PendingReleaseRow {
  serial: string;
  endpoint: string;
  masa_url: string;
  attempts: number | string;
  last_error: string | null;
  created_at: Time;
  next_attempt_at: Time;
}

export function pendingReleaseFromRow(row: PendingReleaseRow): PendingMasaRelease {
  const where = `pending MASA release ${JSON.stringify(row.serial)}`;
  return {
    serial: row.serial,
    endpoint: row.endpoint,
    masaUrl: row.masa_url,
    attempts: toSafeInteger(row.attempts, `${where} attempts`),
    lastError: row.last_error,
    createdAt: iso(row.created_at, `${where} created_at`),
    nextAttemptAt: iso(row.next_attempt_at, `${where} next_attempt_at`),
  };
}
