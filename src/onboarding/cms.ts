/**
 * CMS SignedData (RFC 5652) for vouchers and voucher requests: one signer, signed attributes,
 * the signer's certificate chain carried in `certificates`, encapsulated content (RFC 8366 §5.4:
 * "The signed data ... MUST contain ... the voucher ... as eContent"). Signatures go through the
 * Signer interface, so the MASA or registrar key may sit in a KeyStore or PKCS#11 token.
 *
 * Written on @peculiar/asn1-cms (the ASN.1 schema only); the signing and checking rules are
 * here so each is visible next to the RFC text it implements.
 */
import { createHash } from 'node:crypto';
import { id_contentType, id_messageDigest, id_signedData, id_signingTime, SigningTime } from '@peculiar/asn1-cms';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import { ecdsaRawToDer } from '../crypto/ecdsa-signature.js';
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError, RootlineError } from '../errors.js';
import { verifySignature } from '../pki/algorithms.js';
import { reencodesToItself } from '../pki/certificate.js';
import { derOid, derSequence, derTlv, readTlv, toArrayBuffer, type Tlv } from '../pki/der.js';
import { parseCertificate, verifyChain, type CertificateInput, type ParsedCertificate } from '../pki/index.js';
import { MalformedSignedVoucherError, UntrustedVoucherSignerError, VoucherSignatureError } from './errors.js';

/** id-ct-animaJSONVoucher (RFC 8366 §8.3). */
export const ID_CT_ANIMA_JSON_VOUCHER = '1.2.840.113549.1.9.16.1.40';
/** id-data: what some deployed MASAs and pledges use instead (accepted only when asked for). */
export const ID_DATA = '1.2.840.113549.1.7.1';

const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const OID_SHA512 = '2.16.840.1.101.3.4.2.3';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA_SHA384 = '1.2.840.10045.4.3.3';
const OID_ECDSA_SHA512 = '1.2.840.10045.4.3.4';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_RSA = '1.2.840.113549.1.1.1';
const OID_ED25519 = '1.3.101.112';

const DIGESTS: ReadonlyMap<string, string> = new Map([
  [OID_SHA256, 'sha256'],
  [OID_SHA384, 'sha384'],
  [OID_SHA512, 'sha512'],
]);

export interface SignCmsOptions {
  content: Uint8Array;
  contentType: string;
  signer: Signer;
  /** The signer's certificate (DER or PEM) first, then any intermediates to carry along. */
  certificates: readonly CertificateInput[];
  /** signingTime attribute (default now). */
  signingTime?: Date;
}

export interface VerifyCmsOptions {
  /** eContentType(s) the caller accepts; anything else is refused. */
  contentType: string | readonly string[];
  /**
   * Anchors the signer's chain must end at. Leave out only where the protocol trusts the chain
   * by other means (the MASA pins whatever domain signed the registrar request, RFC 8995 §5.5.4).
   */
  trustAnchors?: readonly CertificateInput[];
  /** Validation time for the chain (default now). */
  at?: Date;
  /** EKU the signer certificate must allow when it restricts EKU. */
  purpose?: string;
  /** Largest input accepted (default 256 KiB). */
  maxLength?: number;
}

export interface VerifiedCms {
  content: Uint8Array;
  signerCertificate: ParsedCertificate;
  /** Every certificate the message carried, in order. */
  certificates: ParsedCertificate[];
  /** Leaf first, anchor last; present when trustAnchors were given. */
  chain?: ParsedCertificate[];
  signingTime?: Date;
}

function toDer(input: CertificateInput): Uint8Array {
  if (typeof input === 'object' && input !== null && 'der' in input && input.der instanceof Uint8Array) return input.der;
  return parseCertificate(input as Uint8Array | string).der;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Creates a DER ContentInfo holding SignedData over `content`. */
export async function signCms(options: SignCmsOptions): Promise<Uint8Array> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (!(options.content instanceof Uint8Array)) throw new InvalidArgumentError('content', 'expected a Uint8Array');
  if (!Array.isArray(options.certificates) || options.certificates.length === 0) throw new InvalidArgumentError('certificates', "expected the signer's certificate first");
  const ders = options.certificates.map((c) => toDer(c));
  const signerCert = parseCertificate(ders[0]!);
  if (Buffer.compare(Buffer.from(signerCert.publicKey), Buffer.from(options.signer.publicKey)) !== 0) {
    throw new InvalidArgumentError('certificates', "the first certificate does not certify the signer's key");
  }
  // RFC 8419 §3: with signed attributes, Ed25519 uses SHA-512 for the message digest.
  const digestOid = options.signer.algorithm === 'ES256' ? OID_SHA256 : OID_SHA512;
  const signatureOid = options.signer.algorithm === 'ES256' ? OID_ECDSA_SHA256 : OID_ED25519;
  const digest = createHash(DIGESTS.get(digestOid)!).update(options.content).digest();
  // RFC 5652 §5.3/§11: contentType, signingTime and messageDigest, each one value; X.690 §11.6:
  // DER orders the SET OF components by their encodings.
  const attributes = [
    attributeDer(OID_CONTENT_TYPE, derOid(options.contentType)),
    attributeDer(OID_SIGNING_TIME, timeDer(options.signingTime ?? new Date())),
    attributeDer(OID_MESSAGE_DIGEST, derTlv(0x04, digest)),
  ].sort(compareBytes);
  const toBeSigned = derTlv(0x31, Buffer.concat(attributes));
  const raw = await options.signer.sign(toBeSigned);
  const signature = options.signer.algorithm === 'ES256' ? ecdsaRawToDer(raw) : raw;
  // A token that signs with another key, or a fault, must not yield a voucher that fails later.
  if (!verifySignature(options.signer.publicKey, signatureOid, toBeSigned, signature)) {
    throw new VoucherSignatureError("the signer's signature does not verify with its own public key");
  }
  // Written directly as DER: the signed attributes go in as the very bytes that were signed (only
  // the SET OF tag becomes [0] IMPLICIT, RFC 5652 §5.4) and the certificates as given.
  const digestAlgorithm = derSequence(derOid(digestOid));
  const signedAttrs = Uint8Array.from(toBeSigned);
  signedAttrs[0] = 0xa0;
  const signerInfo = derSequence(
    // RFC 5652 §5.3: version 1 with issuerAndSerialNumber.
    INTEGER_1,
    derSequence(signerCert.issuerDer, serialNumberTlv(signerCert)),
    digestAlgorithm,
    signedAttrs,
    derSequence(derOid(signatureOid)),
    derTlv(0x04, signature),
  );
  const signedData = derSequence(
    // RFC 5652 §5.1: version 3 when eContentType is not id-data.
    INTEGER_3,
    derTlv(0x31, digestAlgorithm),
    derSequence(derOid(options.contentType), derTlv(0xa0, derTlv(0x04, options.content))),
    derTlv(0xa0, Buffer.concat(ders)),
    derTlv(0x31, signerInfo),
  );
  return new Uint8Array(derSequence(derOid(id_signedData), derTlv(0xa0, signedData)));
}

const INTEGER_1 = Uint8Array.of(0x02, 0x01, 0x01);
const INTEGER_3 = Uint8Array.of(0x02, 0x01, 0x03);
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';

/** Attribute ::= SEQUENCE { attrType OID, attrValues SET OF (one value) }. */
function attributeDer(type: string, value: Uint8Array): Uint8Array {
  return derSequence(derOid(type), derTlv(0x31, value));
}

/**
 * RFC 5652 §11.3: signingTime as UTCTime through 2049, GeneralizedTime from 2050, whole seconds
 * ("YYMMDDHHMMSSZ" / "YYYYMMDDHHMMSSZ", RFC 5280 §4.1.2.5.1-2).
 */
function timeDer(at: Date): Uint8Array {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('signingTime', 'expected a valid Date');
  const two = (n: number): string => String(n).padStart(2, '0');
  const year = d.getUTCFullYear();
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return year > 2049 ? derTlv(0x18, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1')) : derTlv(0x17, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'));
}

/** The certificate's serialNumber INTEGER exactly as it is encoded in its TBSCertificate. */
function serialNumberTlv(cert: ParsedCertificate): Uint8Array {
  const tbs = readTlv(cert.tbs, 0);
  let field = typeof tbs === 'string' ? tbs : readTlv(cert.tbs, tbs.start);
  if (typeof field !== 'string' && field.tag === 0xa0) field = readTlv(cert.tbs, field.end);
  if (typeof field === 'string' || field.tag !== 0x02) throw new InvalidArgumentError('certificates', 'the signer certificate has no serialNumber');
  return cert.tbs.subarray(field.offset, field.end);
}

function signatureAlgorithm(sigOid: string, digestOid: string): string {
  if (sigOid === OID_EC_PUBLIC_KEY) {
    const byDigest: Record<string, string> = { [OID_SHA256]: OID_ECDSA_SHA256, [OID_SHA384]: OID_ECDSA_SHA384, [OID_SHA512]: OID_ECDSA_SHA512 };
    const alg = byDigest[digestOid];
    if (alg !== undefined) return alg;
  }
  if (sigOid === OID_RSA) {
    const byDigest: Record<string, string> = { [OID_SHA256]: '1.2.840.113549.1.1.11', [OID_SHA384]: '1.2.840.113549.1.1.12', [OID_SHA512]: '1.2.840.113549.1.1.13' };
    const alg = byDigest[digestOid];
    if (alg !== undefined) return alg;
  }
  return sigOid;
}

function malformed(what: string): MalformedSignedVoucherError {
  return new MalformedSignedVoucherError(`CMS structure: ${what}`);
}

/** The child TLVs of `parent`, each with definite, minimal lengths (DER) and inside its parent. */
function childrenOf(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const child = readTlv(bytes, p);
    if (typeof child === 'string') throw malformed(child);
    if (child.end > parent.end) throw malformed('a child runs past its parent');
    out.push(child);
    p = child.end;
  }
  return out;
}

/**
 * An OBJECT IDENTIFIER's dotted form; undefined unless the encoding is the one DER allows (X.690
 * §8.19: each subidentifier in the fewest octets, no leading 0x80).
 */
function decodeOid(bytes: Uint8Array, tlv: Tlv): string | undefined {
  if (tlv.tag !== 0x06 || tlv.end === tlv.start || (bytes[tlv.end - 1]! & 0x80) !== 0) return undefined;
  const arcs: bigint[] = [];
  let v = 0n;
  let fresh = true;
  for (let i = tlv.start; i < tlv.end; i++) {
    const b = bytes[i]!;
    if (fresh && b === 0x80) return undefined;
    v = (v << 7n) | BigInt(b & 0x7f);
    fresh = (b & 0x80) === 0;
    if (fresh) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

function oidAt(bytes: Uint8Array, tlv: Tlv | undefined, what: string): string {
  const oid = tlv === undefined ? undefined : decodeOid(bytes, tlv);
  if (oid === undefined) throw malformed(`${what} is not a DER OBJECT IDENTIFIER`);
  return oid;
}

/**
 * AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }. Parameters: absent
 * (ECDSA, Ed25519, RFC 5754 §3 "SHOULD" absent digests) or NULL; anything else is unsigned noise.
 */
function algorithmAt(bytes: Uint8Array, tlv: Tlv | undefined, what: string): string {
  if (tlv?.tag !== 0x30) throw malformed(`${what} is not an AlgorithmIdentifier`);
  const kids = childrenOf(bytes, tlv);
  const oid = oidAt(bytes, kids[0], what);
  if (kids.length > 2) throw malformed(`${what} has extra fields`);
  const params = kids[1];
  if (params !== undefined && !(params.tag === 0x05 && params.end === params.start)) throw new MalformedSignedVoucherError(`algorithm ${oid} carries parameters`);
  return oid;
}

function bytesOf(bytes: Uint8Array, tlv: Tlv): Uint8Array {
  return bytes.subarray(tlv.offset, tlv.end);
}

interface SignedAttribute {
  type: string;
  values: Uint8Array[];
}

/** A CMS SignedData with one signer, taken apart (views into the input). */
interface CmsParts {
  eContentType: string;
  content: Uint8Array;
  /** The signer identifier: issuer Name DER and serial hex, or a subjectKeyIdentifier (hex). */
  sidIssuer?: Uint8Array;
  sidSerial?: string;
  sidKeyId?: string;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  signature: Uint8Array;
  /** The signed attributes re-tagged as the SET OF the signature covers (a copy). */
  signedAttributes: Uint8Array;
  attributes: SignedAttribute[];
  /** Each carried certificate exactly as received (CertificateChoices `certificate` arm). */
  certificates: Uint8Array[];
}

/**
 * Reads ContentInfo { id-signedData, [0] SignedData } by hand, field by field, as DER: every
 * length definite and minimal, every OID and INTEGER in its one DER form, no field the structure
 * does not have, nothing after the end. CMS signs only the content and the signed attributes; the
 * envelope around them (versions, digestAlgorithms, the signer's algorithm fields, carried
 * certificates) is not covered, so it must be the one DER encoding of its values (RFC 5652 §5
 * "DER encoded" for signed parts, held here for the whole message) and its unsigned fields must
 * carry the one value RFC 5652 allows for our use; a changed envelope cannot pass as the same
 * signed message.
 */
function readSignedData(der: Uint8Array): CmsParts {
  const ci = readTlv(der, 0);
  if (typeof ci === 'string' || ci.tag !== 0x30 || ci.end !== der.length) throw malformed('not one DER SEQUENCE');
  const ciKids = childrenOf(der, ci);
  const contentType = oidAt(der, ciKids[0], 'ContentInfo contentType');
  if (contentType !== id_signedData) throw new MalformedSignedVoucherError(`content type ${contentType} is not SignedData`);
  const wrapper = ciKids[1];
  if (ciKids.length !== 2 || wrapper?.tag !== 0xa0) throw malformed('no SignedData');
  const wrapped = childrenOf(der, wrapper);
  const sd = wrapped[0];
  if (wrapped.length !== 1 || sd?.tag !== 0x30) throw malformed('no SignedData');

  // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo,
  //   certificates [0] IMPLICIT OPTIONAL, crls [1] IMPLICIT OPTIONAL, signerInfos SET }
  const sdKids = childrenOf(der, sd);
  const [version, digestAlgorithms, encap] = sdKids;
  let next = 3;
  const certSet = sdKids[next]?.tag === 0xa0 ? sdKids[next++] : undefined;
  // Vouchers use no CRLs, and they are not covered by the signature.
  if (sdKids[next]?.tag === 0xa1) throw new MalformedSignedVoucherError('CRLs in a voucher envelope are not accepted');
  const signerInfos = sdKids[next++];
  if (version?.tag !== 0x02 || digestAlgorithms?.tag !== 0x31 || encap?.tag !== 0x30 || signerInfos?.tag !== 0x31 || next !== sdKids.length) throw malformed('not a CMS SignedData structure');

  const encapKids = childrenOf(der, encap);
  const eContentType = oidAt(der, encapKids[0], 'eContentType');
  const explicit = encapKids[1];
  if (encapKids.length > 2 || (explicit !== undefined && explicit.tag !== 0xa0)) throw malformed('encapContentInfo has extra fields');
  const single = explicit === undefined ? [] : childrenOf(der, explicit);
  if (single.length !== 1 || single[0]!.tag !== 0x04) throw new MalformedSignedVoucherError('no encapsulated content (detached or constructed eContent is not accepted)');
  const content = der.subarray(single[0]!.start, single[0]!.end);

  const infos = childrenOf(der, signerInfos);
  if (infos.length !== 1) throw new MalformedSignedVoucherError(`expected exactly one signer, found ${infos.length}`);
  if (infos[0]!.tag !== 0x30) throw malformed('SignerInfo is not a SEQUENCE');
  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, signedAttrs [0] IMPLICIT OPTIONAL,
  //   signatureAlgorithm, signature OCTET STRING, unsignedAttrs [1] IMPLICIT OPTIONAL }
  const siKids = childrenOf(der, infos[0]!);
  const [siVersion, sid, siDigest, attrs, siSignature, signature, unsigned] = siKids;
  if (attrs?.tag !== 0xa0) throw new MalformedSignedVoucherError('CMS structure: signed attributes are missing');
  if (unsigned !== undefined) throw new MalformedSignedVoucherError(unsigned.tag === 0xa1 && siKids.length === 7 ? 'unsigned attributes are not accepted' : 'CMS structure: SignerInfo has extra fields');
  if (siVersion?.tag !== 0x02 || signature?.tag !== 0x04) throw malformed('not a CMS SignerInfo');

  const parts: Partial<CmsParts> = {};
  if (sid?.tag === 0x30) {
    // IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber INTEGER }
    const ias = childrenOf(der, sid);
    if (ias.length !== 2 || ias[0]!.tag !== 0x30 || ias[1]!.tag !== 0x02 || ias[1]!.end === ias[1]!.start) throw malformed('not an IssuerAndSerialNumber');
    parts.sidIssuer = bytesOf(der, ias[0]!);
    parts.sidSerial = Buffer.from(der.subarray(ias[1]!.start, ias[1]!.end)).toString('hex').replace(/^(00)+(?=[0-9a-f]{2})/, '');
  } else if (sid?.tag === 0x80) {
    parts.sidKeyId = Buffer.from(der.subarray(sid.start, sid.end)).toString('hex');
  } else throw malformed('no signer identifier');
  // RFC 5652 §5.3: SignerInfo version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
  const signerVersion = parts.sidKeyId !== undefined ? INTEGER_3 : INTEGER_1;
  if (compareBytes(bytesOf(der, siVersion), signerVersion) !== 0) throw new MalformedSignedVoucherError('SignerInfo version does not match its signer identifier');
  // RFC 5652 §5.1: version 3 when eContentType is not id-data or a SignerInfo is version 3, else 1
  // (4 and 5 need attribute or other-format certificates/CRLs, which are refused).
  const sdVersion = eContentType !== ID_DATA || signerVersion === INTEGER_3 ? INTEGER_3 : INTEGER_1;
  if (compareBytes(bytesOf(der, version), sdVersion) !== 0) throw new MalformedSignedVoucherError(`SignedData version is not ${sdVersion[2]}`);
  const digestAlgorithm = algorithmAt(der, siDigest, 'digestAlgorithm');
  const signatureAlgorithm = algorithmAt(der, siSignature, 'signatureAlgorithm');
  // RFC 5652 §5.1: digestAlgorithms lists the signers' digest algorithms; there is one signer.
  const listed = childrenOf(der, digestAlgorithms);
  if (listed.length !== 1 || compareBytes(bytesOf(der, listed[0]!), bytesOf(der, siDigest!)) !== 0) {
    throw new MalformedSignedVoucherError("digestAlgorithms does not list exactly the signer's digest algorithm");
  }

  // Attribute ::= SEQUENCE { attrType OID, attrValues SET OF ANY }; X.690 §11.6: the SET OF is in
  // the order of the attributes' encodings.
  const attributes: SignedAttribute[] = [];
  let previous: Uint8Array | undefined;
  for (const a of childrenOf(der, attrs)) {
    const encoded = bytesOf(der, a);
    if (previous !== undefined && compareBytes(previous, encoded) > 0) throw new MalformedSignedVoucherError('signed attributes are not DER-encoded');
    previous = encoded;
    const kids = a.tag === 0x30 ? childrenOf(der, a) : [];
    if (kids.length !== 2 || kids[1]!.tag !== 0x31) throw new MalformedSignedVoucherError('signed attributes are not DER-encoded');
    attributes.push({ type: oidAt(der, kids[0], 'attrType'), values: childrenOf(der, kids[1]!).map((v) => bytesOf(der, v)) });
  }
  if (attributes.length === 0) throw new MalformedSignedVoucherError('signed attributes are missing');
  // A copy (Uint8Array.from): a Buffer's slice() is a view, and the tag is rewritten.
  const signedAttributes = Uint8Array.from(bytesOf(der, attrs));
  signedAttributes[0] = 0x31;

  const certificates = certSet === undefined ? [] : childrenOf(der, certSet).map((c) => {
    // Only the plain `certificate` arm (a SEQUENCE) is accepted: attribute and other certificates have no use here.
    if (c.tag !== 0x30) throw malformed('only X.509 certificates may be carried');
    return Uint8Array.from(bytesOf(der, c));
  });
  return { ...parts, eContentType, content: Uint8Array.from(content), digestAlgorithm, signatureAlgorithm, signature: Uint8Array.from(der.subarray(signature.start, signature.end)), signedAttributes, attributes, certificates };
}

/**
 * A carried certificate must also be in the encoding its parse gives back (the envelope is not
 * signed, and two encodings of one certificate must not both pass). `reencodesToItself` keeps
 * its answer by the exact bytes: the same CA and signer certificates arrive in every message.
 */
function requireCanonicalCertificate(der: Uint8Array): void {
  if (!reencodesToItself(der)) throw new MalformedSignedVoucherError('the CMS envelope is not DER-encoded');
}

/** The issuer Name of an issuerAndSerialNumber matched no certificate: tell a malformed Name apart. */
function requireCanonicalName(der: Uint8Array): void {
  let reencoded: Uint8Array;
  try {
    reencoded = new Uint8Array(AsnConvert.serialize(AsnConvert.parse(toArrayBuffer(der), Name)));
  } catch (err) {
    throw new MalformedSignedVoucherError('not a CMS SignedData structure', { cause: err });
  }
  if (compareBytes(reencoded, der) !== 0) throw new MalformedSignedVoucherError('the CMS envelope is not DER-encoded');
}

function singleAttribute(attrs: readonly SignedAttribute[], type: string): Uint8Array | undefined {
  const found = attrs.filter((a) => a.type === type);
  if (found.length > 1 || (found.length === 1 && found[0]!.values.length !== 1)) {
    // RFC 5652 §11.1/§11.2: contentType and messageDigest MUST have a single attribute value.
    throw new MalformedSignedVoucherError(`attribute ${type} must occur once with one value`);
  }
  return found[0]?.values[0];
}

/** signingTime (RFC 5652 §11.3): UTCTime or GeneralizedTime in whole seconds, Z. */
function readSigningTime(value: Uint8Array): Date {
  const text = Buffer.from(value.subarray(2)).toString('latin1');
  const m = value.length === 2 + text.length && value[1] === text.length ? (value[0] === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : value[0] === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : undefined)?.exec(text) : undefined;
  if (m !== undefined && m !== null) {
    let year = Number(m[1]);
    if (value[0] === 0x17) year += year >= 50 ? 1900 : 2000;
    const at = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
    // Only a date that reads back the same is taken here (no month 13, no 31 April).
    if (at.getUTCFullYear() === year && at.getUTCMonth() === Number(m[2]) - 1 && at.getUTCDate() === Number(m[3]) && at.getUTCHours() === Number(m[4]) && at.getUTCMinutes() === Number(m[5]) && at.getUTCSeconds() === Number(m[6])) return at;
  }
  // Any other form is read as the schema library reads it.
  try {
    return AsnConvert.parse(toArrayBuffer(value), SigningTime).getTime();
  } catch (err) {
    throw new MalformedSignedVoucherError('signingTime is malformed', { cause: err });
  }
}

/** Verifies a CMS SignedData (DER) and returns its content and signer. */
export function verifyCms(input: Uint8Array, options: VerifyCmsOptions): VerifiedCms {
  if (!(input instanceof Uint8Array)) throw new InvalidArgumentError('input', 'expected a Uint8Array');
  const max = options.maxLength ?? 262_144;
  if (input.length > max) throw new MalformedSignedVoucherError(`longer than ${max} bytes`);
  const cms = readSignedData(input);
  const accepted = typeof options.contentType === 'string' ? [options.contentType] : options.contentType;
  const eContentType = cms.eContentType;
  if (!accepted.includes(eContentType)) throw new MalformedSignedVoucherError(`content type ${eContentType} is not ${accepted.join(' or ')}`);
  const content = cms.content;
  for (const der of cms.certificates) requireCanonicalCertificate(der);
  let certificates: ParsedCertificate[];
  try {
    certificates = cms.certificates.map((der) => parseCertificate(der));
  } catch (err) {
    throw new MalformedSignedVoucherError('a carried certificate cannot be parsed', { cause: err });
  }
  const signerCertificate = certificates.find((c) => {
    if (cms.sidIssuer !== undefined) return compareBytes(cms.sidIssuer, c.issuerDer) === 0 && cms.sidSerial === c.serialNumber;
    return cms.sidKeyId !== undefined && c.subjectKeyIdentifier === cms.sidKeyId;
  });
  // RFC 8366 §5.4 / RFC 8995 §5.5: the signer's certificate is carried in the message.
  if (signerCertificate === undefined) {
    if (cms.sidIssuer !== undefined) requireCanonicalName(cms.sidIssuer);
    throw new UntrustedVoucherSignerError("the signer's certificate is not included");
  }

  // RFC 5652 §5.3: signedAttrs MUST be present when the content type is not id-data (checked
  // while reading); what was parsed is exactly what the signature covers.
  const signedBytes = cms.signedAttributes;
  const hashName = DIGESTS.get(cms.digestAlgorithm);
  if (hashName === undefined) throw new MalformedSignedVoucherError(`digest algorithm ${cms.digestAlgorithm} is not supported`);
  const ct = singleAttribute(cms.attributes, id_contentType);
  // RFC 5652 §11.1: the content-type attribute MUST match the eContentType.
  if (ct === undefined || compareBytes(ct, derOid(eContentType)) !== 0) throw new VoucherSignatureError('the content-type attribute does not match the content');
  const md = singleAttribute(cms.attributes, id_messageDigest);
  const digest = createHash(hashName).update(content).digest();
  if (md === undefined || compareBytes(md, derTlv(0x04, digest)) !== 0) throw new VoucherSignatureError('the message digest does not match the content');
  const algorithm = signatureAlgorithm(cms.signatureAlgorithm, cms.digestAlgorithm);
  let ok: boolean;
  try {
    ok = verifySignature(signerCertificate.publicKey, algorithm, signedBytes, cms.signature);
  } catch (err) {
    throw new VoucherSignatureError(`signature algorithm ${cms.signatureAlgorithm} is not supported`, { cause: err });
  }
  if (!ok) throw new VoucherSignatureError('the signature does not verify');
  if (signerCertificate.keyUsage !== undefined && !signerCertificate.keyUsage.includes('digitalSignature')) {
    throw new UntrustedVoucherSignerError('the signer certificate may not make digital signatures');
  }
  let signingTime: Date | undefined;
  const st = singleAttribute(cms.attributes, id_signingTime);
  if (st !== undefined) signingTime = readSigningTime(st);
  const out: VerifiedCms = { content, signerCertificate, certificates, ...(signingTime !== undefined ? { signingTime } : {}) };
  if (options.trustAnchors !== undefined) {
    const others = certificates.filter((c) => c !== signerCertificate);
    try {
      out.chain = verifyChain(signerCertificate, others, [...options.trustAnchors], { ...(options.at !== undefined ? { at: options.at } : {}), ...(options.purpose !== undefined ? { purpose: options.purpose } : {}) }).chain;
    } catch (err) {
      if (err instanceof RootlineError) throw new UntrustedVoucherSignerError(`the signer certificate does not chain to a trusted anchor: ${err.message}`, { cause: err });
      throw err;
    }
  }
  return out;
}
