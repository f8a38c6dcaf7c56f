/**
 * Creating a PKCS#10 certification request (RFC 2986) with a Signer: what a device does in EST
 * /simpleenroll, with its key in a KeyStore or secure element.
 *
 * The CertificationRequestInfo is written by hand (`encodeInfo`), as sign-certificate.ts writes
 * the TBSCertificate: the key is DER already, the Name's strings and the attributes are small.
 * Through @peculiar/asn1-schema the same bytes cost ≈ 320 µs per CSR (the SPKI parsed back into
 * the schema, every field serialized through asn1js), most of a simulated pledge's CSR cost. The
 * bytes are the schema library's (`encodeInfoBySchema`, kept for keys outside the DER profile of
 * certificate-der.ts, for Names with other value kinds, and for the tests, which compare the two
 * byte for byte; ROOTLINE_PKI_DIFFERENTIAL=1 compares every CSR made).
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Attributes, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { Attribute, DirectoryString, Extensions, SubjectPublicKeyInfo, type Extension, type Name } from '@peculiar/asn1-x509';
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertString } from '../util/assert.js';
import { assertSigner, signatureAlgorithmFor, signForX509 } from './algorithms.js';
import { readPublicKeyDer } from './certificate-der.js';
import { bytesEqual, derBitString, derOid, derSequence, derTlv, toArrayBuffer, toHex } from './der.js';
import {
  assertOid,
  encodeExtKeyUsage,
  encodeKeyUsage,
  encodeSubjectAltNames,
  extension,
  type ExtraExtension,
  type KeyUsageName,
  type SubjectAltNames,
} from './extensions.js';
import { buildName, type DistinguishedNameInput } from './name.js';
import { OID } from './oids.js';
import { parsePublicKey } from './public-key.js';

export interface CreateCsrOptions {
  signer: Signer;
  subject: DistinguishedNameInput;
  subjectAltNames?: SubjectAltNames;
  keyUsage?: KeyUsageName[];
  extKeyUsage?: string[];
  /** More extensions to request, as OID + DER value. */
  extensions?: ExtraExtension[];
  /** PKCS#9 challengePassword (RFC 2985 §5.4.1), e.g. for EST servers that want one. */
  challengePassword?: string;
}

/** Returns the CSR as DER (use `encodePem('CERTIFICATE REQUEST', der)` for PEM). */
export async function createCsr(options: CreateCsrOptions): Promise<Uint8Array> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const { signer } = options;
  assertSigner(signer, 'options.signer');
  const subject = buildName(options.subject, 'options.subject');
  parsePublicKey(signer.publicKey);

  const exts = [];
  if (options.keyUsage !== undefined) exts.push(extension(OID.keyUsage, true, encodeKeyUsage(options.keyUsage, 'options.keyUsage')));
  if (options.extKeyUsage !== undefined) exts.push(extension(OID.extKeyUsage, false, encodeExtKeyUsage(options.extKeyUsage, 'options.extKeyUsage')));
  if (options.subjectAltNames !== undefined) {
    const san = encodeSubjectAltNames(options.subjectAltNames, 'options.subjectAltNames');
    if (san !== undefined) exts.push(extension(OID.subjectAltName, subject.length === 0, san));
  }
  for (const [i, e] of (options.extensions ?? []).entries()) {
    assertOid(e?.oid, `options.extensions[${i}].oid`);
    assertBytes(e.value, `options.extensions[${i}].value`, { min: 1 });
    if (exts.some((x) => x.extnID === e.oid)) throw new InvalidArgumentError(`options.extensions[${i}]`, `duplicate extension ${e.oid}`);
    exts.push(extension(e.oid, e.critical === true, e.value));
  }
  if (options.challengePassword !== undefined) assertString(options.challengePassword, 'options.challengePassword', { max: 255 });
  const fields: CsrInfoFields = { subject, publicKey: signer.publicKey, extensions: exts, ...(options.challengePassword !== undefined ? { challengePassword: options.challengePassword } : {}) };
  const infoDer = encodeInfo(fields);
  const signature = await signForX509(signer, infoDer);
  return derSequence(infoDer, algorithmDer(signer), derBitString(signature));
}

/** What goes into a CertificationRequestInfo (internal; checked by createCsr). */
export interface CsrInfoFields {
  subject: Name;
  /** SubjectPublicKeyInfo DER. */
  publicKey: Uint8Array;
  extensions: Extension[];
  challengePassword?: string;
}

/** ROOTLINE_PKI_DIFFERENTIAL=1 (tests only): see certificate.ts. */
const DIFFERENTIAL = process.env.ROOTLINE_PKI_DIFFERENTIAL === '1';

/** Internal (tests): the CertificationRequestInfo DER, written by hand (the schema library's bytes). */
export function encodeInfo(fields: CsrInfoFields): Uint8Array {
  const name = readPublicKeyDer(fields.publicKey) === undefined ? undefined : nameDerOf(fields.subject);
  // A key outside the reader's DER profile, or a Name value of another kind: the schema library, as always.
  if (name === undefined) return encodeInfoBySchema(fields);
  const attributes: Uint8Array[] = [];
  if (fields.challengePassword !== undefined) attributes.push(derSequence(derOid(OID.challengePassword), derTlv(0x31, utf8String(fields.challengePassword))));
  if (fields.extensions.length > 0) attributes.push(derSequence(derOid(OID.extensionRequest), derTlv(0x31, derSequence(...fields.extensions.map(extensionDer)))));
  // RFC 2986 §4.1: version 0; attributes [0] IMPLICIT SET OF, in the order the schema library writes them.
  const info = derSequence(VERSION_0, name, fields.publicKey, derTlv(0xa0, derConcat(attributes)));
  if (DIFFERENTIAL) {
    const reference = encodeInfoBySchema(fields);
    if (!bytesEqual(reference, info)) throw new Error(`ROOTLINE_PKI_DIFFERENTIAL: hand-written CertificationRequestInfo ${toHex(info)} differs from ${toHex(reference)}`);
  }
  return info;
}

/** Internal (tests): the CertificationRequestInfo DER as the schema library encodes it. */
export function encodeInfoBySchema(fields: CsrInfoFields): Uint8Array {
  const attributes = new Attributes();
  if (fields.challengePassword !== undefined) {
    const pw = AsnConvert.serialize(new DirectoryString({ utf8String: fields.challengePassword }));
    attributes.push(new Attribute({ type: OID.challengePassword, values: [pw] }));
  }
  if (fields.extensions.length > 0) {
    attributes.push(new Attribute({ type: OID.extensionRequest, values: [AsnConvert.serialize(new Extensions(fields.extensions))] }));
  }
  const info = new CertificationRequestInfo({
    version: 0,
    subject: fields.subject,
    subjectPKInfo: AsnConvert.parse(toArrayBuffer(fields.publicKey), SubjectPublicKeyInfo),
    // RFC 2986 §4.1: attributes is not OPTIONAL; an empty set is encoded as [0] {} (A0 00).
    attributes,
  });
  return new Uint8Array(AsnConvert.serialize(info));
}

const VERSION_0 = Uint8Array.from([0x02, 0x01, 0x00]);
const CRITICAL = Uint8Array.from([0x01, 0x01, 0xff]);

function derConcat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function utf8String(s: string): Uint8Array {
  return derTlv(0x0c, Buffer.from(s, 'utf8'));
}

/**
 * A Name's DER from its RDNs (buildName has checked and ordered them): the three string kinds
 * buildName makes; undefined for anything else (the caller then takes the schema library).
 */
function nameDerOf(name: Name): Uint8Array | undefined {
  const rdns: Uint8Array[] = [];
  for (const rdn of name) {
    const atvs: Uint8Array[] = [];
    for (const atv of rdn) {
      const v = atv.value;
      let value: Uint8Array;
      if (v.utf8String !== undefined) value = utf8String(v.utf8String);
      else if (v.printableString !== undefined) value = derTlv(0x13, Buffer.from(v.printableString, 'latin1'));
      else if (v.ia5String !== undefined) value = derTlv(0x16, Buffer.from(v.ia5String, 'latin1'));
      else return undefined;
      atvs.push(derSequence(derOid(atv.type), value));
    }
    rdns.push(derTlv(0x31, derConcat(atvs)));
  }
  return derTlv(0x30, rdns.length === 0 ? new Uint8Array(0) : derConcat(rdns));
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } (as sign-certificate.ts). */
function extensionDer(ext: Extension): Uint8Array {
  const value = new Uint8Array(ext.extnValue.buffer);
  // X.690 §11.5: a DEFAULT value is not encoded; §11.1: TRUE is FF.
  return ext.critical === true ? derSequence(derOid(ext.extnID), CRITICAL, derTlv(0x04, value)) : derSequence(derOid(ext.extnID), derTlv(0x04, value));
}

/** The signature AlgorithmIdentifier's DER per Signer algorithm (ES256, EdDSA: fixed, parameter-less). */
const ALGORITHMS = new Map<string, Uint8Array>();

function algorithmDer(signer: Signer): Uint8Array {
  let der = ALGORITHMS.get(signer.algorithm);
  if (der === undefined) {
    der = new Uint8Array(AsnConvert.serialize(signatureAlgorithmFor(signer)));
    ALGORITHMS.set(signer.algorithm, der);
  }
  return der;
}
