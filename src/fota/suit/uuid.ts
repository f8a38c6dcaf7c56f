/**
 * Name-based UUIDs (RFC 9562 §5.5, version 5, SHA-1) as SUIT uses them for identifiers
 * (draft-ietf-suit-manifest §8.4.8.1): vendor ID = UUID5(DNS namespace, vendor domain name),
 * class ID = UUID5(vendor ID, class-specific information such as the model name).
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../errors.js';
import { assertBytes, assertString } from '../../util/assert.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The DNS namespace UUID of RFC 9562 §6.6 (6ba7b810-9dad-11d1-80b4-00c04fd430c8). */
export const UUID_NAMESPACE_DNS = new Uint8Array(Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex'));

/** 16 bytes from the textual form. */
export function parseUuid(text: string): Uint8Array {
  assertString(text, 'uuid', { pattern: UUID_PATTERN });
  return new Uint8Array(Buffer.from(text.replace(/-/g, ''), 'hex'));
}

/** Textual (lower-case, hyphenated) form of 16 bytes. */
export function formatUuid(bytes: Uint8Array): string {
  assertBytes(bytes, 'uuid', { len: 16 });
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** UUID version 5 of `name` (UTF-8) in `namespace`. */
export function uuidV5(namespace: Uint8Array, name: string | Uint8Array): Uint8Array {
  assertBytes(namespace, 'namespace', { len: 16 });
  if (typeof name !== 'string' && !(name instanceof Uint8Array)) throw new InvalidArgumentError('name', 'expected a string or bytes');
  const hash = createHash('sha1').update(namespace).update(name).digest();
  const out = new Uint8Array(hash.subarray(0, 16));
  out[6] = (out[6]! & 0x0f) | 0x50; // version 5
  out[8] = (out[8]! & 0x3f) | 0x80; // RFC 9562 variant
  return out;
}

/** The SUIT vendor ID for a vendor domain name. */
export function vendorIdFor(vendorDomain: string): Uint8Array {
  assertString(vendorDomain, 'vendorDomain', { max: 253 });
  return uuidV5(UUID_NAMESPACE_DNS, vendorDomain);
}

/** The SUIT class ID for a model (class-specific information) of a vendor. */
export function classIdFor(vendorId: Uint8Array, model: string): Uint8Array {
  assertString(model, 'model', { max: 255 });
  return uuidV5(vendorId, model);
}

/** Accepts 16 bytes or the textual form; used for option values. */
export function toUuidBytes(value: unknown, name: string): Uint8Array {
  if (typeof value === 'string') {
    if (!UUID_PATTERN.test(value)) throw new InvalidArgumentError(name, 'expected a UUID');
    return parseUuid(value);
  }
  assertBytes(value, name, { len: 16 });
  return value;
}
