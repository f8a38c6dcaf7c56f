/**
 * X.509 v3 extensions (internal): encoding the ones the CA writes and decoding the ones the
 * parser exposes. RFC 5280 §4.2 requirements are quoted where they are enforced.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  ExtendedKeyUsage,
  Extension,
  GeneralName,
  KeyIdentifier,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { InvalidArgumentError } from '../errors.js';
import { describeType } from '../util/assert.js';
import { fromArrayBuffer, isAscii, readTlv, toArrayBuffer, toHex } from './der.js';
import { EXT_KEY_USAGE_NAMES, EXT_KEY_USAGE_OIDS, OID } from './oids.js';

export const KEY_USAGES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

/** RFC 5280 §4.2.1.3 KeyUsage bits, by name; bit n is KEY_USAGES[n]. */
export type KeyUsageName = (typeof KEY_USAGES)[number];

/** Subject alternative names the CA writes and the parser reports (RFC 5280 §4.2.1.6). */
export interface SubjectAltNames {
  dns?: string[];
  uri?: string[];
  /** IPv4 or IPv6 text form. */
  ip?: string[];
  email?: string[];
}

/** An extension given as OID + DER of the value inside extnValue (e.g. the BRSKI MASA URL). */
export interface ExtraExtension {
  oid: string;
  value: Uint8Array;
  critical?: boolean;
}

/** An extension as found in a parsed certificate, CSR or CRL. */
export interface ExtensionView {
  oid: string;
  critical: boolean;
  /** DER inside extnValue. */
  value: Uint8Array;
}

const OID_RE = /^[0-2](?:\.(?:0|[1-9][0-9]{0,15}))+$/;
const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*$`);

export function assertOid(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || !OID_RE.test(value)) throw new InvalidArgumentError(name, `expected a dotted OID, got ${describeType(value)}`);
}

export function extension(oid: string, critical: boolean, valueDer: Uint8Array | ArrayBuffer): Extension {
  const bytes = valueDer instanceof Uint8Array ? valueDer : new Uint8Array(valueDer);
  return new Extension({ extnID: oid, critical, extnValue: new OctetString(toArrayBuffer(bytes)) });
}

/** KeyUsage as a DER BIT STRING with trailing zero bits removed (X.690 §11.2.2 named bit lists). */
export function encodeKeyUsage(usages: readonly KeyUsageName[], name: string): Uint8Array {
  if (!Array.isArray(usages) || usages.length === 0) throw new InvalidArgumentError(name, 'expected a non-empty array of key usages');
  let bits = 0;
  for (const u of usages) {
    const i = KEY_USAGES.indexOf(u);
    if (i < 0) throw new InvalidArgumentError(name, `unknown key usage ${describeType(u)}`);
    bits |= 1 << i;
  }
  let highest = 0;
  for (let i = 0; i < KEY_USAGES.length; i++) if (bits & (1 << i)) highest = i;
  const nBytes = Math.floor(highest / 8) + 1;
  const content = new Uint8Array(nBytes);
  for (let i = 0; i < KEY_USAGES.length; i++) if (bits & (1 << i)) content[i >> 3]! |= 0x80 >> (i & 7);
  const unused = nBytes * 8 - 1 - highest;
  return Uint8Array.from([0x03, nBytes + 1, unused, ...content]);
}

export function decodeKeyUsage(der: Uint8Array): KeyUsageName[] {
  const tlv = readTlv(der, 0);
  if (typeof tlv === 'string' || tlv.tag !== 0x03 || tlv.end !== der.length || tlv.end - tlv.start < 1) {
    throw new Error('keyUsage is not a BIT STRING');
  }
  const unused = der[tlv.start]!;
  const bytes = der.subarray(tlv.start + 1, tlv.end);
  if (unused > 7 || (bytes.length === 0 && unused !== 0)) throw new Error('keyUsage has a bad unused-bits count');
  const out: KeyUsageName[] = [];
  for (let i = 0; i < KEY_USAGES.length && i < bytes.length * 8; i++) {
    if (bytes[i >> 3]! & (0x80 >> (i & 7))) out.push(KEY_USAGES[i]!);
  }
  return out;
}

export function encodeExtKeyUsage(purposes: readonly string[], name: string): Uint8Array {
  if (!Array.isArray(purposes) || purposes.length === 0) throw new InvalidArgumentError(name, 'expected a non-empty array');
  const oids = purposes.map((p, i) => {
    const oid = EXT_KEY_USAGE_OIDS[p] ?? p;
    assertOid(oid, `${name}[${i}]`);
    return oid;
  });
  return new Uint8Array(AsnConvert.serialize(new ExtendedKeyUsage([...new Set(oids)])));
}

/** Extended key usages, by name where known (serverAuth, clientAuth, ...), else OID. */
export function decodeExtKeyUsage(der: Uint8Array): string[] {
  return [...AsnConvert.parse(der, ExtendedKeyUsage)].map((oid) => EXT_KEY_USAGE_NAMES.get(oid) ?? oid);
}

export function encodeBasicConstraints(ca: boolean, pathLen: number | undefined): Uint8Array {
  const bc = new BasicConstraints({ cA: ca });
  if (pathLen !== undefined) bc.pathLenConstraint = pathLen;
  return new Uint8Array(AsnConvert.serialize(bc));
}

export function decodeBasicConstraints(der: Uint8Array): { ca: boolean; pathLen?: number } {
  const bc = AsnConvert.parse(der, BasicConstraints);
  const out: { ca: boolean; pathLen?: number } = { ca: bc.cA === true };
  if (bc.pathLenConstraint !== undefined) {
    if (!Number.isSafeInteger(bc.pathLenConstraint) || bc.pathLenConstraint < 0) throw new Error('bad pathLenConstraint');
    out.pathLen = bc.pathLenConstraint;
  }
  return out;
}

function assertAscii(v: string, name: string): void {
  // RFC 5280 §4.2.1.6: these forms are IA5String.
  if (!/^[\x21-\x7e]+$/.test(v)) throw new InvalidArgumentError(name, 'must be printable ASCII without spaces');
}

export function encodeSubjectAltNames(san: SubjectAltNames, name: string): Uint8Array | undefined {
  if (san === null || typeof san !== 'object') throw new InvalidArgumentError(name, `expected { dns, uri, ip, email }, got ${describeType(san)}`);
  const names: GeneralName[] = [];
  const list = (v: unknown, field: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new InvalidArgumentError(`${name}.${field}`, 'expected an array of strings');
    return v as string[];
  };
  for (const d of list(san.dns, 'dns')) {
    // RFC 5280 §4.2.1.6: dNSName "MUST be in the 'preferred name syntax', as specified by
    // Section 3.5 of [RFC1034]"; " " is not a legal dNSName.
    if (d.length > 253 || !DNS_NAME.test(d)) throw new InvalidArgumentError(`${name}.dns`, `${JSON.stringify(d)} is not a DNS name`);
    names.push(new GeneralName({ dNSName: d }));
  }
  for (const u of list(san.uri, 'uri')) {
    assertAscii(u, `${name}.uri`);
    // RFC 5280 §4.2.1.6: "The name MUST NOT be a relative URI".
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(u) || !URL.canParse(u)) throw new InvalidArgumentError(`${name}.uri`, `${JSON.stringify(u)} is not an absolute URI`);
    names.push(new GeneralName({ uniformResourceIdentifier: u }));
  }
  for (const ip of list(san.ip, 'ip')) {
    const v = isIP(ip);
    if (v === 0 || (v === 6 && ip.includes('.')) || ip.includes('%')) throw new InvalidArgumentError(`${name}.ip`, `${JSON.stringify(ip)} is not an IP address`);
    names.push(new GeneralName({ iPAddress: ip }));
  }
  for (const e of list(san.email, 'email')) {
    assertAscii(e, `${name}.email`);
    if (!/^[^@]+@[^@]+$/.test(e)) throw new InvalidArgumentError(`${name}.email`, `${JSON.stringify(e)} is not a mailbox`);
    names.push(new GeneralName({ rfc822Name: e }));
  }
  if (names.length === 0) return undefined;
  return new Uint8Array(AsnConvert.serialize(new SubjectAlternativeName(names)));
}

/** SAN forms we understand; other forms (otherName, directoryName, ...) are counted in `other`. */
export interface SubjectAltNamesView {
  dns: string[];
  uri: string[];
  ip: string[];
  email: string[];
  other: number;
}

function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    // RFC 5952 §4.2: compress the longest run (of two or more) of zero groups.
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== '0') {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (best < 0) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  }
  throw new Error(`iPAddress of ${bytes.length} bytes`);
}

export function decodeSubjectAltNames(der: Uint8Array): SubjectAltNamesView {
  const out: SubjectAltNamesView = { dns: [], uri: [], ip: [], email: [], other: 0 };
  // Walk the GeneralNames by hand: the IP form needs the raw octets, and unknown forms must not
  // make the whole certificate unreadable.
  const seq = readTlv(der, 0);
  if (typeof seq === 'string' || seq.tag !== 0x30 || seq.end !== der.length) throw new Error('subjectAltName is not a SEQUENCE');
  let p = seq.start;
  while (p < seq.end) {
    const gn = readTlv(der, p);
    if (typeof gn === 'string' || gn.end > seq.end) throw new Error('bad GeneralName');
    const content = der.subarray(gn.start, gn.end);
    const text = (): string => {
      if (!isAscii(Buffer.from(content).toString('latin1'))) throw new Error('IA5String with non-ASCII bytes');
      return Buffer.from(content).toString('latin1');
    };
    switch (gn.tag) {
      case 0x81:
        out.email.push(text());
        break;
      case 0x82:
        out.dns.push(text());
        break;
      case 0x86:
        out.uri.push(text());
        break;
      case 0x87:
        out.ip.push(ipText(content));
        break;
      default:
        out.other++;
    }
    p = gn.end;
  }
  return out;
}

/**
 * Key identifier for a public key: RFC 7093 §2 method 1, "the keyIdentifier is composed of the
 * leftmost 160-bits of the SHA-256 hash of the value of the BIT STRING subjectPublicKey
 * (excluding the tag, length, and number of unused bits)".
 */
export function keyIdentifierFor(subjectPublicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(subjectPublicKey).digest().subarray(0, 20));
}

export function encodeSubjectKeyIdentifier(keyId: Uint8Array): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new SubjectKeyIdentifier(toArrayBuffer(keyId))));
}

export function decodeSubjectKeyIdentifier(der: Uint8Array): string {
  return toHex(fromArrayBuffer(AsnConvert.parse(der, SubjectKeyIdentifier).buffer));
}

export function encodeAuthorityKeyIdentifier(keyId: Uint8Array): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(toArrayBuffer(keyId)) })));
}

/** The keyIdentifier field of an AKI (hex), if present. */
export function decodeAuthorityKeyIdentifier(der: Uint8Array): string | undefined {
  const aki = AsnConvert.parse(der, AuthorityKeyIdentifier);
  return aki.keyIdentifier === undefined ? undefined : toHex(fromArrayBuffer(aki.keyIdentifier.buffer));
}

/** RFC 8995 §2.3.2: `MASAURLSyntax ::= IA5String`, carried in id-pe-masa-url. */
export function masaUrlExtension(url: string): ExtraExtension {
  if (typeof url !== 'string' || url.length === 0 || url.length > 2048) throw new InvalidArgumentError('url', 'expected a non-empty string');
  assertAscii(url, 'url');
  const body = Buffer.from(url, 'latin1');
  const len = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return { oid: OID.masaUrl, critical: false, value: Uint8Array.from([0x16, ...len, ...body]) };
}

/** Reads the MASA URL out of an id-pe-masa-url extension value. */
export function decodeMasaUrl(der: Uint8Array): string {
  const tlv = readTlv(der, 0);
  if (typeof tlv === 'string' || tlv.tag !== 0x16 || tlv.end !== der.length) throw new Error('MASA URL is not an IA5String');
  const s = Buffer.from(der.subarray(tlv.start, tlv.end)).toString('latin1');
  if (!isAscii(s)) throw new Error('MASA URL is not ASCII');
  return s;
}

/**
 * Walks an Extensions list: rejects duplicates, decodes the ones `decoders` knows into `out`,
 * and returns every extension as a view.
 */
export function decodeExtensions<S>(
  list: ReadonlyArray<{ extnID: string; critical: boolean; extnValue: { buffer: ArrayBuffer } }> | undefined,
  out: S,
  decoders: Record<string, (der: Uint8Array, out: S) => void>,
  onFail: (m: string, cause?: unknown) => Error,
): ExtensionView[] {
  const seen = new Set<string>();
  const views: ExtensionView[] = [];
  for (const ext of list ?? []) {
    // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular
    // extension."
    if (seen.has(ext.extnID)) throw onFail(`duplicate extension ${ext.extnID}`);
    seen.add(ext.extnID);
    const value = fromArrayBuffer(ext.extnValue.buffer);
    const decode = decoders[ext.extnID];
    if (decode !== undefined) {
      try {
        decode(value, out);
      } catch (err) {
        throw onFail(`extension ${ext.extnID}: ${err instanceof Error ? err.message : String(err)}`, err);
      }
    }
    views.push({ oid: ext.extnID, critical: ext.critical === true, value });
  }
  return views;
}

