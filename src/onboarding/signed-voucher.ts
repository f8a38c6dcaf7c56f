/**
 * Vouchers and voucher requests as CMS-signed JSON (RFC 8366 §5.4, RFC 8995 §3.2 and §5.5), and
 * the pledge's acceptance check of a voucher (RFC 8995 §5.6.1).
 */
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import type { CertificateInput, ParsedCertificate } from '../pki/index.js';
import { ID_CT_ANIMA_JSON_VOUCHER, signCms, verifyCms } from './cms.js';
import { looksLikeCoseSign1, openCoseSignedVoucherRequest } from './constrained-voucher.js';
import { VoucherExpiredError, VoucherNonceMismatchError, VoucherSerialMismatchError } from './errors.js';
import { encodeVoucher, encodeVoucherRequest, parseVoucher, parseVoucherRequest, type Voucher, type VoucherRequest } from './voucher.js';

export interface SigningIdentity {
  signer: Signer;
  /** The signer's certificate first, then intermediates (carried in the CMS). */
  certificates: readonly CertificateInput[];
}

/** RFC 8366 §5.4: a voucher as CMS SignedData, content type id-ct-animaJSONVoucher. */
export function signVoucher(voucher: Voucher, identity: SigningIdentity): Promise<Uint8Array> {
  return signCms({ content: encodeVoucher(voucher), contentType: ID_CT_ANIMA_JSON_VOUCHER, signer: identity.signer, certificates: identity.certificates });
}

/** RFC 8995 §3.2: voucher requests use the same CMS format and content type as vouchers. */
export function signVoucherRequest(request: VoucherRequest, identity: SigningIdentity): Promise<Uint8Array> {
  return signCms({ content: encodeVoucherRequest(request), contentType: ID_CT_ANIMA_JSON_VOUCHER, signer: identity.signer, certificates: identity.certificates });
}

export interface OpenedVoucherRequest {
  request: VoucherRequest;
  /** The exact bytes that were signed: the JSON of a CMS request, the CBOR payload of a COSE one. */
  content: Uint8Array;
  signerCertificate: ParsedCertificate;
  certificates: ParsedCertificate[];
  chain?: ParsedCertificate[];
}

/**
 * Verifies the CMS signature of a voucher request and parses it; `trustAnchors` as in verifyCms.
 * A COSE_Sign1 (a constrained pledge's request, carried as prior-signed-voucher-request) is
 * verified the same way by `openCoseSignedVoucherRequest`: CMS starts with a SEQUENCE (0x30),
 * COSE_Sign1 with tag 18 or a 4-array, so neither can be taken for the other.
 */
export function openSignedVoucherRequest(der: Uint8Array, options: { trustAnchors?: readonly CertificateInput[]; at?: Date } = {}): OpenedVoucherRequest {
  if (looksLikeCoseSign1(der)) return openCoseSignedVoucherRequest(der, options);
  const v = verifyCms(der, { contentType: ID_CT_ANIMA_JSON_VOUCHER, ...options });
  return { request: parseVoucherRequest(v.content), content: v.content, signerCertificate: v.signerCertificate, certificates: v.certificates, ...(v.chain !== undefined ? { chain: v.chain } : {}) };
}

export interface VerifyVoucherOptions {
  /** The MASA trust anchor(s) the pledge was given at the factory (masa-ca.pem). */
  masaTrustAnchors: readonly CertificateInput[];
  /** The pledge's own serial number. */
  serialNumber: string;
  /** The nonce the pledge sent; required in the voucher when given. */
  nonce?: Uint8Array;
  /** Default now; pledges without a clock pass `null` to skip time checks (RFC 8366 §5.3). */
  now?: Date | null;
}

export interface VerifiedVoucher {
  voucher: Voucher;
  masaCertificate: ParsedCertificate;
  /** The pinned domain certificate, parsed: the trust anchor for the registrar from now on. */
  pinnedDomainCertificate: Uint8Array;
}

/**
 * The pledge's checks on a voucher (RFC 8995 §5.6.1): signed by its MASA, naming its serial,
 * answering its nonce, not expired. On success the pledge trusts `pinned-domain-cert`.
 */
export function verifyVoucher(der: Uint8Array, options: VerifyVoucherOptions): VerifiedVoucher {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const now = options.now === undefined ? new Date() : options.now;
  const v = verifyCms(der, { contentType: ID_CT_ANIMA_JSON_VOUCHER, trustAnchors: options.masaTrustAnchors, ...(now !== null ? { at: now } : {}) });
  const voucher = parseVoucher(v.content);
  checkVoucherFor(voucher, options.serialNumber, options.nonce, now);
  return { voucher, masaCertificate: v.signerCertificate, pinnedDomainCertificate: voucher.pinnedDomainCert };
}

/** The pledge-side content checks shared by the CMS and the COSE voucher. */
export function checkVoucherFor(voucher: Voucher, serialNumber: string, nonce: Uint8Array | undefined, now: Date | null): void {
  // RFC 8366 §5.3 serial-number: "the pledge MUST ... verify that the serial-number matches".
  if (voucher.serialNumber !== serialNumber) throw new VoucherSerialMismatchError(`the voucher is for serial ${JSON.stringify(voucher.serialNumber)}, not ${JSON.stringify(serialNumber)}`);
  if (nonce !== undefined) {
    // RFC 8995 §5.6.1: the pledge "MUST ... verify that the nonce ... matches the value it sent".
    if (voucher.nonce === undefined || Buffer.compare(Buffer.from(voucher.nonce), Buffer.from(nonce)) !== 0) {
      throw new VoucherNonceMismatchError('the voucher does not carry the nonce this pledge sent');
    }
  }
  // RFC 8366 §5.3 expires-on: "pledges MUST ensure that the expires-on time has not yet passed".
  if (now !== null && voucher.expiresOn !== undefined && voucher.expiresOn.getTime() <= now.getTime()) {
    throw new VoucherExpiredError(`the voucher expired at ${voucher.expiresOn.toISOString()}`);
  }
}
