/**
 * The domain registrar of RFC 8995 (§5.3-§5.9): it takes a pledge's voucher request over TLS
 * with the pledge's IDevID as client certificate (provisional trust, §5.1), decides by policy,
 * asks the pledge's MASA for a voucher, checks what the MASA answered and relays it; then it
 * enrolls the pledge over EST (RFC 7030) for an LDevID from the domain CA and provisions the
 * device into the registry (provisioning.ts). The HTTP face is routes.ts.
 *
 * A pledge may enroll only after this registrar relayed a voucher for its IDevID (within
 * `vouchedTtlSeconds`): the EST `authorize` checks that, and names the certificate subject
 * (CN = the device's endpoint, serialNumber = its serial), so the LwM2M server later binds the
 * LDevID to exactly that device. Vouched sessions are kept in this process: on several nodes,
 * the pledge's TLS connections must reach the same node (RFC 8995 §5.1 expects one connection).
 */
import { createHash } from 'node:crypto';
import type { Signer } from '../../crypto/keystore/types.js';
import { InvalidArgumentError, RootlineError } from '../../errors.js';
import { findAttribute, parseCertificate, verifyChain, type CertificateAuthority, type CertificateInput, type ParsedCertificate } from '../../pki/index.js';
import type { AuditLog, BootstrapConfigRepository, DeviceRepository, SettingsRepository, Store } from '../../store/types.js';
import { authorizeByManufacturer } from '../est/authorize-manufacturer.js';
import { EstIssueFailedError } from '../est/errors.js';
import { createEstService, type EstService, type EstPolicy } from '../est/service.js';
import { looksLikeCoseSign1, verifyConstrainedVoucher } from '../constrained-voucher.js';
import { MalformedSignedVoucherError } from '../errors.js';
import { domainIdOf } from '../masa.js';
import { auditText } from '../masa-registry.js';
import { createOwnershipService, type OwnershipService } from '../ownership-service.js';
import { verifyVoucher } from '../signed-voucher.js';
import { createRegistrarVoucherRequest } from '../voucher-requests.js';
import {
  BadMasaVoucherError,
  MasaFailedError,
  NoBootstrapServerError,
  PledgeIdentityMismatchError,
  PledgeRefusedError,
  PledgeUnauthenticatedError,
  VoucherRequestReplayError,
} from './errors.js';
import type { MasaClient } from './masa-client.js';
import { approvalBook, defaultEndpointFor, defaultModelOf, type PendingRequest, type PledgeIdentity, type RegistrarPolicy } from './policy.js';
import { createCredentialRotator, createProvisioner, x509BootstrapConfig, type BootstrapConfigBuilder, type Lwm2mServerTarget } from './provisioning.js';
import { parseStatusTelemetry, type StatusTelemetry } from './status-telemetry.js';

export interface ManufacturerTrust {
  /** The manufacturer CA the pledges' IDevIDs chain to (manufacturer-ca.pem). */
  ca: CertificateInput;
  /** Trust anchors of this manufacturer's MASA voucher signer (masa-ca.pem). */
  masaTrustAnchors: readonly CertificateInput[];
  /** Overrides the MASA URL the IDevIDs carry (RFC 8995 §2.3.2), e.g. for a local MASA. */
  masaUrl?: string;
  /** Name used in endpoints and audit records (default: the CA subject's O, else CN). */
  name?: string;
}

export interface RegistrarOptions {
  /**
   * Where devices, bootstrap configs and settings live. A whole Store (its `audit` the same log as
   * `audit` below) also lends its `updateDeviceAudited`: a device update and its record then
   * commit in one transaction.
   */
  store: { devices: DeviceRepository; bootstrapConfigs: BootstrapConfigRepository; settings: SettingsRepository; audit?: AuditLog; updateDeviceAudited?: Store['updateDeviceAudited'] };
  audit: AuditLog;
  /** The domain CA that issues LDevIDs; `onStateChanged` persists its state (`ca.state`, or `ca.takeChanges()` when tracked) after each issue/revoke, before the pledge is answered. */
  domainCa: { ca: CertificateAuthority; onStateChanged?: (ca: CertificateAuthority) => unknown };
  /**
   * The registrar's identity: the key and certificate it presents in TLS and signs voucher
   * requests with (RFC 8995 §5.5: the MASA pins the domain from these), then the chain up to the
   * domain CA.
   */
  registrar: { signer: Signer; certificate: CertificateInput; chain?: readonly CertificateInput[] };
  manufacturers: readonly ManufacturerTrust[];
  masaClient: MasaClient;
  /**
   * The MASA client for constrained pledges (BRSKI over CoAPs): same call, but it must answer
   * with a COSE-signed voucher (application/voucher+cose). Absent: constrained requests are
   * refused with ERR_REGISTRAR_MASA_FAILED.
   */
  constrainedMasaClient?: MasaClient;
  policy?: RegistrarPolicy;
  /** Where onboarded devices are bootstrapped to: a server target, or a builder of the whole configuration. */
  lwm2m: Lwm2mServerTarget | { bootstrapConfig: BootstrapConfigBuilder };
  /**
   * The LwM2M bootstrap server an enrolled device runs client-initiated bootstrap against, told
   * to it over its LDevID TLS session (`bootstrapServerFor`, GET /.well-known/rootline/lwm2m-bootstrap).
   * A function is asked at each request (ports known late). Default: `lwm2m` when that is a
   * target (one CoAPs listener serving both, as in `rootline serve`); otherwise none (404).
   */
  bootstrapServer?: Lwm2mServerTarget | (() => Lwm2mServerTarget);
  ownership?: OwnershipService;
  est?: Pick<EstPolicy, 'channelBinding' | 'validityDays'>;
  /** How long after the voucher the pledge may enroll (default 3600 s). */
  vouchedTtlSeconds?: number;
  now?: () => Date;
}

/** What the transport knows about the pledge's TLS session. */
export interface PledgeContext {
  /** The TLS client chain, leaf first, DER. */
  clientCertificates: readonly Uint8Array[];
  /** The certificate this registrar presented in that TLS session (default: the registrar certificate). */
  serverCertificate?: Uint8Array;
  remoteAddress?: string;
}

export type VoucherOutcome =
  | { status: 'voucher'; voucher: Uint8Array; serialNumber: string; endpoint: string }
  | { status: 'pending'; retryAfterSeconds: number; serialNumber: string };

/** 'cms': RFC 8995 CMS-signed JSON; 'cose': the constrained COSE_Sign1 form (constrained-voucher.ts). */
export type VoucherFormat = 'cms' | 'cose';

export interface Registrar {
  /**
   * RFC 8995 §5.2-§5.6: the pledge's signed voucher request in, the MASA's voucher out, both in
   * `format` (default 'cms'; 'cose' for constrained pledges on CoAPs).
   */
  requestVoucher(context: PledgeContext, body: Uint8Array, options?: { format?: VoucherFormat }): Promise<VoucherOutcome>;
  /** RFC 8995 §5.7 voucher status telemetry. */
  voucherStatus(context: PledgeContext, body: Uint8Array): Promise<StatusTelemetry>;
  /** RFC 8995 §5.9.4 enrollment status telemetry. */
  enrollStatus(context: PledgeContext, body: Uint8Array): Promise<StatusTelemetry>;
  /** The EST service (authorize = vouched pledges; enrollment provisions the device). */
  readonly est: EstService;
  /** Operator approval (policy.approval 'manual'). */
  pending(): Promise<PendingRequest[]>;
  approve(serial: string, actor: string): Promise<PendingRequest>;
  reject(serial: string, actor: string): Promise<PendingRequest>;
  /** The registrar certificate (what the pledge must name in its proximity assertion). */
  readonly certificate: ParsedCertificate;
  /**
   * Where a device enrolled here bootstraps (LwM2M client-initiated bootstrap with its LDevID):
   * asked over TLS authenticated with that LDevID (current, of this domain, bound to its device).
   * Audited as `registrar.bootstrap-server` (allow / deny).
   */
  bootstrapServerFor(context: PledgeContext): Promise<BootstrapServerInfo>;
  /**
   * The LwM2M server acknowledged `endpoint`'s registration: `OwnershipService.deviceRegistered`
   * (any device in RFPRO moves to RFNOP, whichever owner transfer brought it there; audited).
   * Returns whether it moved. serve calls the ownership service directly.
   */
  deviceRegistered(endpoint: string): Promise<boolean>;
}

/** The bootstrap server a device is told about (JSON on the wire, certificate base64 DER). */
export interface BootstrapServerInfo {
  endpoint: string;
  /** coaps://host:port of the LwM2M bootstrap server. */
  uri: string;
  securityMode: 'x509';
  /** The bootstrap server's certificate (DER), which the device pins in DTLS (Certificate Usage 3). */
  serverCertificate: Uint8Array;
}

interface Manufacturer {
  ca: ParsedCertificate;
  masaTrustAnchors: ParsedCertificate[];
  masaUrl: string | undefined;
  name: string;
}

interface VouchedSession {
  pledge: PledgeIdentity;
  endpoint: string;
  domainId: string;
  at: number;
  enrolled: boolean;
  voucherStatus?: StatusTelemetry;
}

function toParsed(c: CertificateInput): ParsedCertificate {
  return typeof c === 'object' && c !== null && 'der' in c && (c as ParsedCertificate).der instanceof Uint8Array ? (c as ParsedCertificate) : parseCertificate(c as Uint8Array | string);
}

const MAX_SEEN_NONCES = 100_000;
const MAX_VOUCHED_SESSIONS = 100_000;
const NONCE_MEMORY_MS = 24 * 3600 * 1000;

export function createRegistrar(options: RegistrarOptions): Registrar {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  const { store, audit, masaClient } = options;
  // Only when the store's own log is the one this registrar writes to (server: store.audit).
  const updateAudited = store.audit === audit && store.updateDeviceAudited !== undefined ? store.updateDeviceAudited.bind(store) : undefined;
  const ca = options.domainCa?.ca;
  if (ca === undefined) throw new InvalidArgumentError('domainCa.ca', 'expected the domain CertificateAuthority');
  if (!Array.isArray(options.manufacturers) || options.manufacturers.length === 0) throw new InvalidArgumentError('manufacturers', 'expected at least one trusted manufacturer');
  const manufacturers: Manufacturer[] = options.manufacturers.map((m, i) => {
    const mca = toParsed(m.ca);
    if (!Array.isArray(m.masaTrustAnchors) || m.masaTrustAnchors.length === 0) throw new InvalidArgumentError(`manufacturers[${i}].masaTrustAnchors`, 'expected the MASA trust anchor(s)');
    return { ca: mca, masaTrustAnchors: m.masaTrustAnchors.map(toParsed), masaUrl: m.masaUrl, name: m.name ?? findAttribute(mca.subjectRdns, 'O') ?? findAttribute(mca.subjectRdns, 'CN') ?? mca.fingerprint256.slice(0, 16) };
  });
  const registrarCert = toParsed(options.registrar.certificate);
  const registrarChain = (options.registrar.chain ?? []).map(toParsed);
  if (!registrarChain.some((c) => c.fingerprint256 === ca.certificate.fingerprint256)) registrarChain.push(ca.certificate);
  // The MASA pins the domain CA the registrar carries (masa.ts); check now that it would.
  verifyChain(registrarCert, registrarChain, [ca.certificate]);
  const signingCertificates = [registrarCert, ...registrarChain];
  const policy = options.policy ?? {};
  const book = approvalBook(store.settings, policy);
  const modelOf = policy.modelOf ?? defaultModelOf;
  const endpointFor = policy.endpointFor ?? defaultEndpointFor;
  const ownership = options.ownership ?? createOwnershipService({ devices: store.devices, audit, ...(updateAudited !== undefined ? { updateAudited } : {}) });
  const bootstrapConfig = 'bootstrapConfig' in options.lwm2m ? options.lwm2m.bootstrapConfig : x509BootstrapConfig(options.lwm2m);
  const provision = createProvisioner({ devices: store.devices, bootstrapConfigs: store.bootstrapConfigs, ownership, audit, bootstrapConfig });
  const rotate = createCredentialRotator({ devices: store.devices, bootstrapConfigs: store.bootstrapConfigs, ownership, audit, bootstrapConfig });
  const now = options.now ?? (() => new Date());
  const vouchedTtlMs = (options.vouchedTtlSeconds ?? 3600) * 1000;
  const vouched = new Map<string, VouchedSession>();
  const seenNonces = new Map<string, number>();

  async function persistCa(): Promise<void> {
    await options.domainCa.onStateChanged?.(ca);
  }

  function sessionOf(fingerprint: string): VouchedSession | undefined {
    const s = vouched.get(fingerprint);
    if (s !== undefined && now().getTime() - s.at > vouchedTtlMs) {
      vouched.delete(fingerprint);
      return undefined;
    }
    return s;
  }

  /** Keeps the session map bounded: expired sessions go when it grows (they are refused anyway). */
  function remember(fingerprint: string, session: VouchedSession): void {
    if (vouched.size >= MAX_VOUCHED_SESSIONS) {
      const t = now().getTime();
      for (const [k, s] of vouched) if (t - s.at > vouchedTtlMs) vouched.delete(k);
      // Still full of live sessions: the oldest goes (its pledge must ask for a voucher again).
      if (vouched.size >= MAX_VOUCHED_SESSIONS) vouched.delete(vouched.keys().next().value!);
    }
    vouched.delete(fingerprint);
    vouched.set(fingerprint, session);
  }

  function clientLeaf(context: PledgeContext): { leaf: ParsedCertificate; chain: ParsedCertificate[] } {
    const certs = context?.clientCertificates;
    if (!Array.isArray(certs) || certs.length === 0) throw new PledgeUnauthenticatedError('a TLS client certificate (the IDevID) is required (RFC 8995 §5.1)');
    try {
      const chain = certs.map((c) => parseCertificate(c));
      return { leaf: chain[0]!, chain };
    } catch (err) {
      throw new PledgeUnauthenticatedError('the TLS client certificate does not parse', { cause: err });
    }
  }

  /** The trusted manufacturer whose CA the IDevID chains to; refuses unknown manufacturers. */
  function manufacturerOf(leaf: ParsedCertificate, chain: readonly ParsedCertificate[]): Manufacturer {
    for (const m of manufacturers) {
      try {
        verifyChain(leaf, chain.slice(1), [m.ca], { at: now() });
        return m;
      } catch (err) {
        if (!(err instanceof RootlineError)) throw err;
      }
    }
    throw new PledgeRefusedError(`the IDevID (${leaf.subject}, issuer ${leaf.issuer}) is not from a trusted manufacturer`);
  }

  function rememberNonce(serial: string, nonce: Uint8Array): boolean {
    const t = now().getTime();
    const key = `${serial}\u0000${Buffer.from(nonce).toString('hex')}`;
    const seen = seenNonces.get(key);
    if (seen !== undefined && t - seen < NONCE_MEMORY_MS) return false;
    seenNonces.delete(key);
    seenNonces.set(key, t);
    // Oldest first (insertion order): a bounded memory; the MASA remembers answered nonces for good.
    while (seenNonces.size > MAX_SEEN_NONCES) seenNonces.delete(seenNonces.keys().next().value!);
    return true;
  }

  async function deny(action: string, subject: string, actor: string, err: unknown, extra: Record<string, unknown> = {}): Promise<never> {
    const code = err instanceof RootlineError ? err.code : 'ERR_INTERNAL';
    await audit.append({ actor: auditText(actor), action, subject: auditText(subject), outcome: 'deny', details: { ...extra, code, reason: auditText(err instanceof Error ? err.message : String(err), 300) } });
    throw err;
  }

  async function requestVoucher(context: PledgeContext, body: Uint8Array, requestOptions: { format?: VoucherFormat } = {}): Promise<VoucherOutcome> {
    let actor = 'pledge:unauthenticated';
    let subject = 'unknown';
    const format = requestOptions?.format ?? 'cms';
    const details: Record<string, unknown> = { format };
    if (context?.remoteAddress !== undefined) details.remoteAddress = context.remoteAddress;
    try {
      const { leaf, chain } = clientLeaf(context);
      const serial = findAttribute(leaf.subjectRdns, 'serialNumber');
      actor = `pledge:${serial ?? leaf.fingerprint256}`;
      subject = serial ?? leaf.fingerprint256;
      // Certificate text is the pledge's to choose: made safe for the log first.
      details.idevid = { subject: auditText(leaf.subject, 512), issuer: auditText(leaf.issuer, 512), fingerprint256: leaf.fingerprint256 };
      // RFC 8995 §5.3: "the Registrar MUST verify ... the pledge's IDevID" — provisional TLS
      // accepted any certificate; only trusted manufacturers go further.
      const m = manufacturerOf(leaf, chain);
      if (serial === undefined) throw new PledgeRefusedError('the IDevID carries no serialNumber (IEEE 802.1AR §8.6)');
      if (format !== 'cms' && format !== 'cose') throw new InvalidArgumentError('format', "expected 'cms' or 'cose'");
      // The transport said which format it carries; a body of the other one is refused, so the
      // answer's format always matches what the pledge asked for.
      if (!(body instanceof Uint8Array) || looksLikeCoseSign1(body) !== (format === 'cose')) throw new MalformedSignedVoucherError(`the voucher request is not ${format === 'cose' ? 'a COSE_Sign1' : 'CMS SignedData'}`);
      // §5.3 checks on the request itself: signed by an IDevID, serial equal, proximity naming
      // the certificate this registrar presented in this very TLS session.
      const built = await createRegistrarVoucherRequest({
        signer: options.registrar.signer,
        certificates: signingCertificates,
        pledgeRequest: body,
        tlsCertificate: context.serverCertificate ?? registrarCert,
        manufacturerCas: [m.ca],
        // cBRSKI §9.2.2: a COSE request without certificates is the TLS client's (IDevID) to verify.
        pledgeCertificates: chain,
        // cBRSKI §7.1: the request to the MASA in the pledge's format (COSE for CoAPs pledges).
        format,
        now: now(),
      });
      // The request must be this TLS client's own: a pledge relaying another device's signed
      // request would otherwise get that device vouched on its own connection.
      if (built.pledge.signerCertificate.fingerprint256 !== leaf.fingerprint256) throw new PledgeIdentityMismatchError('the voucher request is signed by another certificate than the TLS client certificate');
      const model = modelOf(leaf, serial) ?? 'unknown';
      const pledge: PledgeIdentity = { serial, model, manufacturer: m.name, idevidFingerprint: leaf.fingerprint256 };
      const decision = await book.decide(pledge);
      details.policy = decision.decision === 'accept' ? decision.basis : decision.decision;
      if (decision.decision === 'reject') throw new PledgeRefusedError(`policy refuses ${serial}: ${decision.reason}`);
      if (decision.decision === 'pending') {
        await audit.append({ actor: auditText(actor), action: 'registrar.voucher.request', subject: auditText(subject), outcome: 'deny', details: { ...details, pending: true, retryAfterSeconds: decision.retryAfterSeconds } });
        return { status: 'pending', retryAfterSeconds: decision.retryAfterSeconds, serialNumber: serial };
      }
      const nonce = built.request.nonce;
      // A nonce is answered once (RFC 8995 §11.3: nonces defeat replay); the MASA checks again.
      if (nonce !== undefined && !rememberNonce(serial, nonce)) throw new VoucherRequestReplayError(`this voucher request of ${serial} (same nonce) was relayed before`);
      const masaUrl = m.masaUrl ?? leaf.masaUrl;
      if (masaUrl === undefined) throw new PledgeRefusedError('the IDevID names no MASA (id-pe-masa-url) and none is configured for its manufacturer');
      details.masaUrl = masaUrl;
      const client = format === 'cose' ? options.constrainedMasaClient : masaClient;
      if (client === undefined) throw new MasaFailedError('no MASA client for constrained (COSE) vouchers is configured');
      const voucher = await client.requestVoucher({ masaUrl, request: built.der, serialNumber: serial });
      // RFC 8995 §5.6: the registrar "SHOULD" check the voucher before relaying it: signed by the
      // manufacturer's MASA, for this pledge and nonce, and pinning *our* domain.
      let pinned: ParsedCertificate;
      try {
        const checks = { masaTrustAnchors: m.masaTrustAnchors, serialNumber: serial, ...(nonce !== undefined ? { nonce } : {}), now: now() };
        const verified = format === 'cose' ? await verifyConstrainedVoucher(voucher, checks) : verifyVoucher(voucher, checks);
        pinned = parseCertificate(verified.pinnedDomainCertificate);
      } catch (err) {
        throw new BadMasaVoucherError(`the MASA's voucher is not acceptable: ${(err as Error).message}`, { cause: err });
      }
      if (pinned.fingerprint256 !== ca.certificate.fingerprint256 && pinned.fingerprint256 !== registrarCert.fingerprint256) throw new BadMasaVoucherError('the voucher pins another domain than this registrar\'s');
      const endpoint = endpointFor(pledge);
      const domainId = domainIdOf(pinned);
      remember(leaf.fingerprint256, { pledge, endpoint, domainId, at: now().getTime(), enrolled: false });
      await audit.append({ actor: auditText(actor), action: 'registrar.voucher.request', subject: auditText(subject), outcome: 'success', details: { ...details, endpoint, domainId, voucherSha256: createHash('sha256').update(voucher).digest('hex') } });
      return { status: 'voucher', voucher, serialNumber: serial, endpoint };
    } catch (err) {
      if (err instanceof MasaFailedError) return deny('registrar.voucher.request', subject, actor, err, { ...details, masaCode: err.masaCode ?? null, masaStatus: err.masaStatus ?? null });
      return deny('registrar.voucher.request', subject, actor, err, details);
    }
  }

  /** The pledge behind a telemetry post: a vouched IDevID, or an LDevID of ours bound to a device. */
  async function telemetrySubject(context: PledgeContext): Promise<{ session?: VouchedSession; endpoint?: string; who: string }> {
    const { leaf, chain } = clientLeaf(context);
    const session = sessionOf(leaf.fingerprint256);
    if (session !== undefined) return { session, endpoint: session.endpoint, who: session.pledge.serial };
    try {
      verifyChain(leaf, chain.slice(1), [ca.certificate], { at: now(), purpose: 'clientAuth' });
    } catch (err) {
      throw new PledgeUnauthenticatedError('status telemetry is taken from vouched pledges or devices with an LDevID of this domain only', { cause: err });
    }
    if (ca.isRevoked(leaf.serialNumber)) throw new PledgeUnauthenticatedError('the LDevID is revoked');
    const cn = findAttribute(leaf.subjectRdns, 'CN');
    const cred = cn === undefined ? undefined : await store.devices.findCredential('x509', cn);
    if (cred === undefined) throw new PledgeUnauthenticatedError('no device is bound to this LDevID');
    return { endpoint: cred.endpoint, who: cred.endpoint };
  }

  async function telemetry(kind: 'voucher-status' | 'enroll-status', context: PledgeContext, body: Uint8Array): Promise<StatusTelemetry> {
    const action = `registrar.${kind}`;
    let who = 'unauthenticated';
    try {
      const target = await telemetrySubject(context);
      who = target.who;
      const status = parseStatusTelemetry(body);
      const details: Record<string, unknown> = { status: status.status, ...(status.reason !== undefined ? { reason: auditText(status.reason, 300) } : {}), ...(target.endpoint !== undefined ? { endpoint: target.endpoint } : {}) };
      if (kind === 'voucher-status' && target.session !== undefined) {
        target.session.voucherStatus = status;
        // §5.7: a pledge that refused the voucher will not enroll under it.
        if (!status.status) vouched.delete(target.session.pledge.idevidFingerprint);
      }
      // Only a device this pledge was provisioned as gets the status in its record: before
      // that, the endpoint name may belong to nothing or to someone else's record.
      const provisioned = target.session === undefined || target.session.enrolled;
      const record = { actor: auditText(`pledge:${who}`), action, subject: auditText(who), outcome: status.status ? ('success' as const) : ('failure' as const), details };
      if (kind === 'enroll-status' && target.endpoint !== undefined && provisioned) {
        const device = await store.devices.get(target.endpoint);
        if (device !== undefined) {
          const patch = { attributes: { ...device.attributes, enrollStatus: { status: status.status, at: now().toISOString(), ...(status.reason !== undefined ? { reason: auditText(status.reason, 300) } : {}) } } };
          if (updateAudited !== undefined) {
            // The status in the record and the audit record of it: one transaction.
            await updateAudited(target.endpoint, patch, record);
            return status;
          }
          await store.devices.update(target.endpoint, patch);
        }
      }
      await audit.append(record);
      return status;
    } catch (err) {
      return deny(action, who, `pledge:${who}`, err);
    }
  }

  const inner = createEstService({
    ca,
    audit,
    ...(options.est !== undefined ? { policy: options.est } : {}),
    onIssued: () => persistCa(),
    authorize: authorizeByManufacturer({
      manufacturerCas: manufacturers.map((m) => m.ca.der),
      decide: (client) => {
        const session = sessionOf(client.fingerprint256);
        const identity = findAttribute(client.subjectRdns, 'serialNumber') ?? client.fingerprint256;
        if (session === undefined) return { decision: 'reject', identity, reason: 'no voucher was relayed for this IDevID recently; request a voucher first (RFC 8995 §5.9)' };
        if (session.enrolled) return { decision: 'reject', identity, reason: 'this voucher was used for an enrollment already' };
        if (session.voucherStatus !== undefined && !session.voucherStatus.status) return { decision: 'reject', identity, reason: 'the pledge reported that it refused the voucher' };
        return { decision: 'accept', identity, subject: [[{ type: 'CN', value: session.endpoint }], [{ type: 'serialNumber', value: session.pledge.serial }]] };
      },
      // The service has checked that the certificate is a current one of this CA; it must also
      // still be the one bound to a device (not replaced, not of a device removed since).
      reenroll: async (client) => {
        const endpoint = findAttribute(client.subjectRdns, 'CN');
        const cred = endpoint === undefined ? undefined : await store.devices.findCredential('x509', endpoint);
        const device = cred === undefined ? undefined : await store.devices.get(cred.endpoint);
        const bound = cred !== undefined && Buffer.compare(Buffer.from(cred.material), Buffer.from(client.der)) === 0;
        // The certificate just replaced (its renewal's answer may have been lost) may renew too.
        const justReplaced = device !== undefined && device.attributes.previousLdevidSerial === client.serialNumber && !ca.isRevoked(client.serialNumber);
        if (endpoint === undefined || cred?.endpoint !== endpoint || (!bound && !justReplaced)) {
          return { decision: 'reject', identity: endpoint ?? client.fingerprint256, reason: 'this certificate is not the one bound to a device in the registry' };
        }
        return { decision: 'accept', identity: endpoint };
      },
    }),
  });

  /** simpleenroll, then the registry; a failed provisioning revokes the certificate it got. */
  const est: EstService = {
    cacerts: () => inner.cacerts(),
    csrAttrs: () => inner.csrAttrs(),
    async simpleReenroll(context, body) {
      const outcome = await inner.simpleReenroll(context, body);
      if (outcome.status !== 'issued') return outcome;
      const { leaf } = clientLeaf(context);
      const endpoint = findAttribute(leaf.subjectRdns, 'CN') ?? '';
      try {
        await rotate({ endpoint, ldevid: outcome.certificate });
      } catch (err) {
        ca.revoke(outcome.certificate.serialNumber, 'cessationOfOperation');
        await persistCa();
        throw new EstIssueFailedError(`the renewed LDevID was issued but could not be bound (certificate revoked): ${(err as Error).message}`, { cause: err });
      }
      return outcome;
    },
    async simpleEnroll(context, body) {
      const outcome = await inner.simpleEnroll(context, body);
      if (outcome.status !== 'issued') return outcome;
      const { leaf } = clientLeaf(context);
      const session = sessionOf(leaf.fingerprint256);
      const issued = outcome.certificate;
      let claimed = false;
      try {
        // Two enrollments racing on one voucher: the first to get here provisions, the other's
        // certificate is revoked below.
        if (session === undefined || session.enrolled) throw new PledgeRefusedError('the vouched session ended or was used while the certificate was issued');
        session.enrolled = true;
        claimed = true;
        await provision({ endpoint: session.endpoint, pledge: session.pledge, ldevid: issued, domainId: session.domainId });
      } catch (err) {
        if (claimed && session !== undefined) session.enrolled = false;
        // The certificate was signed but is not handed out: revoke it so that nothing issued
        // exists without its device (issue 6: nothing half-created).
        ca.revoke(issued.serialNumber, 'cessationOfOperation');
        await persistCa();
        await audit.append({ actor: auditText(`pledge:${session?.pledge.serial ?? leaf.fingerprint256}`), action: 'registrar.enroll', subject: auditText(session?.endpoint ?? leaf.fingerprint256), outcome: 'failure', details: { code: (err as { code?: unknown })?.code ?? null, revoked: issued.serialNumber } });
        throw new EstIssueFailedError(`the LDevID was issued but the device could not be provisioned (certificate revoked): ${(err as Error).message}`, { cause: err });
      }
      await audit.append({ actor: auditText(`pledge:${session.pledge.serial}`), action: 'registrar.enroll', subject: session.endpoint, outcome: 'success', details: { ldevidSerial: issued.serialNumber, fingerprint: issued.certificate.fingerprint256 } });
      return outcome;
    },
  };

  function bootstrapTarget(): Lwm2mServerTarget | undefined {
    const b = options.bootstrapServer ?? ('bootstrapConfig' in options.lwm2m ? undefined : options.lwm2m);
    return typeof b === 'function' ? b() : b;
  }

  async function bootstrapServerFor(context: PledgeContext): Promise<BootstrapServerInfo> {
    let who = 'unauthenticated';
    try {
      const { leaf, chain } = clientLeaf(context);
      who = leaf.fingerprint256;
      // Only an LDevID of this domain, current, bound to its device: the answer steers the device.
      try {
        verifyChain(leaf, chain.slice(1), [ca.certificate], { at: now(), purpose: 'clientAuth' });
      } catch (err) {
        throw new PledgeUnauthenticatedError('the bootstrap server is named to devices with an LDevID of this domain only', { cause: err });
      }
      if (ca.isRevoked(leaf.serialNumber)) throw new PledgeUnauthenticatedError('the LDevID is revoked');
      const cn = findAttribute(leaf.subjectRdns, 'CN');
      const cred = cn === undefined ? undefined : await store.devices.findCredential('x509', cn);
      if (cred === undefined || Buffer.compare(Buffer.from(cred.material), Buffer.from(leaf.der)) !== 0) throw new PledgeUnauthenticatedError('this LDevID is not the one bound to a device');
      who = cred.endpoint;
      const target = bootstrapTarget();
      if (target === undefined) throw new NoBootstrapServerError();
      // DER as given (serve passes its CoAPs certificate's DER): no parse per request.
      const serverCertificate = target.serverCertificate instanceof Uint8Array ? target.serverCertificate : toParsed(target.serverCertificate).der;
      await audit.append({ actor: auditText(`device:${who}`), action: 'registrar.bootstrap-server', subject: auditText(who), outcome: 'allow', details: { uri: target.uri } });
      return { endpoint: cred.endpoint, uri: target.uri, securityMode: 'x509', serverCertificate };
    } catch (err) {
      return deny('registrar.bootstrap-server', who, `device:${who}`, err);
    }
  }

  async function deviceRegistered(endpoint: string): Promise<boolean> {
    // One place for every owner-transfer method: the ownership service (RFPRO → RFNOP, audited).
    return (await ownership.deviceRegistered(endpoint, { trigger: 'lwm2m.registered' })) === 'provisioned';
  }

  return {
    bootstrapServerFor,
    deviceRegistered,
    requestVoucher,
    voucherStatus: (context, body) => telemetry('voucher-status', context, body),
    enrollStatus: (context, body) => telemetry('enroll-status', context, body),
    est,
    pending: () => book.list(),
    async approve(serial, actor) {
      const r = await book.approve(serial, actor);
      await audit.append({ actor: auditText(actor), action: 'registrar.approval', subject: auditText(serial), outcome: 'allow', details: { idevidFingerprint: r.idevidFingerprint } });
      return r;
    },
    async reject(serial, actor) {
      const r = await book.reject(serial, actor);
      await audit.append({ actor: auditText(actor), action: 'registrar.approval', subject: auditText(serial), outcome: 'deny', details: { idevidFingerprint: r.idevidFingerprint } });
      return r;
    },
    certificate: registrarCert,
  };
}
