/**
 * The server side of one DTLS 1.2 association: the handshake state machine from the
 * (cookie-verified) ClientHello to Finished, for PSK (RFC 4279) and ECDHE_ECDSA (RFC 8422) with
 * X.509 or raw public keys (RFC 7250), optional client authentication, and extended master
 * secret (RFC 7627). Renegotiation is refused.
 */
import { timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Signer } from '../crypto/keystore/types.js';
import {
  AlertDescription,
  AlertLevel,
  CertificateType,
  cipherSuiteInfo,
  DTLS_1_2,
  EMPTY_RENEGOTIATION_INFO_SCSV,
  ExtensionType,
  HandshakeType,
  SignatureScheme,
  type CipherSuiteInfo,
} from './constants.js';
import { concatBytes } from './bytes.js';
import { DtlsConnection, newRandom, type ConnectionHooks, type ConnectionOptions, type PeerIdentity } from './connection.js';
import {
  decodeCertificateList,
  decodeCertificateVerify,
  decodeClientHello,
  decodeEcdheClientKeyExchange,
  decodeFinished,
  decodePskClientKeyExchange,
  decodeRawPublicKeyCertificate,
  encodeCertificateList,
  encodeCertificateRequest,
  encodeEcdheParams,
  encodeEcdheServerKeyExchange,
  encodePskServerKeyExchange,
  encodeRawPublicKeyCertificate,
  encodeServerHello,
  type ClientHello,
} from './handshake.js';
import type { HandshakeMessage } from './handshake-fragment.js';
import type { CachedSession, SessionCache } from './session-cache.js';
import { decodeOpaque8, decodeU16List, decodeU8List, encodeOpaque8, encodeU8List, findExtension, type Extension } from './extensions.js';
import {
  generateEphemeralKey,
  publicKeyFromCertificate,
  publicKeyFromSpki,
  signatureSchemeOf,
  signHandshake,
  SUPPORTED_GROUPS,
  verifyHandshakeSignature,
  type EphemeralKey,
} from './key-exchange.js';
import { extendedMasterSecret, finishedVerifyData, masterSecret, pskPreMasterSecret } from './prf.js';
import {
  DtlsBadCertificateError,
  DtlsDecryptError,
  DtlsHandshakeFailureError,
  DtlsUnexpectedMessageError,
  DtlsUnknownPskIdentityError,
} from './errors.js';

/** Looks up the key of a PSK identity (RFC 4279); undefined = unknown identity. */
export type PskLookup = (identity: string, raw: Uint8Array) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

/** Decides whether a peer's certificate chain or raw public key is acceptable. */
export type PeerVerifier = (identity: PeerIdentity) => boolean | Promise<boolean>;

export interface ServerPskOptions {
  lookup: PskLookup;
  /** Sent in ServerKeyExchange (RFC 4279 §2); omitted when absent. */
  identityHint?: string;
}

export interface ServerCertificateOptions {
  /** The server's ECDSA (or Ed25519) key; KeyStore and PKCS#11 keys work through `keyStoreSigner`. */
  signer: Signer;
  /** DER certificates, leaf first. Without a chain the server only offers a raw public key. */
  chain?: Uint8Array[];
  /** Offer RFC 7250 raw public keys to clients that ask for them (default true). */
  rawPublicKey?: boolean;
}

export interface ClientAuthOptions {
  /** Refuse clients that send no certificate (default true). */
  required?: boolean;
  /** Which client credential types to accept (default both). */
  types?: Array<'x509' | 'rpk'>;
  verify: PeerVerifier;
}

export interface ServerSessionOptions extends ConnectionOptions {
  psk?: ServerPskOptions;
  certificate?: ServerCertificateOptions;
  clientAuth?: ClientAuthOptions;
  /** Suites in server preference order (default: every implemented suite, CCM_8 first). */
  cipherSuites?: number[];
  /** Refuse clients without extended_master_secret (RFC 7627 §5.2; default false for old devices). */
  requireExtendedMasterSecret?: boolean;
  /** Length of the RFC 9146 connection IDs issued to clients that ask (default 6; 0 turns CIDs off). */
  connectionIdLength?: number;
}

export const DEFAULT_CIPHER_SUITES: readonly number[] = [0xc0a8, 0xc0ae, 0x00a8, 0xc02b, 0xc06a, 0xc05c];

type Phase = 'clientHello' | 'clientCertificate' | 'clientKeyExchange' | 'certificateVerify' | 'changeCipherSpec' | 'finished' | 'done';

const textDecoder = new TextDecoder();

const NO_BYTES = new Uint8Array(0);

export class ServerSession extends DtlsConnection {
  private phase: Phase = 'clientHello';
  /** What only the handshake needs, in one object that an established session lets go. */
  private hs: ServerHandshakeState;
  /**
   * The last 8 bytes of the client's hello random, kept after the handshake (as two numbers, no
   * buffer) to tell a replayed ClientHello from a rebooted client's new one.
   */
  private helloTag0 = 0;
  private helloTag1 = 0;

  /** True if a ClientHello with this random repeats the one that started this session (a replay). */
  isHelloReplay(random: Uint8Array): boolean {
    return random.length === 32 && readU32(random, 24) === this.helloTag0 && readU32(random, 28) === this.helloTag1;
  }
  /** True while running an abbreviated (resumed) handshake. */
  private resuming = false;

  constructor(
    hooks: ConnectionHooks<ServerSession>,
    remoteAddress: string,
    remotePort: number,
    private readonly opts: ServerSessionOptions,
    firstMessageSeq: number,
    firstRecordSeq: number,
    allocateConnectionId?: () => Uint8Array,
    sessionCache?: SessionCache,
  ) {
    super(hooks as ConnectionHooks<never>, remoteAddress, remotePort, opts);
    this.hs = {
      clientRandom: NO_BYTES,
      serverRandom: newRandom(),
      suite: undefined,
      useEms: false,
      master: NO_BYTES,
      ephemeral: undefined,
      requestClientCert: false,
      clientCertType: CertificateType.x509,
      clientKey: undefined,
      sessionId: NO_BYTES,
      allocateConnectionId,
      sessionCache,
    };
    // A stateless server continues the numbering the client's ClientHello started (RFC 6347
    // §4.2.1/§4.2.2), and mirrors its record sequence number.
    this.nextReceiveSeq = firstMessageSeq;
    this.nextSendSeq = firstMessageSeq;
    this.setInitialWriteSequence(firstRecordSeq);
  }

  protected override async onHandshakeMessage(msg: HandshakeMessage, epoch: number): Promise<void> {
    if (this.state === 'established') {
      if (msg.msgType === HandshakeType.clientHello) {
        // RFC 5746 §4.4 / RFC 5246 §7.2.2: refuse renegotiation with a no_renegotiation warning.
        this.sendAlert(AlertLevel.warning, AlertDescription.noRenegotiation);
        return;
      }
      throw new DtlsUnexpectedMessageError(`handshake message ${msg.msgType} after the handshake`);
    }
    switch (this.phase) {
      case 'clientHello':
        return this.onClientHello(msg);
      case 'clientCertificate':
        this.expect(msg, HandshakeType.certificate);
        this.flightAnswered();
        return this.onClientCertificate(msg);
      case 'clientKeyExchange':
        this.expect(msg, HandshakeType.clientKeyExchange);
        this.flightAnswered();
        return this.onClientKeyExchange(msg);
      case 'certificateVerify':
        this.expect(msg, HandshakeType.certificateVerify);
        return this.onCertificateVerify(msg);
      case 'finished':
        this.expect(msg, HandshakeType.finished);
        if (epoch === 0) throw new DtlsUnexpectedMessageError('Finished before ChangeCipherSpec');
        return this.onFinished(msg);
      default:
        throw new DtlsUnexpectedMessageError(`unexpected handshake message ${msg.msgType} in phase ${this.phase}`);
    }
  }

  protected override releaseHandshakeState(): void {
    // Randoms, secrets, keys of the exchange: gone. A resumable session's master secret lives
    // on in the (bounded) session cache only.
    this.hs = HANDSHAKE_DONE;
  }

  protected override handshakeSecretBytes(): number {
    return this.hs.clientRandom.length + this.hs.serverRandom.length + this.hs.master.length + this.hs.sessionId.length + (this.hs.ephemeral === undefined ? 0 : 1) + (this.hs.clientKey === undefined ? 0 : 1);
  }

  protected override onChangeCipherSpec(): void {
    // A CCS arriving early (reordered) or late (retransmitted) is dropped; retransmission of
    // the client's flight recovers.
    if (this.phase !== 'changeCipherSpec') return;
    if (this.activatePendingRead()) this.phase = 'finished';
  }

  private expect(msg: HandshakeMessage, type: number): void {
    if (msg.msgType !== type) throw new DtlsUnexpectedMessageError(`expected handshake message ${type}, got ${msg.msgType} in phase ${this.phase}`);
  }

  private async onClientHello(msg: HandshakeMessage): Promise<void> {
    if (msg.msgType !== HandshakeType.clientHello) throw new DtlsUnexpectedMessageError('expected ClientHello');
    const ch = decodeClientHello(msg.body);
    // DTLS versions count down: 0xfefd (1.2) < 0xfeff (1.0). A client whose highest is 1.0 is refused.
    if (ch.clientVersion > DTLS_1_2) {
      this.sendAlert(AlertLevel.fatal, AlertDescription.protocolVersion);
      throw new DtlsHandshakeFailureError(`client offers only DTLS version 0x${ch.clientVersion.toString(16)}`);
    }
    // RFC 5246 §7.4.1.2: the null compression method MUST be offered.
    if (!ch.compressionMethods.includes(0)) throw new DtlsHandshakeFailureError('client does not offer null compression');
    this.addToTranscript(msg);
    // Copies: a view would keep the whole datagram alive for the life of the session.
    this.hs.clientRandom = Uint8Array.from(ch.random);
    this.helloTag0 = readU32(ch.random, 24);
    this.helloTag1 = readU32(ch.random, 28);

    const reneg = findExtension(ch.extensions, ExtensionType.renegotiationInfo);
    // RFC 5746 §3.6: in an initial handshake renegotiated_connection MUST be empty.
    if (reneg !== undefined && decodeOpaque8(reneg.data, 'renegotiation_info').length !== 0) {
      throw new DtlsHandshakeFailureError('non-empty renegotiation_info in an initial handshake');
    }
    const secureReneg = reneg !== undefined || ch.cipherSuites.includes(EMPTY_RENEGOTIATION_INFO_SCSV);
    this.hs.useEms = findExtension(ch.extensions, ExtensionType.extendedMasterSecret) !== undefined;
    // RFC 7627 §5.2: a server that requires the extension "MUST abort the handshake" without it.
    if (!this.hs.useEms && this.opts.requireExtendedMasterSecret === true) {
      throw new DtlsHandshakeFailureError('client does not support extended_master_secret');
    }

    const resumable = await this.findResumable(ch);
    const choice = resumable === undefined ? this.chooseSuite(ch) : undefined;
    const suite = resumable?.suite ?? choice!.suite;
    this.hs.suite = suite;
    this.cipherSuite = suite;
    const isEcdhe = choice !== undefined && suite.keyExchange === 'ecdhe_ecdsa';

    const ext: Extension[] = [];
    if (secureReneg) ext.push({ type: ExtensionType.renegotiationInfo, data: Uint8Array.of(0) });
    const cidExt = findExtension(ch.extensions, ExtensionType.connectionId);
    if (cidExt !== undefined && this.hs.allocateConnectionId !== undefined) {
      // RFC 9146 §3: the client's value is what we put on records to it (empty = none); ours
      // in the ServerHello is what it puts on records to us.
      const clientCid = decodeOpaque8(cidExt.data, 'connection_id');
      const ours = this.hs.allocateConnectionId();
      ext.push({ type: ExtensionType.connectionId, data: encodeOpaque8(ours) });
      this.receiveCid = ours;
      if (clientCid.length > 0) this.sendCid = Uint8Array.from(clientCid);
    }
    if (this.hs.useEms) ext.push({ type: ExtensionType.extendedMasterSecret, data: new Uint8Array(0) });
    if (resumable !== undefined) {
      this.resume(ch, resumable.cached, ext);
      return;
    }
    if (isEcdhe && choice !== undefined) {
      if (findExtension(ch.extensions, ExtensionType.ecPointFormats) !== undefined) {
        ext.push({ type: ExtensionType.ecPointFormats, data: encodeU8List([0]) });
      }
      if (choice.serverCertTypeExt) ext.push({ type: ExtensionType.serverCertificateType, data: Uint8Array.of(choice.serverCertType) });
      this.hs.requestClientCert = this.opts.clientAuth !== undefined;
      if (this.hs.requestClientCert) {
        const cct = this.chooseClientCertType(ch);
        this.hs.clientCertType = cct.type;
        if (cct.ext) ext.push({ type: ExtensionType.clientCertificateType, data: Uint8Array.of(cct.type) });
      }
    }

    // A session ID makes the session resumable; only EMS sessions are (RFC 7627 §5.3).
    if (this.hs.sessionCache !== undefined && this.hs.useEms) this.hs.sessionId = newRandom();
    this.queueHandshake(
      HandshakeType.serverHello,
      encodeServerHello({ serverVersion: DTLS_1_2, random: this.hs.serverRandom, sessionId: this.hs.sessionId, cipherSuite: suite.id, compressionMethod: 0, extensions: ext }),
    );
    if (isEcdhe && choice !== undefined) {
      const cert = this.opts.certificate!;
      this.queueHandshake(
        HandshakeType.certificate,
        choice.serverCertType === CertificateType.rawPublicKey ? encodeRawPublicKeyCertificate(cert.signer.publicKey) : encodeCertificateList(cert.chain!),
      );
      this.hs.ephemeral = generateEphemeralKey(choice.group);
      const params = encodeEcdheParams(choice.group, this.hs.ephemeral.publicKey);
      const signed = await signHandshake(cert.signer, concatBytes(this.hs.clientRandom, this.hs.serverRandom, params));
      this.queueHandshake(HandshakeType.serverKeyExchange, encodeEcdheServerKeyExchange(params, signed.scheme, signed.signature));
      if (this.hs.requestClientCert) {
        this.queueHandshake(
          HandshakeType.certificateRequest,
          // ecdsa_sign (64) per RFC 8422 §5.5; ECDSA P-256 with SHA-256 and Ed25519.
          encodeCertificateRequest({ certificateTypes: [64], signatureSchemes: [SignatureScheme.ecdsaSecp256r1Sha256, SignatureScheme.ed25519], certificateAuthorities: [] }),
        );
      }
    } else if (this.opts.psk?.identityHint !== undefined) {
      this.queueHandshake(HandshakeType.serverKeyExchange, encodePskServerKeyExchange(new TextEncoder().encode(this.opts.psk.identityHint)));
    }
    this.queueHandshake(HandshakeType.serverHelloDone, new Uint8Array(0));
    this.phase = this.hs.requestClientCert ? 'clientCertificate' : 'clientKeyExchange';
    this.flushFlight(true);
  }

  /**
   * A cached session the client asks to resume, if it may be: RFC 7627 §5.3 — both the
   * original and the new handshake use the extended master secret; the suite is offered again;
   * and the credential is still good (the PSK identity still known, the certificate still
   * accepted), so revoking a device also stops its resumptions.
   */
  private async findResumable(ch: ClientHello): Promise<{ cached: CachedSession; suite: CipherSuiteInfo } | undefined> {
    if (this.hs.sessionCache === undefined || ch.sessionId.length === 0 || !this.hs.useEms) return undefined;
    const cached = this.hs.sessionCache.get(ch.sessionId);
    if (cached === undefined || !ch.cipherSuites.includes(cached.cipherSuite)) return undefined;
    const suite = cipherSuiteInfo(cached.cipherSuite);
    if (suite === undefined || !(this.opts.cipherSuites ?? DEFAULT_CIPHER_SUITES).includes(suite.id)) return undefined;
    const id = cached.identity;
    if (id.type === 'psk') {
      const key = this.opts.psk === undefined ? undefined : await this.opts.psk.lookup(id.identity, id.raw);
      if (key === undefined) return undefined;
    } else if (id.type === 'x509' || id.type === 'rpk') {
      const ok = this.opts.clientAuth === undefined ? false : await this.opts.clientAuth.verify(id);
      if (!ok) return undefined;
    }
    return { cached, suite };
  }

  /** RFC 5246 §7.3 abbreviated handshake: ServerHello, ChangeCipherSpec, Finished. */
  private resume(ch: ClientHello, cached: CachedSession, ext: Extension[]): void {
    this.resuming = true;
    this.hs.sessionId = Uint8Array.from(ch.sessionId);
    this.hs.master = cached.masterSecret;
    this.identity = cached.identity;
    this.queueHandshake(
      HandshakeType.serverHello,
      encodeServerHello({ serverVersion: DTLS_1_2, random: this.hs.serverRandom, sessionId: ch.sessionId, cipherSuite: cached.cipherSuite, compressionMethod: 0, extensions: ext }),
    );
    this.installKeys(this.hs.master, this.hs.clientRandom, this.hs.serverRandom, this.hs.suite!, false);
    const verifyData = finishedVerifyData(this.hs.master, 'server', this.transcriptHash());
    this.queueChangeCipherSpec();
    this.queueHandshake(HandshakeType.finished, verifyData);
    this.phase = 'changeCipherSpec';
    this.flushFlight(true);
  }

  /** True when this session resumed a cached one. */
  get resumed(): boolean {
    return this.resuming;
  }

  private chooseSuite(ch: ClientHello): { suite: CipherSuiteInfo; group: number; serverCertType: number; serverCertTypeExt: boolean } {
    const groupsExt = findExtension(ch.extensions, ExtensionType.supportedGroups);
    // RFC 8422 §4: without supported_groups the client is assumed to support secp256r1.
    const clientGroups = groupsExt === undefined ? [23] : decodeU16List(groupsExt.data, 'supported_groups');
    const group = SUPPORTED_GROUPS.find((g) => clientGroups.includes(g));
    const sigExt = findExtension(ch.extensions, ExtensionType.signatureAlgorithms);
    const clientSchemes = sigExt === undefined ? undefined : decodeU16List(sigExt.data, 'signature_algorithms');
    const cert = this.opts.certificate;
    const certOk = cert !== undefined && (clientSchemes === undefined || clientSchemes.includes(signatureSchemeOf(cert.signer)));

    const sctExt = findExtension(ch.extensions, ExtensionType.serverCertificateType);
    let serverCertType: number | undefined;
    if (cert !== undefined) {
      const offered = sctExt === undefined ? [CertificateType.x509] : decodeU8List(sctExt.data, 'server_certificate_type');
      // RFC 7250 §4.1 leaves the choice among the client's types to the server. For our own
      // identity we prefer the raw public key whenever the client can take one: clients that
      // offer it (libcoap with -M, constrained devices) are configured with our key, not a CA
      // — GnuTLS lists X.509 first even then, so following the client's order breaks them.
      if (offered.includes(CertificateType.rawPublicKey) && cert.rawPublicKey !== false) serverCertType = CertificateType.rawPublicKey;
      else if (offered.includes(CertificateType.x509) && cert.chain !== undefined && cert.chain.length > 0) serverCertType = CertificateType.x509;
    }

    for (const id of this.opts.cipherSuites ?? DEFAULT_CIPHER_SUITES) {
      if (!ch.cipherSuites.includes(id)) continue;
      const suite = cipherSuiteInfo(id);
      if (suite === undefined) continue;
      if (suite.keyExchange === 'psk' && this.opts.psk !== undefined) {
        return { suite, group: 0, serverCertType: CertificateType.x509, serverCertTypeExt: false };
      }
      if (suite.keyExchange === 'ecdhe_ecdsa' && certOk && group !== undefined && serverCertType !== undefined) {
        return { suite, group, serverCertType, serverCertTypeExt: sctExt !== undefined };
      }
    }
    throw new DtlsHandshakeFailureError('no cipher suite, group or certificate type in common');
  }

  private chooseClientCertType(ch: ClientHello): { type: number; ext: boolean } {
    const allowed = this.opts.clientAuth?.types ?? ['x509', 'rpk'];
    const cctExt = findExtension(ch.extensions, ExtensionType.clientCertificateType);
    if (cctExt === undefined) {
      if (!allowed.includes('x509')) throw new DtlsHandshakeFailureError('client cannot send a raw public key');
      return { type: CertificateType.x509, ext: false };
    }
    const offered = decodeU8List(cctExt.data, 'client_certificate_type');
    // RFC 7250 §4.1: the first type in the client's list that the server supports.
    const type = offered.find((t) => (t === CertificateType.rawPublicKey && allowed.includes('rpk')) || (t === CertificateType.x509 && allowed.includes('x509')));
    if (type !== undefined) return { type, ext: true };
    throw new DtlsHandshakeFailureError('no client certificate type in common');
  }

  private async onClientCertificate(msg: HandshakeMessage): Promise<void> {
    this.addToTranscript(msg);
    let identity: PeerIdentity;
    if (this.hs.clientCertType === CertificateType.rawPublicKey) {
      const spki = decodeRawPublicKeyCertificate(msg.body);
      this.hs.clientKey = publicKeyFromSpki(spki);
      identity = { type: 'rpk', publicKey: Uint8Array.from(spki) };
    } else {
      const chain = decodeCertificateList(msg.body);
      if (chain.length === 0) {
        // RFC 5246 §7.4.6: a server requiring client authentication answers an empty
        // certificate list with a fatal handshake_failure.
        if (this.opts.clientAuth?.required !== false) throw new DtlsHandshakeFailureError('client sent no certificate');
        this.phase = 'clientKeyExchange';
        return;
      }
      this.hs.clientKey = publicKeyFromCertificate(chain[0]!);
      identity = { type: 'x509', chain: chain.map((c) => Uint8Array.from(c)) };
    }
    let accepted = false;
    try {
      accepted = await this.opts.clientAuth!.verify(identity);
    } catch (err) {
      throw new DtlsBadCertificateError('client certificate verification failed', { cause: err });
    }
    if (!accepted) throw new DtlsBadCertificateError('client certificate refused');
    this.identity = identity;
    this.phase = 'clientKeyExchange';
  }

  private async onClientKeyExchange(msg: HandshakeMessage): Promise<void> {
    const suite = this.hs.suite!;
    let preMaster: Uint8Array;
    if (suite.keyExchange === 'psk') {
      const raw = decodePskClientKeyExchange(msg.body);
      const identity = textDecoder.decode(raw);
      const key = await this.opts.psk!.lookup(identity, raw);
      // RFC 4279 §2: "If the server does not recognize the PSK identity, it MAY respond with an
      // unknown_psk_identity alert message."
      if (key === undefined || key.length === 0) throw new DtlsUnknownPskIdentityError(`unknown PSK identity ${JSON.stringify(identity)}`);
      preMaster = pskPreMasterSecret(key);
      this.identity = { type: 'psk', identity, raw: Uint8Array.from(raw) };
    } else {
      preMaster = this.hs.ephemeral!.computeSecret(decodeEcdheClientKeyExchange(msg.body));
      this.hs.ephemeral = undefined;
    }
    this.addToTranscript(msg);
    this.hs.master = this.hs.useEms
      ? extendedMasterSecret(preMaster, this.transcriptHash())
      : masterSecret(preMaster, this.hs.clientRandom, this.hs.serverRandom);
    this.installKeys(this.hs.master, this.hs.clientRandom, this.hs.serverRandom, suite, false);
    this.phase = this.hs.clientKey !== undefined ? 'certificateVerify' : 'changeCipherSpec';
  }

  private onCertificateVerify(msg: HandshakeMessage): void {
    const cv = decodeCertificateVerify(msg.body);
    // RFC 5246 §7.4.8: the signature covers every handshake message up to (not including) this one.
    verifyHandshakeSignature(this.hs.clientKey!, cv.signatureScheme, concatBytes(...this.transcript), cv.signature);
    this.addToTranscript(msg);
    this.phase = 'changeCipherSpec';
  }

  private onFinished(msg: HandshakeMessage): void {
    const verifyData = decodeFinished(msg.body);
    const expected = finishedVerifyData(this.hs.master, 'client', this.transcriptHash());
    // RFC 5246 §7.4.9: "Recipients of Finished messages MUST verify that the contents are correct."
    if (!timingSafeEqual(verifyData, expected)) throw new DtlsDecryptError('client Finished does not verify');
    this.addToTranscript(msg);
    this.phase = 'done';
    if (!this.resuming) {
      const serverVerify = finishedVerifyData(this.hs.master, 'server', this.transcriptHash());
      this.queueChangeCipherSpec();
      this.queueHandshake(HandshakeType.finished, serverVerify);
      this.flushFlight(false);
      if (this.hs.sessionId.length > 0) {
        this.hs.sessionCache?.set({ sessionId: this.hs.sessionId, masterSecret: this.hs.master, cipherSuite: this.hs.suite!.id, identity: this.identity, createdAt: Date.now() });
      }
    }
    // With a connection ID the session outlives the address it started from.
    if (this.receiveCid !== undefined) this.peerKey = `cid:${Buffer.from(this.receiveCid).toString('hex')}`;
    this.markEstablished();
  }
}

/** Four bytes as a signed 32-bit number (a small integer to V8: no heap number per session). */
interface ServerHandshakeState {
  clientRandom: Uint8Array;
  serverRandom: Uint8Array;
  suite: CipherSuiteInfo | undefined;
  useEms: boolean;
  master: Uint8Array;
  ephemeral: EphemeralKey | undefined;
  requestClientCert: boolean;
  clientCertType: number;
  clientKey: KeyObject | undefined;
  sessionId: Uint8Array;
  allocateConnectionId: (() => Uint8Array) | undefined;
  sessionCache: SessionCache | undefined;
}

/** The state of every finished handshake (shared, immutable). */
const HANDSHAKE_DONE: ServerHandshakeState = Object.freeze({
  clientRandom: NO_BYTES,
  serverRandom: NO_BYTES,
  suite: undefined,
  useEms: false,
  master: NO_BYTES,
  ephemeral: undefined,
  requestClientCert: false,
  clientCertType: CertificateType.x509,
  clientKey: undefined,
  sessionId: NO_BYTES,
  allocateConnectionId: undefined,
  sessionCache: undefined,
});

function readU32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}
