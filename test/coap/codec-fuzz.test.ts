import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CoapType, decodeMessage, encodeMessage, encodeUtf8, unrecognizedCriticalOptions, type CoapMessage } from '../../src/coap/codec.js';
import { encodeUint } from '../../src/coap/options.js';
import { CoapError } from '../../src/coap/errors.js';
import { decodeBlock } from '../../src/coap/block.js';

function onlyTypedErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof CoapError, `untyped error escaped: ${String(e)}`);
    assert.match(e.code, /^ERR_COAP_/);
  }
}

const optionArb = fc.record({
  number: fc.oneof(fc.constantFrom(1, 3, 4, 5, 6, 7, 8, 9, 11, 12, 14, 15, 17, 20, 23, 27, 28, 35, 39, 60, 258), fc.integer({ min: 0, max: 65535 })),
  value: fc.uint8Array({ maxLength: 300 }),
});

const messageArb: fc.Arbitrary<CoapMessage> = fc.record({
  type: fc.constantFrom(CoapType.CON, CoapType.NON, CoapType.ACK, CoapType.RST),
  code: fc.oneof(fc.integer({ min: 1, max: 31 }), fc.integer({ min: 64, max: 191 })),
  messageId: fc.integer({ min: 0, max: 0xffff }),
  token: fc.uint8Array({ maxLength: 8 }),
  options: fc.array(optionArb, { maxLength: 12 }),
  payload: fc.uint8Array({ maxLength: 200 }),
}).map((m) => ({ ...m, options: m.options.map((o) => ({ number: o.number, value: o.value })) }));

test('fuzz: valid messages round trip through encode/decode', () => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const back = decodeMessage(encodeMessage(m));
      const sorted = m.options.map((o, i) => ({ o, i })).sort((a, b) => a.o.number - b.o.number || a.i - b.i).map((x) => x.o);
      assert.deepEqual(back, { ...m, options: sorted });
    }),
    { numRuns: 500 },
  );
});

test('fuzz: random datagrams only yield typed ERR_COAP_* errors', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      onlyTypedErrors(() => {
        const m = decodeMessage(bytes, { maxOptions: 16, maxPayload: 256 });
        unrecognizedCriticalOptions(m.options);
        for (const o of m.options) if (o.number === 23 || o.number === 27) onlyTypedErrors(() => decodeBlock(o.value));
      });
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: mutated valid messages only yield typed errors', () => {
  const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete', 'truncate')), { minLength: 1, maxLength: 6 });
  fc.assert(
    fc.property(messageArb, mutation, (m, muts) => {
      const bytes = [...encodeMessage(m)];
      for (const [pos, val, kind] of muts) {
        const p = bytes.length === 0 ? 0 : pos % bytes.length;
        if (kind === 'set') bytes[p] = val;
        else if (kind === 'insert') bytes.splice(p, 0, val);
        else if (kind === 'delete') bytes.splice(p, 1);
        else bytes.length = p;
      }
      onlyTypedErrors(() => {
        const d = decodeMessage(Uint8Array.from(bytes));
        unrecognizedCriticalOptions(d.options);
      });
    }),
    { numRuns: 2000 },
  );
});

/** RFC 7252 §3 written out plainly, byte by byte into a number array: the reference encodeMessage must match. */
function referenceEncode(m: CoapMessage): Uint8Array {
  const out: number[] = [0x40 | (m.type << 4) | m.token.length, m.code, m.messageId >> 8, m.messageId & 0xff, ...m.token];
  const sorted = m.options.map((o, i) => ({ o, i })).sort((a, b) => a.o.number - b.o.number || a.i - b.i).map((x) => x.o);
  const nib = (v: number): [number, number[]] => (v < 13 ? [v, []] : v < 269 ? [13, [v - 13]] : [14, [(v - 269) >> 8, (v - 269) & 0xff]]);
  let prev = 0;
  for (const o of sorted) {
    const [d, dx] = nib(o.number - prev);
    const [l, lx] = nib(o.value.length);
    out.push((d << 4) | l, ...dx, ...lx, ...o.value);
    prev = o.number;
  }
  if (m.payload.length > 0) out.push(0xff, ...m.payload);
  return Uint8Array.from(out);
}

test('differential: encodeMessage (slab-allocated output) equals a plain reference encoder; outputs never share bytes', () => {
  fc.assert(
    fc.property(fc.array(messageArb, { minLength: 1, maxLength: 20 }), (messages) => {
      const encoded = messages.map((m) => encodeMessage(m));
      const copies = encoded.map((e) => Uint8Array.from(e));
      for (let i = 0; i < messages.length; i++) assert.deepEqual(encoded[i], referenceEncode(messages[i]!));
      // Overwriting one output (a transport may own it) changes no other one.
      for (const e of encoded) e.fill(0xaa);
      const again = messages.map((m) => encodeMessage(m));
      for (let i = 0; i < messages.length; i++) {
        assert.deepEqual(again[i], copies[i]);
        assert.ok(encoded[i]!.every((b) => b === 0xaa));
      }
    }),
    { numRuns: 300 },
  );
  // Messages larger than a slab's share, and many in a row across slab boundaries.
  const big: CoapMessage = { type: CoapType.NON, code: 69, messageId: 7, token: Uint8Array.of(1, 2), options: [], payload: new Uint8Array(5000).fill(3) };
  assert.deepEqual(encodeMessage(big), referenceEncode(big));
  const small: CoapMessage = { type: CoapType.ACK, code: 69, messageId: 9, token: Uint8Array.of(9), options: [{ number: 12, value: new Uint8Array(0) }], payload: new Uint8Array(900).fill(5) };
  const many = Array.from({ length: 100 }, () => encodeMessage(small));
  for (const e of many) assert.deepEqual(e, referenceEncode(small));
});

test('differential: encodeUtf8 gives TextEncoder.encode\'s bytes (short strings in slabs, long ones, lone surrogates)', () => {
  const te = new TextEncoder();
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string({ maxLength: 400, unit: 'grapheme' }), fc.string({ maxLength: 400, unit: 'binary' }), fc.string({ maxLength: 50 })), { maxLength: 10 }), (ss) => {
      const out = ss.map((s) => encodeUtf8(s));
      for (let i = 0; i < ss.length; i++) assert.deepEqual(out[i], te.encode(ss[i]!));
    }),
    { numRuns: 300 },
  );
  assert.deepEqual(encodeUtf8('\ud800x'), te.encode('\ud800x'));
  assert.deepEqual(encodeUtf8('x'.repeat(20000)), te.encode('x'.repeat(20000)));
});

test('differential: encodeUint equals the minimal big-endian encoding for every value up to 2^17 and random ones up to 2^32-1', () => {
  const reference = (v: number): Uint8Array => {
    const out: number[] = [];
    for (let x = v; x > 0; x = Math.floor(x / 256)) out.unshift(x % 256);
    return Uint8Array.from(out);
  };
  for (let v = 0; v < 1 << 17; v++) assert.deepEqual(encodeUint(v), reference(v));
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => assert.deepEqual(encodeUint(v), reference(v))));
  for (const bad of [-1, 0.5, 2 ** 32, NaN]) assert.throws(() => encodeUint(bad), { code: 'ERR_COAP_BAD_OPTION_VALUE' });
});
