/**
 * The CWT Claims Set (RFC 8392 §3): a CBOR map of claims by integer or text label, with the
 * seven registered claims typed and checked.
 */
import { InvalidArgumentError } from '../errors.js';
import { describeType } from '../util/assert.js';
import { decodeCbor, encodeCbor, type DecodeCborOptions } from './cbor.js';
import { CwtMalformedError } from './errors.js';

/** Registered claim keys (RFC 8392 §4, Table 1). */
export const CwtClaimLabels = {
  iss: 1,
  sub: 2,
  aud: 3,
  exp: 4,
  nbf: 5,
  iat: 6,
  cti: 7,
} as const;

type RegisteredName = keyof typeof CwtClaimLabels;

export interface CwtClaims {
  /** Issuer, StringOrURI (RFC 8392 §3.1.1). */
  iss?: string;
  sub?: string;
  /** Audience: in a CWT a single StringOrURI (RFC 8392 §3.1.3). */
  aud?: string;
  /** NumericDate: seconds since the epoch, integer or floating point (RFC 8392 §2). */
  exp?: number;
  nbf?: number;
  iat?: number;
  /** CWT ID (RFC 8392 §3.1.7). */
  cti?: Uint8Array;
  /** Every other claim, by its integer or text label. */
  other?: Map<number | string, unknown>;
}

const STRING_CLAIMS: RegisteredName[] = ['iss', 'sub', 'aud'];
const DATE_CLAIMS: RegisteredName[] = ['exp', 'nbf', 'iat'];

/** Why `value` is not valid for claim `name`, or undefined. */
function claimProblem(name: RegisteredName, value: unknown): string | undefined {
  if (STRING_CLAIMS.includes(name)) return typeof value === 'string' ? undefined : `${name} must be a text string, got ${describeType(value)}`;
  if (DATE_CLAIMS.includes(name)) {
    // RFC 8392 §2 NumericDate: a number; "the leading tag 1 (epoch-based date/time) MUST be omitted".
    return typeof value === 'number' && Number.isFinite(value) ? undefined : `${name} must be a NumericDate (finite number), got ${describeType(value)}`;
  }
  return value instanceof Uint8Array ? undefined : `cti must be a byte string, got ${describeType(value)}`;
}

const NAME_BY_LABEL = new Map<number, RegisteredName>(Object.entries(CwtClaimLabels).map(([n, l]) => [l, n as RegisteredName]));

/** Builds the claims map, checking every registered claim's type. */
export function cwtClaimsToMap(claims: CwtClaims): Map<number | string, unknown> {
  if (typeof claims !== 'object' || claims === null) throw new InvalidArgumentError('claims', `expected an object, got ${describeType(claims)}`);
  const map = new Map<number | string, unknown>();
  for (const [key, value] of Object.entries(claims)) {
    if (value === undefined || key === 'other') continue;
    if (!(key in CwtClaimLabels)) throw new InvalidArgumentError('claims', `unknown claim name ${JSON.stringify(key)} (put other claims in claims.other)`);
    const name = key as RegisteredName;
    const problem = claimProblem(name, value);
    if (problem !== undefined) throw new InvalidArgumentError(`claims.${name}`, problem);
    map.set(CwtClaimLabels[name], value);
  }
  if (claims.other !== undefined) {
    if (!(claims.other instanceof Map)) throw new InvalidArgumentError('claims.other', 'expected a Map of claims by label');
    for (const [label, value] of claims.other) {
      if (!((typeof label === 'number' && Number.isSafeInteger(label)) || typeof label === 'string')) throw new InvalidArgumentError('claims.other', `claim label ${describeType(label)} is not an int or tstr`);
      if (map.has(label) || NAME_BY_LABEL.has(label as number)) throw new InvalidArgumentError('claims.other', `claim ${JSON.stringify(label)} is registered; use its name`);
      map.set(label, value);
    }
  }
  return map;
}

/** Encodes a CWT Claims Set deterministically. */
export function encodeCwtClaims(claims: CwtClaims): Uint8Array {
  return encodeCbor(cwtClaimsToMap(claims));
}

/** Checks a decoded claims map (RFC 8392 §3) and names the registered claims. */
export function cwtClaimsFromMap(value: unknown): CwtClaims {
  if (!(value instanceof Map)) throw new CwtMalformedError(`a CWT Claims Set must be a map, got ${describeType(value)}`);
  const claims: CwtClaims = {};
  const other = new Map<number | string, unknown>();
  for (const [label, claim] of value as Map<unknown, unknown>) {
    if (!((typeof label === 'number' && Number.isSafeInteger(label)) || typeof label === 'string')) throw new CwtMalformedError(`claim key ${describeType(label)} is not an int or tstr`);
    const name = typeof label === 'number' ? NAME_BY_LABEL.get(label) : undefined;
    if (name === undefined) {
      other.set(label, claim);
      continue;
    }
    const problem = claimProblem(name, claim);
    if (problem !== undefined) throw new CwtMalformedError(problem);
    (claims as Record<string, unknown>)[name] = claim;
  }
  if (other.size > 0) claims.other = other;
  return claims;
}

/** Decodes and checks a CWT Claims Set. */
export function decodeCwtClaims(bytes: Uint8Array, options?: DecodeCborOptions): CwtClaims {
  return cwtClaimsFromMap(decodeCbor(bytes, options));
}
