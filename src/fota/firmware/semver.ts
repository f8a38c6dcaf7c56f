/**
 * Semantic Versioning 2.0.0 (semver.org): parsing with the specification's grammar and
 * comparison by its precedence rules (§11). Build metadata is kept but ignored in comparisons.
 */
import { InvalidArgumentError } from '../../errors.js';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: Array<string | number>;
  build: string[];
}

// The specification's recommended regular expression (numeric identifiers without leading zeros).
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export function parseSemver(text: unknown, name = 'version'): SemVer {
  if (typeof text !== 'string' || text.length > 128) throw new InvalidArgumentError(name, 'expected a semantic version string of at most 128 characters');
  const m = SEMVER.exec(text);
  if (m === null) throw new InvalidArgumentError(name, `${JSON.stringify(text)} is not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])`);
  const num = (s: string): number => {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(name, `${s} is too large`);
    return n;
  };
  return {
    major: num(m[1]!),
    minor: num(m[2]!),
    patch: num(m[3]!),
    prerelease: m[4] === undefined ? [] : m[4].split('.').map((id) => (/^\d+$/.test(id) ? num(id) : id)),
    build: m[5] === undefined ? [] : m[5].split('.'),
  };
}

export function isSemver(text: unknown): boolean {
  return typeof text === 'string' && text.length <= 128 && SEMVER.test(text);
}

/** Negative, zero or positive as `a` has lower, equal or higher precedence than `b`. */
export function compareSemver(a: string | SemVer, b: string | SemVer): number {
  const x = typeof a === 'string' ? parseSemver(a, 'a') : a;
  const y = typeof b === 'string' ? parseSemver(b, 'b') : b;
  for (const k of ['major', 'minor', 'patch'] as const) if (x[k] !== y[k]) return x[k] < y[k] ? -1 : 1;
  // §11.3: a pre-release version has lower precedence than the normal version.
  if (x.prerelease.length === 0 || y.prerelease.length === 0) return y.prerelease.length - x.prerelease.length === 0 ? 0 : x.prerelease.length === 0 ? 1 : -1;
  const n = Math.min(x.prerelease.length, y.prerelease.length);
  for (let i = 0; i < n; i++) {
    const p = x.prerelease[i]!;
    const q = y.prerelease[i]!;
    if (p === q) continue;
    // §11.4: numeric identifiers compare numerically and rank below alphanumeric ones.
    if (typeof p === 'number' && typeof q === 'number') return p < q ? -1 : 1;
    if (typeof p === 'number') return -1;
    if (typeof q === 'number') return 1;
    return p < q ? -1 : 1;
  }
  return Math.sign(x.prerelease.length - y.prerelease.length);
}
