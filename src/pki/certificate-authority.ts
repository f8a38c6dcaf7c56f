/**
 * A certificate authority whose key lives behind a Signer (KeyStore, PKCS#11 token or memory):
 * self-signed roots, intermediates, end-entity certificates, revocation and CRLs. Its state is a
 * plain object (`ca.state`) the caller persists after each change — whole, or as the list of
 * changes (`takeChanges()`, when opened with `trackChanges`) for an append-only journal.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, assertInteger, assertOneOf, describeType } from '../util/assert.js';
import { assertSigner } from './algorithms.js';
import { assertCaState, REVOCATION_REASONS, type CaChange, type CaState, type RevocationReason } from './ca-state.js';
import { parseCertificate, type ParsedCertificate } from './certificate.js';
import { bytesEqual, toArrayBuffer, toHex } from './der.js';
import {
  AlreadyRevokedError,
  DuplicateSerialError,
  KeyUsageError,
  NotACaError,
  PathLengthExceededError,
  SignerMismatchError,
  UnknownSerialError,
} from './errors.js';
import {
  assertOid,
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeExtKeyUsage,
  encodeKeyUsage,
  encodeSubjectAltNames,
  encodeSubjectKeyIdentifier,
  extension,
  keyIdentifierFor,
  type ExtraExtension,
  type KeyUsageName,
  type SubjectAltNames,
} from './extensions.js';
import { buildName, formatRdns, nameToRdns, type DistinguishedNameInput } from './name.js';
import { OID } from './oids.js';
import { verifyCsr, type ParsedCsr } from './parse-csr.js';
import { encodePem, decodePem } from './pem.js';
import { parsePublicKey } from './public-key.js';
import { canonicalSerial, randomSerial, serialContent } from './serial.js';
import { signCertificate } from './sign-certificate.js';
import { signCrl } from './sign-crl.js';
import { DAY_MS } from './time.js';

/** When a certificate is valid. Give `notAfter` or `days` (counted from notBefore). */
export interface ValidityOptions {
  /** Default: now. */
  notBefore?: Date;
  notAfter?: Date;
  days?: number;
}

export interface IssueCertificateOptions {
  /** Subject name; defaults to the CSR's subject when a CSR is given. */
  subject?: DistinguishedNameInput;
  /** The subject's SubjectPublicKeyInfo DER. Give this or `csr`. */
  publicKey?: Uint8Array;
  /**
   * A PKCS#10 CSR (DER or PEM, or as parseCsr returned it: not parsed again); its self-signature
   * is verified either way (ERR_PKI_BAD_CSR_SIGNATURE).
   */
  csr?: Uint8Array | string | ParsedCsr;
  /** Default: 365 days from now. */
  validity?: ValidityOptions;
  /** Default: ['digitalSignature'], or ['keyCertSign', 'cRLSign'] for a CA. */
  keyUsage?: KeyUsageName[];
  /** Names (serverAuth, clientAuth, codeSigning, ...) or OIDs. */
  extKeyUsage?: string[];
  subjectAltNames?: SubjectAltNames;
  /** More extensions, as OID + DER value (e.g. `masaUrlExtension(url)`). */
  extensions?: ExtraExtension[];
  /** Hex; default a random positive 16-byte number. Must not have been issued before. */
  serialNumber?: string;
  /** Issue a CA certificate (basicConstraints cA=TRUE). */
  isCa?: boolean;
  /** pathLenConstraint for a CA certificate. */
  pathLen?: number;
}

export interface IssuedCertificate {
  der: Uint8Array;
  pem: string;
  serialNumber: string;
  certificate: ParsedCertificate;
}

export interface CreateRootCaOptions {
  signer: Signer;
  subject: DistinguishedNameInput;
  /** Lifetime in days; or give `notAfter` (e.g. NO_WELL_DEFINED_EXPIRATION for a manufacturer CA). */
  validityDays?: number;
  notAfter?: Date;
  /** pathLenConstraint; omit for no limit. */
  pathLen?: number;
  /** Default: now. */
  notBefore?: Date;
}

export interface CreateIntermediateCaOptions {
  /** The intermediate's own key. */
  signer: Signer;
  subject: DistinguishedNameInput;
  /** Lifetime in days; or give `notAfter`. */
  validityDays?: number;
  notAfter?: Date;
  pathLen?: number;
  notBefore?: Date;
}

export interface CreateCrlOptions {
  /** Default: now. */
  thisUpdate?: Date;
  /** Days until nextUpdate (default 7). */
  nextUpdateDays?: number;
}

function assertDate(v: unknown, name: string): asserts v is Date {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new InvalidArgumentError(name, `expected a valid Date, got ${describeType(v)}`);
}

function assertOptions(v: unknown, name: string): void {
  if (v === null || typeof v !== 'object') throw new InvalidArgumentError(name, `expected an object, got ${describeType(v)}`);
}

function resolveValidity(v: ValidityOptions | undefined, defaultDays: number, name: string): { notBefore: Date; notAfter: Date } {
  if (v !== undefined) assertOptions(v, name);
  const notBefore = v?.notBefore ?? new Date();
  assertDate(notBefore, `${name}.notBefore`);
  let notAfter: Date;
  if (v?.notAfter !== undefined) {
    if (v.days !== undefined) throw new InvalidArgumentError(name, 'give notAfter or days, not both');
    assertDate(v.notAfter, `${name}.notAfter`);
    notAfter = v.notAfter;
  } else {
    const days = v?.days ?? defaultDays;
    assertInteger(days, `${name}.days`, 1, 3_000_000);
    notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  }
  if (notAfter.getTime() < notBefore.getTime()) throw new InvalidArgumentError(name, 'notAfter is before notBefore');
  if (notAfter.getUTCFullYear() > 9999) throw new InvalidArgumentError(name, 'notAfter is past the year 9999');
  return { notBefore, notAfter };
}

/** A CA's validity from `validityDays` xor `notAfter`, plus optional `notBefore`. */
function caValidity(o: { validityDays?: number; notAfter?: Date; notBefore?: Date }): ValidityOptions {
  if ((o.validityDays === undefined) === (o.notAfter === undefined)) throw new InvalidArgumentError('options', 'give validityDays or notAfter (exactly one)');
  if (o.validityDays !== undefined) assertInteger(o.validityDays, 'options.validityDays', 1, 3_000_000);
  const v: ValidityOptions = o.notAfter !== undefined ? { notAfter: o.notAfter } : { days: o.validityDays! };
  if (o.notBefore !== undefined) v.notBefore = o.notBefore;
  return v;
}

function caExtensions(spki: Uint8Array, pathLen: number | undefined, issuerKeyId: Uint8Array | undefined, keyUsage: KeyUsageName[]) {
  const keyId = keyIdentifierFor(parsePublicKey(spki).subjectPublicKey);
  return [
    // RFC 5280 §4.2.1.9: "Conforming CAs MUST include this extension in all CA certificates that
    // contain public keys used to validate digital signatures on certificates and MUST mark the
    // extension as critical in such certificates."
    extension(OID.basicConstraints, true, encodeBasicConstraints(true, pathLen)),
    // RFC 5280 §4.2.1.3: "When present, conforming CAs SHOULD mark this extension as critical."
    extension(OID.keyUsage, true, encodeKeyUsage(keyUsage, 'keyUsage')),
    // RFC 5280 §4.2.1.2: "this extension MUST appear in all conforming CA certificates".
    extension(OID.subjectKeyIdentifier, false, encodeSubjectKeyIdentifier(keyId)),
    extension(OID.authorityKeyIdentifier, false, encodeAuthorityKeyIdentifier(issuerKeyId ?? keyId)),
  ];
}

/** Creates a self-signed root CA (X.509 v3) with its key behind `options.signer`. */
export async function createRootCa(options: CreateRootCaOptions): Promise<CertificateAuthority> {
  assertOptions(options, 'options');
  assertSigner(options.signer, 'options.signer');
  if (options.pathLen !== undefined) assertInteger(options.pathLen, 'options.pathLen', 0, 255);
  const name = buildName(options.subject, 'options.subject');
  if (name.length === 0) throw new InvalidArgumentError('options.subject', 'a CA needs a non-empty subject (RFC 5280 §4.1.2.6)');
  const validity = resolveValidity(caValidity(options), 0, 'options');
  const serial = toHex(randomSerial());
  const spki = options.signer.publicKey;
  parsePublicKey(spki);
  const der = await signCertificate(options.signer, {
    serialContent: serialContent(serial),
    issuer: name,
    subject: name,
    ...validity,
    publicKey: spki,
    extensions: caExtensions(spki, options.pathLen, undefined, ['keyCertSign', 'cRLSign']),
  });
  const cert = parseCertificate(der);
  const state: CaState = {
    version: 1,
    certificate: encodePem('CERTIFICATE', der),
    chain: [],
    issued: { [cert.serialNumber]: { subject: cert.subject, notAfter: cert.notAfter.toISOString() } },
    revoked: {},
    crlNumber: 0,
  };
  return CertificateAuthority.open(options.signer, state);
}

export class CertificateAuthority {
  readonly #signer: Signer;
  readonly #cert: ParsedCertificate;
  readonly #name: Name;
  readonly #state: CaState;
  /** Changes not yet taken (only with `trackChanges`). */
  readonly #changes: CaChange[] | undefined;

  private constructor(signer: Signer, cert: ParsedCertificate, state: CaState, trackChanges: boolean) {
    this.#signer = signer;
    this.#cert = cert;
    this.#state = state;
    this.#changes = trackChanges ? [] : undefined;
    this.#name = AsnConvert.parse(toArrayBuffer(cert.subjectDer), Name);
  }

  /**
   * Opens a CA from its persisted state and the Signer holding its key. Refuses a signer whose
   * public key is not the certified one, and a certificate that is not a CA certificate.
   * `trackChanges`: record every completed issuance, revocation and CRL number for
   * `takeChanges()` (the caller must take them, or they accumulate).
   */
  static open(signer: Signer, state: CaState, options: { trackChanges?: boolean } = {}): CertificateAuthority {
    assertSigner(signer, 'signer');
    assertCaState(state, 'state');
    const copy = structuredClone(state);
    const cert = parseCertificate(decodePem(copy.certificate, 'CERTIFICATE'));
    copy.chain.forEach((pem) => parseCertificate(decodePem(pem, 'CERTIFICATE')));
    if (!bytesEqual(cert.publicKey, signer.publicKey)) throw new SignerMismatchError('the signer does not hold the key in the CA certificate');
    if (cert.basicConstraints?.ca !== true) throw new NotACaError(`${cert.subject} is not a CA certificate`);
    if (cert.keyUsage !== undefined && !cert.keyUsage.includes('keyCertSign')) throw new KeyUsageError(`${cert.subject} may not sign certificates (no keyCertSign)`);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
    return new CertificateAuthority(signer, cert, copy, options.trackChanges === true);
  }

  /**
   * The changes made since the last call, oldest first (opened with `trackChanges`; else
   * ERR_INVALID_ARGUMENT). A serial reserved by an issuance still signing is not a change yet.
   */
  takeChanges(): CaChange[] {
    if (this.#changes === undefined) throw new InvalidArgumentError('trackChanges', 'this CA was opened without trackChanges');
    return this.#changes.splice(0);
  }

  /** The CA's own certificate. */
  get certificate(): ParsedCertificate {
    return this.#cert;
  }

  /** PEM of the CA certificate followed by the chain above it (a bundle for clients). */
  get chainPem(): string {
    return [this.#state.certificate, ...this.#state.chain].join('');
  }

  /** A copy of the state to persist. */
  get state(): CaState {
    return structuredClone(this.#state);
  }

  /** Issues a certificate. See IssueCertificateOptions for defaults. */
  async issueCertificate(options: IssueCertificateOptions): Promise<IssuedCertificate> {
    assertOptions(options, 'options');
    let publicKey: Uint8Array;
    let csrSubject: Uint8Array | undefined;
    if (options.csr !== undefined) {
      if (options.publicKey !== undefined) throw new InvalidArgumentError('options', 'give publicKey or csr, not both');
      const csr = verifyCsr(options.csr);
      publicKey = csr.publicKey;
      csrSubject = csr.subjectDer;
    } else {
      assertBytes(options.publicKey, 'options.publicKey', { min: 1 });
      publicKey = options.publicKey;
    }
    parsePublicKey(publicKey);
    let subject: Name;
    if (options.subject !== undefined) subject = buildName(options.subject, 'options.subject');
    // The CSR's subject is copied as encoded, so attribute types and string kinds survive intact.
    else if (csrSubject !== undefined) subject = AsnConvert.parse(toArrayBuffer(csrSubject), Name);
    else throw new InvalidArgumentError('options.subject', 'required when no CSR is given');
    const isCa = options.isCa === true;
    if (options.isCa !== undefined && typeof options.isCa !== 'boolean') throw new InvalidArgumentError('options.isCa', 'expected a boolean');
    const validity = resolveValidity(options.validity, 365, 'options.validity');
    // The default lifetime (365 days) stops at the CA's own notAfter; explicit ones are checked.
    if (options.validity?.notAfter === undefined && options.validity?.days === undefined && validity.notAfter > this.#cert.notAfter) {
      validity.notAfter = this.#cert.notAfter;
    }
    // Path validation (RFC 5280 §6.1.3 (a)(2)) rejects certificates outside the issuer's validity,
    // so issuing one would only produce a certificate that never verifies.
    if (validity.notAfter > this.#cert.notAfter) throw new InvalidArgumentError('options.validity', `notAfter is after the CA certificate's (${this.#cert.notAfter.toISOString()})`);
    if (validity.notBefore < this.#cert.notBefore) throw new InvalidArgumentError('options.validity', `notBefore is before the CA certificate's (${this.#cert.notBefore.toISOString()})`);

    const keyUsage = options.keyUsage ?? (isCa ? (['keyCertSign', 'cRLSign'] as KeyUsageName[]) : (['digitalSignature'] as KeyUsageName[]));
    const extensions = [];
    if (isCa) {
      if (options.pathLen !== undefined) assertInteger(options.pathLen, 'options.pathLen', 0, 255);
      const limit = this.#cert.basicConstraints?.pathLen;
      // RFC 5280 §4.2.1.9: pathLenConstraint "gives the maximum number of non-self-issued
      // intermediate CA certificates that may follow this certificate in a valid certification path".
      if (limit === 0) throw new PathLengthExceededError(`${this.#cert.subject} has pathLen 0 and cannot certify another CA`);
      if (limit !== undefined && options.pathLen !== undefined && options.pathLen >= limit) {
        throw new PathLengthExceededError(`a CA under ${this.#cert.subject} needs pathLen below ${limit}`);
      }
      // Write the inherited limit down, so the certificate says what validators will enforce anyway.
      const pathLen = options.pathLen ?? (limit !== undefined ? limit - 1 : undefined);
      if (!keyUsage.includes('keyCertSign')) throw new InvalidArgumentError('options.keyUsage', 'a CA certificate needs keyCertSign');
      const issuerKeyId = this.#issuerKeyId();
      extensions.push(...caExtensions(publicKey, pathLen, issuerKeyId, keyUsage));
    } else {
      // RFC 5280 §4.2.1.9: "CAs MUST NOT include the pathLenConstraint field unless the cA boolean
      // is asserted"; §4.2.1.3: keyCertSign only with cA asserted.
      if (options.pathLen !== undefined) throw new InvalidArgumentError('options.pathLen', 'only for CA certificates (isCa: true)');
      if (keyUsage.includes('keyCertSign')) throw new InvalidArgumentError('options.keyUsage', 'keyCertSign requires isCa: true');
      extensions.push(
        extension(OID.basicConstraints, true, encodeBasicConstraints(false, undefined)),
        extension(OID.keyUsage, true, encodeKeyUsage(keyUsage, 'options.keyUsage')),
        extension(OID.subjectKeyIdentifier, false, encodeSubjectKeyIdentifier(keyIdentifierFor(parsePublicKey(publicKey).subjectPublicKey))),
        extension(OID.authorityKeyIdentifier, false, encodeAuthorityKeyIdentifier(this.#issuerKeyId())),
      );
    }
    if (options.extKeyUsage !== undefined) extensions.push(extension(OID.extKeyUsage, false, encodeExtKeyUsage(options.extKeyUsage, 'options.extKeyUsage')));
    if (options.subjectAltNames !== undefined) {
      const san = encodeSubjectAltNames(options.subjectAltNames, 'options.subjectAltNames');
      // RFC 5280 §4.2.1.6: "If the subject field contains an empty sequence, then the issuing CA
      // MUST include a subjectAltName extension that is marked as critical."
      if (san !== undefined) extensions.push(extension(OID.subjectAltName, subject.length === 0, san));
    }
    if (subject.length === 0 && !extensions.some((e) => e.extnID === OID.subjectAltName)) {
      throw new InvalidArgumentError('options.subject', 'an empty subject needs subjectAltNames (RFC 5280 §4.1.2.6)');
    }
    if (options.extensions !== undefined && !Array.isArray(options.extensions)) throw new InvalidArgumentError('options.extensions', 'expected an array');
    for (const [i, e] of (options.extensions ?? []).entries()) {
      if (e === null || typeof e !== 'object') throw new InvalidArgumentError(`options.extensions[${i}]`, 'expected { oid, value }');
      assertOid(e.oid, `options.extensions[${i}].oid`);
      assertBytes(e.value, `options.extensions[${i}].value`, { min: 1 });
      // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
      if (extensions.some((x) => x.extnID === e.oid)) throw new InvalidArgumentError(`options.extensions[${i}]`, `extension ${e.oid} is already present`);
      extensions.push(extension(e.oid, e.critical === true, e.value));
    }

    const serial = this.#reserveSerial(options.serialNumber);
    let der: Uint8Array;
    try {
      der = await signCertificate(this.#signer, {
        serialContent: serialContent(serial),
        issuer: this.#name,
        subject,
        ...validity,
        publicKey,
        extensions,
      });
    } catch (err) {
      delete this.#state.issued[serial];
      throw err;
    }
    const certificate = parseCertificate(der);
    const record = { subject: formatRdns(nameToRdns(subject)), notAfter: certificate.notAfter.toISOString() };
    this.#state.issued[serial] = record;
    this.#changes?.push({ op: 'issue', serial, ...record });
    return { der, pem: encodePem('CERTIFICATE', der), serialNumber: serial, certificate };
  }

  /** Issues an intermediate CA certificate for `options.signer`'s key and opens it as a CA. */
  async createIntermediateCa(options: CreateIntermediateCaOptions): Promise<CertificateAuthority> {
    assertOptions(options, 'options');
    assertSigner(options.signer, 'options.signer');
    const issued = await this.issueCertificate({
      subject: options.subject,
      publicKey: options.signer.publicKey,
      validity: caValidity(options),
      isCa: true,
      ...(options.pathLen !== undefined ? { pathLen: options.pathLen } : {}),
    });
    const state: CaState = {
      version: 1,
      certificate: issued.pem,
      chain: [this.#state.certificate, ...this.#state.chain],
      issued: {},
      revoked: {},
      crlNumber: 0,
    };
    return CertificateAuthority.open(options.signer, state);
  }

  /** Records a revocation; the next CRL lists it. */
  revoke(serialNumber: string, reason: RevocationReason = 'unspecified', revokedAt: Date = new Date()): void {
    const serial = canonicalSerial(serialNumber, 'serialNumber');
    assertOneOf(reason, 'reason', REVOCATION_REASONS);
    assertDate(revokedAt, 'revokedAt');
    if (this.#state.issued[serial] === undefined) throw new UnknownSerialError(`serial ${serial} was not issued by this CA`);
    if (this.#state.revoked[serial] !== undefined) throw new AlreadyRevokedError(`serial ${serial} is already revoked`);
    const record = { reason, revokedAt: new Date(Math.floor(revokedAt.getTime() / 1000) * 1000).toISOString() };
    this.#state.revoked[serial] = record;
    this.#changes?.push({ op: 'revoke', serial, ...record });
  }

  /** Whether this CA has revoked `serialNumber` (hex). */
  isRevoked(serialNumber: string): boolean {
    return this.#state.revoked[canonicalSerial(serialNumber, 'serialNumber')] !== undefined;
  }

  /** Signs a new X.509 v2 CRL with the next CRL number. Returns DER. */
  async createCrl(options: CreateCrlOptions = {}): Promise<Uint8Array> {
    assertOptions(options, 'options');
    const thisUpdate = options.thisUpdate ?? new Date();
    assertDate(thisUpdate, 'options.thisUpdate');
    const days = options.nextUpdateDays ?? 7;
    assertInteger(days, 'options.nextUpdateDays', 1, 3650);
    // RFC 5280 §4.2.1.3: cRLSign "is asserted when the subject public key is used for verifying
    // signatures on certificate revocation lists".
    if (this.#cert.keyUsage !== undefined && !this.#cert.keyUsage.includes('cRLSign')) {
      throw new KeyUsageError(`${this.#cert.subject} may not sign CRLs (no cRLSign)`);
    }
    // RFC 5280 §5.2.3: "CRL issuers conforming to this profile MUST NOT use CRLNumber values longer than 20 octets"
    // and the number is "monotonically increasing". It is taken before the (possibly slow)
    // signature so concurrent calls never share one; a failed signature leaves a harmless gap.
    const crlNumber = ++this.#state.crlNumber;
    this.#changes?.push({ op: 'crl', crlNumber });
    const revoked = Object.entries(this.#state.revoked)
      .map(([serial, r]) => ({ serial, revokedAt: new Date(r.revokedAt), reason: r.reason }))
      .sort((a, b) => a.revokedAt.getTime() - b.revokedAt.getTime() || a.serial.localeCompare(b.serial));
    const der = await signCrl(this.#signer, {
      issuer: this.#name,
      authorityKeyId: this.#issuerKeyId(),
      crlNumber,
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + days * DAY_MS),
      revoked,
    });
    return der;
  }

  /** The key identifier children get in their AKI: our SKI, or one computed from our key. */
  #issuerKeyId(): Uint8Array {
    const ski = this.#cert.subjectKeyIdentifier;
    return ski !== undefined ? new Uint8Array(Buffer.from(ski, 'hex')) : keyIdentifierFor(parsePublicKey(this.#cert.publicKey).subjectPublicKey);
  }

  /**
   * Claims a serial before the (possibly slow, token-backed) signature, so two concurrent
   * issuances can never share one; the record is completed after signing, or dropped on failure.
   */
  #reserveSerial(requested: string | undefined): string {
    if (requested !== undefined) {
      const serial = canonicalSerial(requested, 'options.serialNumber');
      if (this.#state.issued[serial] !== undefined) throw new DuplicateSerialError(`serial ${serial} was already issued`);
      this.#state.issued[serial] = { subject: '', notAfter: new Date(0).toISOString() };
      return serial;
    }
    for (;;) {
      const serial = toHex(randomSerial());
      if (this.#state.issued[serial] === undefined) {
        this.#state.issued[serial] = { subject: '', notAfter: new Date(0).toISOString() };
        return serial;
      }
    }
  }
}
