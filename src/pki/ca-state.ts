/**
 * The state a CertificateAuthority keeps: a plain JSON-serialisable object the caller persists
 * (the store room owns databases; this room never touches one). Save `ca.state` after every
 * issue, revoke or CRL.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertInteger, assertString, describeType } from '../util/assert.js';

/** RFC 5280 §5.3.1 CRLReason values a CA may record (removeFromCRL belongs to delta CRLs only). */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
] as const;

export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** CRLReason ENUMERATED codes (RFC 5280 §5.3.1); 7 is unused. */
export const REASON_CODES: Readonly<Record<RevocationReason | 'removeFromCRL', number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

export interface IssuedRecord {
  subject: string;
  /** ISO 8601. */
  notAfter: string;
}

export interface RevocationRecord {
  reason: RevocationReason;
  /** ISO 8601. */
  revokedAt: string;
}

export interface CaState {
  version: 1;
  /** The CA's own certificate, PEM. */
  certificate: string;
  /** Certificates above this CA (PEM), nearest issuer first, the root last; empty for a root. */
  chain: string[];
  /** Every serial this CA has issued (canonical lowercase hex), including its own if self-signed. */
  issued: Record<string, IssuedRecord>;
  /** Revoked serials. */
  revoked: Record<string, RevocationRecord>;
  /** The last CRL number used; 0 before the first CRL. */
  crlNumber: number;
}

const SERIAL = /^[0-9a-f]{2,42}$/;

function isoDate(v: unknown, name: string): void {
  assertString(v, name);
  if (Number.isNaN(Date.parse(v))) throw new InvalidArgumentError(name, 'expected an ISO 8601 date');
}

/** Checks a CaState read back from storage (shape only; the certificate is checked on open). */
export function assertCaState(value: unknown, name: string): asserts value is CaState {
  if (value === null || typeof value !== 'object') throw new InvalidArgumentError(name, `expected a CA state object, got ${describeType(value)}`);
  const s = value as Partial<CaState>;
  if (s.version !== 1) throw new InvalidArgumentError(`${name}.version`, 'expected 1');
  assertString(s.certificate, `${name}.certificate`);
  if (!Array.isArray(s.chain)) throw new InvalidArgumentError(`${name}.chain`, 'expected an array of PEM strings');
  s.chain.forEach((c, i) => assertString(c, `${name}.chain[${i}]`));
  assertInteger(s.crlNumber, `${name}.crlNumber`, 0);
  for (const field of ['issued', 'revoked'] as const) {
    const map = s[field];
    if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new InvalidArgumentError(`${name}.${field}`, 'expected an object keyed by serial');
    for (const [serial, rec] of Object.entries(map)) {
      if (!SERIAL.test(serial)) throw new InvalidArgumentError(`${name}.${field}`, `bad serial ${JSON.stringify(serial)}`);
      if (rec === null || typeof rec !== 'object') throw new InvalidArgumentError(`${name}.${field}.${serial}`, 'expected an object');
    }
  }
  for (const [serial, rec] of Object.entries(s.issued!)) {
    assertString(rec.subject, `${name}.issued.${serial}.subject`, { min: 0 });
    isoDate(rec.notAfter, `${name}.issued.${serial}.notAfter`);
  }
  for (const [serial, rec] of Object.entries(s.revoked!)) {
    if (!REVOCATION_REASONS.includes(rec.reason)) throw new InvalidArgumentError(`${name}.revoked.${serial}.reason`, 'unknown reason');
    isoDate(rec.revokedAt, `${name}.revoked.${serial}.revokedAt`);
    if (s.issued![serial] === undefined) throw new InvalidArgumentError(`${name}.revoked.${serial}`, 'revoked serial was never issued');
  }
}

/**
 * One change to a CaState, as a CertificateAuthority opened with `{ trackChanges: true }` hands
 * them out (`takeChanges()`), so a caller can persist each change in O(1) — an append-only
 * journal — instead of the whole state (every serial ever issued) after each issuance.
 * Applying a change is idempotent: replaying a journal over a snapshot that already holds some of
 * its changes gives the same state.
 */
export type CaChange =
  | { op: 'issue'; serial: string; subject: string; notAfter: string }
  | { op: 'revoke'; serial: string; reason: RevocationReason; revokedAt: string }
  | { op: 'crl'; crlNumber: number };

/** Checks one change record read back from storage (shape only). */
export function assertCaChange(value: unknown, name: string): asserts value is CaChange {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError(name, `expected a CA change object, got ${describeType(value)}`);
  const c = value as Record<string, unknown>;
  const keys = Object.keys(c).sort().join(',');
  switch (c.op) {
    case 'issue':
      if (keys !== 'notAfter,op,serial,subject') throw new InvalidArgumentError(name, 'an issue record has exactly op, serial, subject, notAfter');
      if (typeof c.serial !== 'string' || !SERIAL.test(c.serial)) throw new InvalidArgumentError(`${name}.serial`, 'bad serial');
      assertString(c.subject, `${name}.subject`, { min: 0 });
      isoDate(c.notAfter, `${name}.notAfter`);
      return;
    case 'revoke':
      if (keys !== 'op,reason,revokedAt,serial') throw new InvalidArgumentError(name, 'a revoke record has exactly op, serial, reason, revokedAt');
      if (typeof c.serial !== 'string' || !SERIAL.test(c.serial)) throw new InvalidArgumentError(`${name}.serial`, 'bad serial');
      if (!REVOCATION_REASONS.includes(c.reason as RevocationReason)) throw new InvalidArgumentError(`${name}.reason`, 'unknown reason');
      isoDate(c.revokedAt, `${name}.revokedAt`);
      return;
    case 'crl':
      if (keys !== 'crlNumber,op') throw new InvalidArgumentError(name, 'a crl record has exactly op, crlNumber');
      assertInteger(c.crlNumber, `${name}.crlNumber`, 0);
      return;
    default:
      throw new InvalidArgumentError(`${name}.op`, 'expected issue, revoke or crl');
  }
}

/**
 * Applies `change` to `state` in place (idempotently: an issued record is set, a revocation kept
 * as first recorded, the CRL number never lowered). Check the result with assertCaState.
 */
export function applyCaChange(state: CaState, change: CaChange): void {
  switch (change.op) {
    case 'issue':
      state.issued[change.serial] = { subject: change.subject, notAfter: change.notAfter };
      return;
    case 'revoke':
      state.revoked[change.serial] ??= { reason: change.reason, revokedAt: change.revokedAt };
      return;
    case 'crl':
      state.crlNumber = Math.max(state.crlNumber, change.crlNumber);
      return;
  }
}
