import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CborTag, decodeCbor, encodeCbor } from '../../src/cose/cbor.js';
import { hex, throwsWithCode, toHex } from './helpers.js';

describe('encodeCbor', () => {
  it('writes maps with core deterministic key order (RFC 8949 §4.2.1)', () => {
    // Encoded keys sort bytewise: 0x04 < 0x05 < 0x20 (-1) < 0x61 ("a").
    const bytes = encodeCbor(new Map<number | string, unknown>([['a', 4], [-1, 3], [5, 1], [4, 2]]));
    assert.equal(toHex(bytes), 'a404020501200361610' + '4');
  });

  it('writes a Buffer as a byte string, not through its toJSON', () => {
    assert.equal(toHex(encodeCbor(Buffer.from([1, 2]))), '420102');
    assert.equal(toHex(encodeCbor(new Uint8Array([9, 1, 2, 3]).subarray(1, 3))), '420102');
  });

  it('writes tags, nested tags, floats in their shortest exact form, and bigints', () => {
    assert.equal(toHex(encodeCbor(new CborTag(61, new CborTag(17, [1])))), 'd83dd18101');
    assert.equal(toHex(encodeCbor(1443944944.5)), 'fb41d584367c200000');
    assert.equal(toHex(encodeCbor(1.5)), 'f93e00');
    assert.equal(toHex(encodeCbor(-7)), '26');
    assert.equal(toHex(encodeCbor(2n ** 64n)), 'c249010000000000000000');
  });

  it('refuses values CBOR has no encoding for', () => {
    throwsWithCode(() => encodeCbor(() => 1), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => encodeCbor(new Date(0)), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => encodeCbor([Symbol('x')]), 'ERR_INVALID_ARGUMENT');
  });
});

describe('decodeCbor', () => {
  it('round-trips the COSE data model: Map with integer keys, bstr, tstr, nil, tags', () => {
    const value = new CborTag(18, [new Uint8Array([0xa1, 0x01, 0x26]), new Map([[4, new Uint8Array([0x31])]]), null, new Uint8Array(64)]);
    const decoded = decodeCbor(encodeCbor(value));
    assert.ok(decoded instanceof CborTag);
    assert.equal(decoded.tag, 18);
    const [p, u, payload, sig] = decoded.contents as unknown[];
    assert.deepEqual(p, new Uint8Array([0xa1, 0x01, 0x26]));
    assert.ok(u instanceof Map);
    assert.deepEqual(u.get(4), new Uint8Array([0x31]));
    assert.equal(payload, null);
    assert.equal((sig as Uint8Array).length, 64);
  });

  it('returns byte strings that do not alias the input buffer', () => {
    const input = hex('8143010203');
    const [bytes] = decodeCbor(input) as [Uint8Array];
    input[2] = 0xee;
    assert.deepEqual(bytes, new Uint8Array([1, 2, 3]));
  });

  it('makes every map a Map, even with text keys', () => {
    const m = decodeCbor(hex('a1616101'));
    assert.ok(m instanceof Map);
    assert.equal(m.get('a'), 1);
  });

  it('does not interpret tags (tag 1 stays a tag, not a Date)', () => {
    const t = decodeCbor(hex('c11a5612aeb0'));
    assert.ok(t instanceof CborTag);
    assert.equal(t.tag, 1);
    assert.equal(t.contents, 1444064944);
  });

  it('returns integers beyond 2^53 as bigint', () => {
    assert.equal(decodeCbor(hex('1bffffffffffffffff')), 2n ** 64n - 1n);
    assert.equal(decodeCbor(hex('3bffffffffffffffff')), -(2n ** 64n));
  });

  const malformed: [string, string][] = [
    ['empty input', ''],
    ['trailing bytes', '0102'],
    ['truncated array', '8201'],
    ['truncated byte string', '5a000000ff01'],
    ['byte string longer than any buffer', '5bffffffffffffffff'],
    ['array count beyond the input', '9b000000ffffffffff01'],
    ['reserved additional information', '1c'],
    ['stray break', 'ff'],
    ['break inside a definite array', '8201ff'],
    ['invalid UTF-8 in a text string', '62fffe'],
    ['duplicate map key', 'a201010102'],
    ['duplicate map key in two encodings (0x01 and 0x1801)', 'a20101180102'],
    ['floating-point map key equal to label 1', 'a1f93c0001'],
    ['odd number of map items in an indefinite map', 'bf01ff'],
  ];
  for (const [name, input] of malformed) {
    it(`rejects ${name} with ERR_COSE_MALFORMED_CBOR`, () => {
      throwsWithCode(() => decodeCbor(hex(input)), 'ERR_COSE_MALFORMED_CBOR');
    });
  }

  it('enforces maxDepth (default 32) and lets the caller change it', () => {
    const nested = (n: number): Uint8Array => hex('81'.repeat(n) + '00');
    assert.deepEqual(decodeCbor(nested(4), { maxDepth: 4 }), [[[[0]]]]);
    throwsWithCode(() => decodeCbor(nested(5), { maxDepth: 4 }), 'ERR_COSE_MALFORMED_CBOR');
    // Tags count as a level too.
    throwsWithCode(() => decodeCbor(hex('c1c1c1c1c100'), { maxDepth: 4 }), 'ERR_COSE_MALFORMED_CBOR');
    assert.doesNotThrow(() => decodeCbor(nested(32)));
    throwsWithCode(() => decodeCbor(nested(33)), 'ERR_COSE_MALFORMED_CBOR');
  });

  it('accepts indefinite lengths unless told not to', () => {
    assert.deepEqual(decodeCbor(hex('5f41014102ff')), new Uint8Array([1, 2]));
    throwsWithCode(() => decodeCbor(hex('5f41014102ff'), { allowIndefiniteLength: false }), 'ERR_COSE_MALFORMED_CBOR');
  });

  it('can require preferred (shortest) serialization', () => {
    assert.equal(decodeCbor(hex('1801')), 1);
    throwsWithCode(() => decodeCbor(hex('1801'), { requirePreferred: true }), 'ERR_COSE_MALFORMED_CBOR');
  });

  it('checks its arguments', () => {
    throwsWithCode(() => decodeCbor('a0' as unknown as Uint8Array), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => decodeCbor(hex('a0'), { maxDepth: 0 }), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => decodeCbor(hex('a0'), null as never), 'ERR_INVALID_ARGUMENT');
    throwsWithCode(() => decodeCbor(hex('a0'), { requirePreferred: 'yes' as never }), 'ERR_INVALID_ARGUMENT');
  });
});
