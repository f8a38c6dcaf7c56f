/** Semantic Versioning 2.0.0: the specification's own precedence example (§11) and its grammar. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareSemver, isSemver, parseSemver } from '../../../src/fota/firmware/index.js';

describe('semver', () => {
  it('orders the §11 example chain', () => {
    // semver.org §11.4: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0
    const chain = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) assert.equal(Math.sign(compareSemver(chain[i]!, chain[j]!)), Math.sign(i - j), `${chain[i]} vs ${chain[j]}`);
    }
    // §11.2: 1.0.0 < 2.0.0 < 2.1.0 < 2.1.1; build metadata is ignored (§10).
    assert.ok(compareSemver('1.0.0', '2.0.0') < 0 && compareSemver('2.0.0', '2.1.0') < 0 && compareSemver('2.1.0', '2.1.1') < 0);
    assert.equal(compareSemver('1.0.0+build.1', '1.0.0+build.2'), 0);
  });

  it('accepts the grammar and refuses what it excludes', () => {
    for (const ok of ['0.0.0', '1.2.3', '10.20.30', '1.0.0-0.3.7', '1.0.0-x.7.z.92', '1.0.0+20130313144700', '1.0.0-beta+exp.sha.5114f85']) assert.ok(isSemver(ok), ok);
    for (const bad of ['1', '1.2', '01.2.3', '1.02.3', '1.2.3-01', '1.2.3-', '1.2.3+', 'v1.2.3', ' 1.2.3', '1.2.3\n']) {
      assert.equal(isSemver(bad), false, bad);
      assert.throws(() => parseSemver(bad), { code: 'ERR_INVALID_ARGUMENT' });
    }
    assert.deepEqual(parseSemver('1.0.0-alpha.1+b.2'), { major: 1, minor: 0, patch: 0, prerelease: ['alpha', 1], build: ['b', '2'] });
  });

  it('comparison is antisymmetric and parsing never throws untyped errors (fuzz)', () => {
    const version = fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20), fc.array(fc.oneof(fc.nat(12), fc.constantFrom('alpha', 'beta', 'rc')), { maxLength: 3 })).map(
      ([a, b, c, pre]) => `${a}.${b}.${c}${pre.length > 0 ? `-${pre.join('.')}` : ''}`,
    );
    fc.assert(fc.property(version, version, (x, y) => Math.sign(compareSemver(x, y)) === -Math.sign(compareSemver(y, x))), { numRuns: 300 });
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => {
      try {
        parseSemver(s);
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
      }
    }), { numRuns: 300 });
  });
});
