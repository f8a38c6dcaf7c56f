/**
 * Building and signing a TBSCertificate (internal). The TBS is serialized once, those exact
 * bytes go to the Signer (which may be a KeyStore or PKCS#11 key that never leaves its store),
 * and the Certificate SEQUENCE is assembled around the same bytes.
 *
 * The TBS is written by hand (`encodeTbs`): the fields are already DER (the key, the extension
 * values) or small (serial, times), so only the two Names go through the schema library, and the
 * issuer's once per CA. The bytes are the ones the schema library's TBSCertificate encoding gives
 * (`encodeTbsBySchema`, kept for keys outside the DER profile of certificate-der.ts and for the
 * tests, which compare the two byte for byte; ROOTLINE_PKI_DIFFERENTIAL=1 compares every TBS).
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Extensions, SubjectPublicKeyInfo, TBSCertificate, Validity, Version, type AlgorithmIdentifier, type Extension, type Name } from '@peculiar/asn1-x509';
import type { Signer } from '../crypto/keystore/types.js';
import { signatureAlgorithmFor, signForX509 } from './algorithms.js';
import { readPublicKeyDer } from './certificate-der.js';
import { bytesEqual, derBitString, derOid, derSequence, derTlv, toArrayBuffer, toHex } from './der.js';
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
  const tbsDer = encodeTbs(fields, algorithm);
  const signature = await signForX509(signer, tbsDer);
  return derSequence(tbsDer, algorithmDer(algorithm), derBitString(signature));
}

/** The TBSCertificate DER for `fields` signed with `algorithm`. */
export function encodeTbs(fields: TbsCertificateFields, algorithm: AlgorithmIdentifier): Uint8Array {
  // A key outside the reader's DER profile is re-encoded by the schema library, as it always was.
  if (readPublicKeyDer(fields.publicKey) === undefined) return encodeTbsBySchema(fields, algorithm);
  const tbs = derSequence(
    // RFC 5280 §4.1.2.1: "When extensions are used, as expected in this profile, version MUST be 3".
    V3,
    derTlv(0x02, fields.serialContent),
    algorithmDer(algorithm),
    issuerDer(fields.issuer),
    derSequence(timeDer(fields.notBefore), timeDer(fields.notAfter)),
    new Uint8Array(AsnConvert.serialize(fields.subject)),
    fields.publicKey,
    ...(fields.extensions.length > 0 ? [derTlv(0xa3, derSequence(...fields.extensions.map(extensionDer)))] : []),
  );
  if (DIFFERENTIAL) {
    const reference = encodeTbsBySchema(fields, algorithm);
    if (!bytesEqual(reference, tbs)) throw new Error(`ROOTLINE_PKI_DIFFERENTIAL: hand-written TBS ${toHex(tbs)} differs from ${toHex(reference)}`);
  }
  return tbs;
}

/** Internal (tests): the TBSCertificate DER as the schema library encodes it. */
export function encodeTbsBySchema(fields: TbsCertificateFields, algorithm: AlgorithmIdentifier): Uint8Array {
  const tbs = new TBSCertificate({
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
  return new Uint8Array(AsnConvert.serialize(tbs));
}

/** ROOTLINE_PKI_DIFFERENTIAL=1 (tests only): see certificate.ts. */
const DIFFERENTIAL = process.env.ROOTLINE_PKI_DIFFERENTIAL === '1';

/** [0] EXPLICIT Version v3. */
const V3 = Uint8Array.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

const ALGORITHMS = new Map<string, Uint8Array>();

function algorithmDer(algorithm: AlgorithmIdentifier): Uint8Array {
  // Signers give parameter-less identifiers (ecdsa-with-SHA256, Ed25519); others are encoded as given.
  if (algorithm.parameters !== undefined && algorithm.parameters !== null) return new Uint8Array(AsnConvert.serialize(algorithm));
  let der = ALGORITHMS.get(algorithm.algorithm);
  if (der === undefined) {
    der = new Uint8Array(AsnConvert.serialize(algorithm));
    ALGORITHMS.set(algorithm.algorithm, der);
  }
  return der;
}

/**
 * Issuer Names by object: a CA passes its own (parsed once, never changed) with every
 * certificate it issues. Names are internal objects of this room and are not modified after
 * they are built.
 */
const ISSUERS = new WeakMap<Name, Uint8Array>();

function issuerDer(name: Name): Uint8Array {
  let der = ISSUERS.get(name);
  if (der === undefined) {
    der = new Uint8Array(AsnConvert.serialize(name));
    ISSUERS.set(name, der);
  }
  return der;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/**
 * x509Time's choice written directly: RFC 5280 §4.1.2.5 UTCTime YYMMDDHHMMSSZ for 1950–2049,
 * GeneralizedTime YYYYMMDDHHMMSSZ otherwise, whole seconds.
 */
function timeDer(date: Date): Uint8Array {
  const d = new Date(Math.floor(date.getTime() / 1000) * 1000);
  const year = d.getUTCFullYear();
  const rest = `${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}Z`;
  if (year >= 1950 && year <= 2049) return derTlv(0x17, Buffer.from(`${pad(year % 100, 2)}${rest}`, 'latin1'));
  if (year < 0 || year > 9999) return new Uint8Array(AsnConvert.serialize(x509Time(date)));
  return derTlv(0x18, Buffer.from(`${pad(year, 4)}${rest}`, 'latin1'));
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }. */
function extensionDer(ext: Extension): Uint8Array {
  const value = new Uint8Array(ext.extnValue.buffer);
  // X.690 §11.5: a DEFAULT value is not encoded; §11.1: TRUE is FF.
  return ext.critical === true ? derSequence(derOid(ext.extnID), CRITICAL, derTlv(0x04, value)) : derSequence(derOid(ext.extnID), derTlv(0x04, value));
}

const CRITICAL = Uint8Array.from([0x01, 0x01, 0xff]);
