/**
 * Certification path validation, a focused subset of RFC 5280 §6.1: signatures, validity
 * periods, basic constraints and pathLen, keyCertSign, name chaining, extended key usage and
 * revocation against caller-supplied CRLs. Policies and name constraints are not processed, so a
 * certificate marking either critical is rejected, as §4.2 requires of an implementation that
 * does not recognise a critical extension.
 */
import { InvalidArgumentError } from '../errors.js';
import { assertInteger, describeType } from '../util/assert.js';
import { verifySignature } from './algorithms.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { bytesEqual } from './der.js';
import {
  BadSignatureError,
  CrlUnusableError,
  ExpiredError,
  KeyUsageError,
  NotACaError,
  NotYetValidError,
  PathLengthExceededError,
  PkiError,
  RevokedError,
  UnknownCriticalExtensionError,
  UntrustedError,
  WrongPurposeError,
} from './errors.js';
import { namesMatch } from './name.js';
import { EXT_KEY_USAGE_NAMES, EXT_KEY_USAGE_OIDS, OID } from './oids.js';
import { parseCrl, type ParsedCrl } from './parse-crl.js';

export type CertificateInput = Uint8Array | string | ParsedCertificate;
export type CrlInput = Uint8Array | string | ParsedCrl;

export interface VerifyChainOptions {
  /** The time to validate at (default: now). */
  at?: Date;
  /** Extended key usage the leaf must allow: a name (serverAuth, clientAuth, ...) or an OID. */
  purpose?: string;
  /** CRLs to check revocation against; each certificate is checked against its issuer's CRL. */
  crls?: CrlInput[];
  /** Fail (ERR_PKI_CRL_UNUSABLE) when a certificate's issuer has no CRL among `crls`. */
  requireCrl?: boolean;
  /** Longest path tried, trust anchor included (default 8). */
  maxDepth?: number;
}

export interface VerifiedChain {
  /** Leaf first, trust anchor last. */
  chain: ParsedCertificate[];
  trustAnchor: ParsedCertificate;
}

/** Extensions this validator processes; any other critical one fails the path. */
const PROCESSED = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
]);
/** CRL extensions this validator processes. */
const PROCESSED_CRL = new Set<string>([OID.crlNumber, OID.authorityKeyIdentifier]);

function toCert(input: CertificateInput, name: string): ParsedCertificate {
  if (typeof input === 'string' || input instanceof Uint8Array) return parseCertificate(input);
  if (input !== null && typeof input === 'object' && input.tbs instanceof Uint8Array && input.der instanceof Uint8Array) return input;
  throw new InvalidArgumentError(name, `expected a certificate (DER, PEM or parsed), got ${describeType(input)}`);
}

function toCrl(input: CrlInput, name: string): ParsedCrl {
  if (typeof input === 'string' || input instanceof Uint8Array) return parseCrl(input);
  if (input !== null && typeof input === 'object' && input.tbs instanceof Uint8Array && Array.isArray(input.revoked)) return input;
  throw new InvalidArgumentError(name, `expected a CRL (DER, PEM or parsed), got ${describeType(input)}`);
}

function list<T>(v: unknown, name: string, conv: (x: never, n: string) => T): T[] {
  if (!Array.isArray(v)) throw new InvalidArgumentError(name, `expected an array, got ${describeType(v)}`);
  return v.map((x, i) => conv(x as never, `${name}[${i}]`));
}

/** Could `issuer` have issued `child`? Names must chain; key identifiers must agree when both exist. */
function mayHaveIssued(issuer: ParsedCertificate, child: ParsedCertificate): boolean {
  if (!namesMatch({ der: child.issuerDer, rdns: child.issuerRdns }, { der: issuer.subjectDer, rdns: issuer.subjectRdns })) return false;
  if (child.authorityKeyIdentifier !== undefined && issuer.subjectKeyIdentifier !== undefined) {
    return child.authorityKeyIdentifier === issuer.subjectKeyIdentifier;
  }
  return true;
}

/** Candidate paths leaf → anchor, anchors preferred, without repeating a certificate. */
function buildPaths(leaf: ParsedCertificate, intermediates: ParsedCertificate[], anchors: ParsedCertificate[], maxDepth: number): ParsedCertificate[][] {
  const paths: ParsedCertificate[][] = [];
  const anchorHit = anchors.find((a) => bytesEqual(a.der, leaf.der));
  if (anchorHit !== undefined) return [[anchorHit]];
  // Intermediates may come from the peer (a TLS/DTLS Certificate message): certificates with the
  // same name and no key identifiers would otherwise make this search exponential.
  let budget = 512;
  const walk = (path: ParsedCertificate[]): void => {
    if (paths.length >= 16 || --budget < 0) return;
    const cur = path[path.length - 1]!;
    for (const a of anchors) if (mayHaveIssued(a, cur)) paths.push([...path, a]);
    if (path.length + 1 >= maxDepth) return;
    for (const c of intermediates) {
      if (path.some((p) => bytesEqual(p.der, c.der)) || !mayHaveIssued(c, cur)) continue;
      walk([...path, c]);
    }
  };
  walk([leaf]);
  return paths;
}

function purposeOid(purpose: unknown): string {
  if (typeof purpose !== 'string' || purpose.length === 0) throw new InvalidArgumentError('options.purpose', `expected a purpose name or OID, got ${describeType(purpose)}`);
  const oid = EXT_KEY_USAGE_OIDS[purpose] ?? purpose;
  if (!/^[0-2](?:\.\d+)+$/.test(oid)) throw new InvalidArgumentError('options.purpose', `unknown purpose ${JSON.stringify(purpose)}`);
  return oid;
}

function allowsPurpose(cert: ParsedCertificate, oid: string): boolean {
  if (cert.extKeyUsage === undefined) return true;
  const oids = cert.extKeyUsage.map((n) => EXT_KEY_USAGE_OIDS[n] ?? n);
  return oids.includes(oid) || oids.includes(OID.anyExtendedKeyUsage);
}

function checkCriticalExtensions(cert: ParsedCertificate): void {
  for (const ext of cert.extensions) {
    if (ext.critical && !PROCESSED.has(ext.oid)) {
      throw new UnknownCriticalExtensionError(`${cert.subject} has unrecognised critical extension ${ext.oid}`);
    }
  }
}

function checkValidity(cert: ParsedCertificate, at: Date): void {
  // RFC 5280 §6.1.3 (a)(2): "The certificate validity period includes the current time."
  if (at < cert.notBefore) throw new NotYetValidError(`${cert.subject} is not valid before ${cert.notBefore.toISOString()}`);
  if (at > cert.notAfter) throw new ExpiredError(`${cert.subject} expired at ${cert.notAfter.toISOString()}`);
}

function checkRevocation(cert: ParsedCertificate, issuer: ParsedCertificate, crls: ParsedCrl[], at: Date, required: boolean): void {
  const mine = crls.filter(
    (c) =>
      namesMatch({ der: c.issuerDer, rdns: c.issuerRdns }, { der: issuer.subjectDer, rdns: issuer.subjectRdns }) &&
      (c.authorityKeyIdentifier === undefined || issuer.subjectKeyIdentifier === undefined || c.authorityKeyIdentifier === issuer.subjectKeyIdentifier),
  );
  if (mine.length === 0) {
    if (required) throw new CrlUnusableError(`no CRL from ${issuer.subject} to check ${cert.subject}`);
    return;
  }
  for (const crl of mine) {
    // RFC 5280 §6.3.3 (f): "Obtain and validate the certification path for the issuer of the
    // complete CRL"; the issuer is already on our path, so check its cRLSign bit and the signature.
    if (issuer.keyUsage !== undefined && !issuer.keyUsage.includes('cRLSign')) {
      throw new CrlUnusableError(`${issuer.subject} may not sign CRLs (no cRLSign)`);
    }
    let ok: boolean;
    try {
      ok = verifySignature(issuer.publicKey, crl.signatureAlgorithm, crl.tbs, crl.signature);
    } catch (err) {
      throw new CrlUnusableError(`cannot check the CRL signature from ${issuer.subject}`, { cause: err });
    }
    if (!ok) throw new CrlUnusableError(`the CRL from ${issuer.subject} has a bad signature`);
    for (const ext of crl.extensions) {
      // RFC 5280 §5.2: a CRL validator "MUST be able to process" critical extensions or reject
      // the CRL (this covers delta CRLs and issuing distribution points).
      if (ext.critical && !PROCESSED_CRL.has(ext.oid)) throw new CrlUnusableError(`the CRL from ${issuer.subject} has unrecognised critical extension ${ext.oid}`);
    }
    if (crl.nextUpdate !== undefined && at > crl.nextUpdate) throw new CrlUnusableError(`the CRL from ${issuer.subject} is stale (nextUpdate ${crl.nextUpdate.toISOString()})`);
    if (at < crl.thisUpdate) throw new CrlUnusableError(`the CRL from ${issuer.subject} is not yet valid (thisUpdate ${crl.thisUpdate.toISOString()})`);
    for (const entry of crl.revoked) {
      if (entry.extensions.some((e) => e.critical && e.oid !== OID.crlReason)) {
        throw new CrlUnusableError(`the CRL from ${issuer.subject} has an entry with an unrecognised critical extension`);
      }
    }
    const hit = crl.revoked.find((e) => e.serialNumber === cert.serialNumber);
    if (hit !== undefined) {
      throw new RevokedError(`${cert.subject} (serial ${cert.serialNumber}) was revoked at ${hit.revocationDate.toISOString()}`, cert.serialNumber, hit.reason ?? 'unspecified');
    }
  }
}

/** Validates one candidate path (leaf first, anchor last); throws the first failure. */
function validatePath(path: ParsedCertificate[], at: Date, purpose: string | undefined, crls: ParsedCrl[], requireCrl: boolean): void {
  const anchor = path[path.length - 1]!;
  checkValidity(anchor, at);
  // A v3 anchor that says it is not a CA cannot anchor anything but itself.
  if (path.length > 1 && anchor.basicConstraints !== undefined && !anchor.basicConstraints.ca) throw new NotACaError(`trust anchor ${anchor.subject} is not a CA`);
  let remaining = anchor.basicConstraints?.pathLen ?? Number.POSITIVE_INFINITY;
  for (let i = path.length - 2; i >= 0; i--) {
    const cert = path[i]!;
    const issuer = path[i + 1]!;
    // RFC 5280 §6.1.3 (a)(1): the signature verifies with the working public key.
    if (!verifySignature(issuer.publicKey, cert.signatureAlgorithm, cert.tbs, cert.signature)) {
      throw new BadSignatureError(`the signature on ${cert.subject} does not verify with ${issuer.subject}'s key`);
    }
    checkValidity(cert, at);
    checkCriticalExtensions(cert);
    // RFC 5280 §4.2.1.3: keyCertSign "is asserted when the subject public key is used for
    // verifying signatures on public key certificates".
    if (issuer.keyUsage !== undefined && !issuer.keyUsage.includes('keyCertSign')) {
      throw new KeyUsageError(`${issuer.subject} may not sign certificates (no keyCertSign)`);
    }
    checkRevocation(cert, issuer, crls, at, requireCrl);
    if (i > 0) {
      // RFC 5280 §6.1.4 (k): "verify that the certificate is a CA certificate (as specified in a
      // basicConstraints extension or as verified out-of-band)".
      if (cert.basicConstraints?.ca !== true) throw new NotACaError(`${cert.subject} is not a CA but issued ${path[i - 1]!.subject}`);
      // §6.1.4 (l)/(m): a non-self-issued intermediate uses up one step of max_path_length.
      if (!cert.selfIssued) {
        if (remaining <= 0) throw new PathLengthExceededError(`${cert.subject} exceeds the path length allowed above it`);
        remaining--;
      }
      if (cert.basicConstraints.pathLen !== undefined) remaining = Math.min(remaining, cert.basicConstraints.pathLen);
      if (purpose !== undefined && !allowsPurpose(cert, purpose)) throw new WrongPurposeError(`${cert.subject} does not allow ${EXT_KEY_USAGE_NAMES.get(purpose) ?? purpose}`);
    }
  }
  const leaf = path[0]!;
  if (purpose !== undefined && !allowsPurpose(leaf, purpose)) throw new WrongPurposeError(`${leaf.subject} does not allow ${EXT_KEY_USAGE_NAMES.get(purpose) ?? purpose}`);
}

/**
 * Verifies `leaf` up to one of `trustAnchors`, using `intermediates` as needed. Returns the path
 * that validated; throws the typed error of the first failure otherwise (ERR_PKI_UNTRUSTED when
 * no path to an anchor exists at all).
 */
export function verifyChain(
  leaf: CertificateInput,
  intermediates: readonly CertificateInput[],
  trustAnchors: readonly CertificateInput[],
  options: VerifyChainOptions = {},
): VerifiedChain {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const at = options.at ?? new Date();
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new InvalidArgumentError('options.at', 'expected a valid Date');
  const maxDepth = options.maxDepth ?? 8;
  assertInteger(maxDepth, 'options.maxDepth', 1, 32);
  const purpose = options.purpose === undefined ? undefined : purposeOid(options.purpose);
  const leafCert = toCert(leaf, 'leaf');
  const inter = list(intermediates, 'intermediates', toCert);
  const anchors = list(trustAnchors, 'trustAnchors', toCert);
  if (anchors.length === 0) throw new InvalidArgumentError('trustAnchors', 'expected at least one trust anchor');
  const crls = options.crls === undefined ? [] : list(options.crls, 'options.crls', toCrl);

  const paths = buildPaths(leafCert, inter, anchors, maxDepth);
  if (paths.length === 0) throw new UntrustedError(`no path from ${leafCert.subject} (issuer ${leafCert.issuer}) to a trust anchor`);
  let firstError: PkiError | undefined;
  for (const path of paths) {
    try {
      validatePath(path, at, purpose, crls, options.requireCrl === true);
      return { chain: path, trustAnchor: path[path.length - 1]! };
    } catch (err) {
      if (!(err instanceof PkiError)) throw err;
      firstError ??= err;
    }
  }
  throw firstError!;
}
