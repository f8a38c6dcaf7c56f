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
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  CMSVersion,
  ContentInfo,
  DigestAlgorithmIdentifier,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  id_contentType,
  id_messageDigest,
  id_signedData,
  id_signingTime,
  IssuerAndSerialNumber,
  SignatureAlgorithmIdentifier,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
  SigningTime,
} from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Certificate, Name } from '@peculiar/asn1-x509';
import { ecdsaRawToDer } from '../crypto/ecdsa-signature.js';
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError, RootlineError } from '../errors.js';
import { verifySignature } from '../pki/algorithms.js';
import { derTlv, readTlv, toArrayBuffer, type Tlv } from '../pki/der.js';
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

function encodeOid(oid: string): Uint8Array {
  const parts = oid.split('.').map((p) => BigInt(p));
  const out: number[] = [];
  const push = (v: bigint): void => {
    const bytes = [Number(v & 0x7fn)];
    for (let x = v >> 7n; x > 0n; x >>= 7n) bytes.unshift(Number((x & 0x7fn) | 0x80n));
    out.push(...bytes);
  };
  push(parts[0]! * 40n + parts[1]!);
  for (const p of parts.slice(2)) push(p);
  return derTlv(0x06, new Uint8Array(out));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The DER SET OF the signed attributes: the exact bytes the signature covers (RFC 5652 §5.4). */
function signedAttributesDer(attrs: readonly Attribute[]): { sorted: Attribute[]; der: Uint8Array } {
  const encoded = attrs.map((a) => ({ a, der: new Uint8Array(AsnConvert.serialize(a)) }));
  // X.690 §11.6: DER orders SET OF components by their encodings.
  encoded.sort((x, y) => compareBytes(x.der, y.der));
  return { sorted: encoded.map((e) => e.a), der: derTlv(0x31, Buffer.concat(encoded.map((e) => e.der))) };
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
  const { sorted, der: toBeSigned } = signedAttributesDer([
    new Attribute({ attrType: id_contentType, attrValues: [toArrayBuffer(encodeOid(options.contentType))] }),
    new Attribute({ attrType: id_signingTime, attrValues: [AsnConvert.serialize(new SigningTime(options.signingTime ?? new Date()))] }),
    new Attribute({ attrType: id_messageDigest, attrValues: [toArrayBuffer(derTlv(0x04, digest))] }),
  ]);
  const raw = await options.signer.sign(toBeSigned);
  const signature = options.signer.algorithm === 'ES256' ? ecdsaRawToDer(raw) : raw;
  // A token that signs with another key, or a fault, must not yield a voucher that fails later.
  if (!verifySignature(options.signer.publicKey, signatureOid, toBeSigned, signature)) {
    throw new VoucherSignatureError("the signer's signature does not verify with its own public key");
  }
  const x509 = AsnConvert.parse(toArrayBuffer(signerCert.der), Certificate);
  const signerInfo = new SignerInfo({
    // RFC 5652 §5.3: version 1 with issuerAndSerialNumber.
    version: CMSVersion.v1,
    sid: new SignerIdentifier({ issuerAndSerialNumber: new IssuerAndSerialNumber({ issuer: AsnConvert.parse(toArrayBuffer(signerCert.issuerDer), Name), serialNumber: x509.tbsCertificate.serialNumber }) }),
    digestAlgorithm: new DigestAlgorithmIdentifier({ algorithm: digestOid }),
    signedAttrs: sorted,
    signatureAlgorithm: new SignatureAlgorithmIdentifier({ algorithm: signatureOid }),
    signature: new OctetString(signature),
  });
  const signedData = new SignedData({
    // RFC 5652 §5.1: version 3 when eContentType is not id-data.
    version: CMSVersion.v3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([new DigestAlgorithmIdentifier({ algorithm: digestOid })]),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: options.contentType, eContent: new EncapsulatedContent({ single: new OctetString(options.content) }) }),
    certificates: new CertificateSet(ders.map((d) => new CertificateChoices({ certificate: AsnConvert.parse(toArrayBuffer(d), Certificate) }))),
    signerInfos: new SignerInfos([signerInfo]),
  });
  const der = new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(signedData) })));
  // The serializer re-encodes the attributes; make sure what it wrote reads back as what was signed.
  const check = AsnConvert.parse(AsnConvert.parse(toArrayBuffer(der), ContentInfo).content, SignedData).signerInfos[0]!;
  if (check.signedAttrs === undefined || compareBytes(signedAttributesDer(check.signedAttrs).der, toBeSigned) !== 0) {
    throw new RootlineError('ERR_VOUCHER_INTERNAL', 'signed attributes were re-encoded differently from what was signed');
  }
  return der;
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

function parseSignedData(der: Uint8Array): SignedData {
  try {
    const ci = AsnConvert.parse(toArrayBuffer(der), ContentInfo);
    if (ci.contentType !== id_signedData) throw new MalformedSignedVoucherError(`content type ${ci.contentType} is not SignedData`);
    return AsnConvert.parse(ci.content, SignedData);
  } catch (err) {
    if (err instanceof MalformedSignedVoucherError) throw err;
    throw new MalformedSignedVoucherError('not a CMS SignedData structure', { cause: err });
  }
}

function childrenOf(bytes: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const child = readTlv(bytes, p);
    if (typeof child === 'string') throw new MalformedSignedVoucherError(`CMS structure: ${child}`);
    if (child.end > parent.end) throw new MalformedSignedVoucherError('CMS structure: a child runs past its parent');
    out.push(child);
    p = child.end;
  }
  return out;
}

/**
 * The signed attributes exactly as received, re-tagged as the SET OF the signature covers
 * (RFC 5652 §5.4: "the DER encoding of the SignedAttrs value ... with an EXPLICIT SET OF tag").
 * The carried certificates are taken the same way: the schema library re-encodes what it parsed
 * (lenient about BOOLEANs and lengths), and a certificate must be judged on the bytes that came.
 * Walked by hand because the schema library keeps no raw bytes for SET OF fields and is lenient
 * about lengths; the walk requires definite, minimal lengths (DER) along the way.
 */
interface ReceivedParts {
  /** The signed attributes re-tagged as the SET OF the signature covers. */
  signedAttributes: Uint8Array;
  /** Each carried certificate exactly as received (CertificateChoices `certificate` arm). */
  certificates: Uint8Array[];
}

function receivedParts(der: Uint8Array): ReceivedParts {
  const ci = readTlv(der, 0);
  if (typeof ci === 'string' || ci.tag !== 0x30 || ci.end !== der.length) throw new MalformedSignedVoucherError('CMS structure: not one DER SEQUENCE');
  const wrapper = childrenOf(der, ci)[1];
  const sd = wrapper?.tag === 0xa0 ? childrenOf(der, wrapper)[0] : undefined;
  if (sd?.tag !== 0x30) throw new MalformedSignedVoucherError('CMS structure: no SignedData');
  const sdKids = childrenOf(der, sd);
  const signerInfos = sdKids[sdKids.length - 1];
  if (signerInfos?.tag !== 0x31) throw new MalformedSignedVoucherError('CMS structure: no SignerInfos');
  const infos = childrenOf(der, signerInfos);
  const attrs = infos.length === 1 ? childrenOf(der, infos[0]!)[3] : undefined;
  if (attrs?.tag !== 0xa0) throw new MalformedSignedVoucherError('CMS structure: signed attributes are missing');
  // A copy (Uint8Array.from): a Buffer's slice() is a view, and the tag is rewritten below.
  const signedAttributes = Uint8Array.from(der.subarray(attrs.offset, attrs.end));
  signedAttributes[0] = 0x31;
  // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo, certificates [0] IMPLICIT OPTIONAL, ... }
  const certSet = sdKids[3]?.tag === 0xa0 ? sdKids[3] : undefined;
  const certificates = certSet === undefined ? [] : childrenOf(der, certSet).map((c) => {
    // Only the plain `certificate` arm (a SEQUENCE) is accepted: attribute and other certificates have no use here.
    if (c.tag !== 0x30) throw new MalformedSignedVoucherError('CMS structure: only X.509 certificates may be carried');
    return Uint8Array.from(der.subarray(c.offset, c.end));
  });
  return { signedAttributes, certificates };
}

/**
 * CMS signs only the content and the signed attributes; the envelope around them (versions,
 * digestAlgorithms, the signer's algorithm fields, carried certificates) is not covered. So that
 * a changed envelope cannot pass as the same signed message, the envelope must be exactly what
 * its parse re-encodes to (DER, RFC 5652 §5 "DER encoded" for signed parts, held here for the
 * whole message) and its unsigned fields must carry the one value RFC 5652 allows for our use.
 */
function requireCanonicalEnvelope(input: Uint8Array, sd: SignedData, si: SignerInfo, eContentType: string): void {
  let reencoded: Uint8Array;
  try {
    reencoded = new Uint8Array(AsnConvert.serialize(new ContentInfo({ contentType: id_signedData, content: AsnConvert.serialize(sd) })));
  } catch (err) {
    throw new MalformedSignedVoucherError('the CMS envelope cannot be encoded', { cause: err });
  }
  if (compareBytes(reencoded, input) !== 0) throw new MalformedSignedVoucherError('the CMS envelope is not DER-encoded');
  // RFC 5652 §5.3: SignerInfo version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
  const signerVersion = si.sid.subjectKeyIdentifier !== undefined ? CMSVersion.v3 : CMSVersion.v1;
  if (si.version !== signerVersion) throw new MalformedSignedVoucherError(`SignerInfo version ${si.version} does not match its signer identifier`);
  // RFC 5652 §5.1: version 3 when eContentType is not id-data or a SignerInfo is version 3, else 1
  // (4 and 5 need attribute or other-format certificates/CRLs, which are refused).
  const version = eContentType !== ID_DATA || signerVersion === CMSVersion.v3 ? CMSVersion.v3 : CMSVersion.v1;
  if (sd.version !== version) throw new MalformedSignedVoucherError(`SignedData version ${sd.version} is not ${version}`);
  // RFC 5652 §5.1: digestAlgorithms lists the signers' digest algorithms; there is one signer.
  const digestAlgorithm = new Uint8Array(AsnConvert.serialize(si.digestAlgorithm));
  if (sd.digestAlgorithms.length !== 1 || compareBytes(new Uint8Array(AsnConvert.serialize(sd.digestAlgorithms[0]!)), digestAlgorithm) !== 0) {
    throw new MalformedSignedVoucherError("digestAlgorithms does not list exactly the signer's digest algorithm");
  }
  // Vouchers use neither CRLs nor unsigned attributes, and neither is covered by the signature.
  if (sd.crls !== undefined && sd.crls.length > 0) throw new MalformedSignedVoucherError('CRLs in a voucher envelope are not accepted');
  if (si.unsignedAttrs !== undefined) throw new MalformedSignedVoucherError('unsigned attributes are not accepted');
  // Algorithm parameters: absent (ECDSA, Ed25519, RFC 5754 §3 "SHOULD" absent digests) or NULL; anything else is unsigned noise.
  for (const alg of [si.digestAlgorithm, si.signatureAlgorithm]) {
    if (alg.parameters !== undefined && alg.parameters !== null && !(alg.parameters.byteLength === 2 && new Uint8Array(alg.parameters)[0] === 0x05 && new Uint8Array(alg.parameters)[1] === 0x00)) {
      throw new MalformedSignedVoucherError(`algorithm ${alg.algorithm} carries parameters`);
    }
  }
}

function singleAttribute(attrs: readonly Attribute[], type: string): ArrayBuffer | undefined {
  const found = attrs.filter((a) => a.attrType === type);
  if (found.length > 1 || (found.length === 1 && found[0]!.attrValues.length !== 1)) {
    // RFC 5652 §11.1/§11.2: contentType and messageDigest MUST have a single attribute value.
    throw new MalformedSignedVoucherError(`attribute ${type} must occur once with one value`);
  }
  return found[0]?.attrValues[0];
}

/** Verifies a CMS SignedData (DER) and returns its content and signer. */
export function verifyCms(input: Uint8Array, options: VerifyCmsOptions): VerifiedCms {
  if (!(input instanceof Uint8Array)) throw new InvalidArgumentError('input', 'expected a Uint8Array');
  const max = options.maxLength ?? 262_144;
  if (input.length > max) throw new MalformedSignedVoucherError(`longer than ${max} bytes`);
  const sd = parseSignedData(input);
  const accepted = typeof options.contentType === 'string' ? [options.contentType] : options.contentType;
  const eContentType = sd.encapContentInfo.eContentType;
  if (!accepted.includes(eContentType)) throw new MalformedSignedVoucherError(`content type ${eContentType} is not ${accepted.join(' or ')}`);
  const single = sd.encapContentInfo.eContent?.single;
  if (single === undefined) throw new MalformedSignedVoucherError('no encapsulated content (detached or constructed eContent is not accepted)');
  const content = new Uint8Array(single.buffer);
  if (sd.signerInfos.length !== 1) throw new MalformedSignedVoucherError(`expected exactly one signer, found ${sd.signerInfos.length}`);
  const si = sd.signerInfos[0]!;

  const received = receivedParts(input);
  requireCanonicalEnvelope(input, sd, si, eContentType);
  let certificates: ParsedCertificate[];
  try {
    certificates = received.certificates.map((der) => parseCertificate(der));
  } catch (err) {
    throw new MalformedSignedVoucherError('a carried certificate cannot be parsed', { cause: err });
  }
  const signerCertificate = certificates.find((c) => {
    const ias = si.sid.issuerAndSerialNumber;
    if (ias !== undefined) {
      const issuerDer = new Uint8Array(AsnConvert.serialize(ias.issuer));
      const serial = Buffer.from(ias.serialNumber).toString('hex').replace(/^(00)+(?=[0-9a-f]{2})/, '');
      return compareBytes(issuerDer, c.issuerDer) === 0 && serial === c.serialNumber;
    }
    const ski = si.sid.subjectKeyIdentifier;
    return ski !== undefined && c.subjectKeyIdentifier === Buffer.from(ski.buffer).toString('hex');
  });
  // RFC 8366 §5.4 / RFC 8995 §5.5: the signer's certificate is carried in the message.
  if (signerCertificate === undefined) throw new UntrustedVoucherSignerError("the signer's certificate is not included");

  // RFC 5652 §5.3: signedAttrs MUST be present when the content type is not id-data.
  if (si.signedAttrs === undefined || si.signedAttrs.length === 0) throw new MalformedSignedVoucherError('signed attributes are missing');
  const signedBytes = received.signedAttributes;
  // What was parsed (and is checked below) must be exactly what the signature covers.
  let reencoded: Uint8Array;
  try {
    reencoded = signedAttributesDer(si.signedAttrs).der;
  } catch (err) {
    throw new MalformedSignedVoucherError('signed attributes cannot be encoded', { cause: err });
  }
  if (compareBytes(reencoded, signedBytes) !== 0) throw new MalformedSignedVoucherError('signed attributes are not DER-encoded');
  const hashName = DIGESTS.get(si.digestAlgorithm.algorithm);
  if (hashName === undefined) throw new MalformedSignedVoucherError(`digest algorithm ${si.digestAlgorithm.algorithm} is not supported`);
  const ct = singleAttribute(si.signedAttrs, id_contentType);
  // RFC 5652 §11.1: the content-type attribute MUST match the eContentType.
  if (ct === undefined || compareBytes(new Uint8Array(ct), encodeOid(eContentType)) !== 0) throw new VoucherSignatureError('the content-type attribute does not match the content');
  const md = singleAttribute(si.signedAttrs, id_messageDigest);
  const digest = createHash(hashName).update(content).digest();
  if (md === undefined || compareBytes(new Uint8Array(md), derTlv(0x04, digest)) !== 0) throw new VoucherSignatureError('the message digest does not match the content');
  const algorithm = signatureAlgorithm(si.signatureAlgorithm.algorithm, si.digestAlgorithm.algorithm);
  let ok: boolean;
  try {
    ok = verifySignature(signerCertificate.publicKey, algorithm, signedBytes, new Uint8Array(si.signature.buffer));
  } catch (err) {
    throw new VoucherSignatureError(`signature algorithm ${si.signatureAlgorithm.algorithm} is not supported`, { cause: err });
  }
  if (!ok) throw new VoucherSignatureError('the signature does not verify');
  if (signerCertificate.keyUsage !== undefined && !signerCertificate.keyUsage.includes('digitalSignature')) {
    throw new UntrustedVoucherSignerError('the signer certificate may not make digital signatures');
  }
  let signingTime: Date | undefined;
  const st = singleAttribute(si.signedAttrs, id_signingTime);
  if (st !== undefined) {
    try {
      signingTime = AsnConvert.parse(st, SigningTime).getTime();
    } catch (err) {
      throw new MalformedSignedVoucherError('signingTime is malformed', { cause: err });
    }
  }
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
