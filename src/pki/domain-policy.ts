/**
 * The domain CA role: the operator's CA behind the registrar. It issues devices' operational
 * certificates (LDevID) after onboarding, and server certificates for the platform's DTLS and
 * HTTPS endpoints.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertInteger } from '../util/assert.js';
import type { CertificateAuthority, IssuedCertificate, IssueCertificateOptions } from './certificate-authority.js';
import type { ExtraExtension, SubjectAltNames } from './extensions.js';
import type { DistinguishedNameInput } from './name.js';
import type { ParsedCsr } from './parse-csr.js';

export interface LdevidOptions {
  /** Default: the CSR's subject. */
  subject?: DistinguishedNameInput;
  publicKey?: Uint8Array;
  csr?: Uint8Array | string | ParsedCsr;
  subjectAltNames?: SubjectAltNames;
  /** Default 365. */
  validityDays?: number;
  extensions?: ExtraExtension[];
}

export interface ServerCertificateOptions {
  /** At least one DNS name or IP address: clients match the server against these (RFC 6125). */
  subjectAltNames: SubjectAltNames;
  /** Default: CN = the first DNS name or IP address. */
  subject?: DistinguishedNameInput;
  publicKey?: Uint8Array;
  csr?: Uint8Array | string | ParsedCsr;
  /** Default 397 (the CA/Browser Forum ceiling for TLS server certificates). */
  validityDays?: number;
  /** Also allow clientAuth (for a server that is a TLS client too, e.g. a registrar towards a MASA). */
  clientAuth?: boolean;
  /** Extra EKUs, e.g. 'cmcRA' for a BRSKI registrar (RFC 8995 §2.5.3). */
  extraExtKeyUsage?: string[];
}

function keyOptions(o: { publicKey?: Uint8Array; csr?: Uint8Array | string | ParsedCsr }): Pick<IssueCertificateOptions, 'publicKey' | 'csr'> {
  const out: Pick<IssueCertificateOptions, 'publicKey' | 'csr'> = {};
  if (o.publicKey !== undefined) out.publicKey = o.publicKey;
  if (o.csr !== undefined) out.csr = o.csr;
  return out;
}

function days(v: number | undefined, dflt: number): number {
  const d = v ?? dflt;
  assertInteger(d, 'options.validityDays', 1, 3650);
  return d;
}

export const domainCaPolicy = Object.freeze({
  role: 'domain' as const,

  ldevidOptions(options: LdevidOptions): IssueCertificateOptions {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
    const out: IssueCertificateOptions = {
      ...keyOptions(options),
      validity: { days: days(options.validityDays, 365) },
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['clientAuth'],
    };
    if (options.subject !== undefined) out.subject = options.subject;
    if (options.subjectAltNames !== undefined) out.subjectAltNames = options.subjectAltNames;
    if (options.extensions !== undefined) out.extensions = options.extensions;
    return out;
  },

  /** Issues an operational device certificate (LDevID): digitalSignature, clientAuth. */
  issueLdevid(ca: CertificateAuthority, options: LdevidOptions): Promise<IssuedCertificate> {
    return ca.issueCertificate(domainCaPolicy.ldevidOptions(options));
  },

  serverOptions(options: ServerCertificateOptions): IssueCertificateOptions {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
    const san = options.subjectAltNames;
    const first = san?.dns?.[0] ?? san?.ip?.[0];
    if (first === undefined) throw new InvalidArgumentError('options.subjectAltNames', 'a server certificate needs a DNS name or IP address');
    return {
      ...keyOptions(options),
      subject: options.subject ?? [[{ type: 'CN', value: first }]],
      subjectAltNames: san,
      validity: { days: days(options.validityDays, 397) },
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['serverAuth', ...(options.clientAuth === true ? ['clientAuth'] : []), ...(options.extraExtKeyUsage ?? [])],
    };
  },

  /** Issues a DTLS/HTTPS server certificate: serverAuth with the names in its SAN. */
  issueServerCertificate(ca: CertificateAuthority, options: ServerCertificateOptions): Promise<IssuedCertificate> {
    return ca.issueCertificate(domainCaPolicy.serverOptions(options));
  },
});
