/**
 * The EST server's decisions (RFC 7030 §4.1, §4.2, §4.5), free of any transport: the HTTPS
 * routes (routes.ts) and, later, CoAPs (RFC 9148) hand it the TLS client chain, the session's
 * channel binding and the request body, and turn its results and typed errors into responses.
 *
 * Who may enroll is not decided here but by the injected `authorize` (manufacturer CAs, serial
 * lists, operator approval); what the issued certificate says comes from that decision and the
 * policy, never blindly from the CSR. Every accept, refusal and pending answer is appended to the
 * audit sink before the client hears about it; an issued certificate is not handed out unless
 * its audit record was written.
 */
import { RootlineError, InvalidArgumentError } from '../../errors.js';
import type { CertificateAuthority, IssuedCertificate } from '../../pki/certificate-authority.js';
import { parseCertificate, type ParsedCertificate } from '../../pki/certificate.js';
import { bytesEqual } from '../../pki/der.js';
import { domainCaPolicy } from '../../pki/domain-policy.js';
import type { ExtraExtension, SubjectAltNames } from '../../pki/extensions.js';
import { findAttribute, type DistinguishedNameInput } from '../../pki/name.js';
import { OID } from '../../pki/oids.js';
import type { ParsedCsr } from '../../pki/parse-csr.js';
import { decodePem } from '../../pki/pem.js';
import { publicKeyFingerprint } from '../../pki/public-key.js';
import { verifyChain } from '../../pki/verify-chain.js';
import { assertInteger } from '../../util/assert.js';
import { encodeCertsOnly } from './certs-only.js';
import { checkChannelBinding, type ChannelBinding, type ChannelBindingPolicy } from './channel-binding.js';
import { CSR_ATTR_OID, oidValue, type CsrAttr } from './csr-attrs.js';
import {
  EstError,
  EstForbiddenError,
  EstIssueFailedError,
  EstReenrollMismatchError,
  EstUnauthenticatedError,
} from './errors.js';
import { decodePkcs10Body } from './pkcs10-body.js';

/** What the transport knows about the client. */
export interface EstRequestContext {
  /** The TLS client certificate chain as presented, leaf first, DER. Empty when none was sent. */
  clientCertificates: readonly Uint8Array[];
  /** This TLS session's channel binding (tls-unique / tls-exporter), when the transport has one. */
  channelBinding?: ChannelBinding;
  /** For the audit record only. */
  remoteAddress?: string;
}

export type EstOperation = 'simpleenroll' | 'simplereenroll';

/** The registrar's decision on one enrollment. */
export type EstAuthorization =
  | {
      decision: 'accept';
      /** Who the device is, for the audit record (e.g. its serial number). */
      identity?: string;
      /** Subject of the new certificate (simpleenroll); default from `policy.subjectFor`. */
      subject?: DistinguishedNameInput;
      subjectAltNames?: SubjectAltNames;
      validityDays?: number;
      extensions?: ExtraExtension[];
    }
  /** RFC 7030 §4.2.3: answered with 202 and Retry-After, e.g. while an operator approves. */
  | { decision: 'pending'; retryAfterSeconds: number; reason: string; identity?: string }
  | { decision: 'reject'; reason: string; identity?: string };

export interface EstAuthorizeContext {
  operation: EstOperation;
  remoteAddress?: string;
}

/**
 * Decides whether the client behind `clientChain` (leaf first, as presented and not yet
 * verified for simpleenroll; already verified against the domain CA for simplereenroll) may
 * have `csr` certified.
 */
export type EstAuthorize = (
  clientChain: readonly ParsedCertificate[],
  csr: ParsedCsr,
  context: EstAuthorizeContext,
) => EstAuthorization | Promise<EstAuthorization>;

export interface EstPolicy {
  /** RFC 7030 §3.5 linking of identity and POP. Default 'if-present'. */
  channelBinding?: ChannelBindingPolicy;
  /** Lifetime of issued certificates when `authorize` gives none (default 365 days). */
  validityDays?: number;
  /**
   * Subject of a new LDevID when `authorize` gives none. Default: CN and serialNumber from the
   * client certificate's serialNumber attribute (IEEE 802.1AR §8.6 puts the device serial there).
   */
  subjectFor?: (client: ParsedCertificate, csr: ParsedCsr) => DistinguishedNameInput | undefined;
  /** What /csrattrs lists (default: P-256 keys, ecdsa-with-SHA256; challengePassword when binding is required). */
  csrAttributes?: readonly CsrAttr[];
  /** Largest PKCS#10 request accepted, in DER bytes (default 64 KiB). */
  maxRequestBytes?: number;
}

/** The audit entry shape of `store.audit.append` (AuditEntry), restated so EST needs no store. */
export interface EstAuditEntry {
  actor: string;
  action: string;
  subject: string;
  outcome: 'allow' | 'deny' | 'success' | 'failure';
  details?: Record<string, unknown>;
}

export interface EstAuditSink {
  append(entry: EstAuditEntry): unknown;
}

export interface EstServiceOptions {
  /** The domain CA that issues LDevIDs. */
  ca: CertificateAuthority;
  authorize: EstAuthorize;
  audit: EstAuditSink;
  policy?: EstPolicy;
  /** Called after each issuance so the caller can persist `ca.state`. */
  onIssued?: (issued: IssuedCertificate, operation: EstOperation) => unknown;
}

export type EnrollOutcome =
  | { status: 'issued'; certificate: IssuedCertificate; /** certs-only CMS (DER) with the new certificate. */ response: Uint8Array }
  | { status: 'pending'; retryAfterSeconds: number; reason: string };

export interface EstService {
  /** RFC 7030 §4.1: the CA certificates, as certs-only CMS (DER). Needs no client authentication. */
  cacerts(): { certificates: Uint8Array[]; response: Uint8Array };
  /** RFC 7030 §4.2.1. `body` is the base64 PKCS#10 request. */
  simpleEnroll(context: EstRequestContext, body: string | Uint8Array): Promise<EnrollOutcome>;
  /** RFC 7030 §4.2.2: renew or rekey the certificate the client authenticated with. */
  simpleReenroll(context: EstRequestContext, body: string | Uint8Array): Promise<EnrollOutcome>;
  /** RFC 7030 §4.5: the attributes the server wants in CSRs (empty: none, answered 204). */
  csrAttrs(): CsrAttr[];
}

/** The serialNumber attribute of a certificate's subject, if any. */
function serialOf(cert: ParsedCertificate): string | undefined {
  return findAttribute(cert.subjectRdns, 'serialNumber');
}

function defaultSubject(client: ParsedCertificate): DistinguishedNameInput | undefined {
  const serial = serialOf(client);
  return serial === undefined ? undefined : [[{ type: 'CN', value: serial }], [{ type: 'serialNumber', value: serial }]];
}

function certSummary(cert: ParsedCertificate): Record<string, string> {
  return { subject: cert.subject, issuer: cert.issuer, serialNumber: cert.serialNumber, fingerprint256: cert.fingerprint256 };
}

function sanExtension(cert: { extensions: readonly { oid: string; critical: boolean; value: Uint8Array }[] }) {
  return cert.extensions.find((e) => e.oid === OID.subjectAltName);
}

function assertAuthorization(v: unknown): asserts v is EstAuthorization {
  const d = (v as { decision?: unknown } | null)?.decision;
  if (d === 'accept') return;
  if (d === 'reject' && typeof (v as { reason?: unknown }).reason === 'string') return;
  if (d === 'pending') {
    const r = (v as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    if (typeof r === 'number' && Number.isSafeInteger(r) && r >= 1 && typeof (v as { reason?: unknown }).reason === 'string') return;
  }
  throw new EstIssueFailedError('authorize returned no valid decision');
}

/** Creates the EST service over a domain CA. */
export function createEstService(options: EstServiceOptions): EstService {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const { ca, authorize, audit } = options;
  if (ca === null || typeof ca !== 'object' || typeof ca.issueCertificate !== 'function') throw new InvalidArgumentError('options.ca', 'expected a CertificateAuthority');
  if (typeof authorize !== 'function') throw new InvalidArgumentError('options.authorize', 'expected a function');
  if (audit === null || typeof audit !== 'object' || typeof audit.append !== 'function') throw new InvalidArgumentError('options.audit', 'expected an object with append()');
  const policy = options.policy ?? {};
  const bindingPolicy: ChannelBindingPolicy = policy.channelBinding ?? 'if-present';
  if (bindingPolicy !== 'required' && bindingPolicy !== 'if-present') throw new InvalidArgumentError('options.policy.channelBinding', "expected 'required' or 'if-present'");
  const validityDays = policy.validityDays ?? 365;
  assertInteger(validityDays, 'options.policy.validityDays', 1, 3650);
  const maxRequestBytes = policy.maxRequestBytes ?? 64 * 1024;
  assertInteger(maxRequestBytes, 'options.policy.maxRequestBytes', 256, 1024 * 1024);
  const subjectFor = policy.subjectFor ?? defaultSubject;

  const caCertificates = [ca.certificate.der, ...ca.state.chain.map((pem) => decodePem(pem, 'CERTIFICATE'))];
  const cacertsResponse = encodeCertsOnly(caCertificates);

  const csrAttributes: CsrAttr[] = [
    // RFC 7030 §3.5: "The client can determine if the server requires the linking of identity
    // and POP by examining the CSR Attributes Response": the challengePassword OID says so.
    ...(bindingPolicy === 'required' ? [{ oid: CSR_ATTR_OID.challengePassword }] : []),
    ...(policy.csrAttributes ?? [
      { type: CSR_ATTR_OID.ecPublicKey, values: [oidValue(CSR_ATTR_OID.prime256v1)] },
      { oid: CSR_ATTR_OID.ecdsaWithSha256 },
    ]),
  ];

  /** One enrollment attempt: collects what the audit record says, whatever the outcome. */
  async function enroll(operation: EstOperation, context: EstRequestContext, body: string | Uint8Array): Promise<EnrollOutcome> {
    const action = `est.${operation}`;
    const details: Record<string, unknown> = { operation };
    if (context?.remoteAddress !== undefined) details.remoteAddress = context.remoteAddress;
    let identity: string | undefined;
    const record = async (outcome: EstAuditEntry['outcome'], extra: Record<string, unknown>) => {
      const who = identity ?? 'unauthenticated';
      await audit.append({ actor: `device:${who}`, action, subject: who, outcome, details: { ...details, ...extra } });
    };
    try {
      const chain = parseClientChain(context);
      const leaf = chain[0]!;
      details.clientCertificate = certSummary(leaf);
      identity = serialOf(leaf) ?? leaf.fingerprint256;
      const csr = decodePkcs10Body(body, { maxLength: maxRequestBytes });
      details.csr = { subject: csr.subject, publicKeyFingerprint: publicKeyFingerprint(csr.publicKey) };
      checkChannelBinding(csr, context.channelBinding, bindingPolicy);
      if (csr.challengePassword !== undefined) details.channelBinding = context.channelBinding?.type;
      if (operation === 'simplereenroll') checkRenewable(leaf, chain, csr, details);

      const authContext: EstAuthorizeContext = { operation };
      if (context.remoteAddress !== undefined) authContext.remoteAddress = context.remoteAddress;
      const decision = await authorize(chain, csr, authContext);
      assertAuthorization(decision);
      if (decision.identity !== undefined) identity = decision.identity;
      if (decision.decision === 'reject') throw new EstForbiddenError(`enrollment refused: ${decision.reason}`);
      if (decision.decision === 'pending') {
        await record('deny', { pending: true, reason: decision.reason, retryAfterSeconds: decision.retryAfterSeconds });
        return { status: 'pending', retryAfterSeconds: decision.retryAfterSeconds, reason: decision.reason };
      }
      const issued = await issue(operation, leaf, csr, decision);
      details.issued = { serialNumber: issued.serialNumber, subject: issued.certificate.subject, notAfter: issued.certificate.notAfter.toISOString() };
      if (operation === 'simplereenroll') details.rekey = !bytesEqual(leaf.publicKey, csr.publicKey);
      try {
        await options.onIssued?.(issued, operation);
      } catch (err) {
        await record('failure', { code: 'ERR_EST_ISSUE_FAILED', reason: `persisting the CA state failed: ${(err as Error)?.message}` });
        throw new EstIssueFailedError('the certificate was signed but the CA state could not be persisted; it is not handed out', { cause: err });
      }
      await record('success', {});
      return { status: 'issued', certificate: issued, response: encodeCertsOnly([issued.der]) };
    } catch (err) {
      if (details.issued !== undefined) throw err; // issued, but audit or persistence failed: nothing is handed out
      const code = err instanceof RootlineError ? err.code : 'ERR_EST_INTERNAL';
      const reason = err instanceof Error ? err.message : String(err);
      await record(err instanceof EstError && !(err instanceof EstIssueFailedError) ? 'deny' : 'failure', { code, reason });
      if (err instanceof EstError) throw err;
      throw new EstIssueFailedError(`enrollment failed: ${reason}`, { cause: err });
    }
  }

  function parseClientChain(context: EstRequestContext): ParsedCertificate[] {
    const certs = context?.clientCertificates;
    if (!Array.isArray(certs) || certs.length === 0) {
      throw new EstUnauthenticatedError('a TLS client certificate is required (an IDevID to enroll, the current certificate to re-enroll)');
    }
    return certs.map((der, i) => {
      try {
        return parseCertificate(der);
      } catch (err) {
        throw new EstForbiddenError(`client certificate ${i} does not parse`, { cause: err });
      }
    });
  }

  /**
   * RFC 7030 §4.2.2: re-enrollment renews or rekeys the certificate the client authenticated
   * with, so that certificate must be ours and current, and "the Subject field and SubjectAltName
   * extension MUST be identical to the corresponding fields in the certificate being renewed/rekeyed".
   */
  function checkRenewable(leaf: ParsedCertificate, chain: readonly ParsedCertificate[], csr: ParsedCsr, details: Record<string, unknown>): void {
    try {
      verifyChain(leaf, [...chain.slice(1), ...caCertificates.slice(1)], [ca.certificate], { purpose: 'clientAuth' });
    } catch (err) {
      throw new EstForbiddenError(`the client certificate is not a current certificate of this CA: ${(err as Error).message}`, { cause: err });
    }
    if (!bytesEqual(leaf.issuerDer, ca.certificate.subjectDer) || ca.state.issued[leaf.serialNumber] === undefined) {
      throw new EstForbiddenError('the client certificate was not issued by this CA');
    }
    if (ca.isRevoked(leaf.serialNumber)) throw new EstForbiddenError(`the client certificate (serial ${leaf.serialNumber}) is revoked`);
    details.renewing = leaf.serialNumber;
    // RFC 6402's ChangeSubjectName would ask for other names; we do not support changing them.
    if (csr.attributes.some((a) => a.oid === '1.3.6.1.5.5.7.7.36')) throw new EstReenrollMismatchError('ChangeSubjectName is not supported: re-enrollment keeps subject and subjectAltName');
    if (!bytesEqual(csr.subjectDer, leaf.subjectDer)) {
      throw new EstReenrollMismatchError(`the CSR subject "${csr.subject}" differs from the current certificate's "${leaf.subject}" (RFC 7030 §4.2.2)`);
    }
    const want = sanExtension(leaf);
    const got = sanExtension(csr);
    if ((want === undefined) !== (got === undefined) || (want !== undefined && got !== undefined && !bytesEqual(want.value, got.value))) {
      throw new EstReenrollMismatchError('the CSR subjectAltName differs from the current certificate\'s (RFC 7030 §4.2.2)');
    }
  }

  async function issue(operation: EstOperation, leaf: ParsedCertificate, csr: ParsedCsr, decision: Extract<EstAuthorization, { decision: 'accept' }>): Promise<IssuedCertificate> {
    const days = decision.validityDays ?? validityDays;
    if (operation === 'simplereenroll') {
      // Subject: omitted, so the CA copies the CSR's subject bytes, which equal the current
      // certificate's (checked above). SAN: the current certificate's extension, byte for byte.
      const san = sanExtension(leaf);
      const extensions = [...(decision.extensions ?? []), ...(san !== undefined ? [{ oid: san.oid, value: san.value, critical: san.critical }] : [])];
      return domainCaPolicy.issueLdevid(ca, { csr, validityDays: days, extensions });
    }
    const subject = decision.subject ?? subjectFor(leaf, csr);
    if (subject === undefined) throw new EstForbiddenError('policy gives no subject for this client (its certificate has no serialNumber and authorize named none)');
    const ldevid: Parameters<typeof domainCaPolicy.issueLdevid>[1] = { csr, subject, validityDays: days };
    if (decision.subjectAltNames !== undefined) ldevid.subjectAltNames = decision.subjectAltNames;
    if (decision.extensions !== undefined) ldevid.extensions = decision.extensions;
    try {
      return await domainCaPolicy.issueLdevid(ca, ldevid);
    } catch (err) {
      throw new EstIssueFailedError(`the CA could not issue: ${(err as Error).message}`, { cause: err });
    }
  }

  return {
    cacerts: () => ({ certificates: caCertificates.map((c) => c.slice()), response: cacertsResponse.slice() }),
    simpleEnroll: (context, body) => enroll('simpleenroll', context, body),
    simpleReenroll: (context, body) => enroll('simplereenroll', context, body),
    csrAttrs: () => csrAttributes.map((a) => ('oid' in a ? { oid: a.oid } : { type: a.type, values: a.values.map((v) => v.slice()) })),
  };
}
