/**
 * Property tests: random and mutated records and handshake messages only ever produce typed
 * DTLS errors (ERR_DTLS_*), never a crash or an untyped exception.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as hs from '../../src/dtls/handshake.js';
import { decodeHandshakeFragments, fragmentHandshakeMessage, HandshakeReassembler } from '../../src/dtls/handshake-fragment.js';
import { decodeDatagram, decodeRecord, encodeRecord, type DtlsRecord } from '../../src/dtls/record.js';
import { RecordProtection } from '../../src/dtls/record-protection.js';
import { decodeU16List, decodeU8List, decodeOpaque8 } from '../../src/dtls/extensions.js';
import { DtlsError } from '../../src/dtls/errors.js';

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DtlsError, `untyped error escaped: ${String(err)}`);
    assert.match(err.code, /^ERR_DTLS_/);
  }
}

const sampleClientHello = hs.encodeClientHello({
  clientVersion: 0xfefd, random: new Uint8Array(32).fill(1), sessionId: new Uint8Array(0), cookie: new Uint8Array(16).fill(2),
  cipherSuites: [0xc0a8, 0x00a8, 0xc0ae], compressionMethods: [0],
  extensions: [{ type: 23, data: new Uint8Array(0) }, { type: 10, data: Uint8Array.of(0, 2, 0, 23) }, { type: 13, data: Uint8Array.of(0, 2, 4, 3) }],
});

const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
  ['ClientHello', hs.decodeClientHello],
  ['ServerHello', hs.decodeServerHello],
  ['HelloVerifyRequest', hs.decodeHelloVerifyRequest],
  ['Certificate', hs.decodeCertificateList],
  ['RawPublicKey', hs.decodeRawPublicKeyCertificate],
  ['SKE PSK', hs.decodePskServerKeyExchange],
  ['SKE ECDHE', hs.decodeEcdheServerKeyExchange],
  ['CertificateRequest', hs.decodeCertificateRequest],
  ['CKE PSK', hs.decodePskClientKeyExchange],
  ['CKE ECDHE', hs.decodeEcdheClientKeyExchange],
  ['CertificateVerify', hs.decodeCertificateVerify],
  ['Finished', hs.decodeFinished],
  ['Alert', hs.decodeAlert],
  ['ChangeCipherSpec', hs.decodeChangeCipherSpec],
  ['ServerHelloDone', (b) => hs.decodeEmpty(b, 'ServerHelloDone')],
  ['u16 list', (b) => decodeU16List(b, 'x')],
  ['u8 list', (b) => decodeU8List(b, 'x')],
  ['opaque8', (b) => decodeOpaque8(b, 'x')],
];

const mutated = (seed: Uint8Array) =>
  fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat()).map(([flips, cut]) => {
    const b = Uint8Array.from(seed);
    for (const [i, v] of flips) if (b.length > 0) b[i % b.length] = v;
    return b.subarray(0, seed.length === 0 ? 0 : cut % (seed.length + 1));
  });

describe('fuzz: DTLS codecs yield only typed errors', () => {
  for (const [name, decode] of decoders) {
    it(`${name}: random bytes`, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyTyped(() => decode(b))), { numRuns: 300 });
    });
  }

  it('ClientHello: mutated valid messages', () => {
    fc.assert(fc.property(mutated(sampleClientHello), (b) => onlyTyped(() => hs.decodeClientHello(b))), { numRuns: 1000 });
  });

  it('records: random and mutated datagrams', () => {
    const valid = Buffer.concat([
      encodeRecord({ type: 22, version: 0xfefd, epoch: 0, sequenceNumber: 1, fragment: sampleClientHello }),
      encodeRecord({ type: 25, version: 0xfefd, epoch: 1, sequenceNumber: 2, cid: Uint8Array.of(1, 2, 3, 4), fragment: Uint8Array.of(1) }),
    ]);
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated(valid)), fc.constantFrom(0, 4), (b, cidLen) => {
        onlyTyped(() => decodeRecord(b, cidLen));
        const recs = decodeDatagram(b, cidLen);
        assert.ok(Array.isArray(recs));
      }),
      { numRuns: 1000 },
    );
  });

  it('records: the in-place datagram decoder agrees with decodeRecord record by record', () => {
    const valid = Buffer.concat([
      encodeRecord({ type: 22, version: 0xfefd, epoch: 0, sequenceNumber: 1, fragment: sampleClientHello }),
      encodeRecord({ type: 25, version: 0xfefd, epoch: 1, sequenceNumber: 2 ** 40 + 7, cid: Uint8Array.of(1, 2, 3, 4), fragment: Uint8Array.of(1) }),
      encodeRecord({ type: 23, version: 0xfefd, epoch: 3, sequenceNumber: 2 ** 31, fragment: Uint8Array.of(9, 9) }),
    ]);
    // The reference: decodeRecord (ByteReader) until the first record that does not decode.
    const reference = (b: Uint8Array, cidLen: number): DtlsRecord[] => {
      const out: DtlsRecord[] = [];
      for (let o = 0; o < b.length; ) {
        try {
          const { record, size } = decodeRecord(b.subarray(o), cidLen);
          out.push(record);
          o += size;
        } catch {
          break;
        }
      }
      return out;
    };
    const plain = (r: DtlsRecord): object => ({ ...r, fragment: [...r.fragment], ...(r.cid === undefined ? {} : { cid: [...r.cid] }) });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated(valid), fc.constant(valid)), fc.constantFrom(0, 4), (b, cidLen) => {
        assert.deepEqual(decodeDatagram(b, cidLen).map(plain), reference(b, cidLen).map(plain));
      }),
      { numRuns: 2000 },
    );
    assert.equal(decodeDatagram(valid, 4).length, 3);
  });

  it('handshake fragments and reassembly: random and mutated input', () => {
    const frags = fragmentHandshakeMessage({ msgType: 1, messageSeq: 0, body: sampleClientHello }, 40);
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 80 }), ...frags.map((f) => mutated(f))), { maxLength: 8 }), (inputs) => {
        const r = new HandshakeReassembler({ maxMessageSize: 4096 });
        for (const input of inputs) {
          onlyTyped(() => {
            for (const f of decodeHandshakeFragments(input)) r.add(f, 0);
          });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('record protection: random fragments fail authentication with a typed error', () => {
    const p = new RecordProtection('aes-128-ccm8', new Uint8Array(16), new Uint8Array(4));
    const g = new RecordProtection('aria-128-gcm', new Uint8Array(16), new Uint8Array(4));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: 2 ** 47 }), (b, seq) => {
        onlyTyped(() => p.open(23, 0xfefd, 1, seq, b));
        onlyTyped(() => g.open(23, 0xfefd, 1, seq, b));
      }),
      { numRuns: 300 },
    );
  });
});
