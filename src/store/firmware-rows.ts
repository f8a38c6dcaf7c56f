/**
 * Argument checks and row mapping for the firmware tables, shared by both stores so that SQLite
 * and PostgreSQL refuse the same inputs and hand back identical records. Times are ISO text in
 * both dialects (as the campaign tables), so the value read back is the one written.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger, describeType } from '../util/assert.js';
import { StoreConflictError, StoreCorruptError } from './errors.js';
import type { FirmwareImageQuery, FirmwareImageRecord, NewFirmwareImage } from './firmware-types.js';
import { toSafeInteger } from './rows.js';
import { assertLabel, normalizeJsonObject } from './validate.js';

export const FIRMWARE_LIMITS = { manifest: 1_048_576, version: 128, listDefault: 100, listMax: 1000 } as const;

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function assertSha256Hex(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) throw new InvalidArgumentError(name, 'expected 64 lower-case hex characters');
}

export function assertVendorModel(vendor: unknown, model: unknown): void {
  assertLabel(vendor, 'vendor');
  assertLabel(model, 'model');
}

export function normalizeNewFirmwareImage(image: NewFirmwareImage): Required<NewFirmwareImage> {
  if (typeof image !== 'object' || image === null) throw new InvalidArgumentError('image', `expected an object, got ${describeType(image)}`);
  assertLabel(image.id, 'image.id');
  assertLabel(image.vendor, 'image.vendor');
  assertLabel(image.model, 'image.model');
  assertLabel(image.version, 'image.version', FIRMWARE_LIMITS.version);
  assertInteger(image.sequence, 'image.sequence', 1);
  assertInteger(image.size, 'image.size', 0);
  assertSha256Hex(image.sha256, 'image.sha256');
  assertBytes(image.manifest, 'image.manifest', { min: 1, max: FIRMWARE_LIMITS.manifest });
  const attributes = normalizeJsonObject(image.attributes ?? {}, 'image.attributes');
  return { ...image, manifest: new Uint8Array(image.manifest), attributes };
}

export function normalizeFirmwareQuery(query: FirmwareImageQuery | undefined): { vendor?: string; model?: string; limit: number; offset: number } {
  if (query === undefined) return { limit: FIRMWARE_LIMITS.listDefault, offset: 0 };
  if (typeof query !== 'object' || query === null) throw new InvalidArgumentError('query', `expected an object, got ${describeType(query)}`);
  if (query.vendor !== undefined) assertLabel(query.vendor, 'query.vendor');
  if (query.model !== undefined) assertLabel(query.model, 'query.model');
  const limit = query.limit ?? FIRMWARE_LIMITS.listDefault;
  assertInteger(limit, 'query.limit', 1, FIRMWARE_LIMITS.listMax);
  const offset = query.offset ?? 0;
  assertInteger(offset, 'query.offset', 0);
  const out: { vendor?: string; model?: string; limit: number; offset: number } = { limit, offset };
  if (query.vendor !== undefined) out.vendor = query.vendor;
  if (query.model !== undefined) out.model = query.model;
  return out;
}

/** What both stores throw when an insert hits the id or the (vendor, model, version/sequence) uniqueness. */
export function firmwareConflictError(i: Required<NewFirmwareImage>, cause: unknown): StoreConflictError {
  return new StoreConflictError(`firmware ${JSON.stringify(i.vendor)}/${JSON.stringify(i.model)} ${JSON.stringify(i.version)} (id ${i.id}, sequence ${i.sequence}) conflicts with a stored image`, { cause });
}

export interface FirmwareRow {
  id: string;
  vendor: string;
  model: string;
  version: string;
  sequence: number | string | bigint;
  size: number | string | bigint;
  sha256: string;
  manifest: Uint8Array;
  /** JSON text (SQLite) or parsed (PostgreSQL jsonb). */
  attributes: unknown;
  created_at: string;
}

export function firmwareFromRow(row: FirmwareRow): FirmwareImageRecord {
  const where = `firmware image ${JSON.stringify(row.id)}`;
  let attributes: unknown = row.attributes;
  if (typeof attributes === 'string') {
    try {
      attributes = JSON.parse(attributes);
    } catch (err) {
      throw new StoreCorruptError(`${where}: attributes do not parse`, { cause: err });
    }
  }
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw new StoreCorruptError(`${where}: attributes is not an object`);
  if (!SHA256_HEX.test(row.sha256)) throw new StoreCorruptError(`${where}: sha256 is not 64 hex characters`);
  return {
    id: row.id,
    vendor: row.vendor,
    model: row.model,
    version: row.version,
    sequence: toSafeInteger(row.sequence, `${where} sequence`),
    size: toSafeInteger(row.size, `${where} size`),
    sha256: row.sha256,
    // A fresh Uint8Array: callers get neither a driver Buffer nor a view into a shared pool.
    manifest: new Uint8Array(row.manifest),
    attributes: attributes as Record<string, unknown>,
    createdAt: row.created_at,
  };
}
