/**
 * Building certificates our CertificateAuthority refuses to make (a leaf acting as an issuer,
 * pathLen violations, missing keyCertSign, unknown critical extensions), to show verifyChain
 * catches them. Uses the same internal signing path as the CA.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Signer } from '../../src/crypto/keystore/types.js';
import { keyObjectSigner } from '../../src/crypto/signer.js';
import { parseCertificate, type ParsedCertificate } from '../../src/pki/certificate.js';
import {
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeKeyUsage,
  encodeSubjectKeyIdentifier,
  extension,
  keyIdentifierFor,
  type KeyUsageName,
} from '../../src/pki/extensions.js';
import { buildName } from '../../src/pki/name.js';
import { OID } from '../../src/pki/oids.js';
import { parsePublicKey } from '../../src/pki/public-key.js';
import { randomSerial } from '../../src/pki/serial.js';
import { signCertificate } from '../../src/pki/sign-certificate.js';

export interface ForgeOptions {
  subject: string;
  /** Omit for self-signed. */
  issuer?: { signer: Signer; cert: ParsedCertificate };
  signer?: Signer;
  ca?: boolean;
  pathLen?: number;
  keyUsage?: KeyUsageName[];
  notBefore?: Date;
  notAfter?: Date;
  extra?: Array<{ oid: string; critical: boolean; value: Uint8Array }>;
  /** Leave out SKI and AKI, so only names decide who may have issued whom. */
  noKeyIds?: boolean;
}

export interface Forged {
  signer: Signer;
  cert: ParsedCertificate;
}

export function p256Signer(): Signer {
  return keyObjectSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

export async function forge(o: ForgeOptions): Promise<Forged> {
  const signer = o.signer ?? p256Signer();
  const keyId = keyIdentifierFor(parsePublicKey(signer.publicKey).subjectPublicKey);
  const issuerKeyId = o.issuer?.cert.subjectKeyIdentifier !== undefined ? Buffer.from(o.issuer.cert.subjectKeyIdentifier, 'hex') : keyId;
  const exts = [
    extension(OID.basicConstraints, true, encodeBasicConstraints(o.ca === true, o.pathLen)),
    extension(OID.keyUsage, true, encodeKeyUsage(o.keyUsage ?? (o.ca ? ['keyCertSign', 'cRLSign'] : ['digitalSignature']), 'keyUsage')),
    ...(o.noKeyIds
      ? []
      : [
          extension(OID.subjectKeyIdentifier, false, encodeSubjectKeyIdentifier(keyId)),
          extension(OID.authorityKeyIdentifier, false, encodeAuthorityKeyIdentifier(issuerKeyId)),
        ]),
    ...(o.extra ?? []).map((e) => extension(e.oid, e.critical, e.value)),
  ];
  const now = Date.now();
  const subject = buildName(o.subject);
  const der = await signCertificate(o.issuer?.signer ?? signer, {
    serialContent: randomSerial(),
    issuer: o.issuer ? buildName(o.issuer.cert.subject) : subject,
    subject,
    notBefore: o.notBefore ?? new Date(now - 60_000),
    notAfter: o.notAfter ?? new Date(now + 86_400_000),
    publicKey: signer.publicKey,
    extensions: exts,
  });
  return { signer, cert: parseCertificate(der) };
}
