/**
 * Constrained vouchers: the same voucher and voucher-request data, CBOR-encoded and signed as a
 * COSE_Sign1 (RFC 9052), for pledges on CoAPs that cannot afford CMS and JSON.
 *
 * Encoding (rootline's choice, documented in README): a CBOR map with one text key,
 * "ietf-voucher:voucher" / "ietf-voucher-request:voucher", whose value is a map keyed by the YANG
 * member names — the name-keyed form of YANG-in-CBOR (RFC 9254 §3.3 allows names instead of
 * SIDs). Binary leaves are CBOR byte strings, everything else as in JSON. This is NOT the
 * SID-keyed encoding of draft-ietf-anima-constrained-voucher: a SID-keyed pledge will not read
 * it. Names cost some bytes; they need no SID allocation file that moves with each draft.
 *
 * The MASA certificate travels in the protected header as x5chain (label 33, RFC 9360), so a
 * pledge checks it against its MASA trust anchor exactly as it does for CMS vouchers.
 */
import { randomBytes } from 'node:crypto';
import type { Signer } from '../crypto/keystore/types.js';
import { decodeCbor, encodeCbor } from '../cose/cbor.js';
import { CoseAlgorithm, SIGNATURE_ALGORITHMS } from '../cose/algorithms.js';
import { CoseTag, messageAlgorithm, parseMessage, protectedForStructure, type ParsedMessage } from '../cose/message.js';
import { sign1 } from '../cose/sign1.js';
import { assertKeyFitsSignatureAlgorithm, toPublicKeyObject, verifySignature } from '../cose/signature-keys.js';
import { InvalidArgumentError, RootlineError } from '../errors.js';
import { findAttribute, parseCertificate, verifyChain, type CertificateInput, type ParsedCertificate } from '../pki/index.js';
import { MalformedSignedVoucherError, MalformedVoucherError, OnboardingError, UntrustedVoucherSignerError, VoucherSignatureError } from './errors.js';
import { checkVoucherFor, type OpenedVoucherRequest, type SigningIdentity, type VerifiedVoucher } from './signed-voucher.js';
import { BINARY_MEMBERS, encodeVoucher, encodeVoucherRequest, parseVoucher, parseVoucherRequest, type Voucher, type VoucherRequest } from './voucher.js';

/** COSE header label x5chain (RFC 9360 §2). */
export const X5CHAIN = 33;
/** Content-Format of a COSE-signed voucher (application/voucher+cose, draft-ietf-anima-constrained-voucher). */
export const VOUCHER_COSE_MEDIA_TYPE = 'application/voucher+cose';

const MAX_COSE_VOUCHER = 65_536;

/** JSON text → the name-keyed CBOR form (binary leaves as byte strings). */
function jsonToCbor(json: Uint8Array): Uint8Array {
  const doc = JSON.parse(new TextDecoder().decode(json)) as Record<string, Record<string, unknown>>;
  const [member, body] = Object.entries(doc)[0]!;
  const inner = new Map<string, unknown>();
  for (const [name, value] of Object.entries(body)) {
    inner.set(name, BINARY_MEMBERS.has(name) ? new Uint8Array(Buffer.from(value as string, 'base64')) : value);
  }
  return encodeCbor(new Map([[member, inner]]));
}

/** The name-keyed CBOR form → JSON text for the strict JSON parsers; types checked on the way. */
function cborToJson(cbor: Uint8Array): string {
  let value: unknown;
  try {
    value = decodeCbor(cbor, { maxDepth: 4 });
  } catch (err) {
    throw new MalformedVoucherError('the payload is not CBOR', { cause: err });
  }
  if (!(value instanceof Map) || value.size !== 1) throw new MalformedVoucherError('the payload is not a one-member CBOR map');
  const [member, body] = [...value.entries()][0]!;
  if (typeof member !== 'string' || !(body instanceof Map)) throw new MalformedVoucherError('the payload is not a voucher container');
  // No prototype: a member named __proto__ must reach the strict parser (and be refused there).
  const out = Object.create(null) as Record<string, unknown>;
  for (const [name, v] of body.entries()) {
    if (typeof name !== 'string') throw new MalformedVoucherError('voucher member names must be text');
    if (BINARY_MEMBERS.has(name)) {
      if (!(v instanceof Uint8Array)) throw new MalformedVoucherError(`${name.slice(0, 64)}: expected a byte string`);
      out[name] = Buffer.from(v).toString('base64');
    } else {
      if (typeof v !== 'string' && typeof v !== 'boolean') throw new MalformedVoucherError(`${name.slice(0, 64)}: expected a text string or boolean`);
      out[name] = v;
    }
  }
  return JSON.stringify({ [member]: out });
}

async function signConstrained(json: Uint8Array, identity: SigningIdentity): Promise<Uint8Array> {
  const chain = identity.certificates.map((c) => (typeof c === 'object' && c !== null && 'der' in c && c.der instanceof Uint8Array ? c.der : parseCertificate(c as Uint8Array | string).der));
  if (chain.length === 0) throw new RootlineError('ERR_INVALID_ARGUMENT', "certificates: expected the signer's certificate first");
  // RFC 9360 §2: one certificate as a bstr, several as an array, leaf first.
  const x5chain = chain.length === 1 ? chain[0] : chain;
  return sign1({ payload: jsonToCbor(json), signer: identity.signer, protectedHeader: new Map<number, unknown>([[X5CHAIN, x5chain]]) });
}

/** Signs a voucher as COSE_Sign1 over name-keyed CBOR. */
export function signConstrainedVoucher(voucher: Voucher, identity: SigningIdentity): Promise<Uint8Array> {
  return signConstrained(encodeVoucher(voucher), identity);
}

/** Signs a voucher request as COSE_Sign1 over name-keyed CBOR. */
export function signConstrainedVoucherRequest(request: VoucherRequest, identity: SigningIdentity): Promise<Uint8Array> {
  return signConstrained(encodeVoucherRequest(request), identity);
}

interface OpenedCose {
  json: string;
  /** The CBOR payload exactly as signed. */
  payload: Uint8Array;
  signerCertificate: ParsedCertificate;
  certificates: ParsedCertificate[];
}

/** COSE_Sign1 with tag 18 (0xd2) or untagged (a 4-array, 0x84): how a voucher (request) tells itself apart from CMS (0x30). */
export function looksLikeCoseSign1(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.length > 0 && (bytes[0] === 0xd2 || bytes[0] === 0x84);
}

function x5chainOf(parsed: ParsedMessage): ParsedCertificate[] {
  // RFC 9360 §2: x5chain belongs in the protected bucket when the signature is to cover it; an
  // unprotected chain could be swapped for another one that certifies the same key.
  const x5 = parsed.protectedHeader.get(X5CHAIN);
  const ders = x5 instanceof Uint8Array ? [x5] : Array.isArray(x5) && x5.length > 0 && x5.length <= 8 && x5.every((c) => c instanceof Uint8Array) ? (x5 as Uint8Array[]) : undefined;
  if (ders === undefined) throw new UntrustedVoucherSignerError('no x5chain in the protected header');
  try {
    return ders.map((d) => parseCertificate(d));
  } catch (err) {
    throw new MalformedSignedVoucherError('x5chain holds a malformed certificate', { cause: err });
  }
}

/**
 * Verifies the COSE_Sign1 synchronously (node:crypto verifies in one call; the MASA opens the
 * pledge's prior-signed request inside synchronous code). Without `trustAnchors` only the
 * signature under the carried leaf is checked, as `verifyCms` does for a registrar's request.
 */
function openConstrainedSync(bytes: Uint8Array, trustAnchors: readonly CertificateInput[] | undefined, at: Date | null): OpenedCose {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_COSE_VOUCHER) throw new MalformedSignedVoucherError(`expected a COSE_Sign1 of at most ${MAX_COSE_VOUCHER} bytes`);
  try {
    const parsed = parseMessage(bytes, 'COSE_Sign1', CoseTag.Sign1, 4, { cbor: { maxDepth: 6 } });
    const [payload, signature] = parsed.rest;
    if (!(payload instanceof Uint8Array)) throw new MalformedSignedVoucherError('the COSE_Sign1 payload must be an attached bstr');
    if (!(signature instanceof Uint8Array)) throw new MalformedSignedVoucherError('the COSE_Sign1 signature must be a bstr');
    const alg = messageAlgorithm(parsed, SIGNATURE_ALGORITHMS, 'signature', [CoseAlgorithm.ES256, CoseAlgorithm.EdDSA]);
    const certs = x5chainOf(parsed);
    const leaf = certs[0]!;
    if (trustAnchors !== undefined) {
      try {
        verifyChain(leaf, certs.slice(1), [...trustAnchors], at !== null ? { at } : {});
      } catch (err) {
        throw new UntrustedVoucherSignerError(`the signer certificate does not chain to a trusted anchor: ${(err as Error).message}`, { cause: err });
      }
    }
    if (leaf.keyUsage !== undefined && !leaf.keyUsage.includes('digitalSignature')) throw new UntrustedVoucherSignerError('the signer certificate may not make digital signatures');
    const key = toPublicKeyObject(leaf.publicKey, 'x5chain');
    assertKeyFitsSignatureAlgorithm(key, alg);
    // RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload].
    const toBeSigned = encodeCbor(['Signature1', protectedForStructure(parsed), new Uint8Array(0), payload]);
    if (!verifySignature(alg, key, toBeSigned, signature)) throw new VoucherSignatureError('the COSE signature does not verify');
    return { json: cborToJson(payload), payload, signerCertificate: leaf, certificates: certs };
  } catch (err) {
    if (err instanceof OnboardingError) throw err;
    if (err instanceof RootlineError) throw new MalformedSignedVoucherError(`not an acceptable COSE_Sign1: ${err.message}`, { cause: err });
    throw err;
  }
}

export interface VerifyConstrainedVoucherOptions {
  masaTrustAnchors: readonly CertificateInput[];
  serialNumber: string;
  nonce?: Uint8Array;
  now?: Date | null;
}

/** The pledge's checks on a COSE-signed voucher (same rules as verifyVoucher). */
export async function verifyConstrainedVoucher(bytes: Uint8Array, options: VerifyConstrainedVoucherOptions): Promise<VerifiedVoucher> {
  const now = options.now === undefined ? new Date() : options.now;
  const opened = openConstrainedSync(bytes, options.masaTrustAnchors, now);
  const voucher = parseVoucher(opened.json);
  checkVoucherFor(voucher, options.serialNumber, options.nonce, now);
  return { voucher, masaCertificate: opened.signerCertificate, pinnedDomainCertificate: voucher.pinnedDomainCert };
}

/** Verifies a COSE-signed voucher request against `trustAnchors` (e.g. the manufacturer CAs) and parses it. */
export async function openConstrainedVoucherRequest(bytes: Uint8Array, options: { trustAnchors: readonly CertificateInput[]; at?: Date }): Promise<{ request: VoucherRequest; signerCertificate: ParsedCertificate }> {
  const opened = openConstrainedSync(bytes, options.trustAnchors, options.at ?? new Date());
  return { request: parseVoucherRequest(opened.json), signerCertificate: opened.signerCertificate };
}

/**
 * The COSE twin of `openSignedVoucherRequest` (same result shape, synchronous): what lets the
 * MASA and the registrar take a constrained pledge's request as prior-signed-voucher-request.
 * `trustAnchors` absent: the signature is checked under the carried certificate only.
 */
export function openCoseSignedVoucherRequest(bytes: Uint8Array, options: { trustAnchors?: readonly CertificateInput[]; at?: Date } = {}): OpenedVoucherRequest {
  const opened = openConstrainedSync(bytes, options.trustAnchors, options.at ?? new Date());
  return { request: parseVoucherRequest(opened.json), content: opened.payload, signerCertificate: opened.signerCertificate, certificates: opened.certificates };
}

export interface ConstrainedPledgeVoucherRequestOptions {
  /** The IDevID key. */
  signer: Signer;
  /** The IDevID certificate, then its chain if the pledge carries one (x5chain). */
  idevid: readonly CertificateInput[];
  /** The registrar's DTLS end-entity certificate the pledge saw (proximity, RFC 8995 §5.2). */
  registrarCertificate: CertificateInput;
  /** Default: 16 random bytes. */
  nonce?: Uint8Array;
  /** created-on; omitted for a pledge without a clock (`null`). Default now. */
  now?: Date | null;
}

/** The constrained pledge voucher request (PVR): proximity, nonce, signed as COSE_Sign1 with the IDevID. */
export async function createConstrainedPledgeVoucherRequest(options: ConstrainedPledgeVoucherRequestOptions): Promise<{ bytes: Uint8Array; request: VoucherRequest }> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  if (!Array.isArray(options.idevid) || options.idevid.length === 0) throw new InvalidArgumentError('idevid', 'expected the IDevID certificate first');
  const idevid = toParsed(options.idevid[0]!);
  const serialNumber = findAttribute(idevid.subjectRdns, 'serialNumber');
  if (serialNumber === undefined) throw new InvalidArgumentError('idevid', 'the IDevID has no subject serialNumber');
  const nonce = options.nonce ?? new Uint8Array(randomBytes(16));
  if (!(nonce instanceof Uint8Array) || nonce.length < 8 || nonce.length > 64) throw new InvalidArgumentError('nonce', 'expected 8..64 bytes');
  const request: VoucherRequest = {
    assertion: 'proximity',
    serialNumber,
    nonce,
    proximityRegistrarCert: toParsed(options.registrarCertificate).der,
  };
  if (options.now !== null) {
    const createdOn = new Date(options.now ?? new Date());
    createdOn.setUTCMilliseconds(0);
    request.createdOn = createdOn;
  }
  return { bytes: await signConstrainedVoucherRequest(request, { signer: options.signer, certificates: options.idevid }), request };
}

function toParsed(c: CertificateInput): ParsedCertificate {
  return typeof c === 'object' && c !== null && 'der' in c && (c as ParsedCertificate).der instanceof Uint8Array ? (c as ParsedCertificate) : parseCertificate(c as Uint8Array | string);
}
