/**
 * Argument checks shared by both store implementations. They run before any SQL, so SQLite and
 * PostgreSQL reject exactly the same inputs with the same InvalidArgumentError — and nothing the
 * two databases would store differently gets in: PostgreSQL refuses U+0000 in text and jsonb, and
 * a lone UTF-16 surrogate cannot be encoded as UTF-8 at all, so both are refused up front instead
 * of being silently mangled by one driver and not the other.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger, assertOneOf, assertString, describeType } from '../util/assert.js';
import {
  OWNERSHIP_STATES,
  type AuditEntry,
  type AuditOutcome,
  type CredentialKind,
  type DevicePatch,
  type DeviceQuery,
  type NewDevice,
  type OwnershipState,
} from './types.js';

export const CREDENTIAL_KINDS: readonly CredentialKind[] = ['psk', 'rpk', 'x509'];
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['allow', 'deny', 'success', 'failure'];

/** Limits on what one record may hold; generous for real devices, small enough to bound a row. */
export const STORE_LIMITS = {
  endpoint: 255,
  label: 255,
  tag: 128,
  tags: 64,
  subject: 1024,
  lookup: 1024,
  credentialMaterial: 65_536,
  settingKey: 255,
  settingValue: 1_048_576,
  /** Serialized size of an attributes or details object, in UTF-16 code units. */
  jsonSize: 65_536,
  jsonDepth: 32,
  defaultPageSize: 100,
  maxPageSize: 1000,
} as const;

/** C0 controls, DEL and C1 controls: never part of a name an operator types or a device sends. */
function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}
/**
 * True when `s` holds a lone surrogate (a high one not followed by a low one, or a low one not
 * preceded by a high one): String.prototype.isWellFormed (ES2024, in Node 20), which answers
 * exactly that question without the look-around regular expression this used to run on every
 * checked string (a measurable part of each LwM2M Register's store write).
 */
function hasLoneSurrogate(s: string): boolean {
  return !(s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** A name: 1..max UTF-16 code units, no control characters, well-formed Unicode. */
export function assertLabel(value: unknown, name: string, max: number = STORE_LIMITS.label): asserts value is string {
  assertString(value, name, { min: 1, max });
  if (hasControlCharacter(value)) throw new InvalidArgumentError(name, 'must not contain control characters');
  if (hasLoneSurrogate(value)) throw new InvalidArgumentError(name, 'must be well-formed Unicode (lone surrogate)');
}

/** Free text: min..max code units, no U+0000, well-formed Unicode; other characters allowed. */
export function assertText(value: unknown, name: string, min: number, max: number): asserts value is string {
  assertString(value, name, { min, max });
  if (value.includes('\u0000')) throw new InvalidArgumentError(name, 'must not contain U+0000');
  if (hasLoneSurrogate(value)) throw new InvalidArgumentError(name, 'must be well-formed Unicode (lone surrogate)');
}

/** LwM2M endpoint client name: the device's primary key. */
export function assertEndpoint(value: unknown, name = 'endpoint'): asserts value is string {
  assertLabel(value, name, STORE_LIMITS.endpoint);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function copyJson(value: unknown, name: string, depth: number): unknown {
  if (depth > STORE_LIMITS.jsonDepth) throw new InvalidArgumentError(name, `nested deeper than ${STORE_LIMITS.jsonDepth}`);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidArgumentError(name, `numbers must be finite, got ${value}`);
    // JSON has no negative zero; normalise now so the value read back equals the value stored.
    return value === 0 ? 0 : value;
  }
  if (typeof value === 'string') {
    assertText(value, name, 0, Number.MAX_SAFE_INTEGER);
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      if (item === undefined) throw new InvalidArgumentError(`${name}[${i}]`, 'undefined is not JSON');
      return copyJson(item, `${name}[${i}]`, depth + 1);
    });
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = value[key];
      // As JSON.stringify does: a property holding undefined is simply absent.
      if (item === undefined) continue;
      assertText(key, `${name} key`, 0, STORE_LIMITS.label);
      // defineProperty, not assignment: a key named "__proto__" must stay an ordinary property.
      Object.defineProperty(out, key, {
        value: copyJson(item, `${name}.${key}`, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  throw new InvalidArgumentError(name, `expected JSON data, got ${describeType(value)}`);
}

/**
 * Checks that `value` is a plain JSON object within the limits and returns a normalised deep
 * copy (what JSON.parse(JSON.stringify(value)) would give), so later changes by the caller
 * cannot alter what was validated.
 */
export function normalizeJsonObject(value: unknown, name: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new InvalidArgumentError(name, `expected a plain object, got ${describeType(value)}`);
  const copy = copyJson(value, name, 1) as Record<string, unknown>;
  const size = JSON.stringify(copy).length;
  if (size > STORE_LIMITS.jsonSize) throw new InvalidArgumentError(name, `serialises to ${size} characters, limit ${STORE_LIMITS.jsonSize}`);
  return copy;
}

function assertObject(value: unknown, name: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(name, `expected an object, got ${describeType(value)}`);
  }
}

function optionalLabel(value: unknown, name: string): string | null {
  if (value === null) return null;
  assertLabel(value, name);
  return value;
}

function normalizeTags(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError(name, `expected an array of strings, got ${describeType(value)}`);
  if (value.length > STORE_LIMITS.tags) throw new InvalidArgumentError(name, `at most ${STORE_LIMITS.tags} tags`);
  const seen = new Set<string>();
  value.forEach((tag, i) => {
    assertLabel(tag, `${name}[${i}]`, STORE_LIMITS.tag);
    if (seen.has(tag)) throw new InvalidArgumentError(`${name}[${i}]`, `duplicate tag ${JSON.stringify(tag)}`);
    seen.add(tag);
  });
  return [...value] as string[];
}

export interface NormalizedDevice {
  endpoint: string;
  model: string | null;
  firmwareVersion: string | null;
  tags: string[];
  ownershipState: OwnershipState;
  attributes: Record<string, unknown>;
}

const DEVICE_FIELDS = new Set(['endpoint', 'model', 'firmwareVersion', 'tags', 'ownershipState', 'attributes']);

function rejectUnknownFields(value: Record<string, unknown>, name: string, allowed: ReadonlySet<string>): void {
  for (const key of Object.keys(value)) {
    // A misspelt field would otherwise be dropped without a word (one holding undefined says nothing).
    if (!allowed.has(key) && value[key] !== undefined) throw new InvalidArgumentError(`${name}.${key}`, 'unknown field');
  }
}

/** Validates a NewDevice and fills in the defaults. */
export function normalizeNewDevice(device: unknown, name = 'device'): NormalizedDevice {
  assertObject(device, name);
  rejectUnknownFields(device, name, DEVICE_FIELDS);
  const d = device as Partial<NewDevice>;
  assertEndpoint(d.endpoint, `${name}.endpoint`);
  const state = d.ownershipState ?? 'RESET';
  assertOneOf(state, `${name}.ownershipState`, OWNERSHIP_STATES);
  return {
    endpoint: d.endpoint,
    model: d.model === undefined ? null : optionalLabel(d.model, `${name}.model`),
    firmwareVersion: d.firmwareVersion === undefined ? null : optionalLabel(d.firmwareVersion, `${name}.firmwareVersion`),
    tags: d.tags === undefined ? [] : normalizeTags(d.tags, `${name}.tags`),
    ownershipState: state,
    attributes: d.attributes === undefined ? {} : normalizeJsonObject(d.attributes, `${name}.attributes`),
  };
}

/** Validates a DevicePatch; only the fields present (not undefined) are returned. */
export function normalizeDevicePatch(patch: unknown, name = 'patch'): DevicePatch {
  assertObject(patch, name);
  if ('endpoint' in patch && patch.endpoint !== undefined) throw new InvalidArgumentError(`${name}.endpoint`, 'the endpoint cannot be changed');
  rejectUnknownFields(patch, name, DEVICE_FIELDS);
  const p = patch as DevicePatch;
  const out: DevicePatch = {};
  if (p.model !== undefined) out.model = optionalLabel(p.model, `${name}.model`);
  if (p.firmwareVersion !== undefined) out.firmwareVersion = optionalLabel(p.firmwareVersion, `${name}.firmwareVersion`);
  if (p.tags !== undefined) out.tags = normalizeTags(p.tags, `${name}.tags`);
  if (p.ownershipState !== undefined) {
    assertOneOf(p.ownershipState, `${name}.ownershipState`, OWNERSHIP_STATES);
    out.ownershipState = p.ownershipState;
  }
  if (p.attributes !== undefined) out.attributes = normalizeJsonObject(p.attributes, `${name}.attributes`);
  return out;
}

const AUDITED_UPDATE_FIELDS: ReadonlySet<string> = new Set(['expectedState']);

/** The arguments of Store.updateDeviceAudited, checked in the order both stores report them. */
export function normalizeAuditedDeviceUpdate(
  endpoint: unknown,
  patch: unknown,
  audit: unknown,
  options: unknown,
): { endpoint: string; patch: DevicePatch; entry: NormalizedAuditEntry; expectedState: OwnershipState | undefined } {
  assertEndpoint(endpoint);
  const p = normalizeDevicePatch(patch);
  const entry = normalizeAuditEntry(audit, 'audit');
  let expectedState: OwnershipState | undefined;
  if (options !== undefined) {
    assertObject(options, 'options');
    rejectUnknownFields(options, 'options', AUDITED_UPDATE_FIELDS);
    const o = options as { expectedState?: unknown };
    if (o.expectedState !== undefined) {
      assertOneOf(o.expectedState, 'options.expectedState', OWNERSHIP_STATES);
      expectedState = o.expectedState as OwnershipState;
    }
  }
  return { endpoint, patch: p, entry, expectedState };
}

export interface NormalizedQuery {
  search?: string;
  model?: string;
  tag?: string;
  ownershipState?: OwnershipState;
  limit: number;
  after?: string;
}

const QUERY_FIELDS = new Set(['search', 'model', 'tag', 'ownershipState', 'limit', 'after']);

/** Validates a DeviceQuery; `limit` defaults to STORE_LIMITS.defaultPageSize. */
export function normalizeDeviceQuery(query: unknown, name = 'query'): NormalizedQuery {
  if (query === undefined) return { limit: STORE_LIMITS.defaultPageSize };
  assertObject(query, name);
  rejectUnknownFields(query, name, QUERY_FIELDS);
  const q = query as DeviceQuery;
  const out: NormalizedQuery = { limit: STORE_LIMITS.defaultPageSize };
  if (q.search !== undefined) {
    assertLabel(q.search, `${name}.search`, STORE_LIMITS.endpoint);
    out.search = q.search;
  }
  if (q.model !== undefined) {
    assertLabel(q.model, `${name}.model`);
    out.model = q.model;
  }
  if (q.tag !== undefined) {
    assertLabel(q.tag, `${name}.tag`, STORE_LIMITS.tag);
    out.tag = q.tag;
  }
  if (q.ownershipState !== undefined) {
    assertOneOf(q.ownershipState, `${name}.ownershipState`, OWNERSHIP_STATES);
    out.ownershipState = q.ownershipState;
  }
  if (q.limit !== undefined) {
    assertInteger(q.limit, `${name}.limit`, 1, STORE_LIMITS.maxPageSize);
    out.limit = q.limit;
  }
  if (q.after !== undefined) {
    assertEndpoint(q.after, `${name}.after`);
    out.after = q.after;
  }
  return out;
}

export function assertCredentialKind(value: unknown, name = 'kind'): asserts value is CredentialKind {
  assertOneOf(value, name, CREDENTIAL_KINDS);
}

export function assertLookup(value: unknown, name = 'lookup'): asserts value is string {
  assertText(value, name, 1, STORE_LIMITS.lookup);
}

export interface NormalizedCredential {
  endpoint: string;
  kind: CredentialKind;
  lookup: string;
  material: Uint8Array;
}

/** Validates the credentials of createWithCredentials, binding each to `endpoint`. */
export function normalizeCredentialList(endpoint: string, credentials: unknown, name = 'credentials'): NormalizedCredential[] {
  if (!Array.isArray(credentials)) throw new InvalidArgumentError(name, `expected an array, got ${describeType(credentials)}`);
  if (credentials.length > STORE_LIMITS.tags) throw new InvalidArgumentError(name, `at most ${STORE_LIMITS.tags} credentials`);
  return credentials.map((c, i) => {
    assertObject(c, `${name}[${i}]`);
    if (c.endpoint !== undefined && c.endpoint !== endpoint) throw new InvalidArgumentError(`${name}[${i}].endpoint`, 'must be the device being created');
    return normalizeCredential({ ...c, endpoint }, `${name}[${i}]`);
  });
}

/** Validates a credential and copies its material (the caller may reuse its buffer). */
export function normalizeCredential(credential: unknown, name = 'credential'): NormalizedCredential {
  assertObject(credential, name);
  rejectUnknownFields(credential, name, new Set(['endpoint', 'kind', 'lookup', 'material']));
  const c = credential as Partial<NormalizedCredential>;
  assertEndpoint(c.endpoint, `${name}.endpoint`);
  assertCredentialKind(c.kind, `${name}.kind`);
  assertLookup(c.lookup, `${name}.lookup`);
  assertBytes(c.material, `${name}.material`, { min: 0, max: STORE_LIMITS.credentialMaterial });
  return { endpoint: c.endpoint, kind: c.kind, lookup: c.lookup, material: new Uint8Array(c.material) };
}

export function assertSettingKey(value: unknown, name = 'key'): asserts value is string {
  assertLabel(value, name, STORE_LIMITS.settingKey);
}

export function assertSettingValue(value: unknown, name = 'value'): asserts value is string {
  assertText(value, name, 0, STORE_LIMITS.settingValue);
}

export interface NormalizedAuditEntry {
  actor: string;
  action: string;
  subject: string;
  outcome: AuditOutcome;
  details: Record<string, unknown>;
}

/** Validates an AuditEntry; details default to {} and are normalised as JSON. */
export function normalizeAuditEntry(entry: unknown, name = 'entry'): NormalizedAuditEntry {
  assertObject(entry, name);
  rejectUnknownFields(entry, name, new Set(['actor', 'action', 'subject', 'outcome', 'details']));
  const e = entry as Partial<AuditEntry>;
  assertLabel(e.actor, `${name}.actor`);
  assertLabel(e.action, `${name}.action`);
  assertLabel(e.subject, `${name}.subject`, STORE_LIMITS.subject);
  assertOneOf(e.outcome, `${name}.outcome`, AUDIT_OUTCOMES);
  const details = e.details === undefined ? {} : normalizeJsonObject(e.details, `${name}.details`);
  return { actor: e.actor, action: e.action, subject: e.subject, outcome: e.outcome, details };
}

export interface NormalizedAuditListOptions {
  after: number;
  limit: number;
  subject?: string;
  action?: string;
}

export function normalizeAuditListOptions(options: unknown, name = 'options'): NormalizedAuditListOptions {
  const out: NormalizedAuditListOptions = { after: 0, limit: STORE_LIMITS.defaultPageSize };
  if (options === undefined) return out;
  assertObject(options, name);
  rejectUnknownFields(options, name, new Set(['after', 'limit', 'subject', 'action']));
  const o = options as Partial<NormalizedAuditListOptions>;
  if (o.after !== undefined) {
    assertInteger(o.after, `${name}.after`, 0);
    out.after = o.after;
  }
  if (o.limit !== undefined) {
    assertInteger(o.limit, `${name}.limit`, 1, STORE_LIMITS.maxPageSize);
    out.limit = o.limit;
  }
  if (o.subject !== undefined) {
    assertLabel(o.subject, `${name}.subject`, STORE_LIMITS.subject);
    out.subject = o.subject;
  }
  if (o.action !== undefined) {
    assertLabel(o.action, `${name}.action`);
    out.action = o.action;
  }
  return out;
}
