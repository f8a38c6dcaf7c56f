/**
 * The direct deterministic encoder (src/cose/cbor-encoder.ts) against cbor2's `cde` encoder it
 * stands in for: byte for byte on everything it covers, and `undefined` (cbor2's path, its result
 * or its error) on everything else — so encodeCbor's output and refusals are unchanged.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encode, Tag } from 'cbor2';
import fc from 'fast-check';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { encodeDeterministicFast } from '../../src/cose/cbor-encoder.js';

/** [1, <hole>, 3] */
function sparse(): unknown[] {
  const a: unknown[] = [1];
  a[2] = 3;
  return a;
}

const cde = (v: unknown): Uint8Array => encode(v, { cde: true, rejectDuplicateKeys: true });

const int = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.constantFrom(23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, -24, -25, -256, -257, -65_537, -(2 ** 32), -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
  fc.maxSafeInteger(),
);
const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.constantFrom('Signature1', 'é', '😀', 'a'.repeat(300)));
const bytes = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constantFrom(23, 24, 255, 256, 1000).map((n) => new Uint8Array(n).fill(n & 0xff)));
const scalar = fc.oneof(int, text, bytes, fc.boolean(), fc.constant(null), fc.constant(undefined));
const key = fc.oneof(int, text, bytes);

const { value: covered } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('array'), tie('map'), tie('tag')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  map: fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 6, selector: ([k]) => (k instanceof Uint8Array ? `b${Buffer.from(k).toString('hex')}` : typeof k === 'number' ? `n${k}` : `s${k as string}`) }).map((es) => new Map(es)),
  tag: fc.tuple(fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constantFrom(18, 61, 1000, 65_536)), tie('value')).map(([t, v]) => new Tag(t, v)),
}));

test('covered values: the same bytes as cbor2 cde, and they decode back', () => {
  fc.assert(
    fc.property(covered, (v) => {
      const fast = encodeDeterministicFast(v);
      assert.ok(fast !== undefined, 'covered value refused');
      assert.deepEqual(Buffer.from(fast), Buffer.from(cde(v)));
      assert.deepEqual(Buffer.from(encodeCbor(v)), Buffer.from(fast));
      // Canonical bytes read back strictly and re-encode to themselves.
      if (v !== undefined) assert.deepEqual(Buffer.from(encodeCbor(decodeCbor(fast, { maxDepth: 64, requirePreferred: true }))), Buffer.from(fast));
    }),
    { numRuns: 1500 },
  );
});

test('map keys sort by their encoded bytes (RFC 8949 §4.2.1), mixed types too', () => {
  const m = new Map<unknown, unknown>([['b', 1], [10, 2], [-1, 3], [new Uint8Array([0]), 4], ['a', 5], [1000, 6], [24, 7]]);
  assert.deepEqual(Buffer.from(encodeDeterministicFast(m)!), Buffer.from(cde(m)));
  assert.deepEqual(Buffer.from(encodeCbor(new Map<number, unknown>([[1, -7], [33, new Uint8Array([1, 2])]]))).toString('hex'), 'a20126182142' + '0102');
});

test('anything outside the covered set goes to cbor2: same bytes or the same error as before', () => {
  const outside: unknown[] = [
    1.5,
    -0,
    Number.NaN,
    Infinity,
    2 ** 53,
    -(2 ** 53) - 2,
    10n,
    2n ** 70n,
    '\uD800',
    'a\uDC00b',
    { a: 1 },
    [1, { b: 2 }],
    new Map([[1, 1.25]]),
    new Map<unknown, unknown>([[1, 'x'], [1n, 'y']]),
    new CborTag(2n as unknown as number, new Uint8Array([1])),
    Buffer.from([1, 2]),
    sparse(),
    new Date(0),
    Symbol('s'),
    () => 1,
    new Uint16Array(2),
  ];
  // Deeply nested arrays beyond the encoder's limit.
  let deep: unknown = 1;
  for (let i = 0; i < 300; i++) deep = [deep];
  outside.push(deep);
  for (const v of outside) {
    const fast = encodeDeterministicFast(v);
    if (v instanceof Uint8Array && !(v instanceof Uint16Array)) {
      // A Buffer is bytes (covered), written as its bytes.
      assert.deepEqual(Buffer.from(fast!), Buffer.from(cde(new Uint8Array(v))));
      continue;
    }
    assert.equal(fast, undefined, `covered by mistake: ${String(v)}`);
  }
  // The encodeCbor results for these are cbor2's (or its refusals), unchanged.
  assert.deepEqual(Buffer.from(encodeCbor(1.5)), Buffer.from(cde(1.5)));
  assert.deepEqual(Buffer.from(encodeCbor(10n)), Buffer.from(cde(10n)));
  assert.throws(() => encodeCbor(new Map<unknown, unknown>([[1, 'x'], [1n, 'y']])), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => encodeCbor(new Date(0)), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => encodeCbor(deep), { code: 'ERR_INVALID_ARGUMENT' });
});

test('random values of any shape: encodeCbor equals the cbor2-only encoding or both refuse', () => {
  const anything = fc.anything({ maxDepth: 3, withBigInt: true, withMap: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true });
  fc.assert(
    fc.property(anything, (v) => {
      let viaCbor2: Buffer | 'refused';
      try {
        viaCbor2 = Buffer.from(cde(v));
      } catch {
        viaCbor2 = 'refused';
      }
      const fast = encodeDeterministicFast(v);
      if (fast !== undefined) assert.deepEqual(Buffer.from(fast), viaCbor2);
    }),
    { numRuns: 1000 },
  );
});
