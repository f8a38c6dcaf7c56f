/**
 * What both stores share for the MASA tables: argument checks (both dialects refuse exactly the
 * same inputs) and row → record conversion (rows are checked on the way out, as in rows.ts).
 */
import { InvalidArgumentError } from '../errors.js';
import { assertInteger, describeType } from '../util/assert.js';
import { StoreCorruptError } from './errors.js';
import { toSafeInteger } from './rows.js';
import { MASA_NONCE_PURPOSES, type MasaClaimRecord, type MasaNoncePurpose, type MasaRequestLogEntry, type NewMasaClaim, type PendingMasaRelease } from './masa-types.js';
import { assertEndpoint, assertLabel, assertText } from './validate.js';

const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** The largest pinned-domain-cert kept (base64 of a 48 KiB certificate). */
const MAX_CERT_BASE64 = 65_536;

export function assertMasaSerial(value: unknown, name = 'serial'): asserts value is string {
  assertLabel(value, name, 64);
}

export function assertHex64(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !HEX64.test(value)) throw new InvalidArgumentError(name, 'expected 64 lowercase hex digits (SHA-256)');
}

function assertBase64(value: unknown, name: string, max: number): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max || !BASE64.test(value)) throw new InvalidArgumentError(name, `expected base64 of at most ${max} characters`);
}

/** An ISO 8601 time, returned in the one form both dialects compare the same way (toISOString). */
export function isoTime(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length > 64) throw new InvalidArgumentError(name, `expected an ISO 8601 time, got ${describeType(value)}`);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError(name, 'expected an ISO 8601 time');
  return new Date(t).toISOString();
}

function optionalIso(value: unknown, name: string): string | null {
  return value === null ? null : isoTime(value, name);
}

export function assertNoncePurpose(value: unknown, name = 'purpose'): asserts value is MasaNoncePurpose {
  if (!MASA_NONCE_PURPOSES.includes(value as MasaNoncePurpose)) throw new InvalidArgumentError(name, `expected one of ${MASA_NONCE_PURPOSES.join(', ')}`);
}

export function assertLimit(value: unknown, name = 'limit'): asserts value is number {
  assertInteger(value, name, 1, 10_000);
}

function refuseUnknown(value: object, known: readonly string[], name: string): void {
  for (const k of Object.keys(value)) if (!known.includes(k)) throw new InvalidArgumentError(`${name}.${k}`, 'unknown field');
}

export function normalizeNewClaim(value: unknown, name = 'claim'): NewMasaClaim {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(name, `expected an object, got ${describeType(value)}`);
  const c = value as NewMasaClaim;
  refuseUnknown(c, ['serial', 'owner', 'domainId', 'pinnedDomainCert', 'nonce', 'expiresAt'], name);
  assertMasaSerial(c.serial, `${name}.serial`);
  assertHex64(c.owner, `${name}.owner`);
  assertBase64(c.domainId, `${name}.domainId`, 128);
  assertBase64(c.pinnedDomainCert, `${name}.pinnedDomainCert`, MAX_CERT_BASE64);
  if (c.nonce !== null) assertBase64(c.nonce, `${name}.nonce`, 1024);
  if (c.expiresAt === undefined) throw new InvalidArgumentError(`${name}.expiresAt`, 'is required (null: no expiry)');
  return { serial: c.serial, owner: c.owner, domainId: c.domainId, pinnedDomainCert: c.pinnedDomainCert, nonce: c.nonce, expiresAt: optionalIso(c.expiresAt, `${name}.expiresAt`) };
}

export function normalizeRequestLogEntry(value: unknown, name = 'entry'): MasaRequestLogEntry {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(name, `expected an object, got ${describeType(value)}`);
  const e = value as MasaRequestLogEntry;
  refuseUnknown(e, ['serial', 'date', 'domainId', 'nonce', 'assertion'], name);
  assertMasaSerial(e.serial, `${name}.serial`);
  assertLabel(e.date, `${name}.date`, 64);
  assertBase64(e.domainId, `${name}.domainId`, 128);
  if (e.nonce !== null) assertBase64(e.nonce, `${name}.nonce`, 1024);
  assertLabel(e.assertion, `${name}.assertion`, 32);
  return { serial: e.serial, date: e.date, domainId: e.domainId, nonce: e.nonce, assertion: e.assertion };
}

export function normalizePendingRelease(value: unknown, name = 'release'): { serial: string; endpoint: string; masaUrl: string; lastError: string | null; nextAttemptAt: string } {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(name, `expected an object, got ${describeType(value)}`);
  const r = value as { serial: unknown; endpoint: unknown; masaUrl: unknown; lastError: unknown; nextAttemptAt: unknown };
  refuseUnknown(r, ['serial', 'endpoint', 'masaUrl', 'lastError', 'nextAttemptAt'], name);
  assertMasaSerial(r.serial, `${name}.serial`);
  assertEndpoint(r.endpoint, `${name}.endpoint`);
  assertMasaUrl(r.masaUrl, `${name}.masaUrl`);
  if (r.lastError !== null) assertText(r.lastError, `${name}.lastError`, 0, 1000);
  return { serial: r.serial, endpoint: r.endpoint, masaUrl: r.masaUrl, lastError: r.lastError as string | null, nextAttemptAt: isoTime(r.nextAttemptAt, `${name}.nextAttemptAt`) };
}

export function assertMasaUrl(value: unknown, name: string): asserts value is string {
  assertLabel(value, name, 2048);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(name, 'expected an https:// URL');
  }
  if (url.protocol !== 'https:') throw new InvalidArgumentError(name, 'expected an https:// URL');
}

export function assertLastError(value: unknown, name = 'lastError'): asserts value is string {
  assertText(value, name, 0, 1000);
}

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
