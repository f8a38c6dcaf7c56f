// The SenML CBOR fast path answers only where the strict decoder gives the same value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from 'cbor2';
import { decodeCbor } from '../../src/cose/cbor.js';
import { decodeSimpleSenmlCbor } from '../../src/lwm2m/codec/senml-cbor-fast.js';

function strict(bytes: Uint8Array): { value: unknown } | { error: true } {
  try {
    return { value: decodeCbor(bytes, { maxDepth: 16 }) };
  } catch {
    return { error: true };
  }
}

function check(bytes: Uint8Array): boolean {
  const fast = decodeSimpleSenmlCbor(bytes, 16);
  if (fast === undefined) return false;
  const s = strict(bytes);
  assert.ok('value' in s, `fast path accepted what the strict decoder refuses: ${Buffer.from(bytes).toString('hex')}`);
  assert.deepStrictEqual(fast, s.value, Buffer.from(bytes).toString('hex'));
  return true;
}

const key = fc.oneof(fc.integer({ min: -30, max: 30 }), fc.string({ maxLength: 6 }), fc.constantFrom('vlo', 'n'));
const value = fc.oneof(
  fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
  fc.double(),
  fc.float(),
  fc.boolean(),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.uint8Array({ maxLength: 12 }),
  fc.constant(null),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
);
const doc = fc.array(fc.array(fc.tuple(key, value), { maxLength: 6 }).map((pairs) => new Map(pairs)), { maxLength: 5 });

test('SenML CBOR fast path: the Read answer devices send most', () => {
  const bytes = encode([new Map<number, unknown>([[0, '/3/0/3'], [3, '1.0.0']])]);
  assert.deepEqual(decodeSimpleSenmlCbor(bytes, 16), [new Map<number, unknown>([[0, '/3/0/3'], [3, '1.0.0']])]);
  assert.equal(decodeSimpleSenmlCbor(bytes, 1), undefined, 'a depth limit under 2 goes to the strict decoder');
});

test('SenML CBOR fast path: equal to the strict decoder wherever it answers (random documents)', () => {
  let answered = 0;
  fc.assert(
    fc.property(doc, (d) => {
      if (check(encode(d))) answered++;
    }),
    { numRuns: 2000 },
  );
  assert.ok(answered > 100, `the fast path answered only ${answered} documents`);
});

test('SenML CBOR fast path: never accepts what the strict decoder refuses (mutated and random bytes)', () => {
  fc.assert(
    fc.property(doc, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(8), (d, flips, cut) => {
      const bytes = new Uint8Array(encode(d));
      for (const [at, b] of flips) if (bytes.length > 0) bytes[at % bytes.length] = b;
      check(bytes);
      check(bytes.subarray(0, Math.max(0, bytes.length - cut)));
      check(Uint8Array.from([...bytes, cut]));
    }),
    { numRuns: 3000 },
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => void check(bytes)), { numRuns: 3000 });
  // Duplicate keys, indefinite lengths, tags, half floats: left to the strict decoder.
  for (const hex of ['81a2000100 02', '9fa10001ff', '81a100c11a00000001', '81a100f93c00', '81a1f97e0001', '81a1001b0000000000000001']) {
    assert.equal(decodeSimpleSenmlCbor(Buffer.from(hex.replace(/ /g, ''), 'hex'), 16), undefined, hex);
  }
});
