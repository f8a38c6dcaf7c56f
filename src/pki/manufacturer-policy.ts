/**
 * The manufacturer CA role: it mints each device's birth certificate (IEEE 802.1AR IDevID) at
 * the factory. The profile is fixed here so every factory line issues the same thing.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertString } from '../util/assert.js';
import type { CertificateAuthority, IssuedCertificate, IssueCertificateOptions } from './certificate-authority.js';
import { masaUrlExtension, type ExtraExtension } from './extensions.js';
import { rdnsOf, type DistinguishedNameInput } from './name.js';
import { NO_WELL_DEFINED_EXPIRATION } from './time.js';

export interface IdevidOptions {
  /** The device's serial number; goes into the subject serialNumber attribute (802.1AR §8.6). */
  serialNumber: string;
  /** More subject attributes (e.g. 'CN=Acme Sensor,O=Acme'); serialNumber is appended. */
  subject?: DistinguishedNameInput;
  /** The device key (SPKI DER) or its CSR. */
  publicKey?: Uint8Array;
  csr?: Uint8Array | string;
  /** RFC 8995 §2.3.2: where pledges find their MASA; written as id-pe-masa-url. */
  masaUrl?: string;
  /** Default: 99991231235959Z, capped at the CA's own notAfter. */
  notAfter?: Date;
  notBefore?: Date;
  extensions?: ExtraExtension[];
}

/** Subject RDNs with the serialNumber attribute present exactly once, equal to `serial`. */
function subjectWithSerial(subject: DistinguishedNameInput | undefined, serial: string): Array<Array<{ type: string; value: string }>> {
  const rdns = subject === undefined ? [] : rdnsOf(subject, 'options.subject').map((rdn) => rdn.map((a) => ({ type: a.type, value: a.value })));
  const existing = rdns.flat().filter((a) => a.type.toLowerCase() === 'serialnumber' || a.type === '2.5.4.5');
  if (existing.some((a) => a.value !== serial)) throw new InvalidArgumentError('options.subject', 'carries a serialNumber different from options.serialNumber');
  if (existing.length === 0) rdns.push([{ type: 'serialNumber', value: serial }]);
  return rdns;
}

export const manufacturerCaPolicy = Object.freeze({
  role: 'manufacturer' as const,

  /** The IssueCertificateOptions of an IDevID, for callers that want to inspect them first. */
  idevidOptions(ca: CertificateAuthority, options: IdevidOptions): IssueCertificateOptions {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
    assertString(options.serialNumber, 'options.serialNumber', { max: 64 });
    // 802.1AR §8.5 / RFC 5280 §4.1.2.5: a device certificate with no well-defined expiration
    // uses 99991231235959Z; a CA that ends sooner bounds it.
    const caEnd = ca.certificate.notAfter;
    const notAfter = options.notAfter ?? (caEnd < NO_WELL_DEFINED_EXPIRATION ? caEnd : NO_WELL_DEFINED_EXPIRATION);
    const extensions = [...(options.extensions ?? [])];
    if (options.masaUrl !== undefined) extensions.push(masaUrlExtension(options.masaUrl));
    const out: IssueCertificateOptions = {
      subject: subjectWithSerial(options.subject, options.serialNumber),
      validity: { notAfter, ...(options.notBefore !== undefined ? { notBefore: options.notBefore } : {}) },
      keyUsage: ['digitalSignature'],
      extKeyUsage: ['clientAuth'],
      extensions,
    };
    if (options.csr !== undefined) out.csr = options.csr;
    if (options.publicKey !== undefined) out.publicKey = options.publicKey;
    return out;
  },

  /** Issues an IDevID: digitalSignature, clientAuth, subject serialNumber, long validity. */
  issueIdevid(ca: CertificateAuthority, options: IdevidOptions): Promise<IssuedCertificate> {
    return ca.issueCertificate(manufacturerCaPolicy.idevidOptions(ca, options));
  },
});
