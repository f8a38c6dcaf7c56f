/**
 * A strict, small DER walk of an X.509 certificate (RFC 5280 §4.1) down to the few fields the
 * protocol rooms need on a hot path — the SubjectPublicKeyInfo (DTLS: the peer's key), the subject
 * Name and the validity times (LwM2M: the store lookup and validity window) — and a cheap import of
 * a P-256 SubjectPublicKeyInfo from its point. No I/O, no state, never throws: anything outside the
 * profile below gives `undefined`, and the caller decides (refuse with its own typed error, or ask
 * node's X509Certificate).
 *
 * The walk: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 * filling the input exactly; TBSCertificate ::= SEQUENCE { [0] version (v2/v3) OPTIONAL, serial
 * INTEGER, signature AlgorithmIdentifier, issuer Name, validity SEQUENCE { 2 times }, subject
 * Name, subjectPublicKeyInfo SEQUENCE { AlgorithmIdentifier, BIT STRING }, [1] [2] [3] OPTIONAL in
 * order }. Every TLV of the whole tree (constructed ones recursively, to a depth limit) has a
 * single-byte tag and a definite, minimal length that fits its parent exactly; INTEGERs are
 * minimal, OIDs are well-formed, BOOLEANs are 00/FF, BIT STRINGs have a valid unused-bits byte
 * and zero unused bits, Name values are UTF8String / PrintableString / IA5String with valid
 * contents, validity times are in their RFC 5280 forms with fields in range. This is stricter than
 * OpenSSL's d2i_X509 (which takes some BER and other string types): the test
 * (test/crypto/certificate-fields.test.ts) checks on real and fuzzed certificates that whatever
 * this walk accepts, node's X509Certificate accepts too, with the same key.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { BytesKeyedCache } from '../util/bytes-cache.js';

/** The fields read, as views into the certificate's bytes (not copies). */
export interface CertificateFields {
  /** The SubjectPublicKeyInfo SEQUENCE, tag to end. */
  spki: Uint8Array;
  /** The subject Name SEQUENCE, tag to end. */
  subject: Uint8Array;
  /** notBefore / notAfter: tag (0x17 UTCTime, 0x18 GeneralizedTime) and content. */
  notBefore: { tag: number; content: Uint8Array };
  notAfter: { tag: number; content: Uint8Array };
}

/** Certificates above this size are not walked (the DTLS reassembly cap is far below). */
export const MAX_CERTIFICATE_FIELDS_BYTES = 64 * 1024;
const MAX_DEPTH = 24;
const MAX_NODES = 4096;

interface Tlv {
  tag: number;
  offset: number;
  start: number;
  end: number;
}

class Stop extends Error {}
const STOP = new Stop();

/** One DER TLV at `offset` inside [offset, limit): single-byte tag, definite minimal length. */
function tlv(b: Uint8Array, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw STOP;
  const tag = b[offset]!;
  if ((tag & 0x1f) === 0x1f) throw STOP;
  let p = offset + 1;
  const first = b[p++]!;
  let len = first;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 3 || p + n > limit || b[p] === 0) throw STOP;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++]!;
    if (len < 0x80) throw STOP;
  }
  if (p + len > limit) throw STOP;
  return { tag, offset, start: p, end: p + len };
}

/** The children of a constructed TLV, each a well-formed TLV, together filling it exactly. */
function children(b: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = t.start;
  while (p < t.end) {
    const c = tlv(b, p, t.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

/** Checks a whole subtree: constructed nodes recursively, the primitive types with a DER form checked. */
function checkTree(b: Uint8Array, t: Tlv, depth: number, budget: { nodes: number }): void {
  if (--budget.nodes < 0 || depth > MAX_DEPTH) throw STOP;
  // Universal class: only SEQUENCE and SET are constructed (DER has no constructed strings), and
  // there is no end-of-contents (tag 0) in definite-length DER.
  if ((t.tag & 0xc0) === 0 && (t.tag === 0 || ((t.tag & 0x20) !== 0) !== (t.tag === 0x30 || t.tag === 0x31))) throw STOP;
  if ((t.tag & 0x20) !== 0) {
    for (const c of children(b, t)) checkTree(b, c, depth + 1, budget);
    return;
  }
  const len = t.end - t.start;
  switch (t.tag) {
    case 0x01: // BOOLEAN
      if (len !== 1 || (b[t.start] !== 0 && b[t.start] !== 0xff)) throw STOP;
      break;
    case 0x02: // INTEGER
      checkInteger(b, t);
      break;
    case 0x03: // BIT STRING
      checkBitString(b, t);
      break;
    case 0x05: // NULL
      if (len !== 0) throw STOP;
      break;
    case 0x06: // OBJECT IDENTIFIER
      checkOid(b, t);
      break;
    default:
      break;
  }
}

function checkInteger(b: Uint8Array, t: Tlv): void {
  const len = t.end - t.start;
  if (len === 0) throw STOP;
  if (len > 1) {
    const a = b[t.start]!;
    const c = b[t.start + 1]! & 0x80;
    if ((a === 0 && c === 0) || (a === 0xff && c !== 0)) throw STOP;
  }
}

function checkBitString(b: Uint8Array, t: Tlv): void {
  const len = t.end - t.start;
  if (len === 0) throw STOP;
  const unused = b[t.start]!;
  if (unused > 7 || (len === 1 && unused !== 0)) throw STOP;
  // DER (X.690 §11.2.1): the unused bits are zero.
  if (unused !== 0 && (b[t.end - 1]! & ((1 << unused) - 1)) !== 0) throw STOP;
}

function checkOid(b: Uint8Array, t: Tlv): void {
  if (t.end === t.start) throw STOP;
  let starting = true;
  for (let i = t.start; i < t.end; i++) {
    const v = b[i]!;
    if (starting && v === 0x80) throw STOP;
    starting = (v & 0x80) === 0;
  }
  if (!starting) throw STOP;
}

/**
 * The SPKI, subject and validity of a DER certificate in the profile above, or undefined.
 * Never throws.
 */
export function readCertificateFields(der: Uint8Array): CertificateFields | undefined {
  if (!(der instanceof Uint8Array) || der.length > MAX_CERTIFICATE_FIELDS_BYTES) return undefined;
  try {
    return walk(der);
  } catch (err) {
    if (err === STOP) return undefined;
    // A RangeError from a pathological input is still "not in the profile".
    return undefined;
  }
}

function walk(b: Uint8Array): CertificateFields {
  const outer = tlv(b, 0, b.length);
  if (outer.tag !== 0x30 || outer.end !== b.length) throw STOP;
  checkTree(b, outer, 0, { nodes: MAX_NODES });
  const top = children(b, outer);
  if (top.length !== 3) throw STOP;
  const [tbs, sigAlg, sig] = top as [Tlv, Tlv, Tlv];
  if (tbs.tag !== 0x30 || sigAlg.tag !== 0x30 || sig.tag !== 0x03) throw STOP;
  algorithmIdentifier(b, sigAlg);

  const f = children(b, tbs);
  let i = 0;
  if (f[0]?.tag === 0xa0) {
    const v = children(b, f[0]);
    // Version ::= INTEGER { v1(0), v2(1), v3(2) }; an explicit v1 is not DER (DEFAULT).
    if (v.length !== 1 || v[0]!.tag !== 0x02 || v[0]!.end - v[0]!.start !== 1) throw STOP;
    const version = b[v[0]!.start]!;
    if (version !== 1 && version !== 2) throw STOP;
    i = 1;
  }
  const serial = f[i++];
  const innerAlg = f[i++];
  const issuer = f[i++];
  const validity = f[i++];
  const subject = f[i++];
  const spki = f[i++];
  if (serial === undefined || innerAlg === undefined || issuer === undefined || validity === undefined || subject === undefined || spki === undefined) throw STOP;
  if (serial.tag !== 0x02 || innerAlg.tag !== 0x30 || issuer.tag !== 0x30 || validity.tag !== 0x30 || subject.tag !== 0x30 || spki.tag !== 0x30) throw STOP;
  algorithmIdentifier(b, innerAlg);
  name(b, issuer);
  name(b, subject);
  const times = children(b, validity);
  if (times.length !== 2) throw STOP;
  for (const t of times) if (validityTime(t.tag, b.subarray(t.start, t.end)) === undefined) throw STOP;
  const keyParts = children(b, spki);
  if (keyParts.length !== 2 || keyParts[0]!.tag !== 0x30 || keyParts[1]!.tag !== 0x03) throw STOP;
  algorithmIdentifier(b, keyParts[0]!);
  // issuerUniqueID [1], subjectUniqueID [2], extensions [3]: each at most once, in that order.
  let last = 0;
  for (; i < f.length; i++) {
    const t = f[i]!;
    const n = t.tag === 0x81 ? 1 : t.tag === 0x82 ? 2 : t.tag === 0xa3 ? 3 : 0;
    if (n <= last) throw STOP;
    last = n;
    // The unique identifiers are [n] IMPLICIT BIT STRING.
    if (n === 3) extensions(b, t);
    else checkBitString(b, t);
  }
  return {
    spki: b.subarray(spki.offset, spki.end),
    subject: b.subarray(subject.offset, subject.end),
    notBefore: { tag: times[0]!.tag, content: b.subarray(times[0]!.start, times[0]!.end) },
    notAfter: { tag: times[1]!.tag, content: b.subarray(times[1]!.start, times[1]!.end) },
  };
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }. */
function algorithmIdentifier(b: Uint8Array, t: Tlv): void {
  const parts = children(b, t);
  if (parts.length < 1 || parts.length > 2 || parts[0]!.tag !== 0x06) throw STOP;
  // Parameters: NULL (RSA), an OID (a named curve) or a SEQUENCE (RSA-PSS).
  if (parts.length === 2 && parts[1]!.tag !== 0x05 && parts[1]!.tag !== 0x06 && parts[1]!.tag !== 0x30) throw STOP;
}

/** Name ::= SEQUENCE OF SET (1..) OF SEQUENCE { type OID, value }. */
function name(b: Uint8Array, t: Tlv): void {
  for (const rdn of children(b, t)) {
    if (rdn.tag !== 0x31) throw STOP;
    const atvs = children(b, rdn);
    if (atvs.length === 0) throw STOP;
    for (const atv of atvs) {
      if (atv.tag !== 0x30) throw STOP;
      const tv = children(b, atv);
      if (tv.length !== 2 || tv[0]!.tag !== 0x06) throw STOP;
      attributeValue(b, tv[1]!);
    }
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A Name's attribute value: UTF8String (well-formed UTF-8), PrintableString (its X.680 §41.4
 * alphabet) or IA5String (7-bit) — what RFC 5280 §4.1.2.4 asks CAs to write. Other types
 * (BMPString, TeletexString, …) are outside the profile.
 */
function attributeValue(b: Uint8Array, t: Tlv): void {
  switch (t.tag) {
    case 0x0c:
      UTF8.decode(b.subarray(t.start, t.end));
      return;
    case 0x13:
      for (let i = t.start; i < t.end; i++) if (!PRINTABLE[b[i]!]) throw STOP;
      return;
    case 0x16:
      for (let i = t.start; i < t.end; i++) if (b[i]! > 0x7f) throw STOP;
      return;
    default:
      throw STOP;
  }
}

const PRINTABLE: boolean[] = [];
for (let c = 0; c < 256; c++) {
  PRINTABLE[c] = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || " '()+,-./:=?".includes(String.fromCharCode(c));
}

/**
 * A validity time in its RFC 5280 §4.1.2.5 form: UTCTime YYMMDDHHMMSSZ or GeneralizedTime
 * YYYYMMDDHHMMSSZ, fields in range (day within its month, leap years included). Returns the
 * time in ms since the epoch (UTCTime YY ≥ 50 is 19YY), or undefined.
 */
export function validityTime(tag: number, content: Uint8Array): number | undefined {
  const n = content.length;
  let p = 0;
  let year: number;
  if (tag === 0x17 && n === 13) {
    const yy = digits(content, 0, 2);
    year = yy < 0 ? -1 : yy >= 50 ? 1900 + yy : 2000 + yy;
    p = 2;
  } else if (tag === 0x18 && n === 15) {
    year = digits(content, 0, 4);
    p = 4;
  } else {
    return undefined;
  }
  const month = digits(content, p, 2);
  const day = digits(content, p + 2, 2);
  const hour = digits(content, p + 4, 2);
  const minute = digits(content, p + 6, 2);
  const second = digits(content, p + 8, 2);
  if (content[n - 1] !== 0x5a) return undefined;
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  if (day > days) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC maps years 0..99 to 1900..1999; such GeneralizedTimes are outside the profile.
  return year < 100 ? undefined : ms;
}

function digits(b: Uint8Array, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const d = b[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** [3] EXPLICIT SEQUENCE (1..) OF Extension ::= SEQUENCE { OID, critical BOOLEAN OPTIONAL, OCTET STRING }. */
function extensions(b: Uint8Array, t: Tlv): void {
  const inner = children(b, t);
  if (inner.length !== 1 || inner[0]!.tag !== 0x30) throw STOP;
  const list = children(b, inner[0]!);
  if (list.length === 0) throw STOP;
  for (const e of list) {
    if (e.tag !== 0x30) throw STOP;
    const parts = children(b, e);
    if (parts[0]?.tag !== 0x06) throw STOP;
    if (parts.length === 3) {
      // critical DEFAULT FALSE: an explicit FALSE is not DER.
      if (parts[1]!.tag !== 0x01 || b[parts[1]!.start] !== 0xff || parts[2]!.tag !== 0x04) throw STOP;
    } else if (parts.length !== 2 || parts[1]!.tag !== 0x04) {
      throw STOP;
    }
  }
}

/** One AttributeTypeAndValue of a Name: the OID's content bytes, the value's tag and content. */
export interface NameAttribute {
  oid: Uint8Array;
  tag: number;
  value: Uint8Array;
}

/**
 * The RDNs of a Name that `readCertificateFields` returned (each a list of its attributes), or
 * undefined for bytes that are not such a Name. Never throws.
 */
export function nameAttributes(nameDer: Uint8Array): NameAttribute[][] | undefined {
  try {
    const t = tlv(nameDer, 0, nameDer.length);
    if (t.tag !== 0x30 || t.end !== nameDer.length) return undefined;
    name(nameDer, t);
    return children(nameDer, t).map((rdn) =>
      children(nameDer, rdn).map((atv) => {
        const [type, value] = children(nameDer, atv) as [Tlv, Tlv];
        return { oid: nameDer.subarray(type.start, type.end), tag: value.tag, value: nameDer.subarray(value.start, value.end) };
      }),
    );
  } catch {
    return undefined;
  }
}

/** SubjectPublicKeyInfo of a P-256 key (id-ecPublicKey, prime256v1) with an uncompressed point, up to the point. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200' + '04', 'hex');
const P256_FIELD_PRIME = Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex');

/**
 * The common case, a P-256 SPKI in its one DER form, imported from its coordinates (JWK, RFC 7518
 * §6.2.1) rather than through OpenSSL 3's SPKI decoder: the same key (KeyObject.equals), in about
 * half the CPU. Coordinates must be below the field prime, as the point decoder requires; OpenSSL
 * still refuses a point that is not on the curve. Anything else, or a refusal, is undefined: the
 * caller then imports the DER, so what is accepted and the error are as before.
 */
export function importP256Spki(spki: Uint8Array): KeyObject | undefined {
  if (spki.length !== P256_SPKI_PREFIX.length + 64) return undefined;
  const bytes = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  if (bytes.compare(P256_SPKI_PREFIX, 0, P256_SPKI_PREFIX.length, 0, P256_SPKI_PREFIX.length) !== 0) return undefined;
  const id = bytes.toString('latin1', P256_SPKI_PREFIX.length);
  const known = P256_KEYS.get(id);
  if (known !== undefined) return known;
  const x = bytes.subarray(P256_SPKI_PREFIX.length, P256_SPKI_PREFIX.length + 32);
  const y = bytes.subarray(P256_SPKI_PREFIX.length + 32);
  if (x.compare(P256_FIELD_PRIME) >= 0 || y.compare(P256_FIELD_PRIME) >= 0) return undefined;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: x.toString('base64url'), y: y.toString('base64url') }, format: 'jwk' });
  } catch {
    return undefined;
  }
  P256_KEYS.set(id, key);
  return key;
}

/**
 * Imported P-256 keys by their exact point bytes (the SPKI is that point behind a fixed prefix),
 * shared by every room that imports through here: onboarding imports a device's new key when the
 * registrar checks its CSR (src/pki) and again when the device shows its LDevID in a DTLS handshake
 * (src/dtls) — the second is a lookup. A KeyObject is immutable and depends on nothing but the
 * bytes, so a hit is what a fresh import gives; refusals are not kept. Bounded LRU.
 */
export const P256_KEY_CACHE_ENTRIES = 2048;
const P256_KEYS = new BytesKeyedCache<KeyObject>(P256_KEY_CACHE_ENTRIES);

/** Entries of the shared P-256 key cache (for tests). */
export function p256KeyCacheSize(): number {
  return P256_KEYS.size;
}
