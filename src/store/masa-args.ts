/**
 * The argument checks of the MASA repository, in one place for both stores. `masaArgs` has an
 * entry per MasaRepository method: it takes the method's arguments as the caller passed them,
 * refuses what the contract refuses (ERR_INVALID_ARGUMENT naming the argument, checked in
 * argument order) and returns them in the form both dialects compare the same way (times as
 * toISOString). The stores call it first — before their closed check and before the database —
 * so SQLite and PostgreSQL refuse exactly the same inputs, with the same error first.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertInteger, describeType } from '../util/assert.js';
import { MASA_NONCE_PURPOSES, type MasaNoncePurpose, type MasaRequestLogEntry, type NewMasaClaim } from './masa-types.js';
import { assertEndpoint, assertLabel, assertText } from './validate.js';

export const HEX64 = /^[0-9a-f]{64}$/;
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

/** useNonce's checked arguments. */
export interface NonceUseArgs {
  serial: string;
  purpose: MasaNoncePurpose;
  nonceHash: string;
  expiresAt: string | null;
  now: string;
}

export const masaArgs = {
  claim(claim: unknown, now: unknown): { claim: NewMasaClaim; now: string } {
    return { claim: normalizeNewClaim(claim), now: isoTime(now, 'now') };
  },

  /** getClaim, getPendingRelease, deletePendingRelease. */
  serial(serial: unknown): string {
    assertMasaSerial(serial);
    return serial;
  },

  release(serial: unknown, owner: unknown, now: unknown): { serial: string; owner: string; now: string } {
    assertMasaSerial(serial);
    assertHex64(owner, 'owner');
    return { serial, owner, now: isoTime(now, 'now') };
  },

  forceRelease(serial: unknown, now: unknown): { serial: string; now: string } {
    assertMasaSerial(serial);
    return { serial, now: isoTime(now, 'now') };
  },

  useNonce(serial: unknown, purpose: unknown, nonceHash: unknown, expiresAt: unknown, now: unknown): NonceUseArgs {
    assertMasaSerial(serial);
    assertNoncePurpose(purpose);
    assertHex64(nonceHash, 'nonceHash');
    const expires = expiresAt === null ? null : isoTime(expiresAt, 'expiresAt');
    return { serial, purpose, nonceHash, expiresAt: expires, now: isoTime(now, 'now') };
  },

  useNonceAndClaim(nonce: unknown, claim: unknown, now: unknown): { nonce: NonceUseArgs; claim: NewMasaClaim; now: string } {
    if (typeof nonce !== 'object' || nonce === null) throw new InvalidArgumentError('nonce', `expected an object, got ${describeType(nonce)}`);
    refuseUnknown(nonce, ['purpose', 'nonceHash', 'expiresAt'], 'nonce');
    const c = normalizeNewClaim(claim);
    const n = nonce as { purpose?: unknown; nonceHash?: unknown; expiresAt?: unknown };
    if (n.expiresAt === undefined) throw new InvalidArgumentError('nonce.expiresAt', 'is required (null: kept for ever)');
    return { nonce: masaArgs.useNonce(c.serial, n.purpose, n.nonceHash, n.expiresAt, now), claim: c, now: isoTime(now, 'now') };
  },

  purgeExpiredNonces(now: unknown): { now: string } {
    return { now: isoTime(now, 'now') };
  },

  appendRequestLog(entry: unknown): MasaRequestLogEntry {
    return normalizeRequestLogEntry(entry);
  },

  requestLog(serial: unknown, limit: unknown): { serial: string; limit: number } {
    assertMasaSerial(serial);
    assertLimit(limit);
    return { serial, limit };
  },

  putPendingRelease(release: unknown): ReturnType<typeof normalizePendingRelease> {
    return normalizePendingRelease(release);
  },

  duePendingReleases(now: unknown, limit: unknown): { now: string; limit: number } {
    const at = isoTime(now, 'now');
    assertLimit(limit);
    return { now: at, limit };
  },

  retryPendingReleaseLater(serial: unknown, lastError: unknown, nextAttemptAt: unknown): { serial: string; lastError: string; nextAttemptAt: string } {
    assertMasaSerial(serial);
    assertLastError(lastError);
    return { serial, lastError, nextAttemptAt: isoTime(nextAttemptAt, 'nextAttemptAt') };
  },
};
