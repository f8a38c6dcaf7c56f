/**
 * The store's well-formed-Unicode check (validate.ts) uses String.prototype.isWellFormed instead
 * of the look-around regular expression it replaced; this differential property test holds the
 * two to the same answer on strings dense in surrogates, lone and paired.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { assertText, assertLabel } from '../../src/store/validate.js';

/** The old check, kept here as the reference. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function refusesAsIllFormed(check: () => void): boolean {
  try {
    check();
    return false;
  } catch (err) {
    return /well-formed Unicode/.test((err as Error).message);
  }
}

// Code units around and inside the surrogate ranges, plus ordinary letters and astral characters.
const unit = fc.oneof(fc.integer({ min: 0xd7fe, max: 0xe001 }), fc.constantFrom(0xd800, 0xdbff, 0xdc00, 0xdfff), fc.integer({ min: 0x41, max: 0x7a }));
const text = fc.oneof(fc.array(unit, { maxLength: 12 }).map((units) => String.fromCharCode(...units)), fc.string({ unit: 'grapheme', maxLength: 8 }));

test('assertText and assertLabel refuse exactly the strings with a lone surrogate (the old regex)', () => {
  fc.assert(
    fc.property(text, (s) => {
      const lone = LONE_SURROGATE.test(s);
      assert.equal(refusesAsIllFormed(() => assertText(s, 's', 0, 1000)), lone);
      if (s.length > 0) assert.equal(refusesAsIllFormed(() => assertLabel(s, 's', 1000)), lone);
    }),
    { numRuns: 5000 },
  );
});

test('examples: paired surrogates pass, each kind of lone one is refused', () => {
  assertText('a\ud83d\ude00b', 's', 0, 10);
  for (const bad of ['\ud83d', '\ude00', 'a\ud83db', '\ude00\ud83d', '\ud83d\ud83d\ude00']) {
    assert.throws(() => assertText(bad, 's', 0, 10), /lone surrogate/);
  }
});
