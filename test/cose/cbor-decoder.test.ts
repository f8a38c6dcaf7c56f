/**
 * The direct decoder (src/cose/cbor-decoder.ts) against the cbor2 path it stands in front of:
 * whenever it answers, cbor2 (with decodeCbor's options and depth check) answers the same value;
 * whenever cbor2 refuses, it does not answer (so the error is cbor2's, unchanged). Checked on
 * encodings of COSE-shaped values, on single-byte mutations and truncations of them, on random
 * bytes, and on hand-picked edge cases (non-shortest heads, big integers, floats, BOMs, tags).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tag } from 'cbor2';
import fc from 'fast-check';
import { DEFAULT_CBOR_MAX_DEPTH, decodeCbor, decodeWithCbor2, encodeCbor, type DecodeCborOptions } from '../../src/cose/cbor.js';
import { decodeCoveredFast } from '../../src/cose/cbor-decoder.js';

type Outcome = { ok: true; value: unknown } | { ok: false; message: string };

function viaCbor2(bytes: Uint8Array, maxDepth: number, options: DecodeCborOptions): Outcome {
  try {
    return { ok: true, value: decodeWithCbor2(new Uint8Array(bytes), maxDepth, options) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** The property: a fast answer is cbor2's answer; a cbor2 refusal gets no fast answer. */
function agrees(bytes: Uint8Array, maxDepth = DEFAULT_CBOR_MAX_DEPTH): 'fast' | 'fallback' {
  const fast = decodeCoveredFast(new Uint8Array(bytes), maxDepth);
  if (fast === undefined) return 'fallback';
  // The fast path serves every option set: it must agree with the strictest cbor2 reading too.
  for (const options of [{}, { requirePreferred: true, allowIndefiniteLength: false }] as DecodeCborOptions[]) {
    const ref = viaCbor2(bytes, maxDepth, options);
    assert.ok(ref.ok, `fast path answered where cbor2 ${JSON.stringify(options)} refuses (${ref.ok ? '' : ref.message}): ${Buffer.from(bytes).toString('hex')}`);
    assert.deepStrictEqual(fast.value, ref.value, Buffer.from(bytes).toString('hex'));
  }
  return 'fast';
}

const int = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.constantFrom(23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 2, 2 ** 53 - 1, -24, -25, -256, -257, -(2 ** 32), -(2 ** 32) - 1, -(2 ** 53) + 2, -(2 ** 53) + 1),
  fc.maxSafeInteger(),
);
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 8 }), fc.constantFrom('\uFEFFbom', 'é', '😀', '', 'a'.repeat(300)));
const bytes = fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.constantFrom(23, 24, 255, 256, 1000).map((n) => new Uint8Array(n).fill(n & 0xff)));
const scalar = fc.oneof(int, text, bytes, fc.boolean(), fc.constant(null), fc.constant(undefined));
const key = fc.oneof(int, text, bytes);
const { value: covered } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('array'), tie('map'), tie('tag')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  map: fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 5, selector: ([k]) => (k instanceof Uint8Array ? `b${Buffer.from(k).toString('hex')}` : typeof k === 'number' ? `n${k}` : `s${k as string}`) }).map((es) => new Map(es)),
  tag: fc.tuple(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(18, 61, 258, 1000, 65_536, 2 ** 32)), tie('value')).map(([t, v]) => new Tag(t, v)),
}));

test('encodings of COSE-shaped values: read directly, equal to cbor2', () => {
  fc.assert(
    fc.property(covered, (v) => {
      const enc = encodeCbor(v);
      assert.equal(agrees(enc), 'fast');
    }),
    { numRuns: 1500 },
  );
});

test('mutations and truncations of them: the fast answer, when there is one, is cbor2’s; refusals stay cbor2’s', () => {
  let fast = 0;
  let fallback = 0;
  fc.assert(
    fc.property(covered, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.constantFrom('flip', 'truncate', 'append', 'insert'), (v, pos, x, how) => {
      const enc = encodeCbor(v);
      const at = pos % enc.length;
      let m: Uint8Array;
      if (how === 'flip') {
        m = enc.slice();
        m[at]! ^= x;
      } else if (how === 'truncate') m = enc.slice(0, at);
      else if (how === 'append') m = Uint8Array.from([...enc, x]);
      else m = Uint8Array.from([...enc.subarray(0, at), x, ...enc.subarray(at)]);
      if (m.length === 0) return;
      if (agrees(m) === 'fast') fast++;
      else fallback++;
    }),
    { numRuns: 3000 },
  );
  assert.ok(fast > 0 && fallback > 0, `${fast} / ${fallback}`);
});

test('random bytes: never a fast answer cbor2 would not give', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 24 }), (b) => void agrees(b)),
    { numRuns: 3000 },
  );
});

test('edge cases go to cbor2 (non-shortest heads, big integers, floats, indefinite lengths, duplicates, depth)', () => {
  const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
  for (const h of [
    '1817', // 23 in two bytes
    '190017', // non-shortest
    '1a0000ffff',
    '1b00000000ffffffff',
    '1b001fffffffffffff', // 2^53 - 1
    '1b0020000000000000', // 2^53
    '3b001ffffffffffffe',
    'f93c00', // float 1.0
    'fb3ff0000000000000',
    'f0', // simple 16
    'f820',
    '5f4101ff', // indefinite bstr
    '9f01ff',
    'bf0101ff',
    'a20101 0102'.replace(' ', ''), // duplicate key
    'a2413001413002', // duplicate bstr key
    'a2f93c000101', // float key 1.0 and int 1
    '62c328', // invalid UTF-8
    '63efbbbf', // a BOM alone
    'c2420100', // tag 2 (bignum) stays a tag?
    'd8120080',
    '0101', // trailing
    '1c', // reserved
    'ff', // break
  ]) {
    agrees(hex(h));
  }
  // Depth: exactly maxDepth containers read directly; one more goes to cbor2, which refuses.
  const nest = (n: number) => Uint8Array.from([...new Array<number>(n).fill(0x81), 0x01]);
  assert.equal(agrees(nest(4), 4), 'fast');
  assert.equal(agrees(nest(5), 4), 'fallback');
  assert.throws(() => decodeCbor(nest(5), { maxDepth: 4 }), { code: 'ERR_COSE_MALFORMED_CBOR' });
  assert.throws(() => decodeCbor(hex('a20101 0102'.replace(' ', ''))), { code: 'ERR_COSE_MALFORMED_CBOR' });
  // Non-shortest heads: accepted by default (cbor2), refused with requirePreferred.
  for (const h of ['1817', '190017', '1900ff', '1a0000ffff', '1b00000000ffffffff', '3817', '580100', '780161', '980101', 'b8010101', 'd81201']) {
    const b = hex(h);
    if (viaCbor2(b, 32, {}).ok) assert.deepStrictEqual(decodeCbor(b), (viaCbor2(b, 32, {}) as { value: unknown }).value);
    assert.throws(() => decodeCbor(b, { requirePreferred: true }), { code: 'ERR_COSE_MALFORMED_CBOR' }, h);
  }
  // Returned byte strings never alias the caller's buffer.
  const input = encodeCbor([new Uint8Array([1, 2, 3])]);
  const out = decodeCbor(input) as Uint8Array[];
  input[input.length - 1] = 9;
  assert.deepEqual([...out[0]!], [1, 2, 3]);
});
