/**
 * PEM (RFC 7468) encoding and strict decoding. A file may hold several blocks (a certificate
 * chain); text outside the blocks is ignored, as RFC 7468 §2 asks ("parsers MUST NOT malfunction
 * when processing such data"), but everything inside a block must be clean base64.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger, assertString, describeType } from '../util/assert.js';
import { MalformedPemError } from './errors.js';

export interface PemBlock {
  /** The label between "BEGIN " and "-----", e.g. "CERTIFICATE". */
  label: string;
  der: Uint8Array;
}

export interface ParsePemOptions {
  /** Refuse text with more blocks than this (default 256). */
  maxBlocks?: number;
  /** Refuse text longer than this many characters (default 16 MiB). */
  maxLength?: number;
}

// RFC 7468 §3: label = [ labelchar *( ["-" / SP] labelchar ) ], labelchar = %x21-2C / %x2E-7E.
const LABEL = /^(?:[\x21-\x2c\x2e-\x7e](?:[- ]?[\x21-\x2c\x2e-\x7e])*)?$/;
const BEGIN = /^-----BEGIN (.*)-----$/;
const END = /^-----END (.*)-----$/;
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

function assertLabel(label: unknown, name: string): asserts label is string {
  assertString(label, name, { min: 0, max: 128 });
  if (!LABEL.test(label)) throw new InvalidArgumentError(name, 'not a valid RFC 7468 label');
}

/** Encodes one DER object as a PEM block with 64-character lines (RFC 7468 §2 "stricttextualmsg"). */
export function encodePem(label: string, der: Uint8Array): string {
  assertLabel(label, 'label');
  assertBytes(der, 'der', { min: 1 });
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines: string[] = [`-----BEGIN ${label}-----`];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  lines.push(`-----END ${label}-----`, '');
  return lines.join('\n');
}

/** Encodes several DER objects under one label, one block after another (a chain file). */
export function encodePemChain(label: string, ders: readonly Uint8Array[]): string {
  if (!Array.isArray(ders) || ders.length === 0) throw new InvalidArgumentError('ders', 'expected a non-empty array');
  ders.forEach((d, i) => assertBytes(d, `ders[${i}]`, { min: 1 }));
  return ders.map((d) => encodePem(label, d)).join('');
}

function textOf(input: unknown, maxLength: number): string {
  let text: string;
  if (typeof input === 'string') text = input;
  else if (input instanceof Uint8Array) {
    if (input.length > maxLength) throw new MalformedPemError(`input longer than ${maxLength} bytes`);
    text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1');
  } else throw new InvalidArgumentError('text', `expected a string or Uint8Array, got ${describeType(input)}`);
  if (text.length > maxLength) throw new MalformedPemError(`input longer than ${maxLength} characters`);
  return text;
}

function decodeBase64Strict(b64: string, label: string): Uint8Array {
  if (b64.length === 0) throw new MalformedPemError(`empty ${label} block`);
  if (!BASE64_CHARS.test(b64) || b64.length % 4 !== 0) {
    throw new MalformedPemError(`${label} block is not valid base64`);
  }
  const bytes = Buffer.from(b64, 'base64');
  // Re-encoding catches non-zero pad bits and anything Buffer silently skipped.
  if (bytes.toString('base64') !== b64) throw new MalformedPemError(`${label} block is not canonical base64`);
  return new Uint8Array(bytes);
}

/** Parses every PEM block in `text`; at least one must be present. */
export function parsePem(text: string | Uint8Array, options: ParsePemOptions = {}): PemBlock[] {
  const maxBlocks = options.maxBlocks ?? 256;
  const maxLength = options.maxLength ?? 16 * 1024 * 1024;
  assertInteger(maxBlocks, 'options.maxBlocks', 1);
  assertInteger(maxLength, 'options.maxLength', 1);
  const src = textOf(text, maxLength);
  const blocks: PemBlock[] = [];
  let open: { label: string; body: string[] } | undefined;
  for (const rawLine of src.split(/\r\n|\r|\n/)) {
    const line = rawLine.replace(/[ \t]+$/, '');
    if (open === undefined) {
      const begin = BEGIN.exec(line.trimStart());
      if (begin !== null) {
        const label = begin[1]!;
        if (!LABEL.test(label)) throw new MalformedPemError('invalid label in BEGIN line');
        if (blocks.length >= maxBlocks) throw new MalformedPemError(`more than ${maxBlocks} PEM blocks`);
        open = { label, body: [] };
      } else if (END.test(line.trimStart())) {
        throw new MalformedPemError('END line without a BEGIN line');
      }
      continue;
    }
    const end = END.exec(line.trimStart());
    if (end !== null) {
      if (end[1] !== open.label) {
        throw new MalformedPemError(`END label ${JSON.stringify(end[1])} does not match BEGIN label ${JSON.stringify(open.label)}`);
      }
      blocks.push({ label: open.label, der: decodeBase64Strict(open.body.join(''), open.label) });
      open = undefined;
      continue;
    }
    if (BEGIN.test(line.trimStart())) throw new MalformedPemError('BEGIN line inside a block');
    // RFC 7468 §2: encapsulated headers (RFC 1421 "Proc-Type:", "DEK-Info:") are not part of
    // this format; an encrypted legacy key is something we refuse rather than misread.
    if (line.includes(':')) throw new MalformedPemError('encapsulated headers are not supported');
    open.body.push(line.replace(/[ \t]/g, ''));
  }
  if (open !== undefined) throw new MalformedPemError(`no END line for ${JSON.stringify(open.label)}`);
  if (blocks.length === 0) throw new MalformedPemError('no PEM block found');
  return blocks;
}

/** Decodes text that must hold exactly one PEM block, with the given label. */
export function decodePem(text: string | Uint8Array, label: string): Uint8Array {
  assertLabel(label, 'label');
  const blocks = parsePem(text, { maxBlocks: 1 });
  const block = blocks[0]!;
  if (block.label !== label) {
    throw new MalformedPemError(`expected a ${JSON.stringify(label)} block, got ${JSON.stringify(block.label)}`);
  }
  return block.der;
}

/** Decodes text that holds one or more blocks, all with the given label (a chain file). */
export function decodePemChain(text: string | Uint8Array, label: string, options: ParsePemOptions = {}): Uint8Array[] {
  assertLabel(label, 'label');
  return parsePem(text, options).map((b) => {
    if (b.label !== label) throw new MalformedPemError(`expected ${JSON.stringify(label)} blocks, got ${JSON.stringify(b.label)}`);
    return b.der;
  });
}

const PEM_PREFIX = '-----BEGIN ';

/**
 * Internal: accepts DER bytes, or PEM as a string or as bytes, and returns DER. Used by every
 * parser that takes "a certificate" so callers need not care which form they hold.
 */
export function derFrom(input: unknown, name: string, label: string): Uint8Array {
  if (typeof input === 'string') return decodePem(input, label);
  if (!(input instanceof Uint8Array)) throw new InvalidArgumentError(name, `expected DER bytes or a PEM string, got ${describeType(input)}`);
  if (input.length >= PEM_PREFIX.length && Buffer.from(input.subarray(0, 64)).toString('latin1').trimStart().startsWith(PEM_PREFIX)) {
    return decodePem(input, label);
  }
  return input;
}
