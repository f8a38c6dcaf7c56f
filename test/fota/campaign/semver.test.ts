import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SemVerRangeSyntaxError, compareSemVer, parseSemVer, parseSemVerRange, satisfies } from '../../../src/fota/campaign/semver.js';

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
