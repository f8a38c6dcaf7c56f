/**
 * Header parameters (RFC 9052 §3): the two buckets, the common parameters of §3.1, and the rules
 * both producers and consumers must keep. Producers get InvalidArgumentError; consumers get
 * CoseMalformedMessageError.
 */
import { InvalidArgumentError } from '../errors.js';
import { describeType } from '../util/assert.js';
import { encodeCbor } from './cbor.js';
import { CoseMalformedMessageError, CoseUnknownCriticalHeaderError } from './errors.js';

/** RFC 9052 §1.5: "label = int / tstr". */
export type HeaderLabel = number | string;
export type HeaderMap = Map<HeaderLabel, unknown>;

/** Common header parameter labels (RFC 9052 §3.1, Table 3). */
export const HeaderLabels = {
  alg: 1,
  crit: 2,
  contentType: 3,
  kid: 4,
  iv: 5,
  partialIv: 6,
} as const;

/** The common parameters by name, for callers who would rather not spell labels. */
export interface HeaderParameters {
  alg?: number;
  crit?: HeaderLabel[];
  contentType?: number | string;
  kid?: Uint8Array;
  iv?: Uint8Array;
  partialIv?: Uint8Array;
}

/** A header bucket as callers give it: a Map by label, or the common parameters by name. */
export type HeaderInput = ReadonlyMap<HeaderLabel, unknown> | HeaderParameters;

const NAMED_LABELS: Record<keyof HeaderParameters, number> = HeaderLabels;

/** Labels this library itself processes, hence "understood" when listed in crit. */
const UNDERSTOOD = new Set<HeaderLabel>([1, 2, 3, 4, 5, 6]);

function isLabel(label: unknown): label is HeaderLabel {
  return (typeof label === 'number' && Number.isSafeInteger(label)) || typeof label === 'string';
}

/** Why a value breaks the §3.1 type of its label, or undefined when it is fine. */
function commonParameterProblem(label: HeaderLabel, value: unknown): string | undefined {
  switch (label) {
    case HeaderLabels.alg:
      return isLabel(value) ? undefined : `alg must be an int or tstr, got ${describeType(value)}`;
    case HeaderLabels.crit:
      if (!Array.isArray(value) || value.length === 0) return 'crit must be a non-empty array';
      return value.every(isLabel) ? undefined : 'crit must list int or tstr labels';
    case HeaderLabels.contentType:
      if (typeof value === 'string') return undefined;
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? undefined : 'content type must be a uint or tstr';
    case HeaderLabels.kid:
    case HeaderLabels.iv:
    case HeaderLabels.partialIv:
      return value instanceof Uint8Array ? undefined : `header parameter ${label} must be a bstr, got ${describeType(value)}`;
    default:
      return undefined;
  }
}

/** Checks one bucket and the pair; returns the first problem found. */
function bucketsProblem(protectedHeader: HeaderMap, unprotectedHeader: HeaderMap): string | undefined {
  for (const [label, value] of protectedHeader) {
    if (!isLabel(label)) return `header label ${describeType(label)} is not an int or tstr`;
    const problem = commonParameterProblem(label, value);
    if (problem !== undefined) return problem;
  }
  for (const [label, value] of unprotectedHeader) {
    if (!isLabel(label)) return `header label ${describeType(label)} is not an int or tstr`;
    const problem = commonParameterProblem(label, value);
    if (problem !== undefined) return problem;
    // RFC 9052 §3.1: "When present, the 'crit' header parameter MUST be placed in the protected-header-parameters bucket."
    if (label === HeaderLabels.crit) return 'crit must be in the protected bucket';
    // RFC 9052 §3: "Applications SHOULD verify that the same label does not occur in both the protected and unprotected header parameters."
    if (protectedHeader.has(label)) return `header label ${JSON.stringify(label)} occurs in both buckets`;
  }
  // RFC 9052 §3.1: "The 'Initialization Vector' and 'Partial Initialization Vector' header parameters MUST NOT both be present in the same security layer."
  const hasIv = protectedHeader.has(HeaderLabels.iv) || unprotectedHeader.has(HeaderLabels.iv);
  const hasPartialIv = protectedHeader.has(HeaderLabels.partialIv) || unprotectedHeader.has(HeaderLabels.partialIv);
  if (hasIv && hasPartialIv) return 'IV and Partial IV must not both be present';
  return undefined;
}

/** Copies a caller's bucket into a fresh Map, validating labels and common parameter types. */
export function toHeaderMap(input: HeaderInput | undefined, name: string): HeaderMap {
  if (input === undefined) return new Map();
  if (input instanceof Map) {
    const out: HeaderMap = new Map();
    for (const [label, value] of input as ReadonlyMap<unknown, unknown>) {
      if (!isLabel(label)) throw new InvalidArgumentError(name, `header label ${describeType(label)} is not an integer or string`);
      if (value === undefined) throw new InvalidArgumentError(name, `header parameter ${JSON.stringify(label)} is undefined`);
      out.set(label, value);
    }
    return out;
  }
  if (typeof input !== 'object' || input === null) throw new InvalidArgumentError(name, `expected a Map or header parameters object, got ${describeType(input)}`);
  const out: HeaderMap = new Map();
  for (const [key, value] of Object.entries(input)) {
    if (!(key in NAMED_LABELS)) throw new InvalidArgumentError(name, `unknown header parameter name ${JSON.stringify(key)} (use a Map for other labels)`);
    if (value !== undefined) out.set(NAMED_LABELS[key as keyof HeaderParameters], value);
  }
  return out;
}

/** Producer side: both buckets must be valid COSE before anything is signed or sealed. */
export function assertHeaderBuckets(protectedHeader: HeaderMap, unprotectedHeader: HeaderMap, name: string): void {
  const problem = bucketsProblem(protectedHeader, unprotectedHeader);
  if (problem !== undefined) throw new InvalidArgumentError(name, problem);
}

/** Consumer side: same rules, reported as a malformed message. */
export function checkReceivedBuckets(protectedHeader: HeaderMap, unprotectedHeader: HeaderMap): void {
  const problem = bucketsProblem(protectedHeader, unprotectedHeader);
  if (problem !== undefined) throw new CoseMalformedMessageError(problem);
}

/**
 * RFC 9052 §3.1 crit: the listed parameters "MUST be understood"; a recipient that does not
 * understand one MUST reject the message. `understood` adds the labels the application itself
 * processes.
 */
export function checkCritical(protectedHeader: HeaderMap, understood: readonly HeaderLabel[] = []): void {
  const crit = protectedHeader.get(HeaderLabels.crit);
  if (crit === undefined) return;
  for (const label of crit as HeaderLabel[]) {
    if (!UNDERSTOOD.has(label) && !understood.includes(label)) throw new CoseUnknownCriticalHeaderError(label);
  }
}

/**
 * The protected bucket as bytes. RFC 9052 §3: "Senders SHOULD encode a zero-length map as a
 * zero-length byte string rather than as a zero-length map (encoded as h'a0')."
 */
export function encodeProtectedHeader(protectedHeader: HeaderMap): Uint8Array {
  return protectedHeader.size === 0 ? new Uint8Array(0) : encodeCbor(protectedHeader);
}

/**
 * RFC 9052 §3, recipients: look in the protected bucket first, "and only if an attribute is not
 * found in the protected bucket can that attribute be obtained from the unprotected bucket."
 */
export function headerValue(protectedHeader: HeaderMap, unprotectedHeader: HeaderMap, label: HeaderLabel): unknown {
  return protectedHeader.has(label) ? protectedHeader.get(label) : unprotectedHeader.get(label);
}
