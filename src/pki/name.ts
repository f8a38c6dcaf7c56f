/**
 * Distinguished names: building an X.509 `Name` from a string ('CN=x,O=y,serialNumber=z'), an
 * object or RDN arrays, and turning a parsed `Name` back into the same forms.
 *
 * Strings are written in encoding order (most significant RDN first, as `openssl req -subj` and
 * OpenSSL's default printing do), not RFC 4514's reversed order; escaping follows RFC 4514 §2.4.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { InvalidArgumentError } from '../errors.js';
import { describeType } from '../util/assert.js';
import { bytesEqual, fromArrayBuffer, isAscii, toHex } from './der.js';

/** One attribute of a parsed or requested name. */
export interface DnAttribute {
  /** Keyword such as 'CN' when known, else the dotted OID. */
  type: string;
  oid: string;
  value: string;
}

/** One relative distinguished name: usually one attribute, several for 'CN=a+UID=b'. */
export type Rdn = DnAttribute[];

/**
 * What callers may pass as a name: a string, an object in insertion order
 * (`{ CN: 'x', O: 'y' }`), or RDN arrays (`[[{ type: 'CN', value: 'x' }]]`, as parsed views give).
 */
export type DistinguishedNameInput =
  | string
  | Readonly<Record<string, string>>
  | ReadonlyArray<ReadonlyArray<{ readonly type: string; readonly value: string }>>;

type StringKind = 'utf8' | 'printable' | 'ia5';

interface AttributeSpec {
  keyword: string;
  oid: string;
  kind: StringKind;
  /** Upper bound from RFC 5280 Appendix A (ub-*), where it sets one. */
  max: number;
}

const ATTRIBUTES: readonly AttributeSpec[] = [
  { keyword: 'CN', oid: '2.5.4.3', kind: 'utf8', max: 64 },
  { keyword: 'surname', oid: '2.5.4.4', kind: 'utf8', max: 32768 },
  // X.520 / RFC 5280 Appendix A: serialNumber and countryName are PrintableString.
  { keyword: 'serialNumber', oid: '2.5.4.5', kind: 'printable', max: 64 },
  { keyword: 'C', oid: '2.5.4.6', kind: 'printable', max: 2 },
  { keyword: 'L', oid: '2.5.4.7', kind: 'utf8', max: 128 },
  { keyword: 'ST', oid: '2.5.4.8', kind: 'utf8', max: 128 },
  { keyword: 'street', oid: '2.5.4.9', kind: 'utf8', max: 128 },
  { keyword: 'O', oid: '2.5.4.10', kind: 'utf8', max: 64 },
  { keyword: 'OU', oid: '2.5.4.11', kind: 'utf8', max: 64 },
  { keyword: 'title', oid: '2.5.4.12', kind: 'utf8', max: 64 },
  { keyword: 'givenName', oid: '2.5.4.42', kind: 'utf8', max: 32768 },
  // RFC 4519 / RFC 5280 §4.1.2.4: domainComponent and emailAddress are IA5String.
  { keyword: 'DC', oid: '0.9.2342.19200300.100.1.25', kind: 'ia5', max: 63 },
  { keyword: 'UID', oid: '0.9.2342.19200300.100.1.1', kind: 'utf8', max: 256 },
  { keyword: 'emailAddress', oid: '1.2.840.113549.1.9.1', kind: 'ia5', max: 255 },
];

const BY_KEYWORD = new Map(ATTRIBUTES.map((a) => [a.keyword.toLowerCase(), a]));
const BY_OID = new Map(ATTRIBUTES.map((a) => [a.oid, a]));
const OID = /^[0-2](?:\.(?:0|[1-9][0-9]{0,15}))+$/;
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function specFor(type: string, name: string): AttributeSpec {
  const known = BY_KEYWORD.get(type.toLowerCase()) ?? BY_OID.get(type);
  if (known !== undefined) return known;
  if (OID.test(type)) return { keyword: type, oid: type, kind: 'utf8', max: 32768 };
  throw new InvalidArgumentError(name, `unknown attribute type ${JSON.stringify(type)}`);
}

function buildAttribute(type: string, value: string, name: string): AttributeTypeAndValue {
  const spec = specFor(type, name);
  if (typeof value !== 'string') throw new InvalidArgumentError(name, `value of ${spec.keyword} must be a string, got ${describeType(value)}`);
  // RFC 5280 §4.1.2.4 DirectoryString is SIZE (1..MAX): empty attribute values are not allowed.
  if (value.length === 0) throw new InvalidArgumentError(name, `${spec.keyword} must not be empty`);
  if (value.length > spec.max) throw new InvalidArgumentError(name, `${spec.keyword} longer than ${spec.max} characters`);
  // A lone surrogate would silently become U+FFFD in the UTF8String.
  if (Buffer.from(value, 'utf8').toString('utf8') !== value) throw new InvalidArgumentError(name, `${spec.keyword} is not well-formed Unicode`);
  if (spec.kind === 'printable' && !PRINTABLE.test(value)) {
    throw new InvalidArgumentError(name, `${spec.keyword} must use PrintableString characters only`);
  }
  if (spec.kind === 'ia5' && !isAscii(value)) throw new InvalidArgumentError(name, `${spec.keyword} must be ASCII`);
  if (spec.oid === '2.5.4.6' && !/^[A-Z]{2}$/.test(value)) throw new InvalidArgumentError(name, 'C must be a two-letter ISO 3166 code');
  const v =
    spec.kind === 'printable'
      ? new AttributeValue({ printableString: value })
      : spec.kind === 'ia5'
        ? new AttributeValue({ ia5String: value })
        : new AttributeValue({ utf8String: value });
  return new AttributeTypeAndValue({ type: spec.oid, value: v });
}

const HEX2 = /^[0-9a-fA-F]{2}$/;

/** Splits on unescaped `sep`, keeping escapes for the next stage. */
function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length) {
      cur += ch + s[i + 1]!;
      i++;
    } else if (ch === sep) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

function unescapeValue(raw: string, name: string): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < raw.length) {
    const next = raw.indexOf('\\', i);
    if (next < 0) {
      parts.push(Buffer.from(raw.slice(i), 'utf8'));
      break;
    }
    // Plain runs are converted whole, so surrogate pairs are never split.
    parts.push(Buffer.from(raw.slice(i, next), 'utf8'));
    const hex = raw.slice(next + 1, next + 3);
    if (HEX2.test(hex)) {
      parts.push(Buffer.from([parseInt(hex, 16)]));
      i = next + 3;
    } else if (next + 1 < raw.length && ' "#+,;<=>\\'.includes(raw[next + 1]!)) {
      parts.push(Buffer.from(raw[next + 1]!, 'utf8'));
      i = next + 2;
    } else throw new InvalidArgumentError(name, 'bad escape in distinguished name');
  }
  const bytes = Buffer.concat(parts);
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw new InvalidArgumentError(name, 'hex escapes do not form UTF-8');
  return text;
}

/** Parses 'CN=x,O=y+OU=z' into RDNs (type/value pairs), in the order written. */
export function parseDistinguishedName(text: string, name = 'name'): Array<Array<{ type: string; value: string }>> {
  if (typeof text !== 'string') throw new InvalidArgumentError(name, `expected a string, got ${describeType(text)}`);
  if (text.trim().length === 0) return [];
  if (text.length > 8192) throw new InvalidArgumentError(name, 'distinguished name too long');
  return splitUnescaped(text, ',').map((rdnText) =>
    splitUnescaped(rdnText, '+').map((atv) => {
      const eq = atv.indexOf('=');
      if (eq <= 0) throw new InvalidArgumentError(name, `expected type=value, got ${JSON.stringify(atv.trim())}`);
      const type = atv.slice(0, eq).trim();
      let raw = atv.slice(eq + 1).trimStart();
      // Trailing spaces are separators' padding unless escaped ('x\ ' keeps its space).
      while (raw.endsWith(' ') && !raw.endsWith('\\ ')) raw = raw.slice(0, -1);
      if (raw.startsWith('#')) throw new InvalidArgumentError(name, 'hex-encoded (#...) attribute values are not supported');
      return { type, value: unescapeValue(raw, name) };
    }),
  );
}

/** Any accepted input form as RDN arrays of { type, value } (not yet validated). */
export function rdnsOf(input: DistinguishedNameInput, name = 'name'): ReadonlyArray<ReadonlyArray<{ readonly type: string; readonly value: string }>> {
  if (typeof input === 'string') return parseDistinguishedName(input, name);
  if (Array.isArray(input)) return input as ReadonlyArray<ReadonlyArray<{ type: string; value: string }>>;
  if (input !== null && typeof input === 'object') {
    return Object.entries(input as Record<string, string>).map(([type, value]) => [{ type, value }]);
  }
  throw new InvalidArgumentError(name, `expected a string, object or RDN array, got ${describeType(input)}`);
}

/** Builds the ASN.1 Name for any accepted input form. */
export function buildName(input: DistinguishedNameInput, name = 'name'): Name {
  const rdns = rdnsOf(input, name);
  if (rdns.length > 64) throw new InvalidArgumentError(name, 'too many RDNs');
  return new Name(
    rdns.map((rdn, i) => {
      if (!Array.isArray(rdn) || rdn.length === 0) throw new InvalidArgumentError(name, `RDN ${i} must be a non-empty array`);
      const atvs = rdn.map((atv) => {
        if (atv === null || typeof atv !== 'object' || typeof atv.type !== 'string') {
          throw new InvalidArgumentError(name, `RDN ${i}: expected { type, value }`);
        }
        return buildAttribute(atv.type, atv.value, name);
      });
      // X.690 §11.6: DER orders the members of a SET OF by their encodings.
      const sorted = atvs
        .map((a) => ({ a, der: Buffer.from(AsnConvert.serialize(a)) }))
        .sort((x, y) => Buffer.compare(x.der, y.der))
        .map((x) => x.a);
      return new RelativeDistinguishedName(sorted);
    }),
  );
}

function attributeValueText(v: AttributeValue): string {
  const s = v.utf8String ?? v.printableString ?? v.ia5String ?? v.teletexString ?? v.bmpString ?? v.universalString;
  if (s !== undefined) return s;
  if (v.anyValue !== undefined) return `#${toHex(fromArrayBuffer(v.anyValue))}`;
  return '';
}

/** The keyword ('CN', 'serialNumber', ...) for an attribute OID rootline names, if any. */
export function keywordOfOid(oid: string): string | undefined {
  return BY_OID.get(oid)?.keyword;
}

/** RDN arrays of a parsed Name. */
export function nameToRdns(n: Name): Rdn[] {
  // Array.from: plain arrays, not the schema library's Name/RDN subclasses (Array species).
  return Array.from(n, (rdn) =>
    Array.from(rdn, (atv) => ({
      type: BY_OID.get(atv.type)?.keyword ?? atv.type,
      oid: atv.type,
      value: attributeValueText(atv.value),
    })),
  );
}

function escapeValue(value: string): string {
  if (value.startsWith('#') && /^#[0-9a-f]*$/.test(value)) return value;
  let out = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  out = Array.from(out, (c) => (c.charCodeAt(0) < 0x20 ? `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join('');
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function assertRdns(rdns: unknown, name: string): asserts rdns is Rdn[] {
  if (!Array.isArray(rdns) || rdns.some((rdn) => !Array.isArray(rdn) || rdn.some((a) => a === null || typeof a !== 'object' || typeof a.type !== 'string' || typeof a.value !== 'string'))) {
    throw new InvalidArgumentError(name, `expected RDN arrays of { type, value }, got ${describeType(rdns)}`);
  }
}

/** 'CN=x,O=y' in encoding order; parseDistinguishedName reads it back to the same RDNs. */
export function formatRdns(rdns: readonly Rdn[]): string {
  assertRdns(rdns, 'rdns');
  return rdns.map((rdn) => rdn.map((a) => `${a.type}=${escapeValue(a.value)}`).join('+')).join(',');
}

/** The value of the first attribute with this keyword or OID, if any. */
export function findAttribute(rdns: readonly Rdn[], type: string): string | undefined {
  assertRdns(rdns, 'rdns');
  if (typeof type !== 'string' || type.length === 0) throw new InvalidArgumentError('type', `expected an attribute keyword or OID, got ${describeType(type)}`);
  const spec = BY_KEYWORD.get(type.toLowerCase());
  const oid = spec?.oid ?? type;
  for (const rdn of rdns) for (const a of rdn) if ((a.oid ?? BY_KEYWORD.get(a.type.toLowerCase())?.oid ?? a.type) === oid) return a.value;
  return undefined;
}

function normalise(rdns: readonly Rdn[]): string {
  // A simplified RFC 4518 string preparation: case-fold and collapse inner whitespace.
  return JSON.stringify(rdns.map((rdn) => rdn.map((a) => [a.oid, a.value.trim().replace(/\s+/g, ' ').toLowerCase()]).sort()));
}

/**
 * RFC 5280 §7.1 name matching, for chaining: binary equality of the encodings, or equality after
 * case folding and whitespace collapsing of each attribute value.
 */
export function namesMatch(a: { der: Uint8Array; rdns: readonly Rdn[] }, b: { der: Uint8Array; rdns: readonly Rdn[] }): boolean {
  return bytesEqual(a.der, b.der) || normalise(a.rdns) === normalise(b.rdns);
}

/** DER of a Name (internal; for chaining and AKI). */
export function nameDer(n: Name): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(n));
}
