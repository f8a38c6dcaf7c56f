/**
 * The MASA (Manufacturer Authorized Signing Authority, RFC 8995 §5.5-§5.8): it answers a domain
 * registrar's voucher request for one of the manufacturer's devices with a signed voucher that
 * pins the registrar's domain, and keeps the request audit log the owner can fetch.
 *
 * Every request is checked in this order, and every refusal is a typed error plus an audit
 * record (action 'masa.voucher.request', outcome 'deny', the error code in details):
 *   1. the registrar's signature — CMS, or COSE_Sign1 with a protected x5bag for a constrained
 *      pledge (cBRSKI §7.1, §8.1) — (with the certificates it carries; the MASA need not know
 *      the domain in advance — RFC 8995 §5.5.4 "the MASA ... pins the domain it sees");
 *   2. the pledge's prior-signed-voucher-request, signed by an IDevID that chains to one of this
 *      manufacturer's CAs and is the very certificate minted for that serial (a constrained
 *      pledge's COSE request that carries no certificate is verified under that minted IDevID);
 *   3. consistency: serial numbers, idevid-issuer and nonce agree between pledge, registrar and
 *      IDevID; the registrar request is fresh;
 *   4. proximity: the registrar the pledge saw (proximity-registrar-cert, or its key by
 *      proximity-registrar-pubk / -pubk-sha256) holds the key that signed the registrar request;
 *   5. ownership: first claim wins; a device owned by another domain is refused until released;
 *   6. replay: a (serial, nonce) pair is answered once.
 *
 * Claims, used nonces and the request log live in the store (store.masa): the claim itself is one
 * atomic statement, so any number of MASA nodes sharing one PostgreSQL agree on the owner. The
 * owner is the SHA-256 of the pinned domain certificate's public key (SPKI), never the domainID
 * alone: a subjectKeyIdentifier is whatever the certificate says, and anyone can mint a CA that
 * says someone else's.
 */
import { createHash } from 'node:crypto';
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError, RootlineError } from '../errors.js';
import { readOuterSequence } from '../pki/der.js';
import { findAttribute, parseCertificate, verifyChain, type CertificateInput, type ParsedCertificate } from '../pki/index.js';
import type { MasaClaimRecord, MasaClaimResult, MasaNonceUse, MasaRepository } from '../store/masa-types.js';
import type { AuditEntry, AuditLog, Store } from '../store/types.js';
import { looksLikeCoseSign1, signConstrainedVoucher, type ConstrainedVoucherRequest } from './constrained-voucher.js';
import {
  AlreadyOwnedError,
  BadVoucherRequestError,
  MalformedSignedVoucherError,
  NotOwnerError,
  OnboardingError,
  ProximityMismatchError,
  ReplayError,
  UnknownDeviceError,
  UntrustedPledgeError,
  UntrustedVoucherSignerError,
} from './errors.js';
import { auditText, MAX_AUDIT_EVENTS_PER_DEVICE, SERIAL_NUMBER_PATTERN, type MasaAuditEvent, type MasaDeviceRecord, type MasaRegistry } from './masa-registry.js';
import { openSignedVoucherRequest, signVoucher, type OpenedVoucherRequest } from './signed-voucher.js';
import { formatDateAndTime, type Voucher, type VoucherAssertion } from './voucher.js';
import { coseCarriesCertificates } from './voucher-requests.js';

export type VoucherFormat = 'cms' | 'cose';

export interface MasaOptions {
  /** The minted devices (written by the factory). */
  registry: MasaRegistry;
  /** Claims, used nonces and the request log: `store.masa`. */
  claims: MasaRepository;
  audit: AuditLog;
  /**
   * The store's `appendRequestLogAndAudit` (bound), when `claims` and `audit` are that store's: a
   * voucher's request-log entry and its `masa.voucher.issue` record then commit together.
   * Omitted: `claims.appendRequestLog` then `audit.append`.
   */
  appendRequestLogAndAudit?: NonNullable<Store['appendRequestLogAndAudit']>;
  /** The MASA's voucher-signing key (e.g. `factory.masaSigner`, a KeyStore key). */
  signer: Signer;
  /** The MASA certificate first, then its chain (carried in every voucher). */
  certificates: readonly CertificateInput[];
  /** The manufacturer CAs whose IDevIDs this MASA vouches for. */
  manufacturerCas: readonly CertificateInput[];
  /** RFC 8366 assertion written into vouchers (default 'logged': ownership is recorded here). */
  assertion?: VoucherAssertion;
  /**
   * Answer requests without a nonce (RFC 8995 §7.2 nonceless vouchers, for pledges without a
   * clock-free channel) with an expires-on voucher of this lifetime. Default: refuse them.
   */
  noncelessLifetimeSeconds?: number;
  /** Oldest registrar request created-on accepted (default 3600 s), and future skew (300 s). */
  maxRequestAgeSeconds?: number;
  maxClockSkewSeconds?: number;
  /**
   * A claim lapses this long after it was made or last renewed by its owner (a manufacturer's
   * policy choice). Default: claims last until released.
   */
  claimLifetimeSeconds?: number;
  now?: () => Date;
}

export interface VoucherResponse {
  serialNumber: string;
  format: VoucherFormat;
  /** 'application/voucher-cms+json' or 'application/voucher+cose'. */
  contentType: string;
  voucher: Uint8Array;
  domainId: string;
}

/** RFC 8995 §5.8.1 audit log response. */
export interface RequestAuditLog {
  version: '1';
  events: MasaAuditEvent[];
  truncation?: Record<string, string>;
}

export interface Masa {
  /**
   * RFC 8995 §5.5: answers a registrar voucher request — CMS-signed, or COSE-signed as cBRSKI's
   * registrar sends for a constrained pledge (draft-ietf-anima-constrained-voucher §7.1) — with a
   * voucher in `format` (default: the request's own format). `requestFormat` is the format the
   * transport declared (Content-Type); a body of the other format is refused (audited).
   */
  requestVoucher(registrarRequest: Uint8Array, options?: { format?: VoucherFormat; requestFormat?: VoucherFormat }): Promise<VoucherResponse>;
  /** RFC 8995 §5.8: the device's log, for the domain that owns it (request signed as for a voucher). */
  requestAuditLog(registrarRequest: Uint8Array, context?: OwnerRequestContext): Promise<RequestAuditLog>;
  /**
   * Releases the owning domain's claim. The request is a voucher request signed by that domain's
   * registrar, with a fresh created-on and a nonce of its own (each release request works once).
   */
  releaseClaim(registrarRequest: Uint8Array, context?: OwnerRequestContext): Promise<void>;
  /** Manufacturer-side release (support case), audited with the operator's name. */
  forceRelease(serial: string, actor: string, reason: string): Promise<void>;
}

/** What the transport knows about who sent an owner request. */
export interface OwnerRequestContext {
  /**
   * The TLS client certificate (DER) the registrar presented, if any. When present it must hold
   * the key that signed the request: a release (or log request) relayed by someone else's TLS
   * session is refused. Absent (no client certificate, a TLS-terminating proxy), the CMS
   * signature alone authenticates the owner.
   */
  tlsClientCertificate?: Uint8Array;
}

export const VOUCHER_CMS_MEDIA_TYPE = 'application/voucher-cms+json';

/**
 * RFC 8995 §5.8.2 domainID: a key identifier of the pinned domain certificate — its
 * subjectKeyIdentifier when present, otherwise RFC 7093 §2 method 1 over its key (the first 160
 * bits of SHA-256 of the subjectPublicKey BIT STRING), base64.
 */
export function domainIdOf(cert: ParsedCertificate): string {
  if (cert.subjectKeyIdentifier !== undefined) return Buffer.from(cert.subjectKeyIdentifier, 'hex').toString('base64');
  return createHash('sha256').update(subjectPublicKeyBits(cert.publicKey)).digest().subarray(0, 20).toString('base64');
}

/**
 * Who owns a device at this MASA: hex SHA-256 of the pinned domain certificate's
 * SubjectPublicKeyInfo. Bound to the key (which a forger cannot carry), and stable across
 * re-issues of the domain CA certificate under the same key.
 */
export function ownerKeyOf(cert: ParsedCertificate): string {
  return createHash('sha256').update(cert.publicKey).digest('hex');
}

/** The subjectPublicKey BIT STRING content (without the unused-bits octet) of an SPKI. */
function subjectPublicKeyBits(spki: Uint8Array): Uint8Array {
  // SPKI = SEQUENCE { AlgorithmIdentifier, BIT STRING }; the certificate parser has checked it.
  const fields = readOuterSequence(spki);
  const bits = typeof fields === 'string' ? undefined : fields[1];
  if (bits?.tag !== 0x03) throw new InvalidArgumentError('publicKey', 'not a SubjectPublicKeyInfo');
  return spki.subarray(bits.start + 1, bits.end);
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/**
 * The certificate to pin (RFC 8995 §5.5.2 / §5.6): the registrar's domain CA when the registrar
 * carried a self-signed CA its certificate chains to, otherwise the registrar certificate itself.
 */
function pinnedDomainCertificate(opened: OpenedVoucherRequest, at: Date): ParsedCertificate {
  const others = opened.certificates.filter((c) => c !== opened.signerCertificate);
  const roots = others.filter((c) => c.selfIssued && c.basicConstraints?.ca === true);
  let failure: unknown;
  for (const root of roots) {
    try {
      verifyChain(opened.signerCertificate, others, [root], { at });
      return root;
    } catch (err) {
      failure = err;
    }
  }
  // A registrar that carries its domain CA but does not chain to it is broken or forged: pinning
  // anything from that chain would hand the pledge a trust anchor nobody vouched for.
  if (roots.length > 0) throw new UntrustedVoucherSignerError(`the registrar certificate does not chain to the domain CA it carries: ${(failure as Error).message}`, { cause: failure });
  return opened.signerCertificate;
}

interface Checked {
  device: MasaDeviceRecord;
  registrar: OpenedVoucherRequest;
  pledge: OpenedVoucherRequest;
  pinned: ParsedCertificate;
  domainId: string;
  owner: string;
  nonce: Uint8Array | undefined;
}

function isActive(claim: MasaClaimRecord | undefined, at: Date): claim is MasaClaimRecord {
  return claim !== undefined && claim.releasedAt === null && (claim.expiresAt === null || Date.parse(claim.expiresAt) > at.getTime());
}

const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

export function createMasa(options: MasaOptions): Masa {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const { registry, audit, claims } = options;
  if (claims === null || typeof claims !== 'object' || typeof claims.claim !== 'function') throw new InvalidArgumentError('claims', 'expected the store\'s MASA repository (store.masa)');
  if (!Array.isArray(options.manufacturerCas) || options.manufacturerCas.length === 0) throw new InvalidArgumentError('manufacturerCas', 'expected at least one manufacturer CA');
  const manufacturerCas = options.manufacturerCas.map((c) => (typeof c === 'object' && c !== null && 'der' in c ? (c as ParsedCertificate) : parseCertificate(c as Uint8Array | string)));
  const identity = { signer: options.signer, certificates: options.certificates };
  const now = options.now ?? (() => new Date());
  const maxAge = (options.maxRequestAgeSeconds ?? 3600) * 1000;
  const skew = (options.maxClockSkewSeconds ?? 300) * 1000;
  const assertion = options.assertion ?? 'logged';
  const claimLifetime = options.claimLifetimeSeconds;
  if (claimLifetime !== undefined && (!Number.isInteger(claimLifetime) || claimLifetime < 60 || claimLifetime > 100 * 365 * 86_400)) throw new InvalidArgumentError('claimLifetimeSeconds', 'expected an integer number of seconds, at least 60');
  let nonceUses = 0;

  /**
   * Records a used nonce; false for a replay. A nonce is kept while a request carrying it can
   * still be fresh (created-on + the accepted age + skew), for ever when the request has no
   * created-on (nothing else would stop its replay). Expired ones are purged now and then.
   */
  async function useNonce(serial: string, purpose: 'voucher' | 'release' | 'auditlog', nonce: Uint8Array, createdOn: Date | undefined): Promise<boolean> {
    const at = now();
    const use = nonceUse(nonce, createdOn, at);
    const fresh = await claims.useNonce(serial, purpose, use.nonceHash, use.expiresAt, at.toISOString());
    await purgeNow(at);
    return fresh;
  }

  /** A voucher nonce as the store records it, kept as long as useNonce explains. */
  function nonceUse(nonce: Uint8Array, createdOn: Date | undefined, at: Date = now()): MasaNonceUse {
    const expiresAt = createdOn === undefined ? null : new Date(Math.max(createdOn.getTime(), at.getTime()) + maxAge + skew).toISOString();
    return { purpose: 'voucher', nonceHash: sha256Hex(nonce), expiresAt };
  }

  /** Every 256th nonce used, the expired ones are purged (best effort). */
  async function purgeNow(at: Date): Promise<void> {
    if (++nonceUses % 256 === 0) await claims.purgeExpiredNonces(at.toISOString()).catch(() => undefined);
  }

  /**
   * The device's claim, carrying over a claim an earlier rootline kept inside the device record
   * (once: after that the claims table decides, even once the claim is released).
   */
  async function claimOf(device: MasaDeviceRecord): Promise<MasaClaimRecord | undefined> {
    const claim = await claims.getClaim(device.serial);
    if (claim !== undefined || device.owner === undefined) return claim;
    const pinned = parseCertificate(Buffer.from(device.owner.pinnedDomainCert, 'base64'));
    const result = await claims.claim({ serial: device.serial, owner: ownerKeyOf(pinned), domainId: device.owner.domainId, pinnedDomainCert: device.owner.pinnedDomainCert, nonce: null, expiresAt: null }, new Date(device.owner.claimedAt).toISOString());
    await audit.append({ actor: 'system', action: 'masa.claim.import', subject: device.serial, outcome: 'success', details: { domainId: device.owner.domainId, claimed: result.claimed } });
    return result.claimed ? result.claim : result.current;
  }

  async function deny(action: string, subject: string, actor: string, err: unknown): Promise<never> {
    const code = err instanceof RootlineError ? err.code : 'ERR_INTERNAL';
    // actor, subject and reason may carry request text: made safe for the log, never trusted.
    await audit.append({ actor: auditText(actor), action, subject: auditText(subject), outcome: 'deny', details: { code, reason: auditText(err instanceof Error ? err.message : String(err), 300) } });
    throw err;
  }

  /** Step 1: the registrar's own signature; returns the opened request and who it is. */
  function openRegistrar(der: Uint8Array): OpenedVoucherRequest {
    if (!(der instanceof Uint8Array)) throw new InvalidArgumentError('registrarRequest', 'expected a Uint8Array');
    return openSignedVoucherRequest(der, { at: now() });
  }

  function actorOf(opened: OpenedVoucherRequest | undefined): string {
    return opened === undefined ? 'registrar:unauthenticated' : auditText(`registrar:${opened.signerCertificate.subject}`);
  }

  async function checkRequest(registrar: OpenedVoucherRequest): Promise<Checked> {
    const at = now();
    const req = registrar.request;
    const rc = registrar.signerCertificate;
    if (rc.notBefore.getTime() > at.getTime() || rc.notAfter.getTime() < at.getTime()) throw new UntrustedVoucherSignerError("the registrar's certificate is not valid now");
    // RFC 8995 §5.5: the registrar request carries the pledge's request verbatim.
    if (req.priorSignedVoucherRequest === undefined) throw new BadVoucherRequestError('the registrar request has no prior-signed-voucher-request');
    if (req.createdOn !== undefined && (req.createdOn.getTime() < at.getTime() - maxAge || req.createdOn.getTime() > at.getTime() + skew)) {
      throw new BadVoucherRequestError(`the registrar request was created at ${req.createdOn.toISOString()}, outside the accepted window`);
    }
    let pledge: OpenedVoucherRequest;
    try {
      const prior = req.priorSignedVoucherRequest;
      if (looksLikeCoseSign1(prior) && !coseCarriesCertificates(prior)) {
        // cBRSKI §9.2.2: a constrained pledge's request need carry no certificate — its key "is
        // already identified by the Pledge's unique serial number that is included in the PVR and
        // (by the Registrar) in the RVR". The IDevID minted for that serial verifies it.
        const minted = SERIAL_NUMBER_PATTERN.test(req.serialNumber) ? await registry.getDevice(req.serialNumber) : undefined;
        if (minted === undefined) throw new UnknownDeviceError(req.serialNumber);
        if (minted.idevid === undefined) throw new UntrustedPledgeError(`the pledge request carries no certificate and no IDevID certificate is on record for ${minted.serial}`);
        let idevid: ParsedCertificate;
        try {
          idevid = parseCertificate(Buffer.from(minted.idevid, 'base64'));
          verifyChain(idevid, [], manufacturerCas, { at });
        } catch (err) {
          throw new UntrustedPledgeError(`the IDevID on record for ${minted.serial} is not usable under this manufacturer: ${(err as Error).message}`, { cause: err });
        }
        pledge = openSignedVoucherRequest(prior, { trustAnchors: [idevid], at });
      } else {
        pledge = openSignedVoucherRequest(prior, { trustAnchors: manufacturerCas, at });
      }
    } catch (err) {
      if (err instanceof RootlineError && err.code === 'ERR_VOUCHER_UNTRUSTED_SIGNER') throw new UntrustedPledgeError(`the pledge's IDevID is not from this manufacturer: ${err.message}`, { cause: err });
      throw err;
    }
    const idevid = pledge.signerCertificate;
    const idevidSerial = findAttribute(idevid.subjectRdns, 'serialNumber');
    // RFC 8995 §5.5: serial-number "MUST" equal the IDevID's, in both requests.
    if (idevidSerial === undefined) throw new UntrustedPledgeError('the IDevID carries no serialNumber attribute');
    if (pledge.request.serialNumber !== idevidSerial) throw new BadVoucherRequestError(`the pledge request names serial ${JSON.stringify(pledge.request.serialNumber)} but its IDevID is ${JSON.stringify(idevidSerial)}`);
    if (req.serialNumber !== idevidSerial) throw new BadVoucherRequestError(`the registrar asks for serial ${JSON.stringify(req.serialNumber)} but the pledge is ${JSON.stringify(idevidSerial)}`);
    if (req.idevidIssuer !== undefined && (idevid.authorityKeyIdentifier === undefined || Buffer.from(req.idevidIssuer).toString('hex') !== idevid.authorityKeyIdentifier)) {
      throw new BadVoucherRequestError('idevid-issuer does not match the IDevID');
    }
    const device = SERIAL_NUMBER_PATTERN.test(idevidSerial) ? await registry.getDevice(idevidSerial) : undefined;
    if (device === undefined) throw new UnknownDeviceError(idevidSerial);
    // Only the certificate minted for this serial: a second certificate for the same serial
    // (a compromised or cloned line) does not get a voucher.
    if (device.idevidFingerprint !== idevid.fingerprint256) throw new UntrustedPledgeError(`the IDevID presented for ${idevidSerial} is not the one minted for it`);
    // RFC 8995 §5.5: the registrar copies the pledge's nonce.
    if (!sameBytes(req.nonce, pledge.request.nonce) && !(req.nonce === undefined && pledge.request.nonce === undefined)) {
      throw new BadVoucherRequestError('the registrar request nonce differs from the pledge request nonce');
    }
    // Proximity (RFC 8995 §5.5.5, §5.2): the pledge names the registrar certificate it saw in
    // TLS; the registrar that signs this request must hold that certificate's key. A constrained
    // pledge may name the key itself (proximity-registrar-pubk, the SPKI) or its SHA-256
    // (proximity-registrar-pubk-sha256) instead (cBRSKI §9.1.1, rfc8366bis): exactly one of the three.
    if (pledge.request.assertion === 'proximity') {
      const named = pledge.request as ConstrainedVoucherRequest;
      const given = [named.proximityRegistrarCert, named.proximityRegistrarPubk, named.proximityRegistrarPubkSha256].filter((v) => v !== undefined).length;
      if (given === 0) throw new ProximityMismatchError('the pledge asserts proximity but names no registrar');
      if (given > 1) throw new BadVoucherRequestError('the pledge names the registrar more than once (proximity-registrar-cert, -pubk, -pubk-sha256)');
      const key = registrar.signerCertificate.publicKey;
      let seenKey: Uint8Array | undefined;
      if (named.proximityRegistrarCert !== undefined) {
        try {
          seenKey = parseCertificate(named.proximityRegistrarCert).publicKey;
        } catch (err) {
          throw new BadVoucherRequestError('proximity-registrar-cert is not a certificate', { cause: err });
        }
      } else seenKey = named.proximityRegistrarPubk;
      const same = seenKey !== undefined ? sameBytes(seenKey, key) : sameBytes(named.proximityRegistrarPubkSha256, new Uint8Array(createHash('sha256').update(key).digest()));
      if (!same) throw new ProximityMismatchError('the registrar that signed this request is not the one the pledge saw');
    } else {
      throw new ProximityMismatchError(`pledge assertion ${JSON.stringify(pledge.request.assertion ?? null)} is not supported (only proximity)`);
    }
    const pinned = pinnedDomainCertificate(registrar, at);
    return { device, registrar, pledge, pinned, domainId: domainIdOf(pinned), owner: ownerKeyOf(pinned), nonce: pledge.request.nonce };
  }

  async function issue(checked: Checked, format: VoucherFormat): Promise<VoucherResponse> {
    const at = now();
    const { device, domainId, pinned, nonce, owner } = checked;
    const serial = device.serial;
    // Refused before the nonce is spent; the atomic claim below decides for good.
    const current = await claimOf(device);
    if (isActive(current, at) && current.owner !== owner) throw new AlreadyOwnedError(serial);
    let expiresOn: Date | undefined;
    if (nonce === undefined) {
      if (options.noncelessLifetimeSeconds === undefined) throw new BadVoucherRequestError('nonceless voucher requests are not accepted by this MASA');
      // RFC 8366 §5.3: "The expires-on value MUST NOT exceed the expiration date of any of the
      // listed 'pinned-domain-cert' certificates."
      expiresOn = new Date(Math.min(at.getTime() + options.noncelessLifetimeSeconds * 1000, pinned.notAfter.getTime()));
      expiresOn.setUTCMilliseconds(0);
    }
    const newClaim = {
      serial,
      owner,
      domainId,
      pinnedDomainCert: Buffer.from(pinned.der).toString('base64'),
      nonce: nonce === undefined ? null : Buffer.from(nonce).toString('base64'),
      expiresAt: claimLifetime === undefined ? null : new Date(at.getTime() + claimLifetime * 1000).toISOString(),
    };
    let result: MasaClaimResult;
    if (nonce !== undefined && claims.useNonceAndClaim !== undefined) {
      // The nonce is spent and the claim made in one transaction (a replay tries no claim).
      const used = await claims.useNonceAndClaim(nonceUse(nonce, checked.registrar.request.createdOn, at), newClaim, at.toISOString());
      await purgeNow(at);
      if (!used.fresh) throw new ReplayError(`the nonce of this request for ${serial} was answered before`);
      result = used;
    } else {
      if (nonce !== undefined && !(await useNonce(serial, 'voucher', nonce, checked.registrar.request.createdOn))) {
        throw new ReplayError(`the nonce of this request for ${serial} was answered before`);
      }
      result = await claims.claim(newClaim, at.toISOString());
    }
    // Another node's claim won the race between the check above and this statement.
    if (!result.claimed) throw new AlreadyOwnedError(serial);
    const createdOn = new Date(at);
    createdOn.setUTCMilliseconds(0);
    const voucher: Voucher = {
      createdOn,
      assertion,
      serialNumber: serial,
      pinnedDomainCert: pinned.der,
      domainCertRevocationChecks: false,
      ...(checked.pledge.signerCertificate.authorityKeyIdentifier !== undefined ? { idevidIssuer: new Uint8Array(Buffer.from(checked.pledge.signerCertificate.authorityKeyIdentifier, 'hex')) } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
      ...(expiresOn !== undefined ? { expiresOn } : {}),
    };
    const signed = format === 'cose' ? await signConstrainedVoucher(voucher, identity) : await signVoucher(voucher, identity);
    const logEntry = { serial, date: formatDateAndTime(at), domainId, nonce: nonce === undefined ? null : Buffer.from(nonce).toString('base64'), assertion };
    const issued: AuditEntry = {
      actor: actorOf(checked.registrar),
      action: 'masa.voucher.issue',
      subject: serial,
      outcome: 'success',
      details: { domainId, owner, format, assertion, nonced: nonce !== undefined, pinned: auditText(pinned.subject, 1024), claimedAt: result.claim.claimedAt, ...(result.claim.expiresAt !== null ? { claimExpiresAt: result.claim.expiresAt } : {}), ...(expiresOn !== undefined ? { expiresOn: expiresOn.toISOString() } : {}) },
    };
    if (options.appendRequestLogAndAudit !== undefined) {
      await options.appendRequestLogAndAudit(logEntry, issued);
    } else {
      await claims.appendRequestLog(logEntry);
      await audit.append(issued);
    }
    return { serialNumber: serial, format, contentType: format === 'cose' ? 'application/voucher+cose' : VOUCHER_CMS_MEDIA_TYPE, voucher: signed, domainId };
  }

  /**
   * Opens and checks an owner's request (audit log, release): the registrar's signature and
   * certificate validity, freshness, then that the domain it pins owns the device now.
   * `release` additionally needs created-on and a nonce used only once, so a captured release
   * request cannot release a later claim of the same domain.
   */
  async function ownerOf(der: Uint8Array, action: string, purpose: 'release' | 'auditlog', context: OwnerRequestContext = {}): Promise<{ device: MasaDeviceRecord; domainId: string; owner: string; actor: string }> {
    let registrar: OpenedVoucherRequest | undefined;
    try {
      registrar = openRegistrar(der);
      if (context.tlsClientCertificate !== undefined) {
        let tls: ParsedCertificate;
        try {
          tls = parseCertificate(context.tlsClientCertificate);
        } catch (err) {
          throw new UntrustedVoucherSignerError('the TLS client certificate cannot be read', { cause: err });
        }
        if (!sameBytes(tls.publicKey, registrar.signerCertificate.publicKey)) throw new UntrustedVoucherSignerError('the TLS client certificate does not hold the key that signed this request');
      }
      const at = now();
      const req = registrar.request;
      const rc = registrar.signerCertificate;
      if (rc.notBefore.getTime() > at.getTime() || rc.notAfter.getTime() < at.getTime()) throw new UntrustedVoucherSignerError("the registrar's certificate is not valid now");
      if (purpose === 'release' && (req.createdOn === undefined || req.nonce === undefined)) throw new BadVoucherRequestError('a release request needs created-on and a nonce');
      if (req.createdOn !== undefined && (req.createdOn.getTime() < at.getTime() - maxAge || req.createdOn.getTime() > at.getTime() + skew)) {
        throw new BadVoucherRequestError(`the request was created at ${req.createdOn.toISOString()}, outside the accepted window`);
      }
      const serial = req.serialNumber;
      const device = SERIAL_NUMBER_PATTERN.test(serial) ? await registry.getDevice(serial) : undefined;
      if (device === undefined) throw new UnknownDeviceError(serial);
      const pinned = pinnedDomainCertificate(registrar, at);
      const owner = ownerKeyOf(pinned);
      const claim = await claimOf(device);
      if (!isActive(claim, at) || claim.owner !== owner) throw new NotOwnerError(serial);
      // A release changes state and works once; a log request may be repeated (RFC 8995 §5.8 has
      // the registrar post the voucher request it already sent), within the freshness window.
      if (purpose === 'release' && req.nonce !== undefined && !(await useNonce(serial, purpose, req.nonce, req.createdOn))) throw new ReplayError(`this ${purpose} request for ${serial} was used before`);
      return { device, domainId: domainIdOf(pinned), owner, actor: actorOf(registrar) };
    } catch (err) {
      return deny(action, registrar?.request.serialNumber ?? 'unknown', actorOf(registrar), err);
    }
  }

  return {
    async requestVoucher(der, opts = {}) {
      const isCose = looksLikeCoseSign1(der);
      const format = opts.format ?? (isCose ? 'cose' : 'cms');
      if (format !== 'cms' && format !== 'cose') throw new InvalidArgumentError('format', "expected 'cms' or 'cose'");
      const declared = opts.requestFormat;
      if (declared !== undefined && declared !== 'cms' && declared !== 'cose') throw new InvalidArgumentError('requestFormat', "expected 'cms' or 'cose'");
      let registrar: OpenedVoucherRequest | undefined;
      try {
        // The body must be what its Content-Type says: a COSE_Sign1 sent as CMS (or the reverse)
        // is refused before anything is opened.
        if (declared !== undefined && isCose !== (declared === 'cose')) throw new MalformedSignedVoucherError(`the request is declared ${declared === 'cose' ? 'application/voucher+cose' : VOUCHER_CMS_MEDIA_TYPE} but is not ${declared === 'cose' ? 'a COSE_Sign1' : 'CMS SignedData'}`);
        registrar = openRegistrar(der);
        return await issue(await checkRequest(registrar), format);
      } catch (err) {
        if (!(err instanceof OnboardingError) && !(err instanceof RootlineError)) throw err;
        return deny('masa.voucher.request', registrar?.request.serialNumber ?? 'unknown', actorOf(registrar), err);
      }
    },

    async requestAuditLog(der, context) {
      const { device, actor, domainId } = await ownerOf(der, 'masa.auditlog.request', 'auditlog', context);
      const { entries, total } = await claims.requestLog(device.serial, MAX_AUDIT_EVENTS_PER_DEVICE);
      const events: MasaAuditEvent[] = entries.map((e) => ({ date: e.date, domainID: e.domainId, nonce: e.nonce, assertion: e.assertion, truncated: '0' }));
      await audit.append({ actor, action: 'masa.auditlog.request', subject: device.serial, outcome: 'allow', details: { domainId, events: events.length, total } });
      // RFC 8995 §5.8.1: what was left out is counted, not silently dropped.
      return { version: '1', events, ...(total > events.length ? { truncation: { arbitrary: String(total - events.length) } } : {}) };
    },

    async releaseClaim(der, context) {
      const { device, domainId, owner, actor } = await ownerOf(der, 'masa.claim.release', 'release', context);
      // Conditional on the owner in the statement itself: a concurrent release or lapse wins cleanly.
      const released = await claims.release(device.serial, owner, now().toISOString());
      if (released === undefined) return deny('masa.claim.release', device.serial, actor, new NotOwnerError(device.serial));
      await audit.append({ actor, action: 'masa.claim.release', subject: device.serial, outcome: 'success', details: { domainId, owner, claimedAt: released.claimedAt, tlsClientCertificate: context?.tlsClientCertificate !== undefined } });
    },

    async forceRelease(serial, actor, reason) {
      if (typeof serial !== 'string') throw new InvalidArgumentError('serial', 'expected a string');
      if (typeof actor !== 'string' || actor.length === 0) throw new InvalidArgumentError('actor', 'expected who acts');
      if (typeof reason !== 'string' || reason.length === 0) throw new InvalidArgumentError('reason', 'expected why');
      const device = SERIAL_NUMBER_PATTERN.test(serial) ? await registry.getDevice(serial) : undefined;
      if (device === undefined) return deny('masa.claim.force-release', serial, actor, new UnknownDeviceError(serial));
      await claimOf(device);
      const previous = await claims.forceRelease(serial, now().toISOString());
      await audit.append({ actor: auditText(actor), action: 'masa.claim.force-release', subject: serial, outcome: 'success', details: { reason: auditText(reason, 300), previousDomainId: previous?.domainId ?? null, previousOwner: previous?.owner ?? null } });
    },
  };
}
