/**
 * What both stores share for LwM2M registrations and bootstrap configurations: argument checks
 * and row → record conversion (rows are checked on the way out, as in rows.ts).
 */
import { InvalidArgumentError } from '../errors.js';
import { assertInteger, describeType } from '../util/assert.js';
import { StoreCorruptError } from './errors.js';
import { toSafeInteger } from './rows.js';
import type { BootstrapConfigRecord, RegistrationPatch, RegistrationRecord, RegistrationSecurity } from './types.js';
import { assertEndpoint, assertLabel, assertText, normalizeJsonObject, STORE_LIMITS } from './validate.js';

export const REGISTRATION_SECURITY: readonly RegistrationSecurity[] = ['psk', 'rpk', 'x509', 'nosec'];

/** Registration ids are what the server puts in a Location-Path segment. */
const REGISTRATION_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** The largest object-link payload kept (Register payloads are bounded by the server well below). */
const MAX_OBJECT_LINKS = 65_536;

export function assertRegistrationId(value: unknown, name = 'id'): asserts value is string {
  if (typeof value !== 'string' || !REGISTRATION_ID.test(value)) throw new InvalidArgumentError(name, 'expected 1..64 characters of [A-Za-z0-9_-]');
}

function assertIso(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw new InvalidArgumentError(name, `expected an ISO 8601 time, got ${describeType(value)}`);
}

function checkPatchFields(r: RegistrationPatch, name: string): void {
  if (r.lifetime !== undefined) assertInteger(r.lifetime, `${name}.lifetime`, 1, 2 ** 32 - 1);
  if (r.binding !== undefined) assertLabel(r.binding, `${name}.binding`, 16);
  if (r.queueMode !== undefined && typeof r.queueMode !== 'boolean') throw new InvalidArgumentError(`${name}.queueMode`, 'expected a boolean');
  if (r.smsNumber !== undefined && r.smsNumber !== null) assertLabel(r.smsNumber, `${name}.smsNumber`, 64);
  if (r.objectLinks !== undefined) assertText(r.objectLinks, `${name}.objectLinks`, 0, MAX_OBJECT_LINKS);
  if (r.peer !== undefined && r.peer !== null) assertLabel(r.peer, `${name}.peer`, STORE_LIMITS.label);
  if (r.updatedAt !== undefined) assertIso(r.updatedAt, `${name}.updatedAt`);
  if (r.expiresAt !== undefined) assertIso(r.expiresAt, `${name}.expiresAt`);
}

/** Checks a whole registration and returns a copy holding only the known fields. */
export function normalizeRegistration(value: unknown, name = 'registration'): RegistrationRecord {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(name, `expected an object, got ${describeType(value)}`);
  const r = value as RegistrationRecord;
  assertRegistrationId(r.id, `${name}.id`);
  assertEndpoint(r.endpoint, `${name}.endpoint`);
  assertLabel(r.lwm2mVersion, `${name}.lwm2mVersion`, 16);
  if (!REGISTRATION_SECURITY.includes(r.security)) throw new InvalidArgumentError(`${name}.security`, `expected one of ${REGISTRATION_SECURITY.join(', ')}`);
  assertIso(r.registeredAt, `${name}.registeredAt`);
  for (const k of ['lifetime', 'binding', 'queueMode', 'smsNumber', 'objectLinks', 'peer', 'updatedAt', 'expiresAt'] as const) {
    if (r[k] === undefined) throw new InvalidArgumentError(`${name}.${k}`, 'is required');
  }
  checkPatchFields(r, name);
  return {
    id: r.id,
    endpoint: r.endpoint,
    lifetime: r.lifetime,
    lwm2mVersion: r.lwm2mVersion,
    binding: r.binding,
    queueMode: r.queueMode,
    smsNumber: r.smsNumber,
    objectLinks: r.objectLinks,
    security: r.security,
    peer: r.peer,
    registeredAt: new Date(r.registeredAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
  };
}

export function normalizeRegistrationPatch(value: unknown, name = 'patch'): RegistrationPatch {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(name, `expected an object, got ${describeType(value)}`);
  const p = value as RegistrationPatch;
  checkPatchFields(p, name);
  const out: RegistrationPatch = {};
  if (p.lifetime !== undefined) out.lifetime = p.lifetime;
  if (p.binding !== undefined) out.binding = p.binding;
  if (p.queueMode !== undefined) out.queueMode = p.queueMode;
  if (p.smsNumber !== undefined) out.smsNumber = p.smsNumber;
  if (p.objectLinks !== undefined) out.objectLinks = p.objectLinks;
  if (p.peer !== undefined) out.peer = p.peer;
  if (p.updatedAt !== undefined) out.updatedAt = new Date(p.updatedAt).toISOString();
  if (p.expiresAt !== undefined) out.expiresAt = new Date(p.expiresAt).toISOString();
  return out;
}

export function normalizeListOptions(options: unknown): { after: string | undefined; limit: number } {
  if (options === undefined) return { after: undefined, limit: STORE_LIMITS.defaultPageSize };
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', `expected an object, got ${describeType(options)}`);
  const o = options as { after?: unknown; limit?: unknown };
  if (o.after !== undefined) assertEndpoint(o.after, 'options.after');
  const limit = o.limit ?? STORE_LIMITS.defaultPageSize;
  assertInteger(limit, 'options.limit', 1, STORE_LIMITS.maxPageSize);
  return { after: o.after as string | undefined, limit };
}

export function assertIsoTime(value: unknown, name: string): asserts value is string {
  assertIso(value, name);
}

export function normalizeBootstrapConfig(value: unknown, name = 'config'): Record<string, unknown> {
  return normalizeJsonObject(value, name);
}

/** The patchable fields and the column each one is stored in, the same in both dialects. */
export const REGISTRATION_PATCH_COLUMNS: ReadonlyArray<readonly [keyof RegistrationPatch, string]> = [
  ['lifetime', 'lifetime'],
  ['binding', 'binding'],
  ['queueMode', 'queue_mode'],
  ['smsNumber', 'sms_number'],
  ['objectLinks', 'object_links'],
  ['peer', 'peer'],
  ['updatedAt', 'updated_at'],
  ['expiresAt', 'expires_at'],
];

export interface RegistrationRow {
  id: string;
  endpoint: string;
  lifetime: number | string;
  lwm2m_version: string;
  binding: string;
  queue_mode: number | boolean;
  sms_number: string | null;
  object_links: string;
  security: string;
  peer: string | null;
  registered_at: string | Date;
  updated_at: string | Date;
  expires_at: string | Date;
}

function iso(value: string | Date, where: string): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw new StoreCorruptError(`${where}: invalid timestamp`);
  return d.toISOString();
}

export function registrationFromRow(row: RegistrationRow): RegistrationRecord {
  const where = `registration ${JSON.stringify(row.id)}`;
  if (!REGISTRATION_SECURITY.includes(row.security as RegistrationSecurity)) throw new StoreCorruptError(`${where}: unknown security ${JSON.stringify(row.security)}`);
  return {
    id: row.id,
    endpoint: row.endpoint,
    lifetime: toSafeInteger(row.lifetime, `${where} lifetime`),
    lwm2mVersion: row.lwm2m_version,
    binding: row.binding,
    queueMode: row.queue_mode === true || row.queue_mode === 1,
    smsNumber: row.sms_number,
    objectLinks: row.object_links,
    security: row.security as RegistrationSecurity,
    peer: row.peer,
    registeredAt: iso(row.registered_at, `${where} registered_at`),
    updatedAt: iso(row.updated_at, `${where} updated_at`),
    expiresAt: iso(row.expires_at, `${where} expires_at`),
  };
}

export interface BootstrapConfigRow {
  endpoint: string;
  config: unknown;
  updated_at: string | Date;
}

export function bootstrapConfigFromRow(row: BootstrapConfigRow): BootstrapConfigRecord {
  const where = `bootstrap config ${JSON.stringify(row.endpoint)}`;
  let config: unknown = row.config;
  if (typeof config === 'string') {
    try {
      config = JSON.parse(config);
    } catch (err) {
      throw new StoreCorruptError(`${where}: stored JSON does not parse`, { cause: err });
    }
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new StoreCorruptError(`${where}: not an object`);
  return { endpoint: row.endpoint, config: config as Record<string, unknown>, updatedAt: iso(row.updated_at, `${where} updated_at`) };
}
