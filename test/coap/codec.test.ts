import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CoapCode,
  CoapType,
  codeToString,
  decodeMessage,
  emptyMessage,
  encodeMessage,
  unrecognizedCriticalOptions,
  type CoapMessage,
} from '../../src/coap/codec.js';
import { CoapFormatError } from '../../src/coap/errors.js';
import {
  OptionNumber,
  decodeUint,
  encodeUint,
  getStringOptions,
  getUintOption,
  isCritical,
  isNoCacheKey,
  isUnsafe,
  opaqueOption,
  stringOption,
  uintOption,
} from '../../src/coap/options.js';
import { blockSize, decodeBlock, encodeBlock, szxForSize } from '../../src/coap/block.js';
import { ContentFormat, contentFormatName } from '../../src/coap/content-format.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ascii = (s: string): string => Buffer.from(s, 'ascii').toString('hex');

function expectFormatError(bytes: Uint8Array, code: string): CoapFormatError {
  let caught: unknown;
  assert.throws(() => decodeMessage(bytes), (e: unknown) => {
    caught = e;
    return e instanceof CoapFormatError && e.code === code;
  });
  return caught as CoapFormatError;
}

test('RFC 7252 Figure 16: CON GET /temperature and its piggybacked 2.05', () => {
  const req = hex(`40 01 7d 34 bb ${ascii('temperature')}`);
  const m = decodeMessage(req);
  assert.equal(m.type, CoapType.CON);
  assert.equal(m.code, CoapCode.GET);
  assert.equal(m.messageId, 0x7d34);
  assert.equal(m.token.length, 0);
  assert.deepEqual(getStringOptions(m.options, OptionNumber.UriPath), ['temperature']);
  assert.deepEqual(encodeMessage(m), req);

  const res = hex(`60 45 7d 34 ff ${ascii('22.3 C')}`);
  const r = decodeMessage(res);
  assert.equal(r.type, CoapType.ACK);
  assert.equal(codeToString(r.code), '2.05');
  assert.equal(Buffer.from(r.payload).toString(), '22.3 C');
  assert.deepEqual(encodeMessage(r), res);
});

test('RFC 7252 Figure 17/18 style: token and separate response', () => {
  const req = hex(`42 01 7d 35 71 c2 bb ${ascii('temperature')}`);
  const m = decodeMessage(req);
  assert.deepEqual(m.token, hex('71c2'));
  const ack = encodeMessage(emptyMessage(CoapType.ACK, 0x7d35));
  assert.deepEqual(ack, hex('60 00 7d 35'));
});

test('extended option delta and length (13 and 14 nibbles) round trip', () => {
  const long = new Uint8Array(300).fill(0x61);
  const msg: CoapMessage = {
    type: CoapType.NON,
    code: CoapCode.POST,
    messageId: 1,
    token: hex('0102030405060708'),
    options: [
      stringOption(OptionNumber.UriPath, 'a'),
      opaqueOption(OptionNumber.ProxyUri, long.subarray(0, 20)),
      uintOption(OptionNumber.Size1, 70000),
      { number: 2000, value: long },
      uintOption(OptionNumber.NoResponse, 26),
    ],
    payload: hex('00ff00'),
  };
  const bytes = encodeMessage(msg);
  const back = decodeMessage(bytes);
  assert.deepEqual(back, { ...msg, options: [...msg.options].sort((a, b) => a.number - b.number) });
  // Proxy-Uri (35) after Uri-Path (11): delta 24 → nibble 13, extra byte 11.
  const i = bytes.indexOf(0xd1 /* nibble 13 delta, len... */);
  assert.ok(i > 0);
  // Option 2000 with a 300-byte value: delta 2000-258=1742 and length 300 both need nibble 14.
  assert.ok(bytes.includes(0xee));
});

test('options are sorted by number, repeats keep their order', () => {
  const msg: CoapMessage = {
    type: CoapType.CON,
    code: CoapCode.GET,
    messageId: 9,
    token: new Uint8Array(0),
    options: [
      stringOption(OptionNumber.UriQuery, 'b=2'),
      stringOption(OptionNumber.UriPath, 'x'),
      stringOption(OptionNumber.UriQuery, 'a=1'),
      stringOption(OptionNumber.UriPath, 'y'),
      uintOption(OptionNumber.Observe, 0),
    ],
    payload: new Uint8Array(0),
  };
  const back = decodeMessage(encodeMessage(msg));
  assert.deepEqual(back.options.map((o) => o.number), [6, 11, 11, 15, 15]);
  assert.deepEqual(getStringOptions(back.options, OptionNumber.UriPath), ['x', 'y']);
  assert.deepEqual(getStringOptions(back.options, OptionNumber.UriQuery), ['b=2', 'a=1']);
  assert.equal(getUintOption(back.options, OptionNumber.Observe), 0);
});

test('token length 9..15 is a message format error that still reports the header', () => {
  for (let tkl = 9; tkl <= 15; tkl++) {
    const e = expectFormatError(Uint8Array.from([0x40 | tkl, 1, 0x12, 0x34, ...new Uint8Array(15)]), 'ERR_COAP_BAD_TOKEN');
    assert.deepEqual(e.header, { type: 0, code: 1, messageId: 0x1234 });
  }
  expectFormatError(hex('44 01 00 01 aa bb'), 'ERR_COAP_BAD_TOKEN');
});

test('format errors: short header, version, nibble 15, truncation, empty payload, Empty with bytes, reserved class', () => {
  expectFormatError(hex('40 01 00'), 'ERR_COAP_TRUNCATED_HEADER');
  expectFormatError(hex('80 01 00 01'), 'ERR_COAP_BAD_VERSION');
  expectFormatError(hex('40 01 00 01 f1 00'), 'ERR_COAP_BAD_OPTION_ENCODING');
  expectFormatError(hex('40 01 00 01 1f'), 'ERR_COAP_BAD_OPTION_ENCODING');
  expectFormatError(hex('40 01 00 01 d0'), 'ERR_COAP_BAD_OPTION_ENCODING');
  expectFormatError(hex('40 01 00 01 e0 01'), 'ERR_COAP_BAD_OPTION_ENCODING');
  expectFormatError(hex('40 01 00 01 b5 61 62'), 'ERR_COAP_BAD_OPTION_ENCODING');
  const e = expectFormatError(hex('40 01 00 07 ff'), 'ERR_COAP_EMPTY_PAYLOAD');
  assert.equal(e.header?.messageId, 7);
  expectFormatError(hex('40 00 00 01 ff 01'), 'ERR_COAP_BAD_EMPTY_MESSAGE');
  expectFormatError(hex('41 00 00 01 aa'), 'ERR_COAP_BAD_EMPTY_MESSAGE');
  expectFormatError(hex('40 21 00 01'), 'ERR_COAP_RESERVED_CODE');
  expectFormatError(hex('40 e1 00 01'), 'ERR_COAP_RESERVED_CODE');
  const many = Uint8Array.from([0x40, 1, 0, 1, ...new Array(65).fill(0x00)]);
  expectFormatError(many, 'ERR_COAP_TOO_MANY_OPTIONS');
  assert.throws(() => decodeMessage(hex('40 01 00 01 ff 01 02 03'), { maxPayload: 2 }), { code: 'ERR_COAP_BODY_TOO_LARGE' });
});

test('critical vs elective unrecognised options (RFC 7252 §5.4.1, §5.4.3, §5.4.5)', () => {
  const opts = [
    { number: 2049, value: hex('01') }, // critical, unknown
    { number: 2050, value: hex('01') }, // elective, unknown
    stringOption(OptionNumber.UriPath, 'a'),
    { number: OptionNumber.ContentFormat, value: hex('010203') }, // too long → elective, dropped
    { number: OptionNumber.UriHost, value: new Uint8Array(0) }, // below min length → critical
    uintOption(OptionNumber.MaxAge, 40),
    uintOption(OptionNumber.MaxAge, 50), // repeated non-repeatable, elective
    { number: OptionNumber.UriPath, value: hex('ff') }, // not UTF-8 → critical
  ];
  const r = unrecognizedCriticalOptions(opts);
  assert.deepEqual(r.critical, [2049, OptionNumber.UriHost, OptionNumber.UriPath]);
  assert.deepEqual(r.options.map((o) => o.number), [OptionNumber.UriPath, OptionNumber.MaxAge]);
  assert.deepEqual(unrecognizedCriticalOptions(opts, new Set([2049, 2050])).critical, [OptionNumber.UriHost, OptionNumber.UriPath]);
  assert.equal(isCritical(OptionNumber.UriPath), true);
  assert.equal(isCritical(OptionNumber.ETag), false);
  assert.equal(isUnsafe(OptionNumber.UriHost), true);
  assert.equal(isNoCacheKey(OptionNumber.Size1), true);
  assert.equal(isNoCacheKey(OptionNumber.Size2), true);
  assert.equal(isNoCacheKey(OptionNumber.UriPath), false);
});

test('uint option values are minimal and decode leading zeros', () => {
  assert.deepEqual(encodeUint(0), new Uint8Array(0));
  assert.deepEqual(encodeUint(255), hex('ff'));
  assert.deepEqual(encodeUint(256), hex('0100'));
  assert.deepEqual(encodeUint(0xffffffff), hex('ffffffff'));
  assert.equal(decodeUint(hex('0001')), 1);
  assert.throws(() => encodeUint(-1), { code: 'ERR_COAP_BAD_OPTION_VALUE' });
  assert.throws(() => decodeUint(hex('0102030405')), { code: 'ERR_COAP_BAD_OPTION_VALUE' });
});

test('Block option values (RFC 7959 §2.2)', () => {
  assert.deepEqual(decodeBlock(hex('0a')), { num: 0, more: true, szx: 2 });
  assert.deepEqual(encodeBlock({ num: 0, more: true, szx: 2 }), hex('0a'));
  assert.deepEqual(encodeBlock({ num: 0, more: false, szx: 0 }), new Uint8Array(0));
  assert.deepEqual(decodeBlock(new Uint8Array(0)), { num: 0, more: false, szx: 0 });
  assert.deepEqual(decodeBlock(encodeBlock({ num: 0xfffff, more: true, szx: 6 })), { num: 0xfffff, more: true, szx: 6 });
  assert.deepEqual(encodeBlock({ num: 1, more: false, szx: 6 }), hex('16'));
  assert.throws(() => decodeBlock(hex('0f')), { code: 'ERR_COAP_BAD_BLOCK_OPTION' });
  assert.throws(() => decodeBlock(hex('01020304')), { code: 'ERR_COAP_BAD_BLOCK_OPTION' });
  assert.throws(() => encodeBlock({ num: 0x100000, more: false, szx: 0 }), { code: 'ERR_COAP_BAD_BLOCK_OPTION' });
  assert.throws(() => encodeBlock({ num: 0, more: false, szx: 7 }), { code: 'ERR_COAP_BAD_BLOCK_OPTION' });
  assert.equal(blockSize(0), 16);
  assert.equal(blockSize(6), 1024);
  assert.equal(szxForSize(64), 2);
  assert.equal(szxForSize(100), 2);
  assert.equal(szxForSize(5000), 6);
});

test('content-format registry numbers', () => {
  assert.equal(ContentFormat.TextPlain, 0);
  assert.equal(ContentFormat.LinkFormat, 40);
  assert.equal(ContentFormat.OctetStream, 42);
  assert.equal(ContentFormat.Cbor, 60);
  assert.equal(ContentFormat.SenmlJson, 110);
  assert.equal(ContentFormat.SenmlCbor, 112);
  assert.equal(ContentFormat.LwM2mTlv, 11542);
  assert.equal(ContentFormat.LwM2mJson, 11543);
  assert.equal(ContentFormat.LwM2mCbor, 11544);
  assert.equal(contentFormatName(11542), 'application/vnd.oma.lwm2m+tlv');
  assert.equal(contentFormatName(9999), undefined);
});
