/**
 * The CoAP option registry (RFC 7252 §5.10, §12.2 and the RFCs that registered more) and typed
 * option values: `uint`, `string` (UTF-8), `opaque` and `empty` (RFC 7252 §3.2).
 */
import { CoapBadOptionValueError } from './errors.js';

export const OptionNumber = {
  IfMatch: 1,
  UriHost: 3,
  ETag: 4,
  IfNoneMatch: 5,
  Observe: 6,
  UriPort: 7,
  LocationPath: 8,
  OSCORE: 9,
  UriPath: 11,
  ContentFormat: 12,
  MaxAge: 14,
  UriQuery: 15,
  Accept: 17,
  LocationQuery: 20,
  Block2: 23,
  Block1: 27,
  Size2: 28,
  ProxyUri: 35,
  ProxyScheme: 39,
  Size1: 60,
  NoResponse: 258,
} as const;

export type OptionFormat = 'empty' | 'opaque' | 'uint' | 'string';

export interface OptionDefinition {
  number: number;
  name: string;
  format: OptionFormat;
  minLength: number;
  maxLength: number;
  repeatable: boolean;
}

function def(number: number, name: string, format: OptionFormat, minLength: number, maxLength: number, repeatable = false): OptionDefinition {
  return { number, name, format, minLength, maxLength, repeatable };
}

/** Every option this room recognises, with the format and length range of its registration. */
export const OPTION_DEFINITIONS: ReadonlyMap<number, OptionDefinition> = new Map(
  [
    def(1, 'If-Match', 'opaque', 0, 8, true),
    def(3, 'Uri-Host', 'string', 1, 255),
    def(4, 'ETag', 'opaque', 1, 8, true),
    def(5, 'If-None-Match', 'empty', 0, 0),
    def(6, 'Observe', 'uint', 0, 3), // RFC 7641 §2
    def(7, 'Uri-Port', 'uint', 0, 2),
    def(8, 'Location-Path', 'string', 0, 255, true),
    def(9, 'OSCORE', 'opaque', 0, 255), // RFC 8613 §2
    def(11, 'Uri-Path', 'string', 0, 255, true),
    def(12, 'Content-Format', 'uint', 0, 2),
    def(14, 'Max-Age', 'uint', 0, 4),
    def(15, 'Uri-Query', 'string', 0, 255, true),
    def(17, 'Accept', 'uint', 0, 2),
    def(20, 'Location-Query', 'string', 0, 255, true),
    def(23, 'Block2', 'uint', 0, 3), // RFC 7959 §2.1
    def(27, 'Block1', 'uint', 0, 3),
    def(28, 'Size2', 'uint', 0, 4),
    def(35, 'Proxy-Uri', 'string', 1, 1034),
    def(39, 'Proxy-Scheme', 'string', 1, 255),
    def(60, 'Size1', 'uint', 0, 4),
    def(258, 'No-Response', 'uint', 0, 1), // RFC 7967 §2
  ].map((d) => [d.number, d]),
);

/** One option as it travels: its number and raw value bytes. */
export interface CoapOption {
  number: number;
  value: Uint8Array;
}

/** RFC 7252 §5.4.1: odd option numbers are critical, even ones elective. */
export function isCritical(number: number): boolean {
  return (number & 1) === 1;
}

/** RFC 7252 §5.4.2: bit 1 set means unsafe to forward. */
export function isUnsafe(number: number): boolean {
  return (number & 2) === 2;
}

/** RFC 7252 §5.4.2: (number & 0x1e) == 0x1c means NoCacheKey. */
export function isNoCacheKey(number: number): boolean {
  return (number & 0x1e) === 0x1c;
}

/** Encodes a uint option value in the fewest bytes (RFC 7252 §3.2: zero is the empty value). */
export function encodeUint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) {
    throw new CoapBadOptionValueError(0, `uint value ${value} outside 0..2^32-1`);
  }
  // RFC 7252 §3.2: big-endian in as few bytes as needed (0 is the empty value).
  if (value < 0x100) {
    const one = new Uint8Array(value === 0 ? 0 : 1);
    if (value !== 0) one[0] = value;
    return one;
  }
  const n = value === 0 ? 0 : value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
  const out = new Uint8Array(n);
  let v = value;
  for (let i = n - 1; i >= 0; i--) {
    out[i] = v & 0xff;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Decodes a uint option value; RFC 7252 §3.2 allows leading zero bytes, which we accept. */
export function decodeUint(bytes: Uint8Array): number {
  if (bytes.length > 4) throw new CoapBadOptionValueError(0, `uint value of ${bytes.length} bytes`);
  let v = 0;
  for (const b of bytes) v = v * 256 + b;
  return v;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export function encodeString(value: string): Uint8Array {
  return utf8Encoder.encode(value);
}

/** Decodes a string option; invalid UTF-8 is a format error of that option. */
export function decodeString(bytes: Uint8Array, number = 0): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new CoapBadOptionValueError(number, 'not valid UTF-8');
  }
}

/**
 * Checks a recognised option against its registration. Returns a reason when it does not fit,
 * undefined when it does (and for unrecognised numbers, which are the caller's business).
 */
export function optionFormatProblem(option: CoapOption): string | undefined {
  const d = OPTION_DEFINITIONS.get(option.number);
  if (d === undefined) return undefined;
  const n = option.value.length;
  if (n < d.minLength || n > d.maxLength) return `${d.name} length ${n} outside ${d.minLength}..${d.maxLength}`;
  if (d.format === 'string') {
    try {
      utf8Decoder.decode(option.value);
    } catch {
      return `${d.name} is not valid UTF-8`;
    }
  }
  return undefined;
}

/** Option builders, so call sites read as the registry does. */
export function uintOption(number: number, value: number): CoapOption {
  return { number, value: encodeUint(value) };
}

export function stringOption(number: number, value: string): CoapOption {
  return { number, value: encodeString(value) };
}

export function opaqueOption(number: number, value: Uint8Array): CoapOption {
  return { number, value };
}

export function emptyOption(number: number): CoapOption {
  return { number, value: new Uint8Array(0) };
}

/** First value of an option, or undefined. */
export function getOption(options: readonly CoapOption[], number: number): Uint8Array | undefined {
  for (const o of options) if (o.number === number) return o.value;
  return undefined;
}

export function getOptions(options: readonly CoapOption[], number: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const o of options) if (o.number === number) out.push(o.value);
  return out;
}

export function getUintOption(options: readonly CoapOption[], number: number): number | undefined {
  const v = getOption(options, number);
  return v === undefined ? undefined : decodeUint(v);
}

export function getStringOptions(options: readonly CoapOption[], number: number): string[] {
  // One pass and one array (every request's Uri-Path and Uri-Query go through here).
  const out: string[] = [];
  for (const o of options) if (o.number === number) out.push(decodeString(o.value, number));
  return out;
}

export function hasOption(options: readonly CoapOption[], number: number): boolean {
  return options.some((o) => o.number === number);
}

/** A copy of `options` without any option numbered `number`. */
export function withoutOption(options: readonly CoapOption[], ...numbers: number[]): CoapOption[] {
  return options.filter((o) => !numbers.includes(o.number));
}
