/**
 * The "certs-only" CMS message EST answers /cacerts, /simpleenroll and /simplereenroll with: a
 * CMC Simple PKI Response (RFC 5272 §4.1), i.e. a degenerate SignedData (RFC 5652 §5) that carries
 * certificates and no signature, media type `application/pkcs7-mime; smime-type=certs-only`
 * (RFC 5273, RFC 7030 §4.1.3, §4.2.3). Written by hand over strict TLV walking because the
 * structure is fixed and small, and so the certificates come back as the exact bytes sent.
 */
import { parseCertificate } from '../../pki/certificate.js';
import { derSequence, derTlv } from '../../pki/der.js';
import { derFrom } from '../../pki/pem.js';
import { RootlineError, InvalidArgumentError } from '../../errors.js';
import { assertInteger } from '../../util/assert.js';
import { childrenOf, decodeOidContent, encodeOidContent, wholeTlv, type Tlv } from './der-reader.js';
import { EstMalformedPkcs7Error } from './errors.js';

/** RFC 5652 §5.1 id-signedData and §4 id-data. */
export const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
export const OID_DATA = '1.2.840.113549.1.7.1';

/** What responses carry in the Content-Type header. */
export const CERTS_ONLY_MEDIA_TYPE = 'application/pkcs7-mime; smime-type=certs-only';

export interface DecodeCertsOnlyOptions {
  /** Refuse inputs longer than this many bytes (default 1 MiB). */
  maxLength?: number;
  /** Refuse more certificates than this (default 32). */
  maxCertificates?: number;
}

const fail = (m: string, cause?: unknown) => new EstMalformedPkcs7Error(m, { cause });

function oidTlv(oid: string): Uint8Array {
  return derTlv(0x06, encodeOidContent(oid)!);
}

/** X.690 §11.6: DER orders SET OF components as octet strings, the shorter padded with zeros. */
function derSetOrder(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Encodes certificates (DER or PEM, each checked to parse) as a certs-only SignedData (DER).
 * Order is not meaningful in a SET OF; DER sorts it, and clients build paths themselves.
 */
export function encodeCertsOnly(certificates: readonly (Uint8Array | string)[]): Uint8Array {
  if (!Array.isArray(certificates as unknown)) throw new InvalidArgumentError('certificates', 'expected an array');
  const ders = certificates.map((c, i) => {
    const der = derFrom(c, `certificates[${i}]`, 'CERTIFICATE');
    parseCertificate(der);
    return der;
  });
  ders.sort(derSetOrder);
  const signedData = derSequence(
    // RFC 5652 §5.1: version 1 when there are no attribute certificates, no "other" choices and
    // the encapsulated content is id-data.
    derTlv(0x02, Uint8Array.of(1)),
    derTlv(0x31, new Uint8Array(0)), // digestAlgorithms: nothing was signed
    derSequence(oidTlv(OID_DATA)), // encapContentInfo without eContent
    derTlv(0xa0, Buffer.concat(ders)), // certificates [0] IMPLICIT CertificateSet
    derTlv(0x31, new Uint8Array(0)), // signerInfos: empty, the "degenerate" case
  );
  return derSequence(oidTlv(OID_SIGNED_DATA), derTlv(0xa0, signedData));
}

function kids(der: Uint8Array, tlv: Tlv, what: string, max?: number): Tlv[] {
  const c = childrenOf(der, tlv, max);
  if (typeof c === 'string') throw fail(`${what}: ${c}`);
  return c;
}

function expectOid(der: Uint8Array, tlv: Tlv | undefined, oid: string, what: string): void {
  if (tlv === undefined || tlv.tag !== 0x06) throw fail(`${what}: expected an OBJECT IDENTIFIER`);
  const got = decodeOidContent(der.subarray(tlv.start, tlv.end));
  if (typeof got === 'string') throw fail(`${what}: ${got}`);
  if (got.oid !== oid) throw fail(`${what}: expected ${oid}, got ${got.oid}`);
}

/**
 * Decodes a certs-only SignedData (DER) to the certificates it carries, each as the exact DER
 * sent and each checked to parse. Anything else (signed content, attribute certificates,
 * trailing bytes, BER lengths) is ERR_EST_MALFORMED_PKCS7.
 */
export function decodeCertsOnly(der: Uint8Array, options: DecodeCertsOnlyOptions = {}): Uint8Array[] {
  const maxLength = options.maxLength ?? 1024 * 1024;
  const maxCertificates = options.maxCertificates ?? 32;
  assertInteger(maxLength, 'options.maxLength', 1);
  assertInteger(maxCertificates, 'options.maxCertificates', 1);
  if (!(der instanceof Uint8Array)) throw new InvalidArgumentError('der', 'expected a Uint8Array');
  if (der.length > maxLength) throw fail(`longer than ${maxLength} bytes`);
  const outer = wholeTlv(der);
  if (typeof outer === 'string') throw fail(`ContentInfo: ${outer}`);
  if (outer.tag !== 0x30) throw fail('ContentInfo is not a SEQUENCE');
  const ci = kids(der, outer, 'ContentInfo');
  if (ci.length !== 2) throw fail('ContentInfo must be SEQUENCE { contentType, [0] content }');
  expectOid(der, ci[0], OID_SIGNED_DATA, 'contentType');
  if (ci[1]!.tag !== 0xa0) throw fail('ContentInfo content is not [0] EXPLICIT');
  const wrapped = kids(der, ci[1]!, 'content');
  if (wrapped.length !== 1 || wrapped[0]!.tag !== 0x30) throw fail('content is not one SignedData SEQUENCE');
  const sd = kids(der, wrapped[0]!, 'SignedData');
  const [version, digestAlgorithms, encap] = sd;
  if (version === undefined || version.tag !== 0x02 || version.end - version.start !== 1) throw fail('SignedData version is not a small INTEGER');
  // RFC 5652 §5.1 CMSVersion: 1 for this content; 3 appears when "other" choices are present.
  const v = der[version.start]!;
  if (v !== 1 && v !== 3) throw fail(`SignedData version ${v} is not 1 or 3`);
  if (digestAlgorithms === undefined || digestAlgorithms.tag !== 0x31) throw fail('SignedData digestAlgorithms is not a SET');
  if (encap === undefined || encap.tag !== 0x30) throw fail('SignedData encapContentInfo is not a SEQUENCE');
  const ec = kids(der, encap, 'encapContentInfo');
  expectOid(der, ec[0], OID_DATA, 'eContentType');
  // RFC 5272 §4.1: a Simple PKI Response has "no content", only certificates.
  if (ec.length !== 1) throw fail('encapContentInfo carries content; a certs-only response has none');
  let i = 3;
  let certSet: Tlv | undefined;
  if (sd[i]?.tag === 0xa0) certSet = sd[i++];
  if (sd[i]?.tag === 0xa1) i++; // crls [1]: allowed by the syntax, not used by EST; skipped
  const signerInfos = sd[i++];
  if (signerInfos === undefined || signerInfos.tag !== 0x31) throw fail('SignedData signerInfos is not a SET');
  if (i !== sd.length) throw fail('SignedData has fields after signerInfos');
  // RFC 5272 §4.1: "The signerInfo field is always empty" in a Simple PKI Response.
  if (signerInfos.end !== signerInfos.start) throw fail('signerInfos is not empty; a certs-only response is unsigned');
  if (certSet === undefined) return [];
  const certs = kids(der, certSet, 'certificates', maxCertificates);
  return certs.map((tlv, n) => {
    if (tlv.tag !== 0x30) throw fail(`certificates[${n}] is not an X.509 Certificate (other CertificateChoices are not supported)`);
    const cert = der.slice(tlv.offset, tlv.end);
    try {
      parseCertificate(cert);
    } catch (err) {
      if (err instanceof RootlineError) throw fail(`certificates[${n}]: ${err.message}`, err);
      throw err;
    }
    return cert;
  });
}
