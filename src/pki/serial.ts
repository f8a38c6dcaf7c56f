/** Certificate serial numbers (internal): generation and canonical hex form. */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { describeType } from '../util/assert.js';
import { positiveIntegerContent } from './der.js';

/**
 * A random positive 16-byte serial. RFC 5280 §4.1.2.2: "The serial number MUST be a positive
 * integer"; the top bit is cleared (positive) and the next one set (exactly 16 octets, never
 * zero), leaving 126 random bits, well above the 64 the CA/Browser Forum asks for.
 */
export function randomSerial(): Uint8Array {
  const s = randomBytes(16);
  s[0] = (s[0]! & 0x7f) | 0x40;
  return new Uint8Array(s);
}

/** Canonical serial hex: lowercase, even length, no leading zero octets. */
export function canonicalSerial(value: unknown, name: string): string {
  if (typeof value !== 'string' || !/^(?:0x)?[0-9a-fA-F]{1,42}$/.test(value)) {
    throw new InvalidArgumentError(name, `expected a hex serial number, got ${describeType(value)}`);
  }
  let hex = value.replace(/^0x/, '').toLowerCase().replace(/^0+/, '');
  if (hex.length % 2 === 1) hex = `0${hex}`;
  // RFC 5280 §4.1.2.2: positive, and "CAs MUST NOT use serialNumber values longer than 20 octets".
  if (hex.length === 0) throw new InvalidArgumentError(name, 'serial number must be positive');
  if (serialContent(hex).length > 20) throw new InvalidArgumentError(name, 'serial number longer than 20 octets');
  return hex;
}

/** INTEGER content octets for a canonical serial hex. */
export function serialContent(hex: string): Uint8Array {
  return positiveIntegerContent(new Uint8Array(Buffer.from(hex, 'hex')));
}
