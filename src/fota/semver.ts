/**
 * Semantic Versioning 2.0.0 (semver.org) for the whole fota room: the strict form the firmware
 * repository accepts (parseSemverStrict), the lenient one devices report (parseSemVer), §11
 * precedence, and the subset of npm-style ranges a campaign filter needs:
 * comparators (<, <=, >, >=, =), caret (^), tilde (~), x-ranges (1.x, 1.2.*, *), space-joined
 * sets (AND) and `||` (OR). Written here rather than taken from npm `semver` because it is not a
 * dependency of this package (only a transitive one of the tooling) and the subset is small.
 *
 * Prereleases follow npm's rule: a version with a prerelease tag satisfies a range only if some
 * comparator of the matching set names the same major.minor.patch with a prerelease too, so
 * `>=1.0.0` does not pull devices onto 2.0.0-beta.
 */
import { InvalidArgumentError } from '../errors.js';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Dot-separated identifiers after '-', numeric ones as numbers. */
  prerelease: Array<string | number>;
  /** Build metadata identifiers after '+', kept by parseSemverStrict only; never part of precedence (§10). */
  build?: string[];
}

// SemVer 2.0.0 §2, §9, §10: no leading zeros in numeric parts; build metadata is ignored.
const NUM = '0|[1-9]\\d*';
const IDENT = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const CORE = `(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?$`;
const VERSION = new RegExp(`^v?${CORE}`);
/** The specification's grammar alone: no 'v' prefix, no surrounding whitespace. */
const STRICT_VERSION = new RegExp(`^${CORE}`);
const PARTIAL = new RegExp(`^v?(${NUM}|[xX*])(?:\\.(${NUM}|[xX*])(?:\\.(${NUM}|[xX*])(?:-(${IDENT}(?:\\.${IDENT})*))?)?)?$`);
const MAX_LENGTH = 256;
/** The longest version the firmware repository stores. */
const STRICT_MAX_LENGTH = 128;

/** Parses a full version (`1.2.3`, `1.2.3-rc.1+build.5`, `v1.2.3`); undefined if it is not one. */
export function parseSemVer(text: string): SemVer | undefined {
  if (typeof text !== 'string' || text.length > MAX_LENGTH) return undefined;
  const m = VERSION.exec(text.trim());
  if (m === null) return undefined;
  const nums = [m[1], m[2], m[3]].map(Number);
  if (!nums.every(Number.isSafeInteger)) return undefined;
  return { major: nums[0]!, minor: nums[1]!, patch: nums[2]!, prerelease: parsePrerelease(m[4]) };
}

function parsePrerelease(text: string | undefined, num: (s: string) => number = Number): Array<string | number> {
  if (text === undefined) return [];
  return text.split('.').map((id) => (/^\d+$/.test(id) ? num(id) : id));
}

/**
 * Parses a version exactly as the specification writes it (`1.2.3-rc.1+build.5`; no 'v', no
 * whitespace, at most 128 characters), keeping build metadata; throws ERR_INVALID_ARGUMENT
 * naming `name` otherwise.
 */
export function parseSemverStrict(text: unknown, name = 'version'): Required<SemVer> {
  if (typeof text !== 'string' || text.length > STRICT_MAX_LENGTH) {
    throw new InvalidArgumentError(name, `expected a semantic version string of at most ${STRICT_MAX_LENGTH} characters`);
  }
  const m = STRICT_VERSION.exec(text);
  if (m === null) throw new InvalidArgumentError(name, `${JSON.stringify(text)} is not a semantic version (MAJOR.MINOR.PATCH[-pre][+build])`);
  const num = (s: string): number => {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(name, `${s} is too large`);
    return n;
  };
  return { major: num(m[1]!), minor: num(m[2]!), patch: num(m[3]!), prerelease: parsePrerelease(m[4], num), build: m[5] === undefined ? [] : m[5].split('.') };
}

/** True when parseSemverStrict's grammar and length limit accept `text`. */
export function isSemverStrict(text: unknown): boolean {
  return typeof text === 'string' && text.length <= STRICT_MAX_LENGTH && STRICT_VERSION.test(text);
}

/**
 * SemVer 2.0.0 §11 precedence: negative, zero or positive as `a` ranks below, with or above `b`.
 * Strings are read with parseSemverStrict.
 */
export function compareSemVer(a: string | SemVer, b: string | SemVer): number {
  if (typeof a === 'string') a = parseSemverStrict(a, 'a');
  if (typeof b === 'string') b = parseSemverStrict(b, 'b');
  for (const k of ['major', 'minor', 'patch'] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  const pa = a.prerelease;
  const pb = b.prerelease;
  // A version without prerelease has higher precedence than one with.
  if (pa.length === 0 || pb.length === 0) return pb.length - pa.length === 0 ? 0 : pa.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    // Numeric identifiers have lower precedence than alphanumeric ones.
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

type Op = '<' | '<=' | '>' | '>=' | '=';

interface Comparator {
  op: Op;
  version: SemVer;
}

/** A parsed range: OR of AND-sets of comparators (an empty set matches every release). */
export interface SemVerRange {
  readonly source: string;
  readonly sets: ReadonlyArray<readonly Comparator[]>;
}

export class SemVerRangeSyntaxError extends Error {}

const v = (major: number, minor: number, patch: number, prerelease: Array<string | number> = []): SemVer => ({ major, minor, patch, prerelease });

interface Partial {
  major: number | undefined;
  minor: number | undefined;
  patch: number | undefined;
  prerelease: Array<string | number>;
}

function parsePartial(text: string, range: string): Partial {
  const m = PARTIAL.exec(text);
  if (m === null) throw new SemVerRangeSyntaxError(`${JSON.stringify(text)} in ${JSON.stringify(range)} is not a version or x-range`);
  const part = (s: string | undefined): number | undefined => (s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s));
  const major = part(m[1]);
  const minor = major === undefined ? undefined : part(m[2]);
  const patch = minor === undefined ? undefined : part(m[3]);
  return { major, minor, patch, prerelease: patch === undefined ? [] : parsePrerelease(m[4]) };
}

/** The comparators one range token stands for (npm semver's desugaring of ^, ~, x and partials). */
function desugar(token: string, range: string): Comparator[] {
  const opMatch = /^(<=|>=|<|>|=|\^|~)?\s*(.*)$/.exec(token)!;
  const op = opMatch[1] ?? '';
  const p = parsePartial(opMatch[2]!, range);
  const { major: M, minor: m, patch: pt } = p;
  if (M === undefined) {
    // '*', 'x', '>=*': any release; '<*' or '>*' can match nothing.
    if (op === '<' || op === '>') return [{ op: '<', version: v(0, 0, 0) }];
    return [];
  }
  const full = m !== undefined && pt !== undefined;
  const lower = v(M, m ?? 0, pt ?? 0, p.prerelease);
  switch (op) {
    case '^': {
      const upper = M > 0 || m === undefined ? v(M + 1, 0, 0) : m > 0 || pt === undefined ? v(0, m + 1, 0) : v(0, 0, pt + 1);
      return [{ op: '>=', version: lower }, { op: '<', version: upper }];
    }
    case '~':
      return [{ op: '>=', version: lower }, { op: '<', version: m === undefined ? v(M + 1, 0, 0) : v(M, m + 1, 0) }];
    case '>':
      if (full) return [{ op: '>', version: lower }];
      return [{ op: '>=', version: m === undefined ? v(M + 1, 0, 0) : v(M, m + 1, 0) }];
    case '>=':
      return [{ op: '>=', version: lower }];
    case '<':
      return [{ op: '<', version: lower }];
    case '<=':
      if (full) return [{ op: '<=', version: lower }];
      return [{ op: '<', version: m === undefined ? v(M + 1, 0, 0) : v(M, m + 1, 0) }];
    default:
      if (full) return [{ op: '=', version: lower }];
      return [{ op: '>=', version: lower }, { op: '<', version: m === undefined ? v(M + 1, 0, 0) : v(M, m + 1, 0) }];
  }
}

/** Parses a range such as `>=1.2.0 <2.0.0`, `^1.4`, `~2.1.3 || 3.x`; throws SemVerRangeSyntaxError. */
export function parseSemVerRange(text: string): SemVerRange {
  if (typeof text !== 'string' || text.length > MAX_LENGTH) throw new SemVerRangeSyntaxError('a range is a string of at most 256 characters');
  if (text.trim() === '') throw new SemVerRangeSyntaxError('empty range (use "*" for any version)');
  const sets = text.split('||').map((alt) => {
    const trimmed = alt.trim();
    if (trimmed === '') throw new SemVerRangeSyntaxError(`empty alternative in ${JSON.stringify(text)}`);
    // Glue operators to their version: ">= 1.2.3" is one comparator.
    const tokens = trimmed.replace(/(<=|>=|<|>|=|\^|~)\s+/g, '$1').split(/\s+/);
    return tokens.flatMap((token) => desugar(token, text));
  });
  return { source: text, sets };
}

function test(c: Comparator, x: SemVer): boolean {
  const r = compareSemVer(x, c.version);
  switch (c.op) {
    case '<': return r < 0;
    case '<=': return r <= 0;
    case '>': return r > 0;
    case '>=': return r >= 0;
    default: return r === 0;
  }
}

/** True when `version` (a string that must parse as SemVer) lies in `range`. */
export function satisfies(version: string | SemVer, range: SemVerRange): boolean {
  const x = typeof version === 'string' ? parseSemVer(version) : version;
  if (x === undefined) return false;
  return range.sets.some((set) => {
    if (!set.every((c) => test(c, x))) return false;
    if (x.prerelease.length === 0) return true;
    return set.some((c) => c.version.prerelease.length > 0 && c.version.major === x.major && c.version.minor === x.minor && c.version.patch === x.patch);
  });
}
