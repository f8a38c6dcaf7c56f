/**
 * The client side of a DTLS 1.2 handshake: ClientHello, the cookie round trip (RFC 6347
 * §4.2.1), and the PSK (RFC 4279) or ECDHE_ECDSA (RFC 8422) exchange with server
 * authentication by X.509 certificate or raw public key (RFC 7250) through a callback.
 */
import { timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Signer } from '../crypto/keystore/types.js';
import {
  AlertDescription,
  AlertLevel,
  CertificateType,
  cipherSuiteInfo,
  DTLS_1_2,
  ExtensionType,
  HandshakeType,
  NamedGroup,
  SignatureScheme,
  type CipherSuiteInfo,
} from './constants.js';
import { bytesEqual, concatBytes } from './bytes.js';
import { DtlsConnection, newRandom, type ConnectionOptions, type PeerIdentity } from './connection.js';
import {
  decodeCertificateList,
  decodeCertificateRequest,
  decodeEcdheServerKeyExchange,
  decodeEmpty,
  decodeFinished,
  decodeHelloVerifyRequest,
  decodePskServerKeyExchange,
  decodeRawPublicKeyCertificate,
  decodeServerHello,
  encodeCertificateList,
  encodeCertificateVerify,
  encodeClientHello,
  encodeEcdheClientKeyExchange,
  encodePskClientKeyExchange,
  encodeRawPublicKeyCertificate,
} from './handshake.js';
import type { HandshakeMessage } from './handshake-fragment.js';
import { decodeOpaque8, decodeSingleU8, encodeOpaque8, encodeU16List, encodeU8List, findExtension, type Extension } from './extensions.js';
import { generateEphemeralKey, publicKeyFromCertificate, publicKeyFromSpki, signHandshake, SUPPORTED_GROUPS, verifyHandshakeSignature } from './key-exchange.js';
import { extendedMasterSecret, finishedVerifyData, masterSecret, pskPreMasterSecret } from './prf.js';
import { DtlsBadCertificateError, DtlsDecryptError, DtlsHandshakeFailureError, DtlsUnexpectedMessageError } from './errors.js';
import type { PeerVerifier } from './server-session.js';
import type { ResumptionState } from './session-cache.js';
import { InvalidArgumentError } from '../errors.js';

export interface ClientPskOptions {
  identity: string | Uint8Array;
  key: Uint8Array;
}

export interface ClientCertificateOptions {
  signer: Signer;
  /** DER certificates, leaf first; without a chain only a raw public key is offered. */
  chain?: Uint8Array[];
}

export interface ClientSessionOptions extends ConnectionOptions {
  psk?: ClientPskOptions;
  /** Required for ECDHE_ECDSA suites: accepts or refuses the server's certificate chain or raw public key. */
  verifyServer?: PeerVerifier;
  /** Server credential types we accept, in our preference order (default both, X.509 first). */
  serverCertificateTypes?: Array<'x509' | 'rpk'>;
  /**
   * Our credential types to offer for client authentication, in preference order (default
   * X.509 then raw public key with a chain, raw public key only without one). RFC 7250 §4.1:
   * the server takes the first one it supports.
   */
  clientCertificateTypes?: Array<'x509' | 'rpk'>;
  /** Our credential for servers that ask for client authentication. */
  certificate?: ClientCertificateOptions;
  /** Suites to offer in preference order (default: every implemented suite our credentials allow). */
  cipherSuites?: number[];
  /** Refuse servers without extended_master_secret (RFC 7627 §5.3; default true). */
  requireExtendedMasterSecret?: boolean;
  /**
   * RFC 9146 connection ID we ask the server to put on records to us; an empty array offers
   * CIDs only in the other direction (what a client behind a changing NAT binding needs).
   */
  connectionId?: Uint8Array;
  /** A session to resume (from an earlier session's `resumption`); falls back to a full handshake. */
  resume?: ResumptionState;
}

export const DEFAULT_CLIENT_SUITES: readonly number[] = [0xc0a8, 0xc0ae, 0x00a8, 0xc02b, 0xc06a, 0xc05c];

type Phase = 'hello' | 'certificate' | 'serverKeyExchange' | 'certificateRequest' | 'serverHelloDone' | 'changeCipherSpec' | 'finished' | 'done';

export class ClientSession extends DtlsConnection {
  private phase: Phase = 'hello';
  private readonly clientRandom = newRandom();
  private serverRandom: Uint8Array = new Uint8Array(0);
  private readonly offeredSuites: number[];
  private readonly offeredExtensions = new Set<number>();
  private suite: CipherSuiteInfo | undefined;
  private useEms = false;
  private master: Uint8Array = new Uint8Array(0);
  private serverKey: KeyObject | undefined;
  private serverCertType: number = CertificateType.x509;
  private clientCertType: number = CertificateType.x509;
  private certificateRequested = false;
  private ecdhePublic: Uint8Array | undefined;
  private sessionId: Uint8Array = new Uint8Array(0);
  private resuming = false;
  private preMaster: Uint8Array | undefined;

  constructor(
    transmit: (datagram: Uint8Array) => void,
    remoteAddress: string,
    remotePort: number,
    private readonly opts: ClientSessionOptions,
  ) {
    super({ transmit: (_session, d) => transmit(d) }, remoteAddress, remotePort, opts);
    this.offeredSuites = (opts.cipherSuites ?? DEFAULT_CLIENT_SUITES).filter((id) => {
      const s = cipherSuiteInfo(id);
      return s !== undefined && (s.keyExchange === 'psk' ? opts.psk !== undefined : opts.verifyServer !== undefined);
    });
    if (this.offeredSuites.length === 0) throw new DtlsHandshakeFailureError('no cipher suite fits the given credentials (psk, or verifyServer for ECDHE_ECDSA)');
    for (const [name, list] of [['serverCertificateTypes', opts.serverCertificateTypes], ['clientCertificateTypes', opts.clientCertificateTypes]] as const) {
      if (list !== undefined && (list.length === 0 || list.some((t) => t !== 'x509' && t !== 'rpk'))) throw new InvalidArgumentError(name, "expected a non-empty list of 'x509' and 'rpk'");
    }
    if (opts.clientCertificateTypes !== undefined && opts.certificate !== undefined && (opts.certificate.chain?.length ?? 0) === 0 && !opts.clientCertificateTypes.includes('rpk')) {
      throw new InvalidArgumentError('clientCertificateTypes', 'X.509 needs certificate.chain');
    }
  }

  protected override releaseHandshakeState(): void {
    // The client keeps its randoms, session ID and master secret: `resumption` hands them out.
    this.serverKey = undefined;
    this.preMaster = undefined;
  }

  protected override handshakeSecretBytes(): number {
    return this.clientRandom.length + this.serverRandom.length + this.master.length + this.sessionId.length + (this.preMaster?.length ?? 0);
  }

  /** Sends the first ClientHello. */
  start(): void {
    this.sendClientHello(new Uint8Array(0));
  }

  private sendClientHello(cookie: Uint8Array): void {
    const ext: Extension[] = [
      { type: ExtensionType.extendedMasterSecret, data: new Uint8Array(0) },
      // RFC 5746 §3.4: an initial ClientHello carries an empty renegotiation_info (or the SCSV).
      { type: ExtensionType.renegotiationInfo, data: Uint8Array.of(0) },
    ];
    if (this.offeredSuites.some((id) => cipherSuiteInfo(id)!.keyExchange === 'ecdhe_ecdsa')) {
      ext.push({ type: ExtensionType.supportedGroups, data: encodeU16List(SUPPORTED_GROUPS) });
      ext.push({ type: ExtensionType.ecPointFormats, data: encodeU8List([0]) });
      ext.push({ type: ExtensionType.signatureAlgorithms, data: encodeU16List([SignatureScheme.ecdsaSecp256r1Sha256, SignatureScheme.ed25519]) });
      const accepted = this.opts.serverCertificateTypes ?? ['x509', 'rpk'];
      // RFC 7250 §4.1: the extension is omitted when X.509 is the only type.
      if (accepted.includes('rpk')) {
        const types = accepted.map((t) => (t === 'rpk' ? CertificateType.rawPublicKey : CertificateType.x509));
        ext.push({ type: ExtensionType.serverCertificateType, data: encodeU8List(types) });
      }
      const cert = this.opts.certificate;
      if (cert !== undefined) {
        const hasChain = cert.chain !== undefined && cert.chain.length > 0;
        const wanted = this.opts.clientCertificateTypes ?? (hasChain ? ['x509', 'rpk'] : ['rpk']);
        const types = wanted.filter((t) => t === 'rpk' || hasChain).map((t) => (t === 'rpk' ? CertificateType.rawPublicKey : CertificateType.x509));
        // RFC 7250 §4.1: the extension is omitted when X.509 is the only type.
        if (types.length > 0 && !(types.length === 1 && types[0] === CertificateType.x509)) {
          ext.push({ type: ExtensionType.clientCertificateType, data: encodeU8List(types) });
        }
      }
    }
    if (this.opts.connectionId !== undefined) ext.push({ type: ExtensionType.connectionId, data: encodeOpaque8(this.opts.connectionId) });
    for (const e of ext) this.offeredExtensions.add(e.type);
    // RFC 6347 §4.2.1: the initial ClientHello and HelloVerifyRequest are not in the transcript.
    this.transcript = [];
    this.queueHandshake(
      HandshakeType.clientHello,
      encodeClientHello({
        clientVersion: DTLS_1_2,
        random: this.clientRandom,
        // RFC 5246 §7.4.1.2: the session ID of the session to resume.
        sessionId: this.resumable() ? this.opts.resume!.sessionId : new Uint8Array(0),
        cookie,
        cipherSuites: this.offeredSuites,
        compressionMethods: [0],
        extensions: ext,
      }),
    );
    this.flushFlight(true);
  }

  private resumable(): boolean {
    const r = this.opts.resume;
    return r !== undefined && r.sessionId.length > 0 && this.offeredSuites.includes(r.cipherSuite);
  }

  /** State to resume this session later, when the server made it resumable (session ID, EMS). */
  get resumption(): ResumptionState | undefined {
    if (!this.wasEstablished || this.sessionId.length === 0 || !this.useEms) return undefined;
    return { sessionId: this.sessionId, masterSecret: this.master, cipherSuite: this.suite!.id, identity: this.identity };
  }

  /** True when this session resumed an earlier one. */
  get resumed(): boolean {
    return this.resuming;
  }

  protected override async onHandshakeMessage(msg: HandshakeMessage, epoch: number): Promise<void> {
    if (this.state === 'established') {
      // RFC 5246 §7.4.1.1: a HelloRequest may be ignored; we answer no_renegotiation.
      if (msg.msgType === HandshakeType.helloRequest) {
        this.sendAlert(AlertLevel.warning, AlertDescription.noRenegotiation);
        return;
      }
      throw new DtlsUnexpectedMessageError(`handshake message ${msg.msgType} after the handshake`);
    }
    const t = msg.msgType;
    switch (this.phase) {
      case 'hello':
        if (t === HandshakeType.helloVerifyRequest) return this.onHelloVerifyRequest(msg);
        if (t === HandshakeType.serverHello) return this.onServerHello(msg);
        break;
      case 'certificate':
        if (t === HandshakeType.certificate) return this.onCertificate(msg);
        break;
      case 'serverKeyExchange':
        if (t === HandshakeType.serverKeyExchange) return this.onServerKeyExchange(msg);
        if (t === HandshakeType.serverHelloDone && this.suite!.keyExchange === 'psk') return this.onServerHelloDone(msg);
        break;
      case 'certificateRequest':
        if (t === HandshakeType.certificateRequest) return this.onCertificateRequest(msg);
        if (t === HandshakeType.serverHelloDone) return this.onServerHelloDone(msg);
        break;
      case 'serverHelloDone':
        if (t === HandshakeType.serverHelloDone) return this.onServerHelloDone(msg);
        break;
      case 'finished':
        if (t === HandshakeType.finished && epoch > 0) return this.onFinished(msg);
        break;
      default:
        break;
    }
    throw new DtlsUnexpectedMessageError(`unexpected handshake message ${t} in phase ${this.phase}`);
  }

  protected override onChangeCipherSpec(): void {
    if (this.phase !== 'changeCipherSpec') return;
    if (this.activatePendingRead()) this.phase = 'finished';
  }

  private onHelloVerifyRequest(msg: HandshakeMessage): void {
    const hvr = decodeHelloVerifyRequest(msg.body);
    this.flightAnswered();
    // The server kept no state, so its later records restart epoch-0 numbering.
    this.resetReadWindow();
    this.sendClientHello(hvr.cookie);
  }

  private onServerHello(msg: HandshakeMessage): void {
    const sh = decodeServerHello(msg.body);
    this.flightAnswered();
    if (sh.serverVersion !== DTLS_1_2) {
      this.sendAlert(AlertLevel.fatal, AlertDescription.protocolVersion);
      throw new DtlsHandshakeFailureError(`server chose version 0x${sh.serverVersion.toString(16)}`);
    }
    if (!this.offeredSuites.includes(sh.cipherSuite)) throw new DtlsHandshakeFailureError(`server chose a suite we did not offer (0x${sh.cipherSuite.toString(16)})`);
    if (sh.compressionMethod !== 0) throw new DtlsHandshakeFailureError('server chose a compression method');
    for (const e of sh.extensions) {
      // RFC 5246 §7.4.1.4: a client receiving an extension it did not offer "MUST abort the
      // handshake with an unsupported_extension fatal alert".
      if (!this.offeredExtensions.has(e.type)) {
        this.sendAlert(AlertLevel.fatal, AlertDescription.unsupportedExtension);
        throw new DtlsHandshakeFailureError(`server sent unsolicited extension ${e.type}`);
      }
    }
    const reneg = findExtension(sh.extensions, ExtensionType.renegotiationInfo);
    if (reneg !== undefined && decodeOpaque8(reneg.data, 'renegotiation_info').length !== 0) {
      throw new DtlsHandshakeFailureError('non-empty renegotiation_info in an initial handshake');
    }
    this.useEms = findExtension(sh.extensions, ExtensionType.extendedMasterSecret) !== undefined;
    // RFC 7627 §5.3: a client that requires the extension "MUST abort the handshake" without it.
    if (!this.useEms && this.opts.requireExtendedMasterSecret !== false) {
      throw new DtlsHandshakeFailureError('server does not support extended_master_secret');
    }
    const sct = findExtension(sh.extensions, ExtensionType.serverCertificateType);
    if (sct !== undefined) this.serverCertType = decodeSingleU8(sct.data, 'server_certificate_type');
    const cct = findExtension(sh.extensions, ExtensionType.clientCertificateType);
    if (cct !== undefined) this.clientCertType = decodeSingleU8(cct.data, 'client_certificate_type');
    const cid = findExtension(sh.extensions, ExtensionType.connectionId);
    if (cid !== undefined) {
      // RFC 9146 §3: the server's value is the CID we put on records to it.
      const serverCid = decodeOpaque8(cid.data, 'connection_id');
      if (serverCid.length > 0) this.sendCid = Uint8Array.from(serverCid);
      if (this.opts.connectionId !== undefined && this.opts.connectionId.length > 0) this.receiveCid = this.opts.connectionId;
    }
    this.addToTranscript(msg);
    this.serverRandom = Uint8Array.from(sh.random);
    this.suite = cipherSuiteInfo(sh.cipherSuite)!;
    this.cipherSuite = this.suite;
    this.sessionId = Uint8Array.from(sh.sessionId);
    const r = this.opts.resume;
    if (r !== undefined && this.resumable() && sh.sessionId.length > 0 && bytesEqual(sh.sessionId, r.sessionId)) {
      // RFC 5246 §7.3: the server resumes; RFC 7627 §5.3: only with the extended master secret
      // and the suite of the original session.
      if (!this.useEms || sh.cipherSuite !== r.cipherSuite) throw new DtlsHandshakeFailureError('server resumed with different parameters');
      this.resuming = true;
      this.master = r.masterSecret;
      this.identity = r.identity;
      this.installKeys(this.master, this.clientRandom, this.serverRandom, this.suite, true);
      this.phase = 'changeCipherSpec';
      return;
    }
    this.phase = this.suite.keyExchange === 'psk' ? 'serverKeyExchange' : 'certificate';
  }

  private async onCertificate(msg: HandshakeMessage): Promise<void> {
    this.addToTranscript(msg);
    let identity: PeerIdentity;
    if (this.serverCertType === CertificateType.rawPublicKey) {
      const spki = decodeRawPublicKeyCertificate(msg.body);
      this.serverKey = publicKeyFromSpki(spki);
      identity = { type: 'rpk', publicKey: Uint8Array.from(spki) };
    } else {
      const chain = decodeCertificateList(msg.body);
      if (chain.length === 0) throw new DtlsBadCertificateError('server sent no certificate');
      this.serverKey = publicKeyFromCertificate(chain[0]!);
      identity = { type: 'x509', chain: chain.map((c) => Uint8Array.from(c)) };
    }
    let accepted = false;
    try {
      accepted = await this.opts.verifyServer!(identity);
    } catch (err) {
      throw new DtlsBadCertificateError('server certificate verification failed', { cause: err });
    }
    if (!accepted) throw new DtlsBadCertificateError('server certificate refused');
    this.identity = identity;
    this.phase = 'serverKeyExchange';
  }

  private onServerKeyExchange(msg: HandshakeMessage): void {
    if (this.suite!.keyExchange === 'psk') {
      decodePskServerKeyExchange(msg.body);
      this.addToTranscript(msg);
      this.phase = 'serverHelloDone';
      return;
    }
    const ske = decodeEcdheServerKeyExchange(msg.body);
    if (!SUPPORTED_GROUPS.includes(ske.namedGroup)) throw new DtlsHandshakeFailureError(`server chose group ${ske.namedGroup} we did not offer`);
    // RFC 8422 §5.4: the signature covers client_random + server_random + ServerECDHParams.
    verifyHandshakeSignature(this.serverKey!, ske.signatureScheme, concatBytes(this.clientRandom, this.serverRandom, ske.params), ske.signature);
    const eph = generateEphemeralKey(ske.namedGroup === NamedGroup.x25519 ? NamedGroup.x25519 : NamedGroup.secp256r1);
    this.preMaster = eph.computeSecret(ske.publicKey);
    this.ecdhePublic = eph.publicKey;
    this.addToTranscript(msg);
    this.phase = 'certificateRequest';
  }

  private onCertificateRequest(msg: HandshakeMessage): void {
    decodeCertificateRequest(msg.body);
    this.addToTranscript(msg);
    this.certificateRequested = true;
    this.phase = 'serverHelloDone';
  }

  private async onServerHelloDone(msg: HandshakeMessage): Promise<void> {
    decodeEmpty(msg.body, 'ServerHelloDone');
    this.addToTranscript(msg);
    const suite = this.suite!;
    let signer: Signer | undefined;
    if (this.certificateRequested) {
      const cert = this.opts.certificate;
      if (cert === undefined) {
        this.queueHandshake(HandshakeType.certificate, encodeCertificateList([]));
      } else if (this.clientCertType === CertificateType.rawPublicKey) {
        this.queueHandshake(HandshakeType.certificate, encodeRawPublicKeyCertificate(cert.signer.publicKey));
        signer = cert.signer;
      } else {
        this.queueHandshake(HandshakeType.certificate, encodeCertificateList(cert.chain ?? []));
        if (cert.chain !== undefined && cert.chain.length > 0) signer = cert.signer;
      }
    }
    let preMaster: Uint8Array;
    if (suite.keyExchange === 'psk') {
      const psk = this.opts.psk!;
      const identity = typeof psk.identity === 'string' ? new TextEncoder().encode(psk.identity) : psk.identity;
      this.queueHandshake(HandshakeType.clientKeyExchange, encodePskClientKeyExchange(identity));
      preMaster = pskPreMasterSecret(psk.key);
      this.identity = { type: 'psk', identity: new TextDecoder().decode(identity), raw: identity };
    } else {
      this.queueHandshake(HandshakeType.clientKeyExchange, encodeEcdheClientKeyExchange(this.ecdhePublic!));
      preMaster = this.preMaster!;
      this.preMaster = undefined;
    }
    this.master = this.useEms ? extendedMasterSecret(preMaster, this.transcriptHash()) : masterSecret(preMaster, this.clientRandom, this.serverRandom);
    this.installKeys(this.master, this.clientRandom, this.serverRandom, suite, true);
    if (signer !== undefined) {
      const signed = await signHandshake(signer, concatBytes(...this.transcript));
      this.queueHandshake(HandshakeType.certificateVerify, encodeCertificateVerify({ signatureScheme: signed.scheme, signature: signed.signature }));
    }
    const verifyData = finishedVerifyData(this.master, 'client', this.transcriptHash());
    this.queueChangeCipherSpec();
    this.queueHandshake(HandshakeType.finished, verifyData);
    this.phase = 'changeCipherSpec';
    this.flushFlight(true);
  }

  private onFinished(msg: HandshakeMessage): void {
    const verifyData = decodeFinished(msg.body);
    const expected = finishedVerifyData(this.master, 'server', this.transcriptHash());
    // RFC 5246 §7.4.9: "Recipients of Finished messages MUST verify that the contents are correct."
    if (!timingSafeEqual(verifyData, expected)) throw new DtlsDecryptError('server Finished does not verify');
    this.phase = 'done';
    if (this.resuming) {
      // Abbreviated handshake: our ChangeCipherSpec and Finished come last.
      this.addToTranscript(msg);
      const clientVerify = finishedVerifyData(this.master, 'client', this.transcriptHash());
      this.queueChangeCipherSpec();
      this.queueHandshake(HandshakeType.finished, clientVerify);
      this.flushFlight(false);
    }
    this.markEstablished();
  }
}
