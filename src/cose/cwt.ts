/**
 * CBOR Web Tokens (RFC 8392): a claims set protected by COSE_Sign1 or COSE_Mac0 (created here)
 * or COSE_Encrypt0, possibly nested (verified here), with the time, issuer and audience checks
 * of RFC 8392 §3.1 / RFC 7519 §4.1.
 */
import type { Signer } from '../crypto/keystore/types.js';
import { InvalidArgumentError } from '../errors.js';
import { assertBytes, describeType } from '../util/assert.js';
import { CborTag, decodeCbor, type DecodeCborOptions } from './cbor.js';
import { cwtClaimsFromMap, encodeCwtClaims, type CwtClaims } from './claims.js';
import { decrypt0, type ContentKeyInput, type DecryptedEncrypt0 } from './encrypt0.js';
import {
  CoseKeyNotFoundError,
  CoseUnexpectedTagError,
  CwtAudienceMismatchError,
  CwtExpiredError,
  CwtIssuerMismatchError,
  CwtMalformedError,
  CwtMissingClaimError,
  CwtNestingTooDeepError,
  CwtNotYetValidError,
} from './errors.js';
import { HeaderLabels, headerValue, type HeaderInput, type HeaderLabel, type HeaderMap } from './headers.js';
import type { MacKey } from './mac-key.js';
import { mac0, verifyMac0, type MacKeyInput, type VerifiedMac0 } from './mac0.js';
import { CoseTag, assertAllowlist, assertLabelList, assertOptionalBoolean, assertOptionsObject, type KeyLookup } from './message.js';
import { sign1, verifySign1, type VerifiedSign1 } from './sign1.js';
import type { PublicKeyInput } from './signature-keys.js';

export type RegisteredClaimName = 'iss' | 'sub' | 'aud' | 'exp' | 'nbf' | 'iat' | 'cti';

export interface CreateCwtOptions {
  /** Sign the claims (COSE_Sign1). Exactly one of signer and macKey. */
  signer?: Signer;
  /** MAC the claims (COSE_Mac0). */
  macKey?: MacKey;
  protectedHeader?: HeaderInput;
  unprotectedHeader?: HeaderInput;
  externalAad?: Uint8Array;
  /** Prefix the CWT CBOR tag 61 (RFC 8392 §6). Default true. */
  cwtTag?: boolean;
}

/** The COSE message types a CWT layer can be. */
export type CwtLayerType = 'COSE_Sign1' | 'COSE_Mac0' | 'COSE_Encrypt0';

/** A key for one layer: SPKI/KeyObject/COSE_Key for Sign1, a secret/MacKey/COSE_Key otherwise. */
export type CwtKey = PublicKeyInput | MacKeyInput | ContentKeyInput;

export interface CwtLayer {
  type: CwtLayerType;
  alg: number;
  kid: Uint8Array | undefined;
  protectedHeader: HeaderMap;
  unprotectedHeader: HeaderMap;
}

export interface VerifyCwtOptions {
  /** The key for every layer (a Uint8Array is SPKI DER for COSE_Sign1, a raw secret otherwise). */
  key?: CwtKey;
  /** Finds each layer's key; needed for nested CWTs whose layers use different keys. */
  resolveKey?: (lookup: KeyLookup & { type: CwtLayerType }) => CwtKey | undefined | Promise<CwtKey | undefined>;
  /** Algorithms accepted in any layer (default: every supported one). */
  algorithms?: readonly number[];
  /** Accepted issuers; when given, "iss" must be present and one of them. */
  issuer?: string | readonly string[];
  /** Accepted audiences; when given, "aud" must be present and one of them. */
  audience?: string | readonly string[];
  /** Leeway in seconds for exp and nbf (default 0). */
  clockTolerance?: number;
  /** The current time, as a Date or seconds since the epoch (default: the clock). */
  now?: Date | number;
  /** Claims that must be present, by name. */
  requiredClaims?: readonly RegisteredClaimName[];
  /** Message type of an untagged CWT (RFC 8392 §7.2 step 3: "determined from the application context"). */
  untaggedType?: CwtLayerType;
  /** Most COSE layers accepted (default 4). */
  maxLayers?: number;
  externalAad?: Uint8Array;
  criticalHeaders?: readonly HeaderLabel[];
  cbor?: DecodeCborOptions;
}

export interface VerifiedCwt {
  claims: CwtClaims;
  /** Outermost first. */
  layers: CwtLayer[];
}

const COSE_TYPES = new Map<number, CwtLayerType>([
  [CoseTag.Sign1, 'COSE_Sign1'],
  [CoseTag.Mac0, 'COSE_Mac0'],
  [CoseTag.Encrypt0, 'COSE_Encrypt0'],
]);

/** Length of the tag head at the start of `bytes` (major type 6), for slicing the tag off. */
function tagHeadLength(bytes: Uint8Array): number {
  const ai = bytes[0]! & 0x1f;
  return ai < 24 ? 1 : ai === 24 ? 2 : ai === 25 ? 3 : ai === 26 ? 5 : 9;
}

/** Creates a CWT: the claims set signed (COSE_Sign1) or MACed (COSE_Mac0), tagged 61 by default. */
export async function createCwt(claims: CwtClaims, options: CreateCwtOptions): Promise<Uint8Array> {
  assertOptionsObject(options);
  if ((options.signer === undefined) === (options.macKey === undefined)) throw new InvalidArgumentError('options', 'give exactly one of signer and macKey');
  assertOptionalBoolean(options.cwtTag, 'options.cwtTag');
  const payload = encodeCwtClaims(claims);
  const common = { payload, protectedHeader: options.protectedHeader, unprotectedHeader: options.unprotectedHeader, externalAad: options.externalAad };
  // RFC 8392 §7.1 step 4: the COSE message is tagged, so the CWT tag can be followed by it.
  const message = options.signer !== undefined ? await sign1({ ...common, signer: options.signer }) : await mac0({ ...common, key: options.macKey! });
  if (options.cwtTag === false) return message;
  const out = new Uint8Array(message.length + 2);
  out.set([0xd8, CoseTag.Cwt]);
  out.set(message, 2);
  return out;
}

function toList(value: string | readonly string[] | undefined, name: string): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string')) throw new InvalidArgumentError(name, 'expected a string or a non-empty array of strings');
  return list;
}

function nowSeconds(now: Date | number | undefined): number {
  if (now === undefined) return Date.now() / 1000;
  if (now instanceof Date) {
    const t = now.getTime();
    if (!Number.isFinite(t)) throw new InvalidArgumentError('options.now', 'invalid Date');
    return t / 1000;
  }
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new InvalidArgumentError('options.now', `expected a Date or seconds, got ${describeType(now)}`);
  return now;
}

/** RFC 8392 §7.2 step 7: a payload that is itself a CWT or COSE message is a nested CWT. */
function isNested(headerCty: unknown, payloadValue: unknown): boolean {
  if (headerCty === CoseTag.Cwt || headerCty === 'application/cwt') return true;
  return payloadValue instanceof CborTag && (Number(payloadValue.tag) === CoseTag.Cwt || COSE_TYPES.has(Number(payloadValue.tag)));
}

/** Step 4-6: verify or decrypt one COSE layer with the caller's key or resolver. */
async function openLayer(bytes: Uint8Array, type: CwtLayerType, options: VerifyCwtOptions): Promise<{ content: Uint8Array; layer: CwtLayer }> {
  const envelope = { algorithms: options.algorithms, externalAad: options.externalAad, criticalHeaders: options.criticalHeaders, cbor: options.cbor };
  const lookup = options.resolveKey;
  // The same resolver serves every layer; it is told which message type it is keying.
  const resolve = async <T>(l: KeyLookup): Promise<T> => {
    const found = await lookup!({ ...l, type });
    if (found === undefined) throw new CoseKeyNotFoundError(l.kid);
    return found as T;
  };
  const layerOf = (r: VerifiedSign1 | VerifiedMac0 | DecryptedEncrypt0): CwtLayer => ({ type, alg: r.alg, kid: r.kid, protectedHeader: r.protectedHeader, unprotectedHeader: r.unprotectedHeader });
  if (type === 'COSE_Sign1') {
    const r = await verifySign1(bytes, { ...envelope, ...(lookup ? { resolveKey: (l: KeyLookup) => resolve<PublicKeyInput>(l) } : { key: options.key as PublicKeyInput }) });
    return { content: r.payload, layer: layerOf(r) };
  }
  if (type === 'COSE_Mac0') {
    const r = await verifyMac0(bytes, { ...envelope, ...(lookup ? { resolveKey: (l: KeyLookup) => resolve<MacKeyInput>(l) } : { key: options.key as MacKeyInput }) });
    return { content: r.payload, layer: layerOf(r) };
  }
  const r = await decrypt0(bytes, { ...envelope, ...(lookup ? { resolveKey: (l: KeyLookup) => resolve<ContentKeyInput>(l) } : { key: options.key as ContentKeyInput }) });
  return { content: r.plaintext, layer: layerOf(r) };
}

/**
 * Validates a CWT following RFC 8392 §7.2: strip the CWT tag, pick the COSE type from its tag,
 * verify or decrypt, descend into nested CWTs, then check the claims. Throws ERR_CWT_* for claim
 * failures and ERR_COSE_* for the COSE layers.
 */
export async function verifyCwt(bytes: Uint8Array, options: VerifyCwtOptions): Promise<VerifiedCwt> {
  assertBytes(bytes, 'bytes');
  assertOptionsObject(options);
  if ((options.key === undefined) === (options.resolveKey === undefined)) throw new InvalidArgumentError('options', 'give exactly one of key and resolveKey');
  if (options.resolveKey !== undefined && typeof options.resolveKey !== 'function') throw new InvalidArgumentError('options.resolveKey', 'expected a function');
  assertAllowlist(options.algorithms, 'options.algorithms');
  assertLabelList(options.criticalHeaders, 'options.criticalHeaders');
  const issuers = toList(options.issuer, 'options.issuer');
  const audiences = toList(options.audience, 'options.audience');
  const tolerance = options.clockTolerance ?? 0;
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) throw new InvalidArgumentError('options.clockTolerance', 'expected seconds >= 0');
  const now = nowSeconds(options.now);
  const maxLayers = options.maxLayers ?? 4;
  if (!Number.isSafeInteger(maxLayers) || maxLayers < 1) throw new InvalidArgumentError('options.maxLayers', 'expected an integer >= 1');
  if (options.untaggedType !== undefined && ![...COSE_TYPES.values()].includes(options.untaggedType)) throw new InvalidArgumentError('options.untaggedType', 'expected COSE_Sign1, COSE_Mac0 or COSE_Encrypt0');
  const required: readonly RegisteredClaimName[] = options.requiredClaims ?? [];
  if (!Array.isArray(required as unknown) || !required.every((n) => ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'cti'].includes(n))) {
    throw new InvalidArgumentError('options.requiredClaims', 'expected an array of registered claim names');
  }

  const layers: CwtLayer[] = [];
  let current = bytes;
  let claimsValue: unknown;
  for (;;) {
    if (layers.length === maxLayers) throw new CwtNestingTooDeepError(maxLayers);
    let value = decodeCbor(current, options.cbor);
    let untagged = current;
    // Step 2: "If the object begins with the CWT CBOR tag, remove it and verify that one of the COSE CBOR tags follows it."
    if (value instanceof CborTag && Number(value.tag) === CoseTag.Cwt) {
      untagged = current.subarray(tagHeadLength(current));
      value = value.contents;
      if (!(value instanceof CborTag)) throw new CwtMalformedError('the CWT tag must be followed by a COSE tag');
    }
    // Step 3: the COSE tag names the type; without one, the application says.
    let type: CwtLayerType | undefined;
    if (value instanceof CborTag) {
      type = COSE_TYPES.get(Number(value.tag));
      if (type === undefined) throw new CoseUnexpectedTagError(value.tag as number | bigint, 'COSE_Sign1, COSE_Mac0 or COSE_Encrypt0');
    } else {
      type = options.untaggedType;
      if (type === undefined) throw new CwtMalformedError('an untagged CWT needs options.untaggedType');
    }

    const { content, layer } = await openLayer(untagged, type, options);
    layers.push(layer);

    let payloadValue: unknown;
    try {
      payloadValue = decodeCbor(content, options.cbor);
    } catch (err) {
      throw new CwtMalformedError('the CWT payload is not CBOR', { cause: err });
    }
    // Step 7: nested when the content type says so, or when the content is itself a tagged COSE
    // message (a claims set is a map, so the two cannot be confused; RFC 8392 A.6 carries no cty).
    if (isNested(headerValue(layer.protectedHeader, layer.unprotectedHeader, HeaderLabels.contentType), payloadValue)) {
      current = content;
      continue;
    }
    claimsValue = payloadValue;
    break;
  }

  // Step 8: the claims set.
  const claims = cwtClaimsFromMap(claimsValue);
  for (const name of required) if (claims[name] === undefined) throw new CwtMissingClaimError(name);
  // RFC 7519 §4.1.4: "the current date/time MUST be before the expiration date/time".
  if (claims.exp !== undefined && now - tolerance >= claims.exp) throw new CwtExpiredError(claims.exp, now);
  // RFC 7519 §4.1.5: "the current date/time MUST be after or equal to the not-before date/time".
  if (claims.nbf !== undefined && now + tolerance < claims.nbf) throw new CwtNotYetValidError(claims.nbf, now);
  if (issuers !== undefined && (claims.iss === undefined || !issuers.includes(claims.iss))) throw new CwtIssuerMismatchError(claims.iss);
  // RFC 7519 §4.1.3: a recipient that does not identify itself with "aud" MUST reject the token.
  if (audiences !== undefined && (claims.aud === undefined || !audiences.includes(claims.aud))) throw new CwtAudienceMismatchError(claims.aud);
  return { claims, layers };
}
