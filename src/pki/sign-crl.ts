/**
 * Building and signing an X.509 v2 CRL (RFC 5280 §5) (internal; the CA calls it). As with
 * certificates, the TBSCertList is serialized once and the Signer signs exactly those bytes.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, CRLReason, RevokedCertificate, TBSCertList, Version, type Name } from '@peculiar/asn1-x509';
import type { Signer } from '../crypto/keystore/types.js';
import { signatureAlgorithmFor, signForX509 } from './algorithms.js';
import { derBitString, derSequence, toArrayBuffer } from './der.js';
import { encodeAuthorityKeyIdentifier, extension } from './extensions.js';
import { REASON_CODES, type RevocationReason } from './ca-state.js';
import { OID } from './oids.js';
import { serialContent } from './serial.js';
import { x509Time } from './time.js';

export interface CrlFields {
  issuer: Name;
  authorityKeyId: Uint8Array;
  crlNumber: number;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: ReadonlyArray<{ serial: string; revokedAt: Date; reason: RevocationReason }>;
}

export async function signCrl(signer: Signer, fields: CrlFields): Promise<Uint8Array> {
  const algorithm = signatureAlgorithmFor(signer);
  const tbs = new TBSCertList({
    // RFC 5280 §5.1.2.1: version "MUST be v2" when extensions are used (they always are here).
    version: Version.v2,
    signature: algorithm,
    issuer: fields.issuer,
    thisUpdate: x509Time(fields.thisUpdate),
    // RFC 5280 §5.1.2.5: "Conforming CRL issuers MUST include the nextUpdate time in all CRLs."
    nextUpdate: x509Time(fields.nextUpdate),
    crlExtensions: [
      // RFC 5280 §5.2.1: "Conforming CRL issuers MUST use the key identifier method, and MUST
      // include this extension in all CRLs issued."
      extension(OID.authorityKeyIdentifier, false, encodeAuthorityKeyIdentifier(fields.authorityKeyId)),
      // RFC 5280 §5.2.3: "CRL issuers conforming to this profile MUST include this extension in
      // all CRLs and MUST mark this extension as non-critical."
      extension(OID.crlNumber, false, AsnConvert.serialize(new CRLNumber(fields.crlNumber))),
    ],
  });
  // RFC 5280 §5.1.2.6: "When there are no revoked certificates, the revoked certificates list
  // MUST be absent."
  if (fields.revoked.length > 0) {
    tbs.revokedCertificates = fields.revoked.map((r) => {
      const entry = new RevokedCertificate({ userCertificate: toArrayBuffer(serialContent(r.serial)), revocationDate: x509Time(r.revokedAt) });
      // RFC 5280 §5.3.1: "the reason code CRL entry extension SHOULD be absent instead of using
      // the unspecified (0) reasonCode value".
      if (r.reason !== 'unspecified') {
        entry.crlEntryExtensions = [extension(OID.crlReason, false, AsnConvert.serialize(new CRLReason(REASON_CODES[r.reason])))];
      }
      return entry;
    });
  }
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  const signature = await signForX509(signer, tbsDer);
  return derSequence(tbsDer, new Uint8Array(AsnConvert.serialize(algorithm)), derBitString(signature));
}
