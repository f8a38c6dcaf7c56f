/**
 * Building and signing a TBSCertificate (internal). The TBS is serialized once, those exact
 * bytes go to the Signer (which may be a KeyStore or PKCS#11 key that never leaves its store),
 * and the Certificate SEQUENCE is assembled around the same bytes.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Extensions, SubjectPublicKeyInfo, TBSCertificate, Validity, Version, type Extension, type Name } from '@peculiar/asn1-x509';
import type { Signer } from '../crypto/keystore/types.js';
import { signatureAlgorithmFor, signForX509 } from './algorithms.js';
import { derBitString, derSequence, toArrayBuffer } from './der.js';
import { x509Time } from './time.js';

export interface TbsCertificateFields {
  serialContent: Uint8Array;
  issuer: Name;
  subject: Name;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  publicKey: Uint8Array;
  extensions: Extension[];
}

/** Returns the signed certificate DER. */
export async function signCertificate(signer: Signer, fields: TbsCertificateFields): Promise<Uint8Array> {
  const algorithm = signatureAlgorithmFor(signer);
  const tbs = new TBSCertificate({
    // RFC 5280 §4.1.2.1: "When extensions are used, as expected in this profile, version MUST be 3".
    version: Version.v3,
    serialNumber: toArrayBuffer(fields.serialContent),
    signature: algorithm,
    issuer: fields.issuer,
    validity: new Validity(),
    subject: fields.subject,
    subjectPublicKeyInfo: AsnConvert.parse(toArrayBuffer(fields.publicKey), SubjectPublicKeyInfo),
  });
  tbs.validity.notBefore = x509Time(fields.notBefore);
  tbs.validity.notAfter = x509Time(fields.notAfter);
  if (fields.extensions.length > 0) tbs.extensions = new Extensions(fields.extensions);
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await signForX509(signer, tbsDer);
  return derSequence(tbsDer, new Uint8Array(AsnConvert.serialize(algorithm)), derBitString(signature));
}
