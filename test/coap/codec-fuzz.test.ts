import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CoapType, decodeMessage, encodeMessage, unrecognizedCriticalOptions, type CoapMessage } from '../../src/coap/codec.js';
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
