/**
 * Creating a PKCS#10 certification request (RFC 2986) with a Signer: what a device does in EST
 * /simpleenroll, with its key in a KeyStore or secure element.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Attributes, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { Attribute, DirectoryString, Extensions, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertString } from '../util/assert.js';
import { assertSigner, signatureAlgorithmFor, signForX509 } from './algorithms.js';
import { derBitString, derSequence, toArrayBuffer } from './der.js';
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
  const attributes = new Attributes();
  if (options.challengePassword !== undefined) {
    assertString(options.challengePassword, 'options.challengePassword', { max: 255 });
    const pw = AsnConvert.serialize(new DirectoryString({ utf8String: options.challengePassword }));
    attributes.push(new Attribute({ type: OID.challengePassword, values: [pw] }));
  }
  if (exts.length > 0) {
    attributes.push(new Attribute({ type: OID.extensionRequest, values: [AsnConvert.serialize(new Extensions(exts))] }));
  }
  const info = new CertificationRequestInfo({
    version: 0,
    subject,
    subjectPKInfo: AsnConvert.parse(toArrayBuffer(signer.publicKey), SubjectPublicKeyInfo),
    // RFC 2986 §4.1: attributes is not OPTIONAL; an empty set is encoded as [0] {} (A0 00).
    attributes,
  });
  const infoDer = new Uint8Array(AsnConvert.serialize(info));
  const algorithm = signatureAlgorithmFor(signer);
  const signature = await signForX509(signer, infoDer);
  return derSequence(infoDer, new Uint8Array(AsnConvert.serialize(algorithm)), derBitString(signature));
}
