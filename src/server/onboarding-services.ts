/**
 * Zero-touch onboarding inside `rootline serve`: the domain CA, the registrar's identity, the
 * trusted manufacturers, optionally the MASA of this data directory's factory, and the HTTPS
 * listener ('est') that carries BRSKI + EST (and the MASA routes under /masa).
 *
 * Key custody:
 * - The domain CA key is a KeyStore key (`onboarding-domain-ca`; with PKCS#11 it stays on the
 *   token); its state (serials issued, revocations) is `<data>/onboarding/domain-ca.json` plus
 *   the append-only journal `domain-ca.journal` of later changes (domain-ca-journal.ts), its certificate `<data>/onboarding/domain-ca.pem` (what pledges pin, what operators verify with).
 * - The registrar key must be in this process's memory: node:tls signs the handshake itself and
 *   cannot call a KeyStore, and RFC 8995 §5.5 needs the TLS key and the voucher-request signing
 *   key to be one key (the MASA checks the pledge saw the key that signed). So it is generated
 *   here and kept on disk only sealed (AES-256-GCM) under the KeyStore key `onboarding-seal`
 *   (`<data>/onboarding/registrar-key.sealed`, mode 0600); it is never logged or returned.
 */
import { constants as cryptoConstants, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { Logger } from 'pino';
import { keyObjectSigner, keyStoreSigner } from '../crypto/signer.js';
import type { KeyStore } from '../crypto/keystore/types.js';
import { inProcessConstrainedMasaClient } from '../onboarding/coaps/constrained-masa-client.js';
import { startRegistrarCoaps, type RegistrarCoapsServer } from '../onboarding/coaps/registrar-server.js';
import { openFactory, type Factory } from '../onboarding/factory.js';
import { masaRoutes } from '../onboarding/http/masa-routes.js';
import { createDecommissioner, type Decommissioner } from '../onboarding/decommission.js';
import { createMasa, type Masa } from '../onboarding/masa.js';
import { createOwnershipService, type OwnershipService } from '../onboarding/ownership-service.js';
import { createJustWorksService, type JustWorksService } from '../onboarding/just-works.js';
import { createPinTransferService, type PinTransferService } from '../onboarding/pin-transfer.js';
import { settingsMasaRegistry } from '../onboarding/masa-registry.js';
import { MasaFailedError } from '../onboarding/registrar/errors.js';
import { httpsMasaClient, inProcessMasaClient, masaUrlBook, recordingMasaClient, type MasaClient } from '../onboarding/registrar/masa-client.js';
import { x509BootstrapConfig, type Lwm2mServerTarget } from '../onboarding/registrar/provisioning.js';
import { createRegistrar, type ManufacturerTrust, type Registrar } from '../onboarding/registrar/registrar.js';
import { registrarRoutes } from '../onboarding/registrar/routes.js';
import { CertificateAuthority, createRootCa, decodePem, domainCaPolicy, encodePem, parseCertificate, parsePem, type ParsedCertificate } from '../pki/index.js';
import type { Store } from '../store/types.js';
import { DomainCaStateFiles } from './domain-ca-journal.js';
import { HandshakeAuditor } from './handshake-audit.js';
import type { Listener, ListenerAddress } from './listeners.js';
import type { OnboardingConfig } from './onboarding-config.js';
import { generateP256KeyPair } from '../crypto/key-pairs.js';

export const DOMAIN_CA_KEY_LABEL = 'onboarding-domain-ca';
export const ONBOARDING_SEAL_KEY_LABEL = 'onboarding-seal';
export const ONBOARDING_DIR = 'onboarding';
export const DOMAIN_CA_CERT_FILE = 'domain-ca.pem';
const REGISTRAR_KEY_FILE = 'registrar-key.sealed';
const REGISTRAR_CERT_FILE = 'registrar.pem';
/** Where the in-process MASA's routes sit on the EST listener (the registrar owns /.well-known/brski). */
export const MASA_PREFIX = '/masa';
const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 86_400_000;
const SEAL_AAD = new TextEncoder().encode('rootline onboarding registrar TLS key v1');

export interface OnboardingServicesOptions {
  config: OnboardingConfig;
  dataDir: string;
  host: string;
  port: number;
  keystore: KeyStore;
  store: Store;
  logger: Logger;
  /** Seals the permanent PSK a random-PIN owner transfer binds (as the API seals PSKs). */
  sealer?: { seal(endpoint: string, identity: string, key: Uint8Array): Promise<Uint8Array> };
  /** The LwM2M server onboarded devices are bootstrapped to; asked at enrollment (the CoAPs port is known only once it listens). */
  lwm2mTarget: () => Lwm2mServerTarget;
}

export interface OnboardingServices {
  readonly registrar: Registrar;
  /** One-step decommission and the domain CA's CRL (src/onboarding/decommission.ts). */
  readonly decommissioner: Decommissioner;
  /** What the API serves: the registrar's approval list, decommission and the CRL. */
  readonly api: Pick<Registrar, 'pending' | 'approve' | 'reject'> & Pick<Decommissioner, 'decommissionDevice' | 'currentCrl'> & { pinTransfers: PinTransferService | undefined; justWorks: JustWorksService | undefined };
  /** The one ownership service every owner-transfer method and the registration hook share (per-device serialisation). */
  readonly ownership: OwnershipService;
  /** Just-works owner transfer, only with `onboarding.justWorks: true`. */
  readonly justWorks: JustWorksService | undefined;
  /** Random-PIN owner transfers (the CoAPs listener resolves `pin:` identities through it); absent without a sealer. */
  readonly pinTransfers: PinTransferService | undefined;
  readonly masa: Masa | undefined;
  /** Path of the domain CA certificate (PEM). */
  readonly domainCaFile: string;
  readonly listener: Listener;
  /**
   * The registrar's CoAPs listener ('brski-coaps': EST-coaps + constrained BRSKI), when
   * `onboarding.coapsPort` is set; `registrarCoaps` is its server once started.
   */
  readonly coapsListener: Listener | undefined;
  readonly registrarCoaps: () => RegistrarCoapsServer | undefined;
}

function writeAtomically(file: string, data: string | Uint8Array, mode = 0o644): void {
  writeFileSync(`${file}.tmp`, data, { mode });
  renameSync(`${file}.tmp`, file);
}

async function ensureKeyStoreKey(keystore: KeyStore, store: Store, label: string, type: 'ec-p256' | 'aes-256'): Promise<void> {
  if (await keystore.hasKey(label)) return;
  await keystore.generateKey(label, type);
  await store.audit.append({ actor: 'system', action: 'keystore.key.generate', subject: label, outcome: 'success', details: { type } });
}

/** The domain CA, its changes tracked for the journal; the journal is folded into the snapshot at start-up. */
async function openDomainCa(o: OnboardingServicesOptions, files: DomainCaStateFiles, dir: string): Promise<CertificateAuthority> {
  await ensureKeyStoreKey(o.keystore, o.store, DOMAIN_CA_KEY_LABEL, 'ec-p256');
  const signer = await keyStoreSigner(o.keystore, DOMAIN_CA_KEY_LABEL);
  // A damaged or foreign state is not replaced silently: every LDevID issued under it would
  // stop verifying. The operator decides (restore the files or move them away).
  const state = files.read();
  if (state !== undefined) {
    const ca = CertificateAuthority.open(signer, state, { trackChanges: true });
    files.writeSnapshot(state);
    return ca;
  }
  const created = await createRootCa({ signer, subject: 'CN=rootline domain CA', validityDays: 3650, pathLen: 0 });
  const ca = CertificateAuthority.open(signer, created.state, { trackChanges: true });
  files.writeSnapshot(ca.state);
  writeAtomically(join(dir, DOMAIN_CA_CERT_FILE), ca.chainPem);
  await o.store.audit.append({ actor: 'system', action: 'pki.ca.create', subject: DOMAIN_CA_KEY_LABEL, outcome: 'success', details: { serialNumber: ca.certificate.serialNumber } });
  return ca;
}

async function registrarKey(o: OnboardingServicesOptions, dir: string): Promise<KeyObject> {
  await ensureKeyStoreKey(o.keystore, o.store, ONBOARDING_SEAL_KEY_LABEL, 'aes-256');
  const file = join(dir, REGISTRAR_KEY_FILE);
  if (existsSync(file)) {
    const sealed = new Uint8Array(readFileSync(file));
    const pkcs8 = await o.keystore.open(ONBOARDING_SEAL_KEY_LABEL, 'AES-256-GCM', sealed.subarray(0, 12), sealed.subarray(12), SEAL_AAD);
    return createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  }
  // From ECDH, not generateKeyPairSync: a JWK export of a generated key can deadlock node 20 (src/crypto/key-pairs.ts).
  const { privateKey } = generateP256KeyPair();
  const nonce = randomBytes(12);
  const sealed = await o.keystore.seal(ONBOARDING_SEAL_KEY_LABEL, 'AES-256-GCM', nonce, new Uint8Array(privateKey.export({ type: 'pkcs8', format: 'der' })), SEAL_AAD);
  writeAtomically(file, Buffer.concat([nonce, sealed]), 0o600);
  await o.store.audit.append({ actor: 'system', action: 'onboarding.registrar.key.generate', subject: 'registrar', outcome: 'success', details: { type: 'ec-p256', sealedWith: ONBOARDING_SEAL_KEY_LABEL } });
  return privateKey;
}

/** The registrar certificate: reissued when missing, for another key or CA, or close to expiry. */
async function registrarCertificate(o: OnboardingServicesOptions, dir: string, ca: CertificateAuthority, caFiles: DomainCaStateFiles, key: KeyObject): Promise<ParsedCertificate> {
  const file = join(dir, REGISTRAR_CERT_FILE);
  const spki = new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  if (existsSync(file)) {
    try {
      const cert = parseCertificate(decodePem(readFileSync(file, 'utf8'), 'CERTIFICATE'));
      const usable = Buffer.from(cert.publicKey).equals(Buffer.from(spki)) && cert.issuer === ca.certificate.subject && cert.notAfter.getTime() - Date.now() > RENEW_BEFORE_DAYS * DAY_MS;
      if (usable) return cert;
    } catch {
      // unreadable: issue a new one below
    }
  }
  const ip = [...new Set(['127.0.0.1', '::1', ...(o.host !== '0.0.0.0' && o.host !== '::' && /^[0-9.:a-fA-F]+$/.test(o.host) ? [o.host] : [])])];
  const dns = [...new Set(['localhost', hostname()].filter((n) => /^[A-Za-z0-9.-]{1,253}$/.test(n)))];
  // RFC 8995 §2.5.3: id-kp-cmcRA marks the registrar; serverAuth for pledges, clientAuth towards a MASA.
  const issued = await domainCaPolicy.issueServerCertificate(ca, { publicKey: spki, subject: 'CN=rootline registrar', subjectAltNames: { dns, ip }, clientAuth: true, extraExtKeyUsage: ['cmcRA'], validityDays: 397 });
  caFiles.append(ca.takeChanges(), () => ca.state);
  writeAtomically(file, issued.pem);
  await o.store.audit.append({ actor: 'system', action: 'pki.certificate.issue', subject: 'onboarding-registrar', outcome: 'success', details: { serialNumber: issued.serialNumber, notAfter: issued.certificate.notAfter.toISOString() } });
  return issued.certificate;
}

/** A CA chain (DER, issuing CA first, root last) without its last certificate when that one is self-issued. */
function withoutRoot(chain: readonly Uint8Array[]): Uint8Array[] {
  const last = chain.at(-1);
  return last !== undefined && parseCertificate(last).selfIssued ? chain.slice(0, -1) : [...chain];
}

function certificatesIn(file: string): ParsedCertificate[] {
  return parsePem(readFileSync(file, 'utf8'), {}).filter((b) => b.label === 'CERTIFICATE').map((b) => parseCertificate(b.der));
}

/**
 * Routes each voucher request: to the MASA in this process when the URL is its factory's, else
 * over HTTPS to the manufacturer's MASA, trusting only the configured MASA TLS anchors.
 */
function routingMasaClient(local: { factory: Factory; masa: Masa } | undefined, remote: MasaClient | undefined): MasaClient {
  const inProcess = local === undefined ? undefined : inProcessMasaClient(local.masa);
  return {
    async requestVoucher(call) {
      if (inProcess !== undefined && call.masaUrl === local!.factory.masaUrl) return inProcess.requestVoucher(call);
      if (remote === undefined) throw new MasaFailedError(`no MASA TLS trust anchor is configured (onboarding.manufacturers[].masaTlsCaFile) to reach ${call.masaUrl}`);
      return remote.requestVoucher(call);
    },
  };
}

/**
 * The MASA client of constrained pledges: COSE vouchers from the MASA in this process, or from a
 * remote MASA over HTTPS (the COSE registrar request goes as application/voucher+cose and asks
 * for a COSE voucher, cBRSKI §7.1).
 */
function routingConstrainedMasaClient(local: { factory: Factory; masa: Masa } | undefined, remote: MasaClient | undefined): MasaClient {
  const inProcess = local === undefined ? undefined : inProcessConstrainedMasaClient(local.masa);
  return {
    async requestVoucher(call) {
      if (inProcess !== undefined && call.masaUrl === local!.factory.masaUrl) return inProcess.requestVoucher(call);
      if (remote === undefined) throw new MasaFailedError(`no MASA TLS trust anchor is configured (onboarding.manufacturers[].masaTlsCaFile) to reach ${call.masaUrl}`);
      return remote.requestVoucher(call);
    },
  };
}

export async function startOnboardingServices(o: OnboardingServicesOptions): Promise<OnboardingServices> {
  const dir = join(o.dataDir, ONBOARDING_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFiles = new DomainCaStateFiles(dir);
  const ca = await openDomainCa(o, caFiles, dir);
  const key = await registrarKey(o, dir);
  const certificate = await registrarCertificate(o, dir, ca, caFiles, key);

  let local: { factory: Factory; masa: Masa; knows: (serial: string) => Promise<boolean> } | undefined;
  if (o.config.masa) {
    const registry = settingsMasaRegistry(o.store.settings);
    const factory = await openFactory({ keyStore: o.keystore, directory: join(o.dataDir, 'factory'), registry, audit: o.store.audit });
    const masa = createMasa({
      registry,
      claims: o.store.masa,
      audit: o.store.audit,
      // The store's own log and MASA tables: a voucher's request-log entry and record commit together.
      ...(o.store.appendRequestLogAndAudit !== undefined ? { appendRequestLogAndAudit: o.store.appendRequestLogAndAudit.bind(o.store) } : {}),
      signer: factory.masaSigner,
      certificates: [factory.masaCertificate],
      manufacturerCas: [factory.manufacturerCaCertificate],
    });
    local = { factory, masa, knows: async (serial) => (await registry.getDevice(serial)) !== undefined };
  }
  const manufacturers: ManufacturerTrust[] = o.config.manufacturers.map((m) => ({
    ca: certificatesIn(m.caFile)[0]!,
    masaTrustAnchors: certificatesIn(m.masaCaFile),
    ...(m.masaUrl !== undefined ? { masaUrl: m.masaUrl } : {}),
  }));
  // Running the MASA for your own factory and listing no manufacturer: trust that factory.
  if (local !== undefined && manufacturers.length === 0) {
    manufacturers.push({ ca: local.factory.manufacturerCaCertificate, masaTrustAnchors: [local.factory.masaCaCertificate] });
  }
  const tlsAnchors = o.config.manufacturers.flatMap((m) => (m.masaTlsCaFile !== undefined ? certificatesIn(m.masaTlsCaFile) : []));
  const masaUrls = masaUrlBook(o.store.settings);
  // A remote MASA is reached with the registrar certificate as TLS client certificate (RFC 8995
  // §5.4), the same key that signs voucher and release requests.
  const remoteClient =
    tlsAnchors.length > 0
      ? httpsMasaClient({ trustAnchors: tlsAnchors.map((c) => c.der), clientCertificate: encodePem('CERTIFICATE', certificate.der) + ca.chainPem, clientKey: key.export({ type: 'pkcs8', format: 'pem' }) as string })
      : undefined;
  // Each issuance, revocation or CRL number is appended to the journal before the caller answers.
  const domainCa = { ca, onStateChanged: (changed: CertificateAuthority) => caFiles.append(changed.takeChanges(), () => changed.state) };
  const registrarIdentity = { signer: keyObjectSigner(key), certificate, chain: [ca.certificate] };
  // The store's own log and devices: a transition's new state and its record commit together.
  const ownership = createOwnershipService({
    devices: o.store.devices,
    audit: o.store.audit,
    ...(o.store.updateDeviceAudited !== undefined ? { updateAudited: o.store.updateDeviceAudited.bind(o.store) } : {}),
  });
  const registrar = createRegistrar({
    store: o.store,
    audit: o.store.audit,
    domainCa,
    registrar: registrarIdentity,
    ownership,
    manufacturers,
    // Each voucher records which MASA vouched, so decommission releases the claim there.
    masaClient: recordingMasaClient(routingMasaClient(local, remoteClient), masaUrls),
    // Constrained pledges (CoAPs) get COSE vouchers; see routingConstrainedMasaClient.
    constrainedMasaClient: recordingMasaClient(routingConstrainedMasaClient(local, remoteClient), masaUrls),
    policy: {
      approval: o.config.approval,
      ...(o.config.serials !== undefined ? { serials: o.config.serials } : {}),
      ...(o.config.models !== undefined ? { models: o.config.models } : {}),
      ...(o.config.retryAfterSeconds !== undefined ? { retryAfterSeconds: o.config.retryAfterSeconds } : {}),
    },
    // Built at enrollment: the CoAPs port and certificate are known by then.
    lwm2m: { bootstrapConfig: (ctx) => x509BootstrapConfig(o.lwm2mTarget())(ctx) },
    // serve's bootstrap server shares the CoAPs listener with the LwM2M server (issue 6 pledge flow).
    bootstrapServer: () => o.lwm2mTarget(),
  });

  // The remote release carries the registrar's TLS client certificate as well as its CMS signature.
  const remoteMasa =
    remoteClient !== undefined
      ? {
          client: remoteClient,
          masaUrlFor: (serial: string) => masaUrls.lookup(serial),
          pending: o.store.masa,
        }
      : undefined;
  const decommissioner = createDecommissioner({
    store: o.store,
    audit: o.store.audit,
    ownership,
    domainCa,
    registrar: registrarIdentity,
    // The claim is released here only at this data directory's own MASA, for devices its factory
    // minted; for any other manufacturer the result (and audit) says the owner must release it there.
    releaseClaim: async (serial, request) => {
      if (local === undefined || !(await local.knows(serial))) return undefined;
      await local.masa.releaseClaim(request);
      return 'released';
    },
    // Any other MASA that vouched (recorded per serial) is asked over HTTPS; unreachable: queued and retried.
    ...(remoteMasa !== undefined ? { remoteMasa } : {}),
  });
  const sealer = o.sealer;
  const pinTransfers =
    sealer === undefined
      ? undefined
      : createPinTransferService({
          settings: o.store.settings,
          devices: o.store.devices,
          audit: o.store.audit,
          ownership,
          bindPsk: async (endpoint, identity, key) => {
            await o.store.devices.addCredential({ endpoint, kind: 'psk', lookup: identity, material: await sealer.seal(endpoint, identity, key) });
          },
        });
  const justWorks = o.config.justWorks === true ? createJustWorksService({ settings: o.store.settings, devices: o.store.devices, audit: o.store.audit, ownership }) : undefined;
  const api = {
    pinTransfers,
    justWorks,
    pending: () => registrar.pending(),
    approve: (serial: string, actor: string) => registrar.approve(serial, actor),
    reject: (serial: string, actor: string) => registrar.reject(serial, actor),
    decommissionDevice: decommissioner.decommissionDevice,
    currentCrl: decommissioner.currentCrl,
  };

  let stopApp: (() => Promise<void>) | undefined;
  const listener: Listener = {
    name: 'est',
    async start() {
      const app = Fastify({
        loggerInstance: o.logger.child({ listener: 'est' }),
        // RFC 8995 §5.1 provisional TLS: any client certificate is taken; the registrar decides and audits.
        // No session tickets (SSL_OP_NO_TICKET; TLS 1.3 then sends only stateful ones, which this
        // server never stores, so no session is resumed): a pledge opens each connection with a
        // fresh identity (IDevID, then LDevID) and never resumes, while every handshake paid for
        // encrypting its session, client chain included, into tickets (≈ 0.1–0.2 ms each).
        // The chain without the domain CA's self-signed root: a pledge checks the registrar against
        // the pinned-domain-cert from its voucher (RFC 8995 §5.6.2), an EST client against its
        // explicit trust anchor (RFC 7030 §3.6.1) — the root itself, which they hold. RFC 8446
        // §4.4.2: "a certificate that specifies a trust anchor MAY be omitted from the chain".
        // Sent, every client decoded it and verified the registrar's signature under it in the
        // handshake, before (pledge: provisionally) ignoring OpenSSL's verdict.
        https: { key: key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: [certificate.der, ...withoutRoot(parsePem(ca.chainPem, {}).map((b) => b.der))].map((c) => encodePem('CERTIFICATE', c)).join(''), requestCert: true, rejectUnauthorized: false, secureOptions: cryptoConstants.SSL_OP_NO_TICKET },
      });
      stopApp = () => app.close();
      await app.register(registrarRoutes(registrar));
      if (local !== undefined) await app.register(masaRoutes, { masa: local.masa, audit: o.store.audit, prefix: MASA_PREFIX });
      await app.listen({ host: o.host, port: o.port });
      const addr = app.server.address();
      if (addr === null || typeof addr === 'string') throw new Error('EST server has no TCP address');
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return { host: addr.address, port: addr.port, url: `https://${host}:${addr.port}` };
    },
    async stop() {
      decommissioner.close();
      await stopApp?.();
    },
  };
  // EST-coaps and constrained BRSKI on their own port (onboarding/coaps/README.md says why not on
  // the LwM2M CoAPs listener): the registrar certificate as DTLS identity, IDevIDs taken provisionally.
  let coapsServer: RegistrarCoapsServer | undefined;
  let coapsAuditor: HandshakeAuditor | undefined;
  const coapsPort = o.config.coapsPort;
  const coapsListener: Listener | undefined =
    coapsPort === undefined
      ? undefined
      : {
          name: 'brski-coaps',
          async start() {
            const auditor = new HandshakeAuditor((entry) => o.store.audit.append({ ...entry, action: entry.action.replace(/^dtls\./, 'registrar.dtls.') }), {
              onError: (err) => o.logger.error({ err }, 'writing a registrar DTLS handshake audit record failed'),
            });
            coapsAuditor = auditor;
            coapsServer = await startRegistrarCoaps({
              host: o.host,
              port: coapsPort,
              registrar,
              identity: { signer: keyObjectSigner(key), chain: [certificate.der, ca.certificate.der] },
              audit: o.store.audit,
              onHandshake: (e) =>
                auditor.record({
                  outcome: e.outcome,
                  credential: e.credential,
                  identity: e.identity,
                  ...(e.peer !== undefined ? { peer: e.peer } : {}),
                  ...(e.reason !== undefined ? { reason: e.reason } : {}),
                  ...(e.cipherSuite !== undefined ? { cipherSuite: e.cipherSuite } : {}),
                }),
            });
            const { host, port } = coapsServer.address;
            return { host, port, url: `coaps://${host.includes(':') ? `[${host}]` : host}:${port}` };
          },
          async stop() {
            await coapsServer?.close();
            coapsServer = undefined;
            await coapsAuditor?.close();
            coapsAuditor = undefined;
          },
        };
  return { registrar, ownership, decommissioner, api, pinTransfers, justWorks, masa: local?.masa, domainCaFile: join(dir, DOMAIN_CA_CERT_FILE), listener, coapsListener, registrarCoaps: () => coapsServer };
}

/**
 * The LwM2M server an onboarded device is sent to: `onboarding.lwm2mUri` when set, else the
 * CoAPs listener's address, with a wildcard bind address replaced by loopback — a device off
 * this host needs lwm2mUri set to a name it can reach (documented in the server README).
 */
export function coapsTarget(config: OnboardingConfig, coaps: ListenerAddress | undefined, serverCertificate: Uint8Array): Lwm2mServerTarget {
  if (config.lwm2mUri !== undefined) return { uri: config.lwm2mUri, serverCertificate };
  if (coaps === undefined) throw new Error('the CoAPs listener is not up');
  const host = coaps.host === '0.0.0.0' ? '127.0.0.1' : coaps.host === '::' ? '[::1]' : coaps.host.includes(':') ? `[${coaps.host}]` : coaps.host;
  return { uri: `coaps://${host}:${coaps.port}`, serverCertificate };
}
