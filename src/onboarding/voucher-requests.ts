/**
 * Building the two voucher requests of RFC 8995: the pledge's (§5.2, signed with its IDevID,
 * naming the registrar it sees in TLS) and the registrar's (§5.5, wrapping the pledge's verbatim).
 * The registrar side also makes the registrar's own checks before it bothers the MASA.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError, RootlineError } from '../errors.js';
import { CborTag, decodeCbor } from '../cose/cbor.js';
import { sign1 } from '../cose/sign1.js';
import { findAttribute, parseCertificate, verifyChain, type CertificateInput, type ParsedCertificate } from '../pki/index.js';
import { encodeConstrainedVoucherRequest, looksLikeCoseSign1, X5BAG, X5CHAIN, type ConstrainedVoucherRequest } from './constrained-voucher.js';
import { BadVoucherRequestError, MalformedSignedVoucherError, ProximityMismatchError, UntrustedPledgeError, UntrustedVoucherSignerError } from './errors.js';
import { openSignedVoucherRequest, signVoucherRequest, type OpenedVoucherRequest } from './signed-voucher.js';
import type { VoucherRequest } from './voucher.js';

function parsed(input: CertificateInput): ParsedCertificate {
  return typeof input === 'object' && input !== null && 'der' in input && (input as ParsedCertificate).der instanceof Uint8Array ? (input as ParsedCertificate) : parseCertificate(input as Uint8Array | string);
}

export interface PledgeVoucherRequestOptions {
  /** The IDevID key. */
  signer: Signer;
  /** The IDevID certificate (then its chain, if the pledge carries one). */
  idevid: readonly CertificateInput[];
  /** The registrar's TLS end-entity certificate the pledge saw (RFC 8995 §5.2). */
  registrarCertificate: CertificateInput;
  /** Default: 16 random bytes. */
  nonce?: Uint8Array;
  now?: Date;
}

/** RFC 8995 §5.2: the pledge's request, proximity assertion, signed with the IDevID. */
export async function createPledgeVoucherRequest(options: PledgeVoucherRequestOptions): Promise<{ der: Uint8Array; request: VoucherRequest }> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (!Array.isArray(options.idevid) || options.idevid.length === 0) throw new InvalidArgumentError('idevid', 'expected the IDevID certificate first');
  const idevid = parsed(options.idevid[0]!);
  const serialNumber = findAttribute(idevid.subjectRdns, 'serialNumber');
  if (serialNumber === undefined) throw new InvalidArgumentError('idevid', 'the IDevID has no subject serialNumber');
  const createdOn = new Date(options.now ?? new Date());
  createdOn.setUTCMilliseconds(0);
  const request: VoucherRequest = {
    createdOn,
    assertion: 'proximity',
    serialNumber,
    // 128 bits: RFC 8995 §11.3 relies on the nonce being unpredictable.
    nonce: options.nonce ?? new Uint8Array(randomBytes(16)),
    proximityRegistrarCert: parsed(options.registrarCertificate).der,
  };
  return { der: await signVoucherRequest(request, { signer: options.signer, certificates: options.idevid }), request };
}

export interface RegistrarVoucherRequestOptions {
  /** The registrar's signing key. */
  signer: Signer;
  /** The registrar certificate first, then its chain up to (and including) the domain CA. */
  certificates: readonly CertificateInput[];
  /** The pledge's signed request as received (CMS, or a constrained pledge's COSE_Sign1). */
  pledgeRequest: Uint8Array;
  /** The certificate the registrar presented in TLS (default: certificates[0]). */
  tlsCertificate?: CertificateInput;
  /**
   * Manufacturer CAs the registrar accepts pledges from. Without them the IDevID signature is
   * still checked (with the carried certificate) but its issuer is not — provisional, as the
   * MASA decides (RFC 8995 §5.1).
   */
  manufacturerCas?: readonly CertificateInput[];
  /**
   * The pledge's TLS/DTLS client certificate chain (the IDevID first). A constrained pledge's
   * COSE request that carries no certificate (cBRSKI §9.2.2: "The Pledge SHOULD NOT use the
   * x5bag or x5chain COSE header parameters in the PVR" — the registrar "MUST use only the TLS
   * Client Certificate extension for authentication of the Pledge") is verified under this
   * IDevID, which must chain to `manufacturerCas` when they are given.
   */
  pledgeCertificates?: readonly CertificateInput[];
  /**
   * How the registrar request is signed (default 'cms'). cBRSKI (draft-ietf-anima-constrained-
   * voucher §7.1): "The Registrar MUST use the same format for the RVR as the Pledge used for its
   * PVR": 'cose' for a constrained pledge's COSE request, and the pledge's request must be one.
   */
  format?: 'cms' | 'cose';
  now?: Date;
}

export interface RegistrarVoucherRequest {
  der: Uint8Array;
  request: VoucherRequest;
  pledge: OpenedVoucherRequest;
}

/** RFC 8995 §5.5: the registrar's request, after the registrar's own checks (§5.3). */
export async function createRegistrarVoucherRequest(options: RegistrarVoucherRequestOptions): Promise<RegistrarVoucherRequest> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (!Array.isArray(options.certificates) || options.certificates.length === 0) throw new InvalidArgumentError('certificates', 'expected the registrar certificate first');
  const now = options.now ?? new Date();
  const format = options.format ?? 'cms';
  if (format !== 'cms' && format !== 'cose') throw new InvalidArgumentError('format', "expected 'cms' or 'cose'");
  let pledge: OpenedVoucherRequest;
  try {
    const client = options.pledgeCertificates;
    if (client !== undefined && client.length > 0 && options.pledgeRequest instanceof Uint8Array && looksLikeCoseSign1(options.pledgeRequest) && !coseCarriesCertificates(options.pledgeRequest)) {
      // The IDevID from the (D)TLS session: its manufacturer first, then the request's signature under its key.
      const [leaf, ...chain] = client.map(parsed);
      if (options.manufacturerCas !== undefined) {
        try {
          verifyChain(leaf!, chain, options.manufacturerCas.map(parsed), { at: now });
        } catch (err) {
          throw new UntrustedVoucherSignerError(`the client certificate does not chain to an accepted manufacturer: ${(err as Error).message}`, { cause: err });
        }
      }
      pledge = openSignedVoucherRequest(options.pledgeRequest, { trustAnchors: [leaf!], at: now });
    } else {
      pledge = openSignedVoucherRequest(options.pledgeRequest, { ...(options.manufacturerCas !== undefined ? { trustAnchors: options.manufacturerCas } : {}), at: now });
    }
  } catch (err) {
    if (err instanceof RootlineError && err.code === 'ERR_VOUCHER_UNTRUSTED_SIGNER') throw new UntrustedPledgeError(`the pledge's IDevID is not from an accepted manufacturer: ${err.message}`, { cause: err });
    throw err;
  }
  const idevidSerial = findAttribute(pledge.signerCertificate.subjectRdns, 'serialNumber');
  if (idevidSerial === undefined || idevidSerial !== pledge.request.serialNumber) throw new BadVoucherRequestError('the pledge request serial-number is not its IDevID serialNumber');
  // RFC 8995 §5.3: the registrar checks the pledge saw this registrar (proximity).
  const tls = parsed(options.tlsCertificate ?? options.certificates[0]!);
  if (!namesRegistrar(pledge.request, tls)) throw new ProximityMismatchError('the pledge names another registrar certificate than ours');
  const createdOn = new Date(now);
  createdOn.setUTCMilliseconds(0);
  // RFC 8995 §5.5: nonce, serial-number and idevid-issuer are copied from the pledge's request
  // and IDevID; the pledge's request travels verbatim.
  const request: VoucherRequest = {
    createdOn,
    serialNumber: idevidSerial,
    ...(pledge.request.nonce !== undefined ? { nonce: pledge.request.nonce } : {}),
    ...(pledge.signerCertificate.authorityKeyIdentifier !== undefined ? { idevidIssuer: new Uint8Array(Buffer.from(pledge.signerCertificate.authorityKeyIdentifier, 'hex')) } : {}),
    priorSignedVoucherRequest: options.pledgeRequest,
  };
  if (format === 'cms') return { der: await signVoucherRequest(request, { signer: options.signer, certificates: options.certificates }), request, pledge };
  if (!(options.pledgeRequest instanceof Uint8Array) || !looksLikeCoseSign1(options.pledgeRequest)) throw new MalformedSignedVoucherError('a COSE registrar voucher request carries a COSE pledge request (draft-ietf-anima-constrained-voucher §7.1)');
  // cBRSKI §7.2: "If the PVR contains a proximity assertion, the Registrar MUST propagate this
  // assertion into the RVR".
  if (pledge.request.assertion === 'proximity') request.assertion = 'proximity';
  return { der: await signCoseRegistrarRequest(request, options.signer, options.certificates), request, pledge };
}

/**
 * Whether the pledge request names `registrar` as the registrar it saw: proximity-registrar-cert
 * equal to its certificate, or — the constrained forms (draft-ietf-anima-constrained-voucher
 * §9.1.1, rfc8366bis) — proximity-registrar-pubk equal to its SubjectPublicKeyInfo, or
 * proximity-registrar-pubk-sha256 equal to that SPKI's SHA-256. Exactly one of them may be given.
 */
export function namesRegistrar(request: VoucherRequest, registrar: ParsedCertificate): boolean {
  const r = request as ConstrainedVoucherRequest;
  const named = [r.proximityRegistrarCert, r.proximityRegistrarPubk, r.proximityRegistrarPubkSha256].filter((v) => v !== undefined);
  if (named.length !== 1) return false;
  if (r.proximityRegistrarCert !== undefined) return sameBytes(r.proximityRegistrarCert, registrar.der);
  if (r.proximityRegistrarPubk !== undefined) return sameBytes(r.proximityRegistrarPubk, registrar.publicKey);
  return sameBytes(r.proximityRegistrarPubkSha256, createHash('sha256').update(registrar.publicKey).digest());
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/**
 * Whether a COSE_Sign1's protected header carries x5chain or x5bag. Anything unreadable answers
 * true, so that the full verification (which refuses it with a typed error) runs.
 */
export function coseCarriesCertificates(bytes: Uint8Array): boolean {
  try {
    let message = decodeCbor(bytes, { maxDepth: 6 });
    if (message instanceof CborTag) message = message.contents;
    const prot = Array.isArray(message) ? message[0] : undefined;
    if (!(prot instanceof Uint8Array)) return true;
    if (prot.length === 0) return false;
    const header = decodeCbor(prot, { maxDepth: 4 });
    return !(header instanceof Map) || header.has(X5BAG) || header.has(X5CHAIN);
  } catch (err) {
    if (err instanceof RootlineError) return true;
    throw err;
  }
}

/**
 * The COSE_Sign1 RVR: SID-keyed CBOR payload, and — cBRSKI §8.1: "The Registrar MUST place all
 * the certificates needed by MASA to validate the signature chain for its RVR in an "x5bag"
 * attribute in either the protected or the unprotected header" — the registrar certificate and
 * its chain as x5bag in the *protected* header, where the signature covers them (rootline's MASA
 * reads protected certificates only, as the MASA pins the domain CA from that bag).
 */
async function signCoseRegistrarRequest(request: VoucherRequest, signer: Signer, certificates: readonly CertificateInput[]): Promise<Uint8Array> {
  const certs = certificates.map(parsed);
  // As signCms does: a key that does not belong to the first certificate makes a request no MASA can check.
  if (!sameBytes(signer.publicKey, certs[0]!.publicKey)) throw new InvalidArgumentError('signer', "the key is not the registrar certificate's");
  const ders = certs.map((c) => c.der);
  if (ders.length > 8) throw new InvalidArgumentError('certificates', 'at most 8 certificates in a COSE voucher request');
  // RFC 9360 §2: one certificate as a bstr, several as an array.
  return sign1({ payload: encodeConstrainedVoucherRequest(request), signer, protectedHeader: new Map<number, unknown>([[X5BAG, ders.length === 1 ? ders[0] : ders]]) });
}

export interface ReleaseRequestOptions {
  /** The registrar's signing key (the one its voucher requests are signed with). */
  signer: Signer;
  /** The registrar certificate first, then its chain up to (and including) the domain CA. */
  certificates: readonly CertificateInput[];
  serialNumber: string;
  /** Default: 16 random bytes. */
  nonce?: Uint8Array;
  now?: Date;
}

/**
 * A claim release request (rootline's /.well-known/brski/release, not in RFC 8995): a voucher
 * request in the §5.5 format signed by the owning domain's registrar, naming the serial, with a
 * fresh created-on and its own nonce, so that the MASA answers it once and only while fresh.
 */
export async function createReleaseRequest(options: ReleaseRequestOptions): Promise<Uint8Array> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (!Array.isArray(options.certificates) || options.certificates.length === 0) throw new InvalidArgumentError('certificates', 'expected the registrar certificate first');
  if (typeof options.serialNumber !== 'string' || options.serialNumber.length === 0 || options.serialNumber.length > 64) throw new InvalidArgumentError('serialNumber', 'expected 1..64 characters');
  const createdOn = new Date(options.now ?? new Date());
  createdOn.setUTCMilliseconds(0);
  const nonce = options.nonce ?? new Uint8Array(randomBytes(16));
  return signVoucherRequest({ serialNumber: options.serialNumber, createdOn, nonce }, { signer: options.signer, certificates: options.certificates });
}
