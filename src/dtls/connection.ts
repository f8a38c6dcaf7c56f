/**
 * What server and client sessions share: epochs and record protection, the anti-replay
 * window, handshake message sequencing and reassembly, flights with retransmission and
 * fragmentation, alerts, close_notify and application data. The role-specific handshake state
 * machines (server-session.ts, client-session.ts) sit on top of this class.
 *
 * Sessions never emit 'error' (an unhandled 'error' event would kill the process); failures are
 * reported through 'close' with the error as its argument.
 */
import { randomFillSync } from 'node:crypto';
import { ContentType, AlertDescription, AlertLevel, alertName, DTLS_1_2, HandshakeType, type CipherSuiteInfo } from './constants.js';
import { decodeDatagram, encodeRecord, writeRecordHeader, MAX_PLAINTEXT_LENGTH, MAX_SEQUENCE_NUMBER, RECORD_HEADER_LENGTH, type DtlsRecord } from './record.js';
import { LazyEmitter } from './lazy-emitter.js';
import { RecordProtection } from './record-protection.js';
import { ReplayWindow } from './replay-window.js';
import {
  decodeHandshakeFragments,
  encodeHandshakeMessage,
  fragmentHandshakeMessage,
  HandshakeReassembler,
  type HandshakeFragment,
  type HandshakeMessage,
} from './handshake-fragment.js';
import { CHANGE_CIPHER_SPEC, decodeAlert, decodeChangeCipherSpec, encodeAlert } from './handshake.js';
import { deriveTrafficKeys, sha256 } from './prf.js';
import { Sha256 } from './hmac-sha256.js';
import { bytesEqual } from './bytes.js';
import {
  DtlsAlertReceivedError,
  DtlsBadCertificateError,
  DtlsDecodeError,
  DtlsDecryptError,
  DtlsError,
  DtlsHandshakeFailureError,
  DtlsHandshakeTimeoutError,
  DtlsReassemblyLimitError,
  DtlsSessionClosedError,
  DtlsUnexpectedMessageError,
  DtlsUnknownPskIdentityError,
} from './errors.js';
import { InvalidArgumentError } from '../errors.js';

/** Retransmission timer (RFC 6347 §4.2.4.1). */
export interface RetransmitOptions {
  /** First timeout; RFC 6347 §4.2.4.1 recommends 1 s. */
  initialMs?: number;
  /** Upper bound of the doubling; RFC 6347 §4.2.4.1: "at least 60 seconds" is the suggested maximum. */
  maxMs?: number;
  /** Retransmissions of one flight before the handshake fails (default 6). */
  maxRetransmissions?: number;
}

export interface ConnectionOptions {
  /** Largest datagram we send (default 1200, safe for IPv6 paths without PMTU discovery). */
  mtu?: number;
  retransmit?: RetransmitOptions;
  /** Cap of one reassembled handshake message (default 32 KiB). */
  maxHandshakeMessageSize?: number;
}

/** What authenticated the peer. */
export type PeerIdentity =
  | { type: 'psk'; identity: string; raw: Uint8Array }
  | { type: 'x509'; chain: Uint8Array[] }
  | { type: 'rpk'; publicKey: Uint8Array }
  | { type: 'none' };

/**
 * Calls a session makes into whatever owns it, in place of per-session event listeners and
 * closures: one hooks object serves every session of a server, so an idle session carries no
 * listener, closure or bound function of its own.
 */
export interface ConnectionHooks<C extends DtlsConnection = DtlsConnection> {
  transmit(session: C, datagram: Uint8Array): void;
  established?(session: C): void;
  closed?(session: C, err: Error | undefined): void;
  /** `previous` is the old address as a peer key; `previousPort` its port. */
  addressChange?(session: C, previous: string, previousPort: number): void;
  data?(session: C, data: Uint8Array): void;
  /**
   * The server's native fast path (native-fastpath.ts) holds this session's read window and write
   * sequence number (`fastHandle >= 0`): give them back now (restoreRecordState), because the JS
   * record layer is about to use them.
   */
  reclaim?(session: C): void;
  /** Seals and sends one application-data record on the native fast path; false = not sent there. */
  fastSend?(session: C, data: Uint8Array): boolean;
}

/** What the native fast path needs to carry a session's records (see `fastPathState()`). */
export interface FastPathState {
  suite: number;
  epoch: number;
  readKey: Uint8Array;
  readKeyOffset: number;
  readSalt: number;
  writeKey: Uint8Array;
  writeKeyOffset: number;
  writeSalt: number;
  top: number;
  low: number;
  high: number;
  writeSeq: number;
}

/** What a session still holds, in bytes, by purpose (for tests and diagnostics, not for limits). */
export interface RetainedState {
  /** Randoms, master secret, session ID, ephemeral and peer keys of the handshake. */
  handshakeSecrets: number;
  transcript: number;
  reassembler: number;
  /** The last flight, kept for retransmission. */
  flight: number;
  /** 1 while the epoch-0 write state (its sequence number) is kept. */
  epoch0WriteState: number;
  /** Traffic keys and salts of the current epochs. */
  trafficKeys: number;
}

/** One message of a flight, in one object (an idle session may keep its final flight). */
interface FlightItem {
  epoch: number;
  type: number;
  /** The handshake message body, or the CCS byte. */
  payload: Uint8Array;
  /** Handshake type and message_seq (-1 for ChangeCipherSpec). */
  msgType: number;
  messageSeq: number;
}

const MAX_QUEUED_DATAGRAMS = 64;

/**
 * What only a handshake in progress needs, in one object that the session lets go of once the
 * handshake is done (an idle session is its keys, sequence numbers, window and peer).
 */
class HandshakeLayer {
  nextSendSeq = 0;
  reassembler: HandshakeReassembler | null = null;
  transcript: Uint8Array[] = NO_TRANSCRIPT;
  /** Running hash of `transcript` (each message hashed once, digests taken as it grows). */
  transcriptHasher: Sha256 | null = null;
  flight: FlightItem[] = NO_FLIGHT;
  lastFlight: FlightItem[] = NO_FLIGHT;
  lastFlightExpectsReply = false;
  /** message_seq of the peer's message whose retransmission makes us resend our last flight. */
  retransmitTrigger = -1;
  timer: NodeJS.Timeout | undefined = undefined;
  timeoutMs: number;
  retransmissions = 0;
  undecryptable = false;
  pendingRead: RecordProtection | null = null;
  pendingWrite: RecordProtection | null = null;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }
}

/** Base of `lastActivity`/`createdAt`: offsets from it stay small integers (no heap number per session). */
const CLOCK_BASE = Date.now();

/**
 * Milliseconds since CLOCK_BASE as a 32-bit integer (V8 keeps a double-valued field in a heap
 * number of its own, per object); 24.8 days before it would need more than 31 bits, after which
 * the plain difference is kept.
 */
function clock(): number {
  return smallIfInteger(Date.now() - CLOCK_BASE);
}

function smallIfInteger(x: number): number {
  return x === (x | 0) ? x | 0 : x;
}

export abstract class DtlsConnection extends LazyEmitter {
  private readonly hooks: ConnectionHooks<never>;
  /** Stable id of the peer (transport address, or connection ID once negotiated). */
  peerKey: string;
  /** The transport address the session started from, as a peer key. */
  readonly initialPeerKey: string;
  /** Where records go; with a connection ID it follows the peer's newest authenticated address. */
  remoteAddress: string;
  remotePort: number;
  /** PSK identities are kept as their raw bytes (a latin1 string); see `identity`. */
  private peerIdentity: PeerIdentity | string = NO_IDENTITY;
  cipherSuite: CipherSuiteInfo | undefined = undefined;
  private activityAt = clock();
  private readonly createdAtOffset = this.activityAt;

  protected state: 'handshaking' | 'established' | 'closed' = 'handshaking';
  /** True once the handshake completed, also after the session closed. */
  wasEstablished = false;
  protected readonly mtu: number;
  private readonly connectionOptions: ConnectionOptions;

  /**
   * While ≥ 0 the server's native fast path carries this session's application data under this
   * handle and owns its read window and write sequence number (src/dtls/native-fastpath.ts).
   */
  fastHandle = -1;

  // Record layer.
  protected readEpoch = 0;
  private readProtection: RecordProtection | null = null;
  private readonly readWindow = new ReplayWindow();
  protected writeEpoch = 0;
  /** Write state of `writeEpoch`. */
  private writeProtection: RecordProtection | null = null;
  private writeSeq = 0;
  /** Next epoch-0 sequence number while the epoch-0 write state is kept, -1 once released. */
  private epoch0Seq = -1;

  // Handshake layer: only nextReceiveSeq outlives the handshake (old retransmissions and
  // renegotiation attempts are told apart by it).
  protected nextReceiveSeq = 0;
  private hx: HandshakeLayer | null;
  /**
   * The final flight (ChangeCipherSpec + Finished) kept after the handshake in compact form
   * until the peer's first protected record acknowledges it (RFC 6347 §4.2.4): the Finished
   * message_seq (-1 = none kept) and its 12-byte verify_data as three 32-bit numbers.
   */
  private finalSeq = -1;
  private final0 = 0;
  private final1 = 0;
  private final2 = 0;

  private chain: Promise<void> = RESOLVED;
  /** Datagrams waiting in `chain`, and whether the chain is still working on any. */
  private queued = 0;
  private chained = 0;

  protected constructor(
    hooks: ConnectionHooks<never>,
    remoteAddress: string,
    remotePort: number,
    opts: ConnectionOptions,
  ) {
    super();
    this.hooks = hooks;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    // Flattened: a concatenation would keep three string objects per session.
    this.peerKey = flatString(peerKeyOf(remoteAddress, remotePort));
    this.initialPeerKey = this.peerKey;
    this.mtu = opts.mtu ?? 1200;
    if (!Number.isInteger(this.mtu) || this.mtu < 256 || this.mtu > 65507) throw new InvalidArgumentError('mtu', 'expected an integer in 256..65507');
    this.connectionOptions = opts;
    this.hx = new HandshakeLayer(opts.retransmit?.initialMs ?? 1000);
  }

  /** What authenticated the peer. */
  get identity(): PeerIdentity {
    const id = this.peerIdentity;
    if (typeof id !== 'string') return id;
    const raw = new Uint8Array(Buffer.from(id, 'latin1'));
    return { type: 'psk', identity: textDecoder.decode(raw), raw };
  }

  set identity(id: PeerIdentity) {
    // A PSK identity (the common idle session) costs one short string, not an object and buffers.
    this.peerIdentity = id.type === 'psk' ? Buffer.from(id.raw.buffer, id.raw.byteOffset, id.raw.byteLength).toString('latin1') : id;
  }

  /** Time of the last authenticated record (ms since the epoch), for idle timeouts. */
  get lastActivity(): number {
    return CLOCK_BASE + this.activityAt;
  }

  set lastActivity(t: number) {
    this.activityAt = smallIfInteger(t - CLOCK_BASE);
  }

  get createdAt(): number {
    return CLOCK_BASE + this.createdAtOffset;
  }

  /** The handshake layer; only valid while a handshake runs (subclasses call it from handshake steps). */
  private get handshake(): HandshakeLayer {
    if (this.hx === null) throw new DtlsUnexpectedMessageError('the handshake is over');
    return this.hx;
  }

  protected get nextSendSeq(): number {
    return this.handshake.nextSendSeq;
  }

  protected set nextSendSeq(n: number) {
    this.handshake.nextSendSeq = n;
  }

  protected get transcript(): Uint8Array[] {
    return this.hx?.transcript ?? NO_TRANSCRIPT;
  }

  protected set transcript(t: Uint8Array[]) {
    const hx = this.handshake;
    hx.transcript = t;
    hx.transcriptHasher = null;
    if (t.length > 0) {
      const h = (hx.transcriptHasher = new Sha256());
      for (const m of t) h.update(m);
    }
  }

  protected get pendingRead(): RecordProtection | null {
    return this.hx?.pendingRead ?? null;
  }

  protected get pendingWrite(): RecordProtection | null {
    return this.hx?.pendingWrite ?? null;
  }

  get established(): boolean {
    return this.state === 'established';
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  private transmit(datagram: Uint8Array): void {
    (this.hooks as ConnectionHooks<DtlsConnection>).transmit(this, datagram);
  }

  /** Handles one datagram from the peer; records are processed strictly in arrival order. */
  handleDatagram(datagram: Uint8Array, from?: { address: string; port: number }): void {
    if (this.state === 'closed') return;
    // Fast path: nothing queued, so records are handled synchronously until one needs an
    // asynchronous handshake step (application data, alerts, CCS never do).
    if (this.chained === 0) {
      let records: DtlsRecord[];
      try {
        records = decodeDatagram(datagram, this.cidLength);
      } catch (err) {
        this.fail(err);
        return;
      }
      for (let i = 0; i < records.length; i++) {
        if (this.closed) return;
        let pending: Promise<void> | undefined;
        try {
          pending = this.processRecord(records[i]!, from);
        } catch (err) {
          this.fail(err);
          return;
        }
        if (pending !== undefined) {
          this.enqueue(pending, records.slice(i + 1), from);
          return;
        }
      }
      return;
    }
    // Bound the work a flooding peer can queue behind a slow (async) handshake step.
    if (this.queued >= MAX_QUEUED_DATAGRAMS) return;
    this.queued++;
    this.enqueue(
      this.chain.then(() => {
        this.queued--;
      }),
      datagram,
      from,
    );
  }

  /** Continues after `first`, in order: the rest of a datagram's records, or a whole datagram. */
  private enqueue(first: Promise<void>, rest: DtlsRecord[] | Uint8Array, from: { address: string; port: number } | undefined): void {
    this.chained++;
    this.chain = first
      .then(async () => {
        const records = rest instanceof Uint8Array ? decodeDatagram(rest, this.cidLength) : rest;
        for (const record of records) {
          if (this.state === 'closed') return;
          await this.processRecord(record, from);
        }
      })
      .catch((err: unknown) => this.fail(err))
      .finally(() => {
        // The last queued step done: later datagrams take the synchronous path again.
        if (--this.chained === 0) this.chain = RESOLVED;
      });
  }

  /** RFC 9146: the connection ID we asked to receive (non-empty) and the one the peer asked for. */
  protected receiveCid: Uint8Array | undefined = undefined;
  protected sendCid: Uint8Array | undefined = undefined;

  /** Length of the connection IDs we receive (0 = none). */
  get cidLength(): number {
    return this.receiveCid?.length ?? 0;
  }

  /** The connection ID the peer puts on records to us, if one was negotiated. */
  get connectionId(): Uint8Array | undefined {
    return this.receiveCid;
  }

  /** Sends application data in one record. */
  send(data: Uint8Array): void {
    if (this.state !== 'established') throw new DtlsSessionClosedError(this.state === 'closed' ? 'DTLS session is closed' : 'DTLS handshake not complete');
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentError('data', 'expected a Uint8Array');
    if (data.length > MAX_PLAINTEXT_LENGTH) throw new InvalidArgumentError('data', `at most ${MAX_PLAINTEXT_LENGTH} bytes per record`);
    if (this.fastHandle >= 0 && (this.hooks as ConnectionHooks<DtlsConnection>).fastSend!(this, data)) return;
    this.transmit(this.encodeOut(ContentType.applicationData, this.writeEpoch, data));
  }

  /** Sends close_notify (RFC 5246 §7.2.1) and closes. */
  close(): void {
    if (this.state === 'closed') return;
    this.sendAlert(AlertLevel.warning, AlertDescription.closeNotify);
    this.shutdown(undefined);
  }

  /** Closes without telling the peer (idle timeout, server shutdown, replaced association). */
  destroy(err?: Error): void {
    if (this.state !== 'closed') this.shutdown(err);
  }

  // ── record layer ──────────────────────────────────────────────────────────────────────────

  /** Handles one record; returns a promise only for handshake records (their steps may be asynchronous). */
  protected processRecord(record: DtlsRecord, from?: { address: string; port: number }): Promise<void> | undefined {
    if (this.fastHandle >= 0) this.reclaim();
    // RFC 6347 §4.1: "If a DTLS implementation receives a packet with an epoch that does not
    // match the current one ... it MAY discard it"; handshake retransmissions recover.
    if (record.epoch !== this.readEpoch) {
      if (this.hx !== null && this.hx.undecryptable && record.epoch < this.readEpoch && this.state === 'handshaking') {
        // The peer's protected records (its Finished) did not authenticate and it now resends
        // its flight from the older epoch: it derived other keys (a wrong PSK, typically), so
        // the handshake can never finish. Report it now rather than at the handshake timeout.
        throw new DtlsHandshakeTimeoutError("the peer's Finished does not authenticate and it retransmits its flight (wrong key?)");
      }
      return undefined;
    }
    // RFC 6347 §4.1.2.6: duplicates "MUST be silently discarded".
    if (!this.readWindow.check(record.sequenceNumber)) return undefined;
    let plaintext = record.fragment;
    let type = record.type;
    if (record.type === ContentType.tls12Cid) {
      // RFC 9146 §4: tls12_cid records only exist under keys and with the CID we issued.
      if (this.readProtection === null || this.receiveCid === undefined || record.cid === undefined || !bytesEqual(record.cid, this.receiveCid)) return undefined;
      let inner: Uint8Array;
      try {
        inner = this.readProtection.openCid(record.version, record.epoch, record.sequenceNumber, record.cid, record.fragment);
      } catch (err) {
        if (err instanceof DtlsError) return undefined;
        throw err;
      }
      // DTLSInnerPlaintext = content || real_type || zeros: the real type is the last non-zero byte.
      let end = inner.length - 1;
      while (end >= 0 && inner[end] === 0) end--;
      if (end < 0) return undefined;
      type = inner[end]!;
      plaintext = inner.subarray(0, end);
    } else if (this.readProtection !== null) {
      try {
        plaintext = this.readProtection.open(record.type, record.version, record.epoch, record.sequenceNumber, record.fragment);
      } catch (err) {
        // RFC 6347 §4.1.2.7: "invalid records SHOULD be silently discarded, thus preserving
        // the association"; an attacker cannot tear the session down with forged records.
        if (err instanceof DtlsError) {
          // Remembered during the handshake: a peer whose protected Finished does not
          // authenticate (a wrong PSK) and then retransmits its flight will never finish.
          if (this.state === 'handshaking' && this.hx !== null) this.hx.undecryptable = true;
          return undefined;
        }
        throw err;
      }
    }
    const newest = record.sequenceNumber > this.readWindow.highest;
    this.readWindow.accept(record.sequenceNumber);
    this.activityAt = clock();
    // RFC 9146 §6: with a CID, the peer's address may change; follow it only for an
    // authenticated record that is newer than every record received so far.
    if (from !== undefined && newest && record.epoch > 0 && this.receiveCid !== undefined && (from.address !== this.remoteAddress || from.port !== this.remotePort)) {
      const previous = peerKeyOf(this.remoteAddress, this.remotePort);
      const previousPort = this.remotePort;
      this.remoteAddress = from.address;
      this.remotePort = from.port;
      (this.hooks as ConnectionHooks<DtlsConnection>).addressChange?.(this, previous, previousPort);
      this.emit('addressChange', previous);
    }
    switch (type) {
      case ContentType.applicationData:
        // RFC 6347 §4.1: application data is only valid in an epoch with keys established.
        if (this.state === 'established' && record.epoch > 0) {
          // Protected data from the peer proves our final flight arrived (RFC 6347 §4.2.4's
          // implicit acknowledgement): it need not be kept for retransmission any more.
          if (this.finalSeq >= 0) this.releaseFlight();
          this.onApplicationData(plaintext);
        }
        return undefined;
      case ContentType.handshake:
        return this.processHandshakeRecord(plaintext, record.epoch);
      case ContentType.changeCipherSpec:
        decodeChangeCipherSpec(plaintext);
        this.onChangeCipherSpec();
        return undefined;
      case ContentType.alert:
        this.processAlert(plaintext);
        return undefined;
      default:
        return undefined;
    }
  }

  /** Encodes one outgoing record in `epoch` with the next sequence number of that epoch. */
  protected encodeOut(type: number, epoch: number, payload: Uint8Array): Uint8Array {
    if (this.fastHandle >= 0) this.reclaim();
    let protection: RecordProtection | null;
    let seq: number;
    if (epoch === this.writeEpoch) {
      protection = this.writeProtection;
      seq = this.writeSeq++;
    } else if (epoch === 0 && this.epoch0Seq >= 0) {
      protection = null;
      seq = this.epoch0Seq++;
    } else {
      throw new DtlsSessionClosedError(`no write state for epoch ${epoch}`);
    }
    // RFC 6347 §4.1: "implementations MUST NOT allow the ... sequence number to wrap".
    if (seq > MAX_SEQUENCE_NUMBER) throw new DtlsSessionClosedError('record sequence number exhausted');
    if (protection !== null && epoch > 0 && this.sendCid !== undefined && this.sendCid.length > 0) {
      // RFC 9146 §4: protected records carry the peer's CID and hide the real content type
      // inside DTLSInnerPlaintext (no padding added).
      const inner = new Uint8Array(payload.length + 1);
      inner.set(payload);
      inner[payload.length] = type;
      const fragment = protection.sealCid(DTLS_1_2, epoch, seq, this.sendCid, inner);
      return encodeRecord({ type: ContentType.tls12Cid, version: DTLS_1_2, epoch, sequenceNumber: seq, cid: this.sendCid, fragment });
    }
    if (protection === null) return encodeRecord({ type, version: DTLS_1_2, epoch, sequenceNumber: seq, fragment: payload });
    // The protected fragment is written after room for the header: one buffer per record.
    const record = protection.seal(type, DTLS_1_2, epoch, seq, payload, RECORD_HEADER_LENGTH);
    writeRecordHeader(record, type, DTLS_1_2, epoch, seq, record.length - RECORD_HEADER_LENGTH);
    return record;
  }

  /** The first record sequence number of epoch 0 (a stateless server mirrors the ClientHello's). */
  protected setInitialWriteSequence(seq: number): void {
    this.writeSeq = seq;
  }

  protected installKeys(master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array, suite: CipherSuiteInfo, isClient: boolean): void {
    const hx = this.handshake;
    const k = deriveTrafficKeys(master, clientRandom, serverRandom);
    // Both directions' keys in one small buffer from node's shared pool (no ArrayBuffer of
    // their own); the salts become numbers inside RecordProtection.
    // The two protections point at the slab itself with their offsets: no typed-array view
    // object per session either.
    const at = keySlab.take();
    const slab = keySlab.slab;
    slab.set(k.clientWriteKey, at);
    slab.set(k.serverWriteKey, at + 16);
    const clientP = new RecordProtection(suite.cipher, slab, k.clientWriteIv, at);
    const serverP = new RecordProtection(suite.cipher, slab, k.serverWriteIv, at + 16);
    hx.pendingWrite = isClient ? clientP : serverP;
    hx.pendingRead = isClient ? serverP : clientP;
  }

  /** Activates the pending read state on ChangeCipherSpec (RFC 5246 §7.1). */
  protected activatePendingRead(): boolean {
    const hx = this.hx;
    if (hx === null || hx.pendingRead === null) return false;
    this.readProtection = hx.pendingRead;
    hx.pendingRead = null;
    this.readEpoch++;
    this.readWindow.reset();
    return true;
  }

  protected resetReadWindow(): void {
    this.readWindow.reset();
  }

  // ── native fast path (server) ─────────────────────────────────────────────────────────────

  /**
   * The record state the server's native fast path needs to carry this session, or undefined
   * when it cannot: not established, keys of an epoch still pending, a connection ID in use (the
   * JS path routes and follows those), work queued behind an asynchronous handshake step, or a
   * suite the addon does not implement (only AES-128-CCM-8 and AES-128-GCM are native).
   */
  fastPathState(): FastPathState | undefined {
    const r = this.readProtection;
    const w = this.writeProtection;
    if (this.state !== 'established' || this.fastHandle >= 0 || this.chained !== 0 || r === null || w === null) return undefined;
    if (this.readEpoch === 0 || this.readEpoch !== this.writeEpoch || this.hx !== null) return undefined;
    if (this.receiveCid !== undefined || (this.sendCid !== undefined && this.sendCid.length > 0)) return undefined;
    const suite = r.nativeSuite();
    if (suite < 0 || w.nativeSuite() !== suite) return undefined;
    return {
      suite,
      epoch: this.readEpoch,
      readKey: r.keyMaterial,
      readKeyOffset: r.keyMaterialOffset,
      readSalt: r.saltValue,
      writeKey: w.keyMaterial,
      writeKeyOffset: w.keyMaterialOffset,
      writeSalt: w.saltValue,
      top: this.readWindow.highest,
      low: this.readWindow.low,
      high: this.readWindow.high,
      writeSeq: this.writeSeq,
    };
  }

  /** The fast path gives the record state back: the JS record layer continues from it. */
  restoreRecordState(top: number, low: number, high: number, writeSeq: number): void {
    this.fastHandle = -1;
    this.readWindow.restore(smallIfInteger(top), low, high);
    this.writeSeq = smallIfInteger(writeSeq);
  }

  private reclaim(): void {
    (this.hooks as ConnectionHooks<DtlsConnection>).reclaim!(this);
    // The hook always restores; if it could not, no stale state may be used.
    if (this.fastHandle >= 0) throw new DtlsSessionClosedError('record state lost by the native fast path');
  }

  /**
   * An application-data record the fast path authenticated (its replay window already updated
   * there): what `processRecord` does after a successful open of such a record.
   */
  deliverFastRecord(data: Uint8Array): void {
    if (this.state !== 'established') return;
    this.activityAt = clock();
    try {
      if (this.finalSeq >= 0) this.releaseFlight();
      this.onApplicationData(data);
    } catch (err) {
      this.fail(err);
    }
  }

  // ── handshake layer ───────────────────────────────────────────────────────────────────────

  private processHandshakeRecord(plaintext: Uint8Array, epoch: number): Promise<void> | undefined {
    const frags = decodeHandshakeFragments(plaintext);
    if (this.hx === null) return this.processLateHandshake(frags, epoch);
    return this.processHandshakeFragments(frags, epoch);
  }

  private async processHandshakeFragments(frags: HandshakeFragment[], epoch: number): Promise<void> {
    for (const frag of frags) {
      const hx = this.hx;
      if (hx === null) {
        // The handshake finished with an earlier fragment of this record.
        await this.processLateHandshake([frag], epoch);
        continue;
      }
      if (frag.messageSeq < this.nextReceiveSeq) {
        // RFC 6347 §4.2.4: receiving a retransmission of the peer's flight means ours was
        // lost; retransmit it. Only the trigger message's first fragment does, to avoid storms.
        if (frag.messageSeq === hx.retransmitTrigger && frag.fragmentOffset === 0 && hx.lastFlight.length > 0) this.sendFlightDatagrams(hx.lastFlight);
        continue;
      }
      hx.reassembler ??= new HandshakeReassembler({ maxMessageSize: this.connectionOptions.maxHandshakeMessageSize ?? 32 * 1024 });
      const msg = hx.reassembler.add(frag, this.nextReceiveSeq);
      if (msg === undefined) continue;
      await this.deliver(msg, epoch);
      // Later messages may already be complete in the reassembler (out-of-order arrival); once
      // the handshake is done the reassembler is gone and must not be recreated.
      for (;;) {
        if (this.state === 'closed') return;
        const next = this.hx?.reassembler?.takeComplete(this.nextReceiveSeq);
        if (next === undefined) break;
        await this.deliver(next, epoch);
      }
    }
  }

  /**
   * Handshake records after the handshake layer is gone: a retransmission of the peer's last
   * flight (resend our final flight while it is kept), or a new, unfragmented message (a
   * renegotiation attempt, which the role refuses). Fragments of new messages are dropped: no
   * reassembly state is created for an established session.
   */
  private processLateHandshake(frags: HandshakeFragment[], epoch: number): Promise<void> | undefined {
    let pending: Promise<void> | undefined;
    for (const frag of frags) {
      if (frag.messageSeq < this.nextReceiveSeq) {
        if (frag.messageSeq === this.nextReceiveSeq - 1 && frag.fragmentOffset === 0 && this.finalSeq >= 0) this.sendFlightDatagrams(this.compactFinalFlight());
        continue;
      }
      if (frag.fragmentOffset !== 0 || frag.body.length !== frag.length) continue;
      const msg: HandshakeMessage = { msgType: frag.msgType, messageSeq: frag.messageSeq, body: frag.body };
      pending = pending === undefined ? this.deliver(msg, epoch) : pending.then(() => this.deliver(msg, epoch));
    }
    return pending;
  }

  private async deliver(msg: HandshakeMessage, epoch: number): Promise<void> {
    this.nextReceiveSeq = msg.messageSeq + 1;
    this.hx?.reassembler?.prune(this.nextReceiveSeq);
    await this.onHandshakeMessage(msg, epoch);
  }

  /** Adds a received or sent handshake message to the transcript (unfragmented form, §4.2.6). */
  protected addToTranscript(msg: HandshakeMessage): void {
    const hx = this.handshake;
    if (hx.transcript === NO_TRANSCRIPT) hx.transcript = [];
    const encoded = encodeHandshakeMessage(msg);
    hx.transcript.push(encoded);
    (hx.transcriptHasher ??= new Sha256()).update(encoded);
  }

  protected transcriptHash(): Uint8Array {
    return this.hx?.transcriptHasher?.digest() ?? sha256(this.transcript);
  }

  /** Appends a handshake message to the flight being built and to the transcript. */
  protected queueHandshake(msgType: number, body: Uint8Array): void {
    const hx = this.handshake;
    const handshake = { msgType, messageSeq: hx.nextSendSeq++, body };
    this.addToTranscript(handshake);
    if (hx.flight === NO_FLIGHT) hx.flight = [];
    hx.flight.push({ epoch: this.writeEpoch, type: ContentType.handshake, payload: body, msgType, messageSeq: handshake.messageSeq });
  }

  /** Appends ChangeCipherSpec and switches the write side to the pending state. */
  protected queueChangeCipherSpec(): void {
    const hx = this.handshake;
    if (hx.flight === NO_FLIGHT) hx.flight = [];
    hx.flight.push(this.writeEpoch === 0 ? CCS_EPOCH_0 : { epoch: this.writeEpoch, type: ContentType.changeCipherSpec, payload: CHANGE_CIPHER_SPEC, msgType: -1, messageSeq: -1 });
    if (hx.pendingWrite === null) throw new DtlsHandshakeFailureError('ChangeCipherSpec without keys');
    // The epoch-0 write state stays while a flight may still resend epoch-0 messages.
    if (this.writeEpoch === 0) this.epoch0Seq = this.writeSeq;
    this.writeEpoch++;
    this.writeProtection = hx.pendingWrite;
    this.writeSeq = 0;
    hx.pendingWrite = null;
  }

  /**
   * Sends the flight built so far. `expectReply`: the flight is answered by a peer flight, so
   * the retransmission timer runs until that arrives (RFC 6347 §4.2.4); the final flight of a
   * handshake is instead retransmitted when the peer retransmits its own.
   */
  protected flushFlight(expectReply: boolean): void {
    const hx = this.handshake;
    hx.lastFlight = hx.flight;
    hx.lastFlightExpectsReply = expectReply;
    hx.flight = NO_FLIGHT;
    hx.retransmitTrigger = this.nextReceiveSeq - 1;
    this.stopTimer();
    hx.timeoutMs = this.connectionOptions.retransmit?.initialMs ?? 1000;
    hx.retransmissions = 0;
    this.sendFlightDatagrams(hx.lastFlight);
    if (expectReply) this.startTimer();
  }

  /** The peer's reply arrived: stop retransmitting our flight. */
  protected flightAnswered(): void {
    this.stopTimer();
  }

  private sendFlightDatagrams(flight: readonly FlightItem[]): void {
    const datagrams: Uint8Array[] = [];
    let current: Uint8Array[] = [];
    let size = 0;
    const push = (rec: Uint8Array): void => {
      if (size + rec.length > this.mtu && current.length > 0) {
        datagrams.push(current.length === 1 ? current[0]! : Buffer.concat(current));
        current = [];
        size = 0;
      }
      current.push(rec);
      size += rec.length;
    };
    for (const item of flight) {
      if (item.type !== ContentType.handshake) {
        push(this.encodeOut(item.type, item.epoch, item.payload));
        continue;
      }
      const protection = item.epoch === this.writeEpoch ? this.writeProtection : null;
      const overhead = RECORD_HEADER_LENGTH + (protection?.expansion ?? 0) + this.recordOverhead;
      // Start a new datagram rather than splitting a small message across two.
      const room = this.mtu - size - overhead;
      const handshake: HandshakeMessage = { msgType: item.msgType, messageSeq: item.messageSeq, body: item.payload };
      const whole = encodeHandshakeMessage(handshake);
      if (whole.length <= room || (current.length === 0 && whole.length <= this.mtu - overhead)) {
        push(this.encodeOut(item.type, item.epoch, whole));
        continue;
      }
      for (const frag of fragmentHandshakeMessage(handshake, this.mtu - overhead)) push(this.encodeOut(item.type, item.epoch, frag));
    }
    if (current.length > 0) datagrams.push(current.length === 1 ? current[0]! : Buffer.concat(current));
    for (const d of datagrams) this.transmit(d);
  }

  /** The kept final flight, rebuilt from its compact form: ChangeCipherSpec (epoch 0) and Finished. */
  private compactFinalFlight(): FlightItem[] {
    const verify = new Uint8Array(12);
    const view = new DataView(verify.buffer);
    view.setInt32(0, this.final0);
    view.setInt32(4, this.final1);
    view.setInt32(8, this.final2);
    return [CCS_EPOCH_0, { epoch: this.writeEpoch, type: ContentType.handshake, payload: verify, msgType: HandshakeType.finished, messageSeq: this.finalSeq }];
  }

  /** Forgets the last flight and, once in a protected epoch, the epoch-0 write state. */
  private releaseFlight(): void {
    this.finalSeq = -1;
    if (this.hx !== null) this.hx.lastFlight = NO_FLIGHT;
    if (this.writeEpoch > 0) this.epoch0Seq = -1;
  }

  /** Extra bytes per record beyond header and AEAD (the connection ID, when one is in use). */
  protected get recordOverhead(): number {
    return this.sendCid === undefined || this.sendCid.length === 0 ? 0 : this.sendCid.length + 1;
  }

  private startTimer(): void {
    const hx = this.handshake;
    hx.timer = setTimeout(() => this.onTimer(), hx.timeoutMs);
    hx.timer.unref();
  }

  private stopTimer(): void {
    const hx = this.hx;
    if (hx === null) return;
    if (hx.timer !== undefined) clearTimeout(hx.timer);
    hx.timer = undefined;
  }

  private onTimer(): void {
    const hx = this.hx;
    if (this.state === 'closed' || hx === null) return;
    hx.timer = undefined;
    const maxRetransmissions = this.connectionOptions.retransmit?.maxRetransmissions ?? 6;
    if (hx.retransmissions >= maxRetransmissions) {
      this.fail(new DtlsHandshakeTimeoutError(`no answer after ${hx.retransmissions} retransmissions`));
      return;
    }
    hx.retransmissions++;
    // RFC 6347 §4.2.4.1: "double the value at each retransmission, up to no less than the RFC
    // 6298 maximum of 60 seconds".
    hx.timeoutMs = Math.min(hx.timeoutMs * 2, this.connectionOptions.retransmit?.maxMs ?? 60_000);
    this.sendFlightDatagrams(hx.lastFlight);
    this.startTimer();
  }

  // ── alerts, data, teardown ────────────────────────────────────────────────────────────────

  protected sendAlert(level: number, description: number): void {
    try {
      this.transmit(this.encodeOut(ContentType.alert, this.writeEpoch, encodeAlert({ level, description })));
    } catch {
      // A teardown alert that cannot be sent changes nothing.
    }
  }

  private processAlert(plaintext: Uint8Array): void {
    const alert = decodeAlert(plaintext);
    if (alert.description === AlertDescription.closeNotify) {
      // RFC 5246 §7.2.1: answer close_notify with close_notify and drop the session.
      this.sendAlert(AlertLevel.warning, AlertDescription.closeNotify);
      this.shutdown(undefined);
      return;
    }
    if (alert.level === AlertLevel.fatal) {
      this.shutdown(new DtlsAlertReceivedError(alert.description, alertName(alert.description)));
      return;
    }
    this.emit('alert', alert);
  }

  protected onApplicationData(data: Uint8Array): void {
    (this.hooks as ConnectionHooks<DtlsConnection>).data?.(this, data);
    this.emit('data', data);
  }

  /** Turns a failure into the matching fatal alert (RFC 5246 §7.2.2) and closes. */
  protected fail(err: unknown): void {
    if (this.state === 'closed') return;
    const alert = alertFor(err);
    if (alert !== undefined) this.sendAlert(AlertLevel.fatal, alert);
    this.shutdown(err instanceof Error ? err : new Error(String(err)));
  }

  private shutdown(err: Error | undefined): void {
    if (this.state === 'closed') return;
    // The native fast path forgets (and wipes) its copy of the keys.
    if (this.fastHandle >= 0) {
      try {
        this.reclaim();
      } catch {
        this.fastHandle = -1;
      }
    }
    this.state = 'closed';
    this.stopTimer();
    this.hx = null;
    this.finalSeq = -1;
    this.releaseHandshakeState();
    (this.hooks as ConnectionHooks<DtlsConnection>).closed?.(this, err);
    this.emit('close', err);
  }

  /** Marks the handshake complete. */
  protected markEstablished(): void {
    this.stopTimer();
    this.state = 'established';
    this.wasEstablished = true;
    // Nothing of the handshake outlives it but, until the peer's first protected record
    // acknowledges it, the final flight in compact form: an idle session is its keys,
    // sequence numbers, window and peer.
    const hx = this.hx;
    if (hx !== null) {
      // A flight that waited for a reply got it (the peer's Finished): nothing to resend.
      if (!hx.lastFlightExpectsReply) this.keepFinalFlight(hx.lastFlight);
      else if (this.writeEpoch > 0) this.epoch0Seq = -1;
      this.hx = null;
    }
    this.releaseHandshakeState();
    (this.hooks as ConnectionHooks<DtlsConnection>).established?.(this);
    this.emit('established');
  }

  /** Keeps a final flight of ChangeCipherSpec + Finished as four numbers (RFC 6347 §4.2.4). */
  private keepFinalFlight(flight: FlightItem[]): void {
    const fin = flight[1];
    if (flight.length !== 2 || flight[0]!.type !== ContentType.changeCipherSpec || fin === undefined || fin.msgType !== HandshakeType.finished || fin.payload.length !== 12) {
      // Not the shape every final flight of ours has; nothing is kept (the peer's own
      // retransmission timeout then ends its handshake attempt).
      this.epoch0Seq = -1;
      return;
    }
    const p = fin.payload;
    this.final0 = readI32(p, 0);
    this.final1 = readI32(p, 4);
    this.final2 = readI32(p, 8);
    this.finalSeq = fin.messageSeq;
  }

  /** Drops the role's handshake-only state (randoms, secrets, keys of the exchange). */
  protected abstract releaseHandshakeState(): void;

  /** Bytes of the role's handshake-only state still held. */
  protected abstract handshakeSecretBytes(): number;

  /** What this session still holds, by purpose: a debugging aid, also for tests. */
  retainedState(): RetainedState {
    const hx = this.hx;
    let transcript = 0;
    let flight = this.finalSeq >= 0 ? 12 : 0;
    if (hx !== null) {
      for (const t of hx.transcript) transcript += t.length;
      for (const f of hx.lastFlight) flight += f.payload.length;
      for (const f of hx.flight) flight += f.payload.length;
    }
    const reassembler = hx?.reassembler;
    return {
      handshakeSecrets: this.handshakeSecretBytes(),
      transcript,
      reassembler: reassembler === null || reassembler === undefined ? 0 : reassembler.bufferedBytes + 1,
      flight,
      epoch0WriteState: this.epoch0Seq >= 0 || this.writeEpoch === 0 ? 1 : 0,
      trafficKeys: (this.writeProtection?.keyBytes ?? 0) + (this.readProtection?.keyBytes ?? 0) + (hx?.pendingRead?.keyBytes ?? 0) + (hx?.pendingWrite?.keyBytes ?? 0),
    };
  }

  protected abstract onHandshakeMessage(msg: HandshakeMessage, epoch: number): Promise<void>;
  protected abstract onChangeCipherSpec(): void;
}

/** Shared empty values: an idle session must not keep empty arrays of its own. */
const NO_FLIGHT: FlightItem[] = Object.freeze([]) as unknown as FlightItem[];
const NO_TRANSCRIPT: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];
/**
 * Traffic keys of sessions, 32 bytes each, carved from slabs used for nothing else: node's
 * general Buffer pool would let one session's keys keep an 8 KiB pool of unrelated short-lived
 * buffers alive. A slab is freed by the GC once no session's keys point into it.
 */
const keySlab = {
  slab: new Uint8Array(0),
  used: 0,
  /** Offset of 32 fresh bytes in `slab` (read `slab` after the call: it may be a new one). */
  take(): number {
    if (this.used + 32 > this.slab.length) {
      this.slab = new Uint8Array(4096);
      this.used = 0;
    }
    const at = this.used;
    this.used += 32;
    return at;
  },
};
const CCS_EPOCH_0: FlightItem = Object.freeze({ epoch: 0, type: ContentType.changeCipherSpec, payload: CHANGE_CIPHER_SPEC, msgType: -1, messageSeq: -1 });
const RESOLVED: Promise<void> = Promise.resolve();
const NO_IDENTITY: PeerIdentity = Object.freeze({ type: 'none' });
const textDecoder = new TextDecoder();

function readI32(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

/** A flat copy of `s` (one string object, not a tree of concatenations); `s` is ASCII. */
export function flatString(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

export function peerKeyOf(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Public random values (Hello randoms, session IDs) come from a pool filled by the CSPRNG 4 KiB
 * at a time: `randomBytes(32)` per value cost a native call and a copy per handshake. Bytes are
 * handed out once and zeroed in the pool as they are taken. Never used for secrets.
 */
const RANDOM_POOL = new Uint8Array(4096);
let randomPoolUsed = RANDOM_POOL.length;

export function newRandom(): Uint8Array {
  const out = new Uint8Array(32);
  if (randomPoolUsed + 32 > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomPoolUsed = 0;
  }
  const o = randomPoolUsed;
  for (let i = 0; i < 32; i++) {
    out[i] = RANDOM_POOL[o + i]!;
    RANDOM_POOL[o + i] = 0;
  }
  randomPoolUsed = o + 32;
  return out;
}

function alertFor(err: unknown): number | undefined {
  if (err instanceof DtlsAlertReceivedError || err instanceof DtlsHandshakeTimeoutError || err instanceof DtlsSessionClosedError) return undefined;
  if (err instanceof DtlsDecodeError) return AlertDescription.decodeError;
  if (err instanceof DtlsReassemblyLimitError) return AlertDescription.handshakeFailure;
  if (err instanceof DtlsUnexpectedMessageError) return AlertDescription.unexpectedMessage;
  if (err instanceof DtlsDecryptError) return AlertDescription.decryptError;
  if (err instanceof DtlsUnknownPskIdentityError) return AlertDescription.unknownPskIdentity;
  if (err instanceof DtlsBadCertificateError) return AlertDescription.badCertificate;
  if (err instanceof DtlsHandshakeFailureError) return AlertDescription.handshakeFailure;
  return AlertDescription.internalError;
}
