/**
 * The audit log's hash chain, as pure functions: the stores use them to append and verify, and
 * the CLI (`rootline audit verify`) uses them on an exported log without any database.
 *
 * hash(record) = lowercase hex SHA-256 over the UTF-8 bytes of the RFC 8785 (JCS) canonical JSON
 * of {seq, at, actor, action, subject, outcome, details, prevHash}: object keys sorted by UTF-16
 * code units at every depth, no whitespace, strings and numbers as ECMAScript JSON.stringify
 * writes them. prevHash of record 1 is 64 zeros. See src/store/README.md for a worked example.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { describeType } from '../util/assert.js';
import type { AuditChainProblem, AuditRecord, AuditVerification } from './types.js';

/** prevHash of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** Records per verify() batch in the stores: memory stays bounded whatever the log's length. */
export const AUDIT_VERIFY_BATCH = 1000;

const HEX64 = /^[0-9a-f]{64}$/;
const OUTCOMES = new Set(['allow', 'deny', 'success', 'failure']);

/**
 * RFC 8785 canonical JSON of a JSON value (null, boolean, finite number, string, array, plain
 * object). Throws InvalidArgumentError on anything else, so a hash is never taken over a value
 * that would not survive a trip through JSON.
 */
export function canonicalJson(value: unknown, name = 'value'): string {
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(name, `numbers must be finite, got ${value}`);
    // RFC 8785 §3.2.2.3: the ECMAScript Number serialisation, which JSON.stringify implements (-0 → "0").
    return JSON.stringify(value);
  }
  // RFC 8785 §3.2.2.2: JSON.stringify's escaping is the canonical one.
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${name}[${i}]`)).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    // RFC 8785 §3.2.3: properties sorted by their names as arrays of UTF-16 code units, which is
    // what the default Array.prototype.sort comparison does.
    const keys = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k], `${name}.${k}`)}`).join(',')}}`;
  }
  throw new InvalidArgumentError(name, `not JSON: ${describeType(value)}`);
}

/** The exact string whose UTF-8 bytes are hashed for `record`. */
export function canonicalAuditRecord(record: Omit<AuditRecord, 'hash'>): string {
  const r = record as Partial<Record<keyof AuditRecord, unknown>>;
  // Every record the stores append or read back has this shape: the eight keys are then written
  // in their RFC 8785 order (UTF-16 code units: action, actor, at, details, outcome, prevHash,
  // seq, subject) without building and sorting the object — the same string canonicalJson gives
  // (a property test holds the two together). Anything else takes the general path below.
  if (
    typeof r.seq === 'number' && Number.isFinite(r.seq) && typeof r.at === 'string' && typeof r.actor === 'string' && typeof r.action === 'string'
    && typeof r.subject === 'string' && typeof r.outcome === 'string' && typeof r.prevHash === 'string' && r.details !== undefined
  ) {
    return `{"action":${JSON.stringify(r.action)},"actor":${JSON.stringify(r.actor)},"at":${JSON.stringify(r.at)},"details":${canonicalJson(r.details, 'record.details')},"outcome":${JSON.stringify(r.outcome)},"prevHash":${JSON.stringify(r.prevHash)},"seq":${JSON.stringify(r.seq)},"subject":${JSON.stringify(r.subject)}}`;
  }
  return canonicalJson(
    {
      seq: record.seq,
      at: record.at,
      actor: record.actor,
      action: record.action,
      subject: record.subject,
      outcome: record.outcome,
      details: record.details,
      prevHash: record.prevHash,
    },
    'record',
  );
}

/** Lowercase hex SHA-256 of the record's canonical form (its own `hash` field is not covered). */
export function hashAuditRecord(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(canonicalAuditRecord(record), 'utf8').digest('hex');
}

export type AuditChainFailure = Extract<AuditVerification, { ok: false }>;

function malformedReason(record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null) return `not an object (${describeType(record)})`;
  const r = record as Record<string, unknown>;
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 1) return 'seq is not a positive integer';
  for (const f of ['at', 'actor', 'action', 'subject'] as const) {
    if (typeof r[f] !== 'string') return `${f} is not a string`;
  }
  if (!OUTCOMES.has(r.outcome as string)) return 'outcome is not allow|deny|success|failure';
  if (typeof r.details !== 'object' || r.details === null || Array.isArray(r.details)) return 'details is not an object';
  if (typeof r.prevHash !== 'string' || !HEX64.test(r.prevHash)) return 'prevHash is not 64 lowercase hex digits';
  if (typeof r.hash !== 'string' || !HEX64.test(r.hash)) return 'hash is not 64 lowercase hex digits';
  return undefined;
}

/**
 * Checks records one at a time, oldest first, holding only the previous link — so a store can
 * stream a log of any length through it in batches. After the first failure it stops changing.
 */
export class AuditChainVerifier {
  #count = 0;
  #expectedSeq = 1;
  #lastHash = GENESIS_HASH;
  #failure: (AuditChainFailure & { problem: AuditChainProblem }) | undefined;

  /** Feeds the next record; returns the failure once the chain is broken, else undefined. */
  push(record: AuditRecord): AuditChainFailure | undefined {
    if (this.#failure !== undefined) return this.#failure;
    const malformed = malformedReason(record);
    if (malformed !== undefined) {
      const seq = typeof record?.seq === 'number' ? record.seq : this.#expectedSeq;
      return this.#fail(seq, 'malformed', `malformed record: ${malformed}`);
    }
    if (record.seq !== this.#expectedSeq) {
      const what = record.seq > this.#expectedSeq ? 'gap in seq' : 'seq out of order';
      return this.#fail(this.#expectedSeq, 'seq-gap', `${what}: expected seq ${this.#expectedSeq}, found ${record.seq}`);
    }
    if (record.prevHash !== this.#lastHash) {
      return this.#fail(record.seq, 'prev-hash-mismatch', `prev-hash mismatch: record ${record.seq} links to ${record.prevHash}, previous hash is ${this.#lastHash}`);
    }
    let computed: string;
    try {
      computed = hashAuditRecord(record);
    } catch (err) {
      return this.#fail(record.seq, 'malformed', `malformed record: ${(err as Error).message}`);
    }
    if (computed !== record.hash) {
      return this.#fail(record.seq, 'hash-mismatch', `hash mismatch: record ${record.seq} stores ${record.hash}, content hashes to ${computed}`);
    }
    this.#count += 1;
    this.#expectedSeq = record.seq + 1;
    this.#lastHash = record.hash;
    return undefined;
  }

  /**
   * Compares the end of the walked chain with the head a store keeps separately: a log whose
   * newest records were deleted is otherwise a perfectly valid, shorter chain.
   */
  checkHead(head: { seq: number; hash: string }): AuditChainFailure | undefined {
    if (this.#failure !== undefined) return this.#failure;
    const last = this.#expectedSeq - 1;
    if (head.seq === last && head.hash === this.#lastHash) return undefined;
    if (head.seq > last) {
      return this.#fail(last + 1, 'head-mismatch', `chain head mismatch: records end at seq ${last}, the head names seq ${head.seq} (records missing)`);
    }
    if (head.seq < last) {
      return this.#fail(head.seq + 1, 'head-mismatch', `chain head mismatch: record ${head.seq + 1} lies beyond the head (seq ${head.seq}); it was not appended through the store`);
    }
    return this.#fail(Math.max(last, 1), 'head-mismatch', `chain head mismatch: the head names hash ${head.hash} for seq ${head.seq}, the chain ends with ${this.#lastHash}`);
  }

  /**
   * Reports a record the store found past its head: it was written around the store (an append
   * through the store always moves the head in the same transaction).
   */
  recordBeyondHead(headSeq: number, foundSeq: number): AuditChainFailure {
    if (this.#failure !== undefined) return this.#failure;
    return this.#fail(headSeq + 1, 'head-mismatch', `chain head mismatch: record ${foundSeq} lies beyond the head (seq ${headSeq}); it was not appended through the store`);
  }

  /** The verdict so far. */
  result(): AuditVerification {
    if (this.#failure !== undefined) return this.#failure;
    return { ok: true, count: this.#count, lastHash: this.#lastHash };
  }

  /** Seq of the last record that verified (0 before any). */
  get lastSeq(): number {
    return this.#expectedSeq - 1;
  }

  #fail(brokenAt: number, problem: AuditChainProblem, reason: string): AuditChainFailure {
    this.#failure = { ok: false, count: this.#count, brokenAt, reason, problem };
    return this.#failure;
  }
}

/** Verifies a whole chain held in memory (or streamed from any iterable), oldest first. */
export function verifyAuditChain(records: Iterable<AuditRecord>): AuditVerification {
  if (records === null || typeof records !== 'object' || typeof (records as Iterable<AuditRecord>)[Symbol.iterator] !== 'function') {
    throw new InvalidArgumentError('records', `expected an iterable of audit records, got ${describeType(records)}`);
  }
  const verifier = new AuditChainVerifier();
  for (const record of records) {
    if (verifier.push(record) !== undefined) break;
  }
  return verifier.result();
}
