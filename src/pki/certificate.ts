/**
 * Parsing an X.509 certificate (RFC 5280 §4.1) into a typed, read-only view. Malformed input of
 * any kind ends in MalformedCertificateError (or MalformedPemError for bad PEM text).
 */
import { isDeepStrictEqual } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { assertSameSignatureAlgorithm, guard, parseSignedObject, type SignedObject, type SignedObjectFormat } from './asn1.js';
import { assertInteger } from '../util/assert.js';
import { BytesKeyedCache } from '../util/bytes-cache.js';
import { certificateView, readCertificateDer, type FastCertificate } from './certificate-der.js';
import { bytesEqual, fromArrayBuffer, toArrayBuffer, toHex } from './der.js';
import { MalformedCertificateError } from './errors.js';
import {
  decodeAuthorityKeyIdentifier,
  decodeBasicConstraints,
  decodeExtKeyUsage,
  decodeKeyUsage,
  decodeMasaUrl,
  decodeSubjectAltNames,
  decodeSubjectKeyIdentifier,
  decodeExtensions,
  type ExtensionView,
  type KeyUsageName,
  type SubjectAltNamesView,
} from './extensions.js';
import { nameToRdns, type Rdn } from './name.js';
import { OID } from './oids.js';
import { derFrom } from './pem.js';
import { parsePublicKey, type PublicKeyAlgorithm } from './public-key.js';

export interface ParsedCertificate {
  /** The whole certificate DER. */
  der: Uint8Array;
  /** The TBSCertificate DER exactly as signed. */
  tbs: Uint8Array;
  /** 1, 2 or 3. */
  version: number;
  /** Serial number: lowercase hex of the INTEGER's content octets, without a sign-padding 00. */
  serialNumber: string;
  /** Signature algorithm OID and a readable name. */
  signatureAlgorithm: string;
  signatureAlgorithmName: string;
  /** Contents of the signatureValue BIT STRING (DER Ecdsa-Sig-Value for ECDSA). */
  signature: Uint8Array;
  issuer: string;
  issuerRdns: Rdn[];
  /** DER of the issuer Name as encoded. */
  issuerDer: Uint8Array;
  subject: string;
  subjectRdns: Rdn[];
  subjectDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  publicKey: Uint8Array;
  publicKeyAlgorithm: PublicKeyAlgorithm;
  /** Every extension in order, values as DER. */
  extensions: ExtensionView[];
  keyUsage?: KeyUsageName[];
  extKeyUsage?: string[];
  basicConstraints?: { ca: boolean; pathLen?: number };
  subjectAltNames?: SubjectAltNamesView;
  /** Hex. */
  subjectKeyIdentifier?: string;
  /** keyIdentifier of the AKI extension, hex. */
  authorityKeyIdentifier?: string;
  /** RFC 8995 id-pe-masa-url, when present. */
  masaUrl?: string;
  /** SHA-256 of the DER, lowercase hex. */
  fingerprint256: string;
  /** Issuer and subject names are identical (RFC 5280 §6.1 "self-issued"). */
  selfIssued: boolean;
}

export interface ParseCertificateOptions {
  /** Refuse inputs longer than this many bytes (default 1 MiB). */
  maxLength?: number;
}

const fail = (m: string, cause?: unknown): MalformedCertificateError => new MalformedCertificateError(m, { cause });

/** Extensions by OID with decoding of the ones the view exposes. */
const DECODERS: Record<string, (der: Uint8Array, out: Partial<ParsedCertificate>) => void> = {
  [OID.keyUsage]: (d, o) => (o.keyUsage = decodeKeyUsage(d)),
  [OID.extKeyUsage]: (d, o) => (o.extKeyUsage = decodeExtKeyUsage(d)),
  [OID.basicConstraints]: (d, o) => (o.basicConstraints = decodeBasicConstraints(d)),
  [OID.subjectAltName]: (d, o) => (o.subjectAltNames = decodeSubjectAltNames(d)),
  [OID.subjectKeyIdentifier]: (d, o) => (o.subjectKeyIdentifier = decodeSubjectKeyIdentifier(d)),
  [OID.authorityKeyIdentifier]: (d, o) => {
    const k = decodeAuthorityKeyIdentifier(d);
    if (k !== undefined) o.authorityKeyIdentifier = k;
  },
  [OID.masaUrl]: (d, o) => (o.masaUrl = decodeMasaUrl(d)),
};

/** Serial hex as the view reports it, from INTEGER content octets. */
export function serialHex(content: Uint8Array): string {
  const trimmed = content.length > 1 && content[0] === 0 && (content[1]! & 0x80) !== 0 ? content.subarray(1) : content;
  return toHex(trimmed);
}

/**
 * Views of certificates parsed recently, keyed by the exact DER bytes (a registrar sees the same
 * manufacturer CA, domain CA and registrar certificates on every request, and the same pledge
 * certificate several times within one onboarding). A view depends on nothing but the bytes.
 */
const PARSED = new BytesKeyedCache<ParsedCertificate>(512);

/** Parses a certificate given as DER bytes or PEM text. */
export function parseCertificate(input: Uint8Array | string, options: ParseCertificateOptions = {}): ParsedCertificate {
  const maxLength = options.maxLength ?? 1024 * 1024;
  assertInteger(maxLength, 'options.maxLength', 1);
  const der = derFrom(input, 'input', CERTIFICATE_FORMAT.pemLabel);
  if (der.length > maxLength) throw fail(`certificate longer than ${maxLength} bytes`);
  const key = BytesKeyedCache.keyOf(der);
  let view = PARSED.get(key);
  if (view === undefined) {
    // The hand-written reader first (certificate-der.ts); whatever it does not read completely
    // goes to the schema library, which accepts or refuses as it always did.
    const fast = readCertificateDer(der);
    if (fast !== undefined) {
      if (DIFFERENTIAL) checkAgainstSchema(der, fast);
      if (fast.canonical) REENCODES.set(key, true);
      view = deepFreeze(fast.view);
    } else view = deepFreeze(parseSignedObject(der, maxLength, CERTIFICATE_FORMAT, buildView));
    PARSED.set(key, view);
  }
  return ownCopy(view);
}

/**
 * ROOTLINE_PKI_DIFFERENTIAL=1 (tests only): every certificate the hand-written reader reads is
 * also parsed by the schema library, and any difference in view or canonical form throws — so a
 * whole test suite run checks the reader over every certificate it makes.
 */
const DIFFERENTIAL = process.env.ROOTLINE_PKI_DIFFERENTIAL === '1';

function checkAgainstSchema(der: Uint8Array, fast: FastCertificate): void {
  const reference = parseCertificateBySchema(der);
  if (!isDeepStrictEqual(reference, fast.view)) throw new Error(`ROOTLINE_PKI_DIFFERENTIAL: the hand-written reader's view differs for ${toHex(der)}`);
  if (fast.canonical && !reencodesToItselfBySchema(der)) throw new Error(`ROOTLINE_PKI_DIFFERENTIAL: called canonical but does not re-encode to itself: ${toHex(der)}`);
}

/**
 * Internal (tests): the schema-library parse alone, without the hand-written reader or the
 * cache — the reference `readCertificateDer` is checked against.
 */
export function parseCertificateBySchema(input: Uint8Array | string, maxLength = 1024 * 1024): ParsedCertificate {
  return parseSignedObject(input, maxLength, CERTIFICATE_FORMAT, buildView);
}

/**
 * The schema library's parse of certificates parsed recently, so that `reencodesToItself` right
 * after a parse (verifyCms on a certificate the registrar just read from TLS) need not parse again.
 */
const RECENT_VALUES = new BytesKeyedCache<Certificate>(64);
const REENCODES = new BytesKeyedCache<boolean>(1024);

/**
 * Internal (the onboarding room's CMS reader): whether the schema library encodes its parse of
 * `der` back to exactly `der`; false also when it cannot parse it. Kept by the exact bytes.
 */
export function reencodesToItself(der: Uint8Array): boolean {
  const key = BytesKeyedCache.keyOf(der);
  const known = REENCODES.get(key);
  if (known !== undefined) return known;
  // The hand-written reader knows when the schema library's encoding of its parse is these bytes
  // again; when it cannot tell, the schema library is asked.
  const same = readCertificateDer(der)?.canonical === true || reencodesToItselfBySchema(der);
  REENCODES.set(key, same);
  return same;
}

/** Internal (tests): `reencodesToItself` asked of the schema library alone, not kept. */
export function reencodesToItselfBySchema(der: Uint8Array): boolean {
  const key = BytesKeyedCache.keyOf(der);
  let same: boolean;
  try {
    const value = RECENT_VALUES.get(key) ?? AsnConvert.parse(toArrayBuffer(der), Certificate);
    same = bytesEqual(new Uint8Array(AsnConvert.serialize(value)), der);
  } catch {
    same = false;
  }
  return same;
}

/** A caller's own view: a distinct object with its own byte arrays; the nested lists are frozen. */
function ownCopy(v: ParsedCertificate): ParsedCertificate {
  return { ...v, der: v.der.slice(), tbs: v.tbs.slice(), signature: v.signature.slice(), issuerDer: v.issuerDer.slice(), subjectDer: v.subjectDer.slice(), publicKey: v.publicKey.slice() };
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Object.isFrozen(value) || value instanceof Date) return value;
  for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}

const CERTIFICATE_FORMAT: SignedObjectFormat<Certificate> = { schema: Certificate, what: 'certificate', pemLabel: 'CERTIFICATE', tbsName: 'tbsCertificate', tbsShortName: 'tbs', fail };

function buildView({ der, value: cert, tbsTlv, tbsFields: fields, algorithmTlv }: SignedObject<Certificate>): ParsedCertificate {
  RECENT_VALUES.set(BytesKeyedCache.keyOf(der), cert);
  const tbs = der.slice(tbsTlv.offset, tbsTlv.end);
  const first = fields[0]?.tag === 0xa0 ? 1 : 0;
  const [, , issuerTlv, , subjectTlv, spkiTlv] = fields.slice(first);
  if (issuerTlv === undefined || subjectTlv === undefined || spkiTlv === undefined) throw fail('tbsCertificate is missing fields');
  const t = cert.tbsCertificate;

  const version = t.version + 1;
  if (version < 1 || version > 3) throw fail(`unknown version ${version}`);
  // RFC 5280 §4.1.2.9: extensions "MUST only appear if the version is 3".
  if (t.extensions !== undefined && version !== 3) throw fail('extensions in a certificate that is not v3');
  assertSameSignatureAlgorithm(der, algorithmTlv, fields[first + 1]!, 'tbsCertificate', fail);

  const notBefore = t.validity.notBefore.getTime();
  const notAfter = t.validity.notAfter.getTime();
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) throw fail('invalid validity time');

  const publicKey = der.slice(spkiTlv.offset, spkiTlv.end);
  const key = guard(() => parsePublicKey(publicKey), fail, 'subjectPublicKeyInfo');
  const issuerDer = der.slice(issuerTlv.offset, issuerTlv.end);
  const subjectDer = der.slice(subjectTlv.offset, subjectTlv.end);
  const issuerRdns = nameToRdns(t.issuer);
  const subjectRdns = nameToRdns(t.subject);

  const partial: Partial<ParsedCertificate> = {};
  const extensions = decodeExtensions(t.extensions, partial, DECODERS, fail);
  return certificateView(
    { der, tbs, version, serialNumber: serialHex(fromArrayBuffer(t.serialNumber)), signatureAlgorithm: cert.signatureAlgorithm.algorithm, signature: fromArrayBuffer(cert.signatureValue), issuerRdns, issuerDer, subjectRdns, subjectDer, notBefore, notAfter, publicKey, publicKeyAlgorithm: key.algorithm, extensions },
    partial,
  );
}
