/**
 * DTLS 1.2 record codec (RFC 6347 §4.1): pure bytes ⇄ structs, no keys, no state.
 *
 *   struct {
 *     ContentType type;              // 1
 *     ProtocolVersion version;       // 2
 *     uint16 epoch;                  // 2
 *     uint48 sequence_number;        // 6
 *     [opaque cid[cid_length];]      // only for tls12_cid records (RFC 9146 §4)
 *     uint16 length;                 // 2
 *     opaque fragment[length];
 *   } DTLSPlaintext / DTLSCiphertext;
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { ContentType, DTLS_1_0, DTLS_1_2 } from './constants.js';
import { DtlsDecodeError } from './errors.js';

export const RECORD_HEADER_LENGTH = 13;
/** RFC 6347 §4.1 / RFC 5246 §6.2.3: a DTLSCiphertext fragment MUST NOT exceed 2^14 + 2048. */
export const MAX_CIPHERTEXT_LENGTH = 16384 + 2048;
/** RFC 5246 §6.2.1: the plaintext fragment length MUST NOT exceed 2^14. */
export const MAX_PLAINTEXT_LENGTH = 16384;
export const MAX_SEQUENCE_NUMBER = 2 ** 48 - 1;

export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  /** 48-bit record sequence number (a safe integer). */
  sequenceNumber: number;
  /** RFC 9146 connection ID; present only on tls12_cid records. */
  cid?: Uint8Array;
  fragment: Uint8Array;
}

const KNOWN_TYPES = new Set<number>([
  ContentType.changeCipherSpec,
  ContentType.alert,
  ContentType.handshake,
  ContentType.applicationData,
  ContentType.tls12Cid,
]);

/** Writes a DTLSPlaintext/DTLSCiphertext header (no CID) for a fragment of `length` bytes at the start of `buf`. */
export function writeRecordHeader(buf: Uint8Array, type: number, version: number, epoch: number, seq: number, length: number): void {
  buf[0] = type;
  buf[1] = version >>> 8;
  buf[2] = version & 0xff;
  buf[3] = epoch >>> 8;
  buf[4] = epoch & 0xff;
  const hi = Math.floor(seq / 0x100000000);
  buf[5] = hi >>> 8;
  buf[6] = hi & 0xff;
  buf[7] = (seq >>> 24) & 0xff;
  buf[8] = (seq >>> 16) & 0xff;
  buf[9] = (seq >>> 8) & 0xff;
  buf[10] = seq & 0xff;
  buf[11] = length >>> 8;
  buf[12] = length & 0xff;
}

export function encodeRecord(record: DtlsRecord): Uint8Array {
  const cidLen = record.cid?.length ?? 0;
  const w = new ByteWriter(RECORD_HEADER_LENGTH + cidLen + record.fragment.length);
  w.u8(record.type).u16(record.version).u16(record.epoch).u48(record.sequenceNumber);
  if (record.cid !== undefined) w.bytes(record.cid);
  w.vector(2, record.fragment);
  return w.finish();
}

/**
 * Decodes one record at the start of `buf`; returns it and the number of bytes it took.
 * `cidLength` is the length of connection IDs we issued (0 = none negotiated).
 */
export function decodeRecord(buf: Uint8Array, cidLength = 0): { record: DtlsRecord; size: number } {
  const r = new ByteReader(buf, 'record');
  const type = r.u8();
  if (!KNOWN_TYPES.has(type)) throw new DtlsDecodeError(`record: unknown content type ${type}`);
  const version = r.u16();
  // RFC 6347 §4.1: records of DTLS 1.0 version are accepted for the initial ClientHello, which
  // many clients send with the lowest version they support.
  if (version !== DTLS_1_2 && version !== DTLS_1_0) {
    throw new DtlsDecodeError(`record: unsupported version 0x${version.toString(16)}`);
  }
  const epoch = r.u16();
  const sequenceNumber = r.u48();
  let cid: Uint8Array | undefined;
  if (type === ContentType.tls12Cid) {
    if (cidLength === 0) throw new DtlsDecodeError('record: tls12_cid record but no connection ID negotiated');
    cid = r.bytes(cidLength);
  }
  const fragment = r.vector(2, 0, MAX_CIPHERTEXT_LENGTH, 'fragment');
  const record: DtlsRecord = { type, version, epoch, sequenceNumber, fragment };
  if (cid !== undefined) record.cid = cid;
  return { record, size: r.offset };
}

/**
 * Splits a datagram into its records (RFC 6347 §4.1.1: several records may share a datagram).
 * RFC 6347 §4.1.2.7: "invalid records SHOULD be silently discarded"; since a bad length
 * leaves the rest of the datagram unparseable, decoding stops at the first invalid record
 * and returns the well-formed ones before it.
 */
export function decodeDatagram(datagram: Uint8Array, cidLength = 0): DtlsRecord[] {
  const out: DtlsRecord[] = [];
  let offset = 0;
  const n = datagram.length;
  // The same checks as decodeRecord, read in place: this runs for every datagram received, and
  // the reader objects and intermediate views would be garbage per record.
  while (offset < n) {
    const headerEnd = offset + RECORD_HEADER_LENGTH - 2;
    const type = datagram[offset]!;
    if (!KNOWN_TYPES.has(type)) break;
    if (headerEnd + 2 > n) break;
    const version = (datagram[offset + 1]! << 8) | datagram[offset + 2]!;
    if (version !== DTLS_1_2 && version !== DTLS_1_0) break;
    const epoch = (datagram[offset + 3]! << 8) | datagram[offset + 4]!;
    const seqHi = (datagram[offset + 5]! << 8) | datagram[offset + 6]!;
    const seqLo = ((datagram[offset + 7]! << 24) | (datagram[offset + 8]! << 16) | (datagram[offset + 9]! << 8) | datagram[offset + 10]!) >>> 0;
    // Small values as 32-bit integers (see ByteReader.u48): no heap number per stored value.
    const sequenceNumber = seqHi === 0 && seqLo <= 0x7fff_ffff ? seqLo | 0 : seqHi * 0x1_0000_0000 + seqLo;
    let p = headerEnd;
    let cid: Uint8Array | undefined;
    if (type === ContentType.tls12Cid) {
      if (cidLength === 0 || p + cidLength > n) break;
      cid = datagram.subarray(p, p + cidLength);
      p += cidLength;
    }
    if (p + 2 > n) break;
    const length = (datagram[p]! << 8) | datagram[p + 1]!;
    p += 2;
    if (length > MAX_CIPHERTEXT_LENGTH || p + length > n) break;
    const record: DtlsRecord = { type, version, epoch, sequenceNumber, fragment: datagram.subarray(p, p + length) };
    if (cid !== undefined) record.cid = cid;
    out.push(record);
    offset = p + length;
  }
  return out;
}
