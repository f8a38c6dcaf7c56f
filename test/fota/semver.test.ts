/**
 * Semantic Versioning 2.0.0 (src/fota/semver.ts): the strict form the firmware repository
 * accepts, the lenient form devices report, the specification's own precedence example (§11) and
 * its grammar, and the npm-style ranges campaign targets use.
 */
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import fc from 'fast-check';
import { SemVerRangeSyntaxError, compareSemVer, isSemverStrict, parseSemVer, parseSemVerRange, parseSemverStrict, satisfies } from '../../src/fota/semver.js';

describe('semver (strict, as the firmware repository reads versions)', () => {
  it('orders the §11 example chain', () => {
    // semver.org §11.4: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0
    const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) assert.equal(Math.sign(compareSemVer(chain[i]!, chain[j]!)), Math.sign(i - j), `${chain[i]} vs ${chain[j]}`);
    }
    // §11.2: 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1; build metadata is ignored (§10).
    assert.ok(compareSemVer('1.0.0', '2.0.0') < 0 && compareSemVer('2.0.0', '2.1.0') < 0 && compareSemVer('2.1.0', '2.1.1') < 0);
    assert.equal(compareSemVer('1.0.0+build.1', '1.0.0+build.2'), 0);
  });

  it('accepts the grammar and refuses what it excludes', () => {
    for (const ok of ['0.0.0', '1.2.3', '10.20.30', '1.0.0-0.3.7', '1.0.0-x.7.z.92', '1.0.0+20130313144700', '1.0.0-beta+exp.sha.5114f85']) assert.ok(isSemverStrict(ok), ok);
    for (const bad of ['1', '1.2', '01.2.3', '1.02.3', '1.2.3-01', '1.2.3-', '1.2.3+', 'v1.2.3', ' 1.2.3', '1.2.3\n']) {
      assert.equal(isSemverStrict(bad), false, bad);
      assert.throws(() => parseSemverStrict(bad), { code: 'ERR_INVALID_ARGUMENT' });
    }
    assert.deepEqual(parseSemverStrict('1.0.0-alpha.1+b.2'), { major: 1, minor: 0, patch: 0, prerelease: ['alpha', 1], build: ['b', '2'] });
  });

  it('comparison is antisymmetric and parsing never throws untyped errors (fuzz)', () => {
    const version = fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20), fc.array(fc.oneof(fc.nat(12), fc.constantFrom('alpha', 'beta', 'rc')), { maxLength: 3 })).map(
      ([a, b, c, pre]) => `${a}.${b}.${c}${pre.length > 0 ? `-${pre.join('.')}` : ''}`,
    );
    fc.assert(fc.property(version, version, (x, y) => Math.sign(compareSemVer(x, y)) === -Math.sign(compareSemVer(y, x))), { numRuns: 300 });
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => {
      try {
        parseSemverStrict(s);
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
      }
    }), { numRuns: 300 });
  });
});

test('semver: parses SemVer 2.0.0 and refuses what is not one', () => {
  assert.deepEqual(parseSemVer('1.2.3'), { major: 1, minor: 2, patch: 3, prerelease: [] });
  assert.deepEqual(parseSemVer('v10.0.7-rc.1+build.5'), { major: 10, minor: 0, patch: 7, prerelease: ['rc', 1] });
  for (const bad of ['1.2', '01.2.3', '1.2.3-01', '1.2.3-', 'a.b.c', '1.2.3.4', '', '1.2.3+']) assert.equal(parseSemVer(bad), undefined, bad);
});

test('semver: precedence follows SemVer 2.0.0 §11 (the spec example chain)', () => {
  const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0'];
  for (let i = 1; i < chain.length; i++) {
    assert.equal(compareSemVer(parseSemVer(chain[i - 1]!)!, parseSemVer(chain[i]!)!), -1, `${chain[i - 1]} < ${chain[i]}`);
    assert.equal(compareSemVer(parseSemVer(chain[i]!)!, parseSemVer(chain[i - 1]!)!), 1);
  }
  assert.equal(compareSemVer(parseSemVer('1.0.0+a')!, parseSemVer('1.0.0+b')!), 0, 'build metadata is ignored');
});

test('semver: ranges (comparators, caret, tilde, x-ranges, sets, alternatives)', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['>=1.2.0 <2.0.0', ['1.2.0', '1.9.9'], ['1.1.9', '2.0.0', '2.0.0-beta.1']],
    ['^1.4', ['1.4.0', '1.99.0'], ['1.3.9', '2.0.0']],
    ['^0.2.3', ['0.2.3', '0.2.9'], ['0.3.0', '0.2.2']],
    ['^0.0.3', ['0.0.3'], ['0.0.4']],
    ['~1.2.3', ['1.2.3', '1.2.9'], ['1.3.0', '1.2.2']],
    ['~1', ['1.0.0', '1.9.0'], ['2.0.0']],
    ['1.x', ['1.0.0', '1.5.2'], ['2.0.0', '0.9.0']],
    ['1.2.*', ['1.2.0', '1.2.7'], ['1.3.0']],
    ['*', ['0.0.1', '9.9.9'], ['1.0.0-rc.1']],
    ['>1.2', ['1.3.0'], ['1.2.9']],
    ['<=1.2', ['1.2.9'], ['1.3.0']],
    ['<1.2', ['1.1.9'], ['1.2.0']],
    ['1.2.3', ['1.2.3', 'v1.2.3+b'], ['1.2.4']],
    ['= 1.2.3', ['1.2.3'], ['1.2.4']],
    ['>= 1.0.0 < 1.5.0 || ^3', ['1.4.0', '3.1.0'], ['2.0.0', '1.5.0']],
    ['>=1.0.0-beta.2 <1.0.0', ['1.0.0-beta.2', '1.0.0-rc.1'], ['1.0.0-beta.1', '1.0.1-beta.3']],
  ];
  for (const [range, inside, outside] of cases) {
    const r = parseSemVerRange(range);
    for (const v of inside) assert.ok(satisfies(v, r), `${v} satisfies ${range}`);
    for (const v of outside) assert.ok(!satisfies(v, r), `${v} does not satisfy ${range}`);
  }
  assert.ok(!satisfies('not-a-version', parseSemVerRange('*')));
});

test('semver: malformed ranges are SemVerRangeSyntaxError', () => {
  for (const bad of ['', '   ', '>=', '1.2.3 ||', '^a', '>=1.2.3.4', 'latest', '~>1.0', 'x'.repeat(300)]) {
    assert.throws(() => parseSemVerRange(bad), SemVerRangeSyntaxError, JSON.stringify(bad));
  }
});
