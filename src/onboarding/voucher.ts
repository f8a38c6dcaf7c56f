/**
 * The voucher (RFC 8366) and the voucher request (RFC 8995 §3) as data, and their JSON encoding
 * (RFC 7951 rules, as RFC 8366 §5.3 and RFC 8995 §3.4 use them): a single top-level member
 * "ietf-voucher:voucher" / "ietf-voucher-request:voucher", YANG binary leaves as base64 (RFC 4648
 * §4, padded), yang:date-and-time as RFC 3339 strings, booleans as JSON booleans.
 *
 * Parsing is strict on purpose — every voucher is attacker-reachable input on a security path:
 * unknown members, wrong types, bad base64, impossible dates and oversized fields are refused with
 * ERR_VOUCHER_MALFORMED, never passed on.
 */
import { InvalidArgumentError } from '../errors.js';
import { MalformedVoucherError } from './errors.js';

export type VoucherAssertion = 'verified' | 'logged' | 'proximity';
export const VOUCHER_ASSERTIONS: readonly VoucherAssertion[] = ['verified', 'logged', 'proximity'];

export const VOUCHER_MEMBER = 'ietf-voucher:voucher';
export const VOUCHER_REQUEST_MEMBER = 'ietf-voucher-request:voucher';

/** An RFC 8366 voucher. */
export interface Voucher {
  createdOn: Date;
  /** RFC 8366: absent when a nonce is present (`must 'not(../nonce)'`). */
  expiresOn?: Date;
  assertion: VoucherAssertion;
  serialNumber: string;
  /** The keyIdentifier of the pledge IDevID's AuthorityKeyIdentifier. */
  idevidIssuer?: Uint8Array;
  /** DER of the domain certificate the pledge must trust from now on. */
  pinnedDomainCert: Uint8Array;
  domainCertRevocationChecks?: boolean;
  nonce?: Uint8Array;
  lastRenewalDate?: Date;
}

/** An RFC 8995 voucher request (pledge → registrar, or registrar → MASA). */
export interface VoucherRequest {
  createdOn?: Date;
  expiresOn?: Date;
  assertion?: VoucherAssertion;
  serialNumber: string;
  idevidIssuer?: Uint8Array;
  pinnedDomainCert?: Uint8Array;
  domainCertRevocationChecks?: boolean;
  nonce?: Uint8Array;
  lastRenewalDate?: Date;
  /** Registrar → MASA: the pledge's CMS-signed request, verbatim (RFC 8995 §5.5). */
  priorSignedVoucherRequest?: Uint8Array;
  /** Pledge → registrar: the registrar's TLS end-entity certificate the pledge saw (§5.2). */
  proximityRegistrarCert?: Uint8Array;
}

export interface VoucherParseOptions {
  /** Largest encoded artifact accepted (default 64 KiB). */
  maxLength?: number;
}

export const VOUCHER_LIMITS = Object.freeze({
  maxLength: 65_536,
  serialNumber: 64,
  nonce: 64,
  idevidIssuer: 64,
  certificate: 16_384,
  priorSignedVoucherRequest: 32_768,
});

interface FieldSpec {
  key: keyof VoucherRequest;
  kind: 'date' | 'binary' | 'string' | 'boolean' | 'assertion';
  max?: number;
}

const COMMON_FIELDS: Record<string, FieldSpec> = {
  'created-on': { key: 'createdOn', kind: 'date' },
  'expires-on': { key: 'expiresOn', kind: 'date' },
  assertion: { key: 'assertion', kind: 'assertion' },
  'serial-number': { key: 'serialNumber', kind: 'string', max: VOUCHER_LIMITS.serialNumber },
  'idevid-issuer': { key: 'idevidIssuer', kind: 'binary', max: VOUCHER_LIMITS.idevidIssuer },
  'pinned-domain-cert': { key: 'pinnedDomainCert', kind: 'binary', max: VOUCHER_LIMITS.certificate },
  'domain-cert-revocation-checks': { key: 'domainCertRevocationChecks', kind: 'boolean' },
  nonce: { key: 'nonce', kind: 'binary', max: VOUCHER_LIMITS.nonce },
  'last-renewal-date': { key: 'lastRenewalDate', kind: 'date' },
};
const REQUEST_FIELDS: Record<string, FieldSpec> = {
  ...COMMON_FIELDS,
  'prior-signed-voucher-request': { key: 'priorSignedVoucherRequest', kind: 'binary', max: VOUCHER_LIMITS.priorSignedVoucherRequest },
  'proximity-registrar-cert': { key: 'proximityRegistrarCert', kind: 'binary', max: VOUCHER_LIMITS.certificate },
};

/** Member names whose YANG type is binary (base64 in JSON, a byte string in CBOR). */
export const BINARY_MEMBERS: ReadonlySet<string> = new Set(Object.entries(REQUEST_FIELDS).filter(([, f]) => f.kind === 'binary').map(([name]) => name));

const DATE_AND_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
// RFC 7951 §6.6 asks for padded base64; deployed MASAs and pledges (Minerva, see
// test/vectors/rfc8366) send it unpadded, so padding is optional here. The alphabet is not.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** yang:date-and-time (RFC 6991, RFC 3339 profile); seconds resolution unless the Date has ms. */
export function formatDateAndTime(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

function parseDate(value: string, name: string): Date {
  const m = DATE_AND_TIME.exec(value);
  if (m === null) throw new MalformedVoucherError(`${name}: not a yang:date-and-time`);
  const [, , mo, d, h, mi, s] = m.map(Number) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 60) throw new MalformedVoucherError(`${name}: date or time out of range`);
  const t = Date.parse(value.replace(/(\.\d{3})\d+/, '$1'));
  if (!Number.isFinite(t)) throw new MalformedVoucherError(`${name}: not a valid date`);
  return new Date(t);
}

function parseBinary(value: string, name: string, max: number): Uint8Array {
  if (value.length > Math.ceil(max / 3) * 4 || !BASE64.test(value)) throw new MalformedVoucherError(`${name}: not base64 of at most ${max} bytes`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

function parseArtifact(bytes: Uint8Array | string, member: string, fields: Record<string, FieldSpec>, options: VoucherParseOptions): Record<string, unknown> {
  const max = options.maxLength ?? VOUCHER_LIMITS.maxLength;
  let text: string;
  if (typeof bytes === 'string') text = bytes;
  else if (bytes instanceof Uint8Array) {
    if (bytes.length > max) throw new MalformedVoucherError(`longer than ${max} bytes`);
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (err) {
      throw new MalformedVoucherError('not UTF-8', { cause: err });
    }
  } else throw new InvalidArgumentError('bytes', 'expected a Uint8Array or string');
  if (text.length > max) throw new MalformedVoucherError(`longer than ${max} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new MalformedVoucherError('not JSON', { cause: err });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new MalformedVoucherError('not a JSON object');
  const top = Object.keys(doc);
  if (top.length !== 1 || top[0] !== member) throw new MalformedVoucherError(`expected exactly one member ${JSON.stringify(member)}`);
  const body = (doc as Record<string, unknown>)[member];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new MalformedVoucherError(`${member} is not an object`);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) {
    const spec = Object.hasOwn(fields, name) ? fields[name] : undefined;
    if (spec === undefined) throw new MalformedVoucherError(`unknown member ${JSON.stringify(name.slice(0, 64))}`);
    switch (spec.kind) {
      case 'boolean':
        if (typeof value !== 'boolean') throw new MalformedVoucherError(`${name}: expected a boolean`);
        out[spec.key] = value;
        break;
      case 'date':
        if (typeof value !== 'string') throw new MalformedVoucherError(`${name}: expected a string`);
        out[spec.key] = parseDate(value, name);
        break;
      case 'binary':
        if (typeof value !== 'string') throw new MalformedVoucherError(`${name}: expected a base64 string`);
        out[spec.key] = parseBinary(value, name, spec.max!);
        break;
      case 'assertion':
        if (typeof value !== 'string' || !(VOUCHER_ASSERTIONS as readonly string[]).includes(value)) throw new MalformedVoucherError(`${name}: expected one of ${VOUCHER_ASSERTIONS.join(', ')}`);
        out[spec.key] = value;
        break;
      case 'string':
        if (typeof value !== 'string' || value.length === 0 || value.length > spec.max!) throw new MalformedVoucherError(`${name}: expected a string of 1..${spec.max} characters`);
        out[spec.key] = value;
        break;
    }
  }
  if (typeof out.serialNumber !== 'string') throw new MalformedVoucherError('serial-number is mandatory');
  return out;
}

/** Parses and validates an RFC 8366 voucher (JSON). */
export function parseVoucher(bytes: Uint8Array | string, options: VoucherParseOptions = {}): Voucher {
  const v = parseArtifact(bytes, VOUCHER_MEMBER, COMMON_FIELDS, options) as Partial<Voucher>;
  // RFC 8366 §5.3: created-on, assertion, serial-number and pinned-domain-cert are mandatory.
  if (v.createdOn === undefined) throw new MalformedVoucherError('created-on is mandatory');
  if (v.assertion === undefined) throw new MalformedVoucherError('assertion is mandatory');
  if (v.pinnedDomainCert === undefined) throw new MalformedVoucherError('pinned-domain-cert is mandatory');
  // RFC 8366 §5.3, expires-on: must 'not(../nonce)'.
  if (v.expiresOn !== undefined && v.nonce !== undefined) throw new MalformedVoucherError('expires-on and nonce are mutually exclusive (RFC 8366 §5.3)');
  return v as Voucher;
}

/** Parses and validates an RFC 8995 voucher request (JSON). */
export function parseVoucherRequest(bytes: Uint8Array | string, options: VoucherParseOptions = {}): VoucherRequest {
  return parseArtifact(bytes, VOUCHER_REQUEST_MEMBER, REQUEST_FIELDS, options) as unknown as VoucherRequest;
}

function encodeArtifact(value: object, member: string, fields: Record<string, FieldSpec>): Uint8Array {
  const body: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(fields)) {
    const v = (value as Record<string, unknown>)[spec.key];
    if (v === undefined) continue;
    switch (spec.kind) {
      case 'date':
        if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new InvalidArgumentError(spec.key, 'expected a valid Date');
        body[name] = formatDateAndTime(v);
        break;
      case 'binary':
        if (!(v instanceof Uint8Array) || v.length > spec.max!) throw new InvalidArgumentError(spec.key, `expected a Uint8Array of at most ${spec.max} bytes`);
        body[name] = Buffer.from(v).toString('base64');
        break;
      case 'boolean':
        if (typeof v !== 'boolean') throw new InvalidArgumentError(spec.key, 'expected a boolean');
        body[name] = v;
        break;
      case 'assertion':
        if (!(VOUCHER_ASSERTIONS as readonly unknown[]).includes(v)) throw new InvalidArgumentError(spec.key, `expected one of ${VOUCHER_ASSERTIONS.join(', ')}`);
        body[name] = v;
        break;
      case 'string':
        if (typeof v !== 'string' || v.length === 0 || v.length > spec.max!) throw new InvalidArgumentError(spec.key, `expected a string of 1..${spec.max} characters`);
        body[name] = v;
        break;
    }
  }
  return new TextEncoder().encode(JSON.stringify({ [member]: body }));
}

/** Encodes a voucher as RFC 8366 JSON (checked the way parseVoucher checks it). */
export function encodeVoucher(voucher: Voucher): Uint8Array {
  if (voucher === null || typeof voucher !== 'object') throw new InvalidArgumentError('voucher', 'expected an object');
  for (const k of ['createdOn', 'assertion', 'serialNumber', 'pinnedDomainCert'] as const) {
    if (voucher[k] === undefined) throw new InvalidArgumentError(k, 'is mandatory in a voucher (RFC 8366 §5.3)');
  }
  if (voucher.expiresOn !== undefined && voucher.nonce !== undefined) throw new InvalidArgumentError('expiresOn', 'a voucher with a nonce carries no expires-on (RFC 8366 §5.3)');
  return encodeArtifact(voucher, VOUCHER_MEMBER, COMMON_FIELDS);
}

/** Encodes a voucher request as RFC 8995 JSON. */
export function encodeVoucherRequest(request: VoucherRequest): Uint8Array {
  if (request === null || typeof request !== 'object') throw new InvalidArgumentError('request', 'expected an object');
  if (request.serialNumber === undefined) throw new InvalidArgumentError('serialNumber', 'is mandatory');
  return encodeArtifact(request, VOUCHER_REQUEST_MEMBER, REQUEST_FIELDS);
}
