/**
 * Internal: a hand-written reader for X.509 certificates (RFC 5280 §4.1) in the strict DER profile
 * rootline and common CAs write. It is a fast path in front of the schema library, not a second
 * judge: it answers only for certificates it reads completely, and gives up (`undefined`) on
 * anything outside its profile or anything wrong — the caller then runs the schema-library
 * parser, which accepts or refuses exactly as before and produces the same typed errors. So this
 * reader may give up more often than needed, but must never produce a view the schema-library
 * parser would not produce for the same bytes (test/pki/certificate-der.test.ts checks that
 * differentially, over every certificate the tests create and fast-check mutations of them).
 *
 * The profile: single-byte tags, definite minimal lengths (readTlv), version [0] v2/v3 or absent,
 * minimal INTEGERs, OIDs with minimal sub-identifiers, UTCTime YYMMDDHHMMSSZ / GeneralizedTime
 * YYYYMMDDHHMMSSZ with in-range fields, names of UTF8String (well-formed UTF-8), PrintableString
 * or IA5String (7-bit) values, no unique identifiers, BOOLEANs as 00/FF, BIT STRINGs with no
 * unused bits, AlgorithmIdentifier parameters absent, NULL or an OID, extension values the view
 * decodes in their plain DER shapes.
 *
 * It also tells whether the schema library would encode its parse of the bytes back to exactly
 * the same bytes (`canonical`, what `reencodesToItself` asks of a certificate carried in CMS):
 * false when the input has an explicit DEFAULT (version v1, critical FALSE), which the schema
 * library drops when it encodes; then the caller asks the schema library itself.
 */
import { createHash } from 'node:crypto';
import { signatureAlgorithmName } from './algorithms.js';
import { bytesEqual, readTlv, toHex, type Tlv } from './der.js';
import { decodeKeyUsage, decodeMasaUrl, decodeSubjectAltNames, type ExtensionView } from './extensions.js';
import type { ParsedCertificate } from './certificate.js';
import type { ParsedCsr } from './parse-csr.js';
import { formatRdns, keywordOfOid, type Rdn } from './name.js';
import { EXT_KEY_USAGE_NAMES, OID } from './oids.js';
import type { PublicKeyAlgorithm } from './public-key.js';

/** A certificate the fast reader read completely. */
export interface FastCertificate {
  view: ParsedCertificate;
  /** The schema library re-encodes its parse of these bytes to exactly these bytes. */
  canonical: boolean;
}

/** What both certificate readers (this one and the schema library's) find in the bytes. */
export type CertificateParts = Omit<ParsedCertificate, 'signatureAlgorithmName' | 'issuer' | 'subject' | 'fingerprint256' | 'selfIssued'>;

/**
 * Internal (certificate.ts and this reader): the view from its parts — names formatted, the
 * algorithm named, fingerprint and self-issued derived — so both readers build it the same way.
 * `extensionFields` are the decoded extensions' fields (basicConstraints, keyUsage, ...).
 */
export function certificateView(p: CertificateParts, extensionFields: Partial<ParsedCertificate>): ParsedCertificate {
  return {
    der: p.der.slice(),
    tbs: p.tbs,
    version: p.version,
    serialNumber: p.serialNumber,
    signatureAlgorithm: p.signatureAlgorithm,
    signatureAlgorithmName: signatureAlgorithmName(p.signatureAlgorithm),
    signature: p.signature,
    issuer: formatRdns(p.issuerRdns),
    issuerRdns: p.issuerRdns,
    issuerDer: p.issuerDer,
    subject: formatRdns(p.subjectRdns),
    subjectRdns: p.subjectRdns,
    subjectDer: p.subjectDer,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    publicKey: p.publicKey,
    publicKeyAlgorithm: p.publicKeyAlgorithm,
    extensions: p.extensions,
    ...extensionFields,
    fingerprint256: createHash('sha256').update(p.der).digest('hex'),
    selfIssued: bytesEqual(p.issuerDer, p.subjectDer),
  };
}

/**
 * Well below the schema library's limits (asn1.ts: 20,000 nodes, 4 MiB): anything bigger is left
 * to it, so its limits keep applying. Real certificates are a few hundred nodes and a few KiB.
 */
const MAX_NODES = 2000;
const MAX_BYTES = 64 * 1024;
let nodes = 0;

/** Thrown inside the reader only; never escapes readCertificateDer. */
const GIVE_UP = new Error('outside the fast reader profile');

function tlvAt(der: Uint8Array, offset: number, end: number, tag: number): Tlv {
  const t = readTlv(der, offset);
  if (typeof t === 'string' || t.end > end || t.tag !== tag) throw GIVE_UP;
  return t;
}

/** Children of a constructed TLV; each must end inside it and together fill it exactly. */
function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.start;
  while (p < parent.end) {
    const t = readTlv(der, p);
    if (typeof t === 'string' || t.end > parent.end) throw GIVE_UP;
    if (++nodes > MAX_NODES) throw GIVE_UP;
    out.push(t);
    p = t.end;
  }
  return out;
}

/** Dotted OID from content octets with minimal sub-identifiers (X.690 §8.19). */
function oidText(der: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06 || t.end <= t.start) throw GIVE_UP;
  const arcs: number[] = [];
  let v = 0;
  let fresh = true;
  for (let i = t.start; i < t.end; i++) {
    const b = der[i]!;
    // X.690 §8.19.2: "the leading octet of the subidentifier shall not have the value 80 (hex)".
    if (fresh && b === 0x80) throw GIVE_UP;
    v = v * 128 + (b & 0x7f);
    if (v > 0xffffffffffff) throw GIVE_UP;
    fresh = (b & 0x80) === 0;
    if (fresh) {
      arcs.push(v);
      v = 0;
    }
  }
  if (!fresh) throw GIVE_UP;
  const first = arcs[0]!;
  const head = first < 40 ? `0.${first}` : first < 80 ? `1.${first - 40}` : `2.${first - 80}`;
  let s = head;
  for (let i = 1; i < arcs.length; i++) s += `.${arcs[i]}`;
  return s;
}

/** A small non-negative minimal INTEGER. */
function smallInteger(der: Uint8Array, t: Tlv): number {
  const n = t.end - t.start;
  if (t.tag !== 0x02 || n < 1 || n > 4) throw GIVE_UP;
  if (n > 1 && der[t.start] === 0 && (der[t.start + 1]! & 0x80) === 0) throw GIVE_UP;
  if ((der[t.start]! & 0x80) !== 0) throw GIVE_UP;
  let v = 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + der[i]!;
  return v;
}

/** BOOLEAN: DER's FF for TRUE; 00 is FALSE; anything else is outside the profile. */
function booleanOf(der: Uint8Array, t: Tlv): boolean {
  if (t.tag !== 0x01 || t.end - t.start !== 1) throw GIVE_UP;
  const b = der[t.start]!;
  if (b === 0xff) return true;
  if (b === 0x00) return false;
  throw GIVE_UP;
}

/** Contents of a BIT STRING with no unused bits. */
function bitStringBytes(der: Uint8Array, t: Tlv): Uint8Array {
  if (t.tag !== 0x03 || t.end <= t.start || der[t.start] !== 0) throw GIVE_UP;
  return der.slice(t.start + 1, t.end);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function ascii(der: Uint8Array, t: Tlv): string {
  let s = '';
  for (let i = t.start; i < t.end; i++) {
    const b = der[i]!;
    if (b > 0x7f) throw GIVE_UP;
    s += String.fromCharCode(b);
  }
  return s;
}

function attributeText(der: Uint8Array, t: Tlv): string {
  switch (t.tag) {
    case 0x0c:
      try {
        return UTF8.decode(der.subarray(t.start, t.end));
      } catch {
        throw GIVE_UP;
      }
    case 0x13: // PrintableString
    case 0x16: // IA5String
      return ascii(der, t);
    default:
      throw GIVE_UP;
  }
}

/** RDNs of a Name (RFC 5280 §4.1.2.4), as nameToRdns gives them. */
function readName(der: Uint8Array, name: Tlv): Rdn[] {
  if (name.tag !== 0x30) throw GIVE_UP;
  const rdns: Rdn[] = [];
  for (const set of children(der, name)) {
    if (set.tag !== 0x31) throw GIVE_UP;
    const rdn: Rdn = [];
    for (const atv of children(der, set)) {
      if (atv.tag !== 0x30) throw GIVE_UP;
      const parts = children(der, atv);
      if (parts.length !== 2) throw GIVE_UP;
      const oid = oidText(der, parts[0]!);
      rdn.push({ type: keywordOfOid(oid) ?? oid, oid, value: attributeText(der, parts[1]!) });
    }
    if (rdn.length === 0) throw GIVE_UP;
    rdns.push(rdn);
  }
  return rdns;
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(der: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const d = der[i]! - 0x30;
    if (d < 0 || d > 9) throw GIVE_UP;
    v = v * 10 + d;
  }
  return v;
}

/** RFC 5280 §4.1.2.5.1/§4.1.2.5.2: UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ. */
function timeOf(der: Uint8Array, t: Tlv): Date {
  let p = t.start;
  let year: number;
  if (t.tag === 0x17 && t.end - t.start === 13) {
    const yy = digits(der, p, 2);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p += 2;
  } else if (t.tag === 0x18 && t.end - t.start === 15) {
    year = digits(der, p, 4);
    if (year < 1000) throw GIVE_UP;
    p += 4;
  } else throw GIVE_UP;
  const month = digits(der, p, 2);
  const day = digits(der, p + 2, 2);
  const hour = digits(der, p + 4, 2);
  const minute = digits(der, p + 6, 2);
  const second = digits(der, p + 8, 2);
  if (der[p + 10] !== 0x5a) throw GIVE_UP;
  if (month < 1 || month > 12 || day < 1 || day > DAYS[month - 1]! || hour > 23 || minute > 59 || second > 59) throw GIVE_UP;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (month === 2 && day === 29 && !leap) throw GIVE_UP;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second));
}

/**
 * AlgorithmIdentifier with parameters absent, NULL or an OID (the schema library keeps those byte
 * for byte); other parameters (RSA-PSS, specified curves) are the schema library's, which parses
 * their insides.
 */
function algorithmOf(der: Uint8Array, t: Tlv): { oid: string; parameters: Tlv | undefined } {
  if (t.tag !== 0x30) throw GIVE_UP;
  const parts = children(der, t);
  if (parts.length < 1 || parts.length > 2) throw GIVE_UP;
  const oid = oidText(der, parts[0]!);
  const parameters = parts[1];
  if (parameters !== undefined) {
    if (parameters.tag === 0x05) {
      if (parameters.end !== parameters.start) throw GIVE_UP;
    } else if (parameters.tag === 0x06) oidText(der, parameters);
    else throw GIVE_UP;
  }
  return { oid, parameters };
}

/** parsePublicKey's view, for the SubjectPublicKeyInfo shapes this reader takes. */
function publicKeyOf(der: Uint8Array, spki: Tlv): { algorithm: PublicKeyAlgorithm; subjectPublicKey: Uint8Array } {
  if (spki.tag !== 0x30) throw GIVE_UP;
  const parts = children(der, spki);
  if (parts.length !== 2) throw GIVE_UP;
  const alg = algorithmOf(der, parts[0]!);
  const subjectPublicKey = bitStringBytes(der, parts[1]!);
  let algorithm: PublicKeyAlgorithm = alg.oid;
  if (alg.oid === OID.ecPublicKey) {
    // RFC 5480 §2.1.1 namedCurve only; other forms go to the schema library.
    if (alg.parameters === undefined || alg.parameters.tag !== 0x06) throw GIVE_UP;
    const curve = oidText(der, alg.parameters);
    algorithm = curve === OID.prime256v1 ? 'ec-p256' : curve === OID.secp384r1 ? 'ec-p384' : `ec:${curve}`;
  } else if (alg.oid === OID.ed25519) algorithm = 'ed25519';
  else if (alg.oid === OID.rsaEncryption) algorithm = 'rsa';
  return { algorithm, subjectPublicKey };
}

/**
 * Internal (public-key.ts): `parsePublicKey`'s algorithm and key bits for SubjectPublicKeyInfo
 * DER in this reader's profile, or undefined (then the schema library decides). Never throws.
 */
export function readPublicKeyDer(spki: Uint8Array): { algorithm: PublicKeyAlgorithm; subjectPublicKey: Uint8Array } | undefined {
  if (spki.length > MAX_BYTES) return undefined;
  nodes = 0;
  try {
    const outer = tlvAt(spki, 0, spki.length, 0x30);
    if (outer.end !== spki.length) return undefined;
    return publicKeyOf(spki, outer);
  } catch {
    return undefined;
  }
}

function octetString(der: Uint8Array, t: Tlv, end: number): Uint8Array {
  if (t.tag !== 0x04 || t.end !== end) throw GIVE_UP;
  return der.slice(t.start, t.end);
}

function whole(value: Uint8Array, tag: number): Tlv {
  const t = readTlv(value, 0);
  if (typeof t === 'string' || t.tag !== tag || t.end !== value.length) throw GIVE_UP;
  return t;
}

/** The extension decoders of the view, in their plain DER shapes (else the schema library decides). */
type Usages = Pick<ParsedCertificate, 'keyUsage' | 'extKeyUsage' | 'basicConstraints' | 'subjectAltNames'>;

/** What a CSR's extensionRequest decodes (parse-csr.ts): the usages and names, no key identifiers. */
const REQUEST_DECODERS: Record<string, (value: Uint8Array, out: Usages) => void> = {
  [OID.keyUsage]: (v, o) => (o.keyUsage = decodeKeyUsage(v)),
  [OID.extKeyUsage]: (v, o) => {
    const seq = whole(v, 0x30);
    const list = children(v, seq).map((t) => oidText(v, t));
    if (list.length === 0) throw GIVE_UP;
    o.extKeyUsage = list.map((oid) => EXT_KEY_USAGE_NAMES.get(oid) ?? oid);
  },
  [OID.basicConstraints]: (v, o) => {
    const kids = children(v, whole(v, 0x30));
    let i = 0;
    let ca = false;
    if (kids[i]?.tag === 0x01) {
      ca = booleanOf(v, kids[i]!);
      if (!ca) throw GIVE_UP; // an explicit DEFAULT FALSE: the schema library's business
      i++;
    }
    const out: { ca: boolean; pathLen?: number } = { ca };
    if (kids[i] !== undefined) {
      // One content octet (0..127); longer ones are left to the schema library, which refuses some.
      if (kids[i]!.end - kids[i]!.start !== 1) throw GIVE_UP;
      out.pathLen = smallInteger(v, kids[i++]!);
    }
    if (i !== kids.length) throw GIVE_UP;
    o.basicConstraints = out;
  },
  [OID.subjectAltName]: (v, o) => (o.subjectAltNames = decodeSubjectAltNames(v)),
};

const DECODERS: Record<string, (value: Uint8Array, out: Partial<ParsedCertificate>) => void> = {
  ...REQUEST_DECODERS,
  [OID.subjectKeyIdentifier]: (v, o) => {
    const t = whole(v, 0x04);
    o.subjectKeyIdentifier = toHex(v.subarray(t.start, t.end));
  },
  [OID.authorityKeyIdentifier]: (v, o) => {
    const kids = children(v, whole(v, 0x30));
    // keyIdentifier [0] alone, or nothing; the issuer/serial form goes to the schema library.
    if (kids.length > 1 || (kids.length === 1 && kids[0]!.tag !== 0x80)) throw GIVE_UP;
    if (kids.length === 1) o.authorityKeyIdentifier = toHex(v.subarray(kids[0]!.start, kids[0]!.end));
  },
  [OID.masaUrl]: (v, o) => (o.masaUrl = decodeMasaUrl(v)),
};

/** Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension, decoding what `decoders` knows into `out`. */
function readExtensions<S>(der: Uint8Array, list: Tlv, out: S, decoders: Record<string, (value: Uint8Array, out: S) => void>): { views: ExtensionView[]; canonical: boolean } {
  if (list.tag !== 0x30 || list.end === list.start) throw GIVE_UP;
  const seen = new Set<string>();
  const views: ExtensionView[] = [];
  let canonical = true;
  for (const ext of children(der, list)) {
    if (ext.tag !== 0x30) throw GIVE_UP;
    const parts = children(der, ext);
    if (parts.length < 2 || parts.length > 3) throw GIVE_UP;
    const oid = oidText(der, parts[0]!);
    // RFC 5280 §4.2: duplicates are refused — by the schema-library path, with its error.
    if (seen.has(oid)) throw GIVE_UP;
    seen.add(oid);
    let critical = false;
    if (parts.length === 3) {
      critical = booleanOf(der, parts[1]!);
      if (!critical) canonical = false;
    }
    const valueTlv = parts[parts.length - 1]!;
    const value = octetString(der, valueTlv, ext.end);
    const decode = decoders[oid];
    if (decode !== undefined) {
      try {
        decode(value, out);
      } catch {
        throw GIVE_UP;
      }
    }
    views.push({ oid, critical, value });
  }
  return { views, canonical };
}

/** Serial hex as the view reports it; the INTEGER must be minimal (X.690 §8.3.2). */
function serialOf(der: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x02 || t.end <= t.start) throw GIVE_UP;
  const n = t.end - t.start;
  const a = der[t.start]!;
  if (n > 1 && ((a === 0 && (der[t.start + 1]! & 0x80) === 0) || (a === 0xff && (der[t.start + 1]! & 0x80) !== 0))) throw GIVE_UP;
  const from = n > 1 && a === 0 && (der[t.start + 1]! & 0x80) !== 0 ? t.start + 1 : t.start;
  return toHex(der.subarray(from, t.end));
}

/**
 * Reads `der` (exactly one certificate, already within the caller's length limit) or gives up.
 * Never throws.
 */
export function readCertificateDer(der: Uint8Array): FastCertificate | undefined {
  return attempt(der, read);
}

/**
 * Runs a reader within the size and node limits. A GIVE_UP, or a plain Error from the view's own
 * helpers (ipText, decodeKeyUsage) on junk, means undefined: the schema-library path decides.
 */
function attempt<T>(der: Uint8Array, reader: (der: Uint8Array) => T): T | undefined {
  if (der.length > MAX_BYTES) return undefined;
  nodes = 0;
  try {
    return reader(der);
  } catch {
    return undefined;
  }
}

/** SEQUENCE { body SEQUENCE, AlgorithmIdentifier, BIT STRING } filling `der` exactly (a certificate, a CSR). */
function signedEnvelope(der: Uint8Array): { body: Tlv; algTlv: Tlv; alg: ReturnType<typeof algorithmOf>; signature: Uint8Array } {
  const outer = tlvAt(der, 0, der.length, 0x30);
  if (outer.end !== der.length) throw GIVE_UP;
  const top = children(der, outer);
  if (top.length !== 3) throw GIVE_UP;
  const [body, algTlv, sigTlv] = top as [Tlv, Tlv, Tlv];
  if (body.tag !== 0x30) throw GIVE_UP;
  const signature = bitStringBytes(der, sigTlv);
  return { body, algTlv, alg: algorithmOf(der, algTlv), signature };
}

function read(der: Uint8Array): FastCertificate {
  const { body: tbsTlv, algTlv, alg: outerAlg, signature } = signedEnvelope(der);

  const fields = children(der, tbsTlv);
  let i = 0;
  let version = 1;
  let canonical = true;
  if (fields[0]?.tag === 0xa0) {
    const v = children(der, fields[0]);
    if (v.length !== 1) throw GIVE_UP;
    version = smallInteger(der, v[0]!) + 1;
    if (version > 3) throw GIVE_UP;
    // Version DEFAULT v1: an explicit v1 is dropped when the schema library encodes.
    if (version === 1) canonical = false;
    i = 1;
  }
  const serialTlv = fields[i++];
  const innerAlgTlv = fields[i++];
  const issuerTlv = fields[i++];
  const validityTlv = fields[i++];
  const subjectTlv = fields[i++];
  const spkiTlv = fields[i++];
  if (serialTlv === undefined || innerAlgTlv === undefined || issuerTlv === undefined || validityTlv === undefined || subjectTlv === undefined || spkiTlv === undefined) throw GIVE_UP;
  // RFC 5280 §4.1.1.2: the two signature algorithm identifiers are the same.
  if (!bytesEqual(der.subarray(algTlv.offset, algTlv.end), der.subarray(innerAlgTlv.offset, innerAlgTlv.end))) throw GIVE_UP;
  const serialNumber = serialOf(der, serialTlv);
  const issuerRdns = readName(der, issuerTlv);
  const subjectRdns = readName(der, subjectTlv);
  if (validityTlv.tag !== 0x30) throw GIVE_UP;
  const times = children(der, validityTlv);
  if (times.length !== 2) throw GIVE_UP;
  const notBefore = timeOf(der, times[0]!);
  const notAfter = timeOf(der, times[1]!);
  const key = publicKeyOf(der, spkiTlv);

  const partial: Partial<ParsedCertificate> = {};
  let extensions: ExtensionView[] = [];
  const rest = fields.slice(i);
  if (rest.length > 0) {
    // Unique identifiers ([1], [2]) and anything else are the schema library's.
    if (rest.length !== 1 || rest[0]!.tag !== 0xa3 || version !== 3) throw GIVE_UP;
    const list = tlvAt(der, rest[0]!.start, rest[0]!.end, 0x30);
    if (list.end !== rest[0]!.end) throw GIVE_UP;
    const read = readExtensions(der, list, partial, DECODERS);
    extensions = read.views;
    if (!read.canonical) canonical = false;
  }

  const issuerDer = der.slice(issuerTlv.offset, issuerTlv.end);
  const subjectDer = der.slice(subjectTlv.offset, subjectTlv.end);
  const view = certificateView(
    { der, tbs: der.slice(tbsTlv.offset, tbsTlv.end), version, serialNumber, signatureAlgorithm: outerAlg.oid, signature, issuerRdns, issuerDer, subjectRdns, subjectDer, notBefore, notAfter, publicKey: der.slice(spkiTlv.offset, spkiTlv.end), publicKeyAlgorithm: key.algorithm, extensions },
    partial,
  );
  return { view, canonical };
}

/**
 * Internal (parse-csr.ts): a PKCS#10 request (RFC 2986 §4) in this reader's profile — version 0,
 * attributes extensionRequest (one value) and challengePassword (one UTF8String or
 * PrintableString value) only, each at most once — as `parseCsr`'s view, or undefined (then the
 * schema library decides). Never throws.
 */
export function readCsrDer(der: Uint8Array): ParsedCsr | undefined {
  return attempt(der, readCsr);
}

function readCsr(der: Uint8Array): ParsedCsr {
  const { body: infoTlv, alg, signature } = signedEnvelope(der);
  const fields = children(der, infoTlv);
  if (fields.length < 3 || fields.length > 4) throw GIVE_UP;
  const [versionTlv, subjectTlv, spkiTlv, attributesTlv] = fields as [Tlv, Tlv, Tlv, Tlv | undefined];
  // RFC 2986 §4.1: version "shall be 0 for this version of the standard".
  if (versionTlv.tag !== 0x02 || versionTlv.end - versionTlv.start !== 1 || der[versionTlv.start] !== 0) throw GIVE_UP;
  const subjectRdns = readName(der, subjectTlv);
  const key = publicKeyOf(der, spkiTlv);

  const attributes: Array<{ oid: string; values: Uint8Array[] }> = [];
  const sink: Usages = {};
  let extensions: ExtensionView[] = [];
  let challengePassword: string | undefined;
  if (attributesTlv !== undefined) {
    if (attributesTlv.tag !== 0xa0) throw GIVE_UP;
    const seen = new Set<string>();
    for (const attr of children(der, attributesTlv)) {
      if (attr.tag !== 0x30) throw GIVE_UP;
      const parts = children(der, attr);
      if (parts.length !== 2 || parts[1]!.tag !== 0x31) throw GIVE_UP;
      const oid = oidText(der, parts[0]!);
      if (seen.has(oid)) throw GIVE_UP;
      seen.add(oid);
      const values = children(der, parts[1]!);
      if (values.length !== 1) throw GIVE_UP;
      const value = values[0]!;
      if (oid === OID.extensionRequest) {
        extensions = readExtensions(der, value, sink, REQUEST_DECODERS).views;
      } else if (oid === OID.challengePassword) {
        // DirectoryString: the schema library has no IA5String arm here, so only these two.
        if (value.tag !== 0x0c && value.tag !== 0x13) throw GIVE_UP;
        challengePassword = attributeText(der, value);
      } else throw GIVE_UP;
      attributes.push({ oid, values: [der.slice(value.offset, value.end)] });
    }
  }
  const view: ParsedCsr = {
    der: der.slice(),
    info: der.slice(infoTlv.offset, infoTlv.end),
    subject: formatRdns(subjectRdns),
    subjectRdns,
    subjectDer: der.slice(subjectTlv.offset, subjectTlv.end),
    publicKey: der.slice(spkiTlv.offset, spkiTlv.end),
    publicKeyAlgorithm: key.algorithm,
    signatureAlgorithm: alg.oid,
    signatureAlgorithmName: signatureAlgorithmName(alg.oid),
    signature,
    extensions,
    ...sink,
    attributes,
  };
  if (challengePassword !== undefined) view.challengePassword = challengePassword;
  return view;
}
