import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContentType, DTLS_1_2 } from '../../src/dtls/constants.js';
import { decodeDatagram, decodeRecord, encodeRecord, RECORD_HEADER_LENGTH, writeRecordHeader } from '../../src/dtls/record.js';
import { isRootlineError } from '../../src/errors.js';

describe('DTLS record codec', () => {
  it('round-trips a record with a 48-bit sequence number', () => {
    const rec = { type: ContentType.applicationData, version: DTLS_1_2, epoch: 0x1234, sequenceNumber: 2 ** 48 - 2, fragment: Uint8Array.of(1, 2, 3) };
    const bytes = encodeRecord(rec);
    assert.equal(bytes.length, RECORD_HEADER_LENGTH + 3);
    assert.deepEqual([...bytes.subarray(0, 13)], [23, 0xfe, 0xfd, 0x12, 0x34, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0, 3]);
    const { record, size } = decodeRecord(bytes);
    assert.equal(size, bytes.length);
    assert.equal(record.sequenceNumber, 2 ** 48 - 2);
    assert.equal(record.epoch, 0x1234);
    assert.deepEqual([...record.fragment], [1, 2, 3]);
  });

  it('splits a datagram holding several records', () => {
    const a = encodeRecord({ type: 22, version: DTLS_1_2, epoch: 0, sequenceNumber: 1, fragment: Uint8Array.of(9) });
    const b = encodeRecord({ type: 20, version: DTLS_1_2, epoch: 0, sequenceNumber: 2, fragment: Uint8Array.of(1) });
    const recs = decodeDatagram(Buffer.concat([a, b]));
    assert.deepEqual(recs.map((r) => [r.type, r.sequenceNumber]), [[22, 1], [20, 2]]);
  });

  it('keeps the records before a truncated one and drops the rest', () => {
    const a = encodeRecord({ type: 22, version: DTLS_1_2, epoch: 0, sequenceNumber: 1, fragment: Uint8Array.of(9) });
    const b = encodeRecord({ type: 22, version: DTLS_1_2, epoch: 0, sequenceNumber: 2, fragment: new Uint8Array(10) });
    const recs = decodeDatagram(Buffer.concat([a, b.subarray(0, 15)]));
    assert.equal(recs.length, 1);
  });

  it('rejects unknown content types and versions with ERR_DTLS_DECODE', () => {
    const good = encodeRecord({ type: 22, version: DTLS_1_2, epoch: 0, sequenceNumber: 1, fragment: Uint8Array.of(9) });
    const badType = Uint8Array.from(good);
    badType[0] = 99;
    assert.throws(() => decodeRecord(badType), (e) => isRootlineError(e, 'ERR_DTLS_DECODE'));
    const badVersion = Uint8Array.from(good);
    badVersion[2] = 0x03;
    assert.throws(() => decodeRecord(badVersion), (e) => isRootlineError(e, 'ERR_DTLS_DECODE'));
  });

  it('reads the connection ID of tls12_cid records only when one was negotiated', () => {
    const cid = Uint8Array.of(0xaa, 0xbb, 0xcc, 0xdd);
    const bytes = encodeRecord({ type: ContentType.tls12Cid, version: DTLS_1_2, epoch: 1, sequenceNumber: 5, cid, fragment: Uint8Array.of(7, 7) });
    const { record } = decodeRecord(bytes, 4);
    assert.deepEqual([...record.cid!], [...cid]);
    assert.deepEqual([...record.fragment], [7, 7]);
    assert.throws(() => decodeRecord(bytes, 0), (e) => isRootlineError(e, 'ERR_DTLS_DECODE'));
  });

  it('writeRecordHeader writes the header encodeRecord does (sequence numbers across 32 bits)', () => {
    for (const seq of [0, 1, 0xffffffff, 2 ** 32, 2 ** 40 + 0x1234567, 2 ** 48 - 1]) {
      const fragment = Uint8Array.of(9, 8, 7, 6);
      const expected = encodeRecord({ type: ContentType.alert, version: DTLS_1_2, epoch: 0xabcd, sequenceNumber: seq, fragment });
      const got = new Uint8Array(RECORD_HEADER_LENGTH + fragment.length);
      writeRecordHeader(got, ContentType.alert, DTLS_1_2, 0xabcd, seq, fragment.length);
      got.set(fragment, RECORD_HEADER_LENGTH);
      assert.deepEqual([...got], [...expected]);
    }
  });
});
