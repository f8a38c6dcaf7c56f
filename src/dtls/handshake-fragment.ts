/**
 * DTLS handshake message framing (RFC 6347 §4.2.2) and fragment reassembly (§4.2.3).
 *
 *   struct {
 *     HandshakeType msg_type;     // 1
 *     uint24 length;              // 3  length of the whole message body
 *     uint16 message_seq;         // 2
 *     uint24 fragment_offset;     // 3
 *     uint24 fragment_length;     // 3
 *     opaque body[fragment_length];
 *   } Handshake;
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { DtlsDecodeError, DtlsReassemblyLimitError } from './errors.js';

export const HANDSHAKE_HEADER_LENGTH = 12;

export interface HandshakeFragment {
  msgType: number;
  /** Length of the complete message body. */
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  body: Uint8Array;
}

/** A complete (reassembled) handshake message. */
export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Uint8Array;
}

/** Decodes every handshake fragment of a record (a record may carry several, §4.2.3). */
export function decodeHandshakeFragments(fragment: Uint8Array): HandshakeFragment[] {
  const r = new ByteReader(fragment, 'handshake');
  const out: HandshakeFragment[] = [];
  while (r.remaining > 0) {
    const msgType = r.u8();
    const length = r.u24();
    const messageSeq = r.u16();
    const fragmentOffset = r.u24();
    const fragmentLength = r.u24();
    if (fragmentOffset + fragmentLength > length) {
      throw new DtlsDecodeError(`handshake: fragment ${fragmentOffset}+${fragmentLength} beyond message length ${length}`);
    }
    const body = r.bytes(fragmentLength);
    out.push({ msgType, length, messageSeq, fragmentOffset, body });
  }
  return out;
}

function header(w: ByteWriter, msgType: number, length: number, messageSeq: number, offset: number, fragLen: number): void {
  w.u8(msgType).u24(length).u16(messageSeq).u24(offset).u24(fragLen);
}

/** The unfragmented encoding; this form (offset 0, fragment_length = length) is what the transcript hashes. */
export function encodeHandshakeMessage(msg: HandshakeMessage): Uint8Array {
  const w = new ByteWriter(HANDSHAKE_HEADER_LENGTH + msg.body.length);
  header(w, msg.msgType, msg.body.length, msg.messageSeq, 0, msg.body.length);
  w.bytes(msg.body);
  return w.finish();
}

/**
 * Splits a message into fragments whose encoding (header included) is at most `maxFragment`
 * bytes; RFC 6347 §4.2.3: "each DTLS message MUST fit within a single transport layer datagram",
 * so messages above the PMTU are fragmented.
 */
export function fragmentHandshakeMessage(msg: HandshakeMessage, maxFragment: number): Uint8Array[] {
  const room = Math.max(1, maxFragment - HANDSHAKE_HEADER_LENGTH);
  const total = msg.body.length;
  if (total <= room) return [encodeHandshakeMessage(msg)];
  const out: Uint8Array[] = [];
  for (let off = 0; off < total; off += room) {
    const len = Math.min(room, total - off);
    const w = new ByteWriter(HANDSHAKE_HEADER_LENGTH + len);
    header(w, msg.msgType, total, msg.messageSeq, off, len);
    w.bytes(msg.body.subarray(off, off + len));
    out.push(w.finish());
  }
  return out;
}

export interface ReassemblerOptions {
  /** Largest handshake message body accepted (default 32 KiB: a certificate chain of a few certs). */
  maxMessageSize?: number;
  /** How many messages ahead of the next expected one may be buffered (default 8). */
  maxMessagesAhead?: number;
  /** Total bytes buffered across incomplete and early messages (default 64 KiB); beyond it fragments are dropped. */
  maxBufferedBytes?: number;
}

interface Pending {
  msgType: number;
  buf: Uint8Array;
  /** Sorted, disjoint [start, end) ranges received so far. */
  ranges: Array<[number, number]>;
}

/**
 * Reassembles fragmented handshake messages, buffering at most `maxMessagesAhead` future
 * messages each at most `maxMessageSize` bytes, so a peer cannot make us hold unbounded memory.
 */
export class HandshakeReassembler {
  readonly maxMessageSize: number;
  readonly maxMessagesAhead: number;
  readonly maxBufferedBytes: number;
  private readonly pending = new Map<number, Pending>();
  /** Complete messages that arrived before the one expected next. */
  private readonly ready = new Map<number, HandshakeMessage>();
  private buffered = 0;

  /** Bytes of fragments and early messages held. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  constructor(opts: ReassemblerOptions = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? 32 * 1024;
    this.maxMessagesAhead = opts.maxMessagesAhead ?? 8;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 64 * 1024;
  }

  /**
   * Adds a fragment for message_seq ≥ `nextSeq`; returns the message expected next
   * (`nextSeq`) once every byte of it arrived. Later messages that complete early are kept for
   * `takeComplete()`. Fragments of already-processed or too-distant messages are ignored.
   */
  add(frag: HandshakeFragment, nextSeq: number): HandshakeMessage | undefined {
    if (frag.messageSeq < nextSeq || frag.messageSeq >= nextSeq + this.maxMessagesAhead) return undefined;
    if (frag.length > this.maxMessageSize) {
      throw new DtlsReassemblyLimitError(`handshake message of ${frag.length} bytes exceeds the cap of ${this.maxMessageSize}`);
    }
    if (this.ready.has(frag.messageSeq)) return undefined;
    if (frag.fragmentOffset === 0 && frag.body.length === frag.length && !this.pending.has(frag.messageSeq)) {
      return this.completed({ msgType: frag.msgType, messageSeq: frag.messageSeq, body: frag.body }, nextSeq);
    }
    let p = this.pending.get(frag.messageSeq);
    if (p === undefined) {
      if (this.buffered + frag.length > this.maxBufferedBytes) return undefined;
      this.buffered += frag.length;
      p = { msgType: frag.msgType, buf: new Uint8Array(frag.length), ranges: [] };
      this.pending.set(frag.messageSeq, p);
    } else if (p.msgType !== frag.msgType || p.buf.length !== frag.length) {
      // RFC 6347 §4.2.3 requires every fragment of a message to repeat its type and length.
      throw new DtlsDecodeError(`handshake: fragments of message ${frag.messageSeq} disagree on type or length`);
    }
    const start = frag.fragmentOffset;
    const end = start + frag.body.length;
    p.buf.set(frag.body, start);
    p.ranges = mergeRange(p.ranges, start, end);
    const first = p.ranges[0];
    if (first !== undefined && first[0] === 0 && first[1] === p.buf.length) {
      this.pending.delete(frag.messageSeq);
      this.buffered -= p.buf.length;
      return this.completed({ msgType: p.msgType, messageSeq: frag.messageSeq, body: p.buf }, nextSeq);
    }
    return undefined;
  }

  private completed(msg: HandshakeMessage, nextSeq: number): HandshakeMessage | undefined {
    if (msg.messageSeq === nextSeq) return msg;
    if (this.buffered + msg.body.length > this.maxBufferedBytes) return undefined;
    this.buffered += msg.body.length;
    this.ready.set(msg.messageSeq, msg);
    return undefined;
  }

  /** Takes the early-completed message with sequence `seq`, if there is one. */
  takeComplete(seq: number): HandshakeMessage | undefined {
    const msg = this.ready.get(seq);
    if (msg === undefined) return undefined;
    this.ready.delete(seq);
    this.buffered -= msg.body.length;
    return msg;
  }

  /** Drops buffered fragments and messages below `nextSeq`. */
  prune(nextSeq: number): void {
    for (const [seq, p] of this.pending) {
      if (seq < nextSeq) {
        this.pending.delete(seq);
        this.buffered -= p.buf.length;
      }
    }
    for (const [seq, m] of this.ready) {
      if (seq < nextSeq) {
        this.ready.delete(seq);
        this.buffered -= m.body.length;
      }
    }
  }

  clear(): void {
    this.pending.clear();
    this.ready.clear();
    this.buffered = 0;
  }

  get bufferedMessages(): number {
    return this.pending.size + this.ready.size;
  }
}

function mergeRange(ranges: Array<[number, number]>, start: number, end: number): Array<[number, number]> {
  if (end <= start) return ranges;
  const out: Array<[number, number]> = [];
  let s = start;
  let e = end;
  for (const [a, b] of ranges) {
    if (b < s || a > e) out.push([a, b]);
    else {
      s = Math.min(s, a);
      e = Math.max(e, b);
    }
  }
  out.push([s, e]);
  out.sort((x, y) => x[0] - y[0]);
  return out;
}
