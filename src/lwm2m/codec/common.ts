/**
 * What every LwM2M content-format codec shares: options (object model + limits), type lookups,
 * UTF-8 with strict decoding, and the textual forms of values that text/plain, SenML and LwM2M CBOR
 * agree on (objlnk "objectId:instanceId").
 */
import { assertInteger } from '../../util/assert.js';
import { InvalidArgumentError } from '../../errors.js';
import type { ResourceDefinition, ResourceType } from '../model/definitions.js';
import { Lwm2mBadPayloadError } from '../model/errors.js';
import type { ObjectLink, MultiplicityLookup } from '../model/node.js';
import type { ObjectRegistry } from '../model/registry.js';

/** A resource type that holds a value (every type but executable 'none'). */
export type ValueType = Exclude<ResourceType, 'none'>;

export interface Lwm2mCodecLimits {
  /** Longest payload accepted, in bytes (default 4 MiB; TLV itself caps a value at 16 MiB). */
  maxPayloadLength?: number;
  /** Most values (leaves, records, TLVs, links) in one payload (default 4096). */
  maxEntries?: number;
  /** Deepest nesting of CBOR arrays/maps (default 16; LwM2M CBOR needs at most 6). */
  maxDepth?: number;
  /** Longest string value, in UTF-8 bytes (default 65536). */
  maxStringLength?: number;
  /** Longest opaque value, in bytes (default 1 MiB). */
  maxOpaqueLength?: number;
}

export interface Lwm2mCodecOptions {
  /** Object definitions deciding types where the format does not carry them. */
  registry?: ObjectRegistry;
  limits?: Lwm2mCodecLimits;
}

export interface ResolvedLimits {
  maxPayloadLength: number;
  maxEntries: number;
  maxDepth: number;
  maxStringLength: number;
  maxOpaqueLength: number;
}

export function resolveLimits(limits: Lwm2mCodecLimits | undefined): ResolvedLimits {
  const l = limits ?? {};
  const r: ResolvedLimits = {
    maxPayloadLength: l.maxPayloadLength ?? 4 << 20,
    maxEntries: l.maxEntries ?? 4096,
    maxDepth: l.maxDepth ?? 16,
    maxStringLength: l.maxStringLength ?? 65536,
    maxOpaqueLength: l.maxOpaqueLength ?? 1 << 20,
  };
  assertInteger(r.maxPayloadLength, 'limits.maxPayloadLength', 0);
  assertInteger(r.maxEntries, 'limits.maxEntries', 1);
  assertInteger(r.maxDepth, 'limits.maxDepth', 6, 1024);
  assertInteger(r.maxStringLength, 'limits.maxStringLength', 0);
  assertInteger(r.maxOpaqueLength, 'limits.maxOpaqueLength', 0);
  return r;
}

/** Refuses a payload over the length limit before any parsing. */
export function checkPayload(payload: unknown, limits: ResolvedLimits): asserts payload is Uint8Array {
  if (!(payload instanceof Uint8Array)) throw new InvalidArgumentError('payload', 'expected a Uint8Array');
  if (payload.length > limits.maxPayloadLength) throw new Lwm2mBadPayloadError(`payload longer than ${limits.maxPayloadLength} bytes`);
}

export function resourceDefinition(options: Lwm2mCodecOptions, objectId: number, resourceId: number): ResourceDefinition | undefined {
  return options.registry?.getResource(objectId, resourceId);
}

/** The model type of a resource; undefined when unknown. An executable resource holds no value. */
export function modelType(options: Lwm2mCodecOptions, objectId: number, resourceId: number): ValueType | undefined {
  const def = resourceDefinition(options, objectId, resourceId);
  if (def === undefined) return undefined;
  if (def.type === 'none') throw new Lwm2mBadPayloadError(`/${objectId}/x/${resourceId} is executable and holds no value`);
  return def.type;
}

export function multiplicity(options: Lwm2mCodecOptions): MultiplicityLookup {
  return (o, r) => resourceDefinition(options, o, r)?.multiple;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch (err) {
    throw new Lwm2mBadPayloadError(`${what} is not valid UTF-8`, { cause: err });
  }
}

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

export function checkStringLength(byteLength: number, limits: ResolvedLimits, what: string): void {
  if (byteLength > limits.maxStringLength) throw new Lwm2mBadPayloadError(`${what} longer than ${limits.maxStringLength} bytes`);
}

export function checkOpaqueLength(byteLength: number, limits: ResolvedLimits, what: string): void {
  if (byteLength > limits.maxOpaqueLength) throw new Lwm2mBadPayloadError(`${what} longer than ${limits.maxOpaqueLength} bytes`);
}

/**
 * Objlnk as text (Core §7.4.1 plain text, §7.4.5 SenML "vlo"): two decimal 16-bit unsigned integers
 * separated by ':', e.g. "3:0".
 */
export function parseObjlnkText(text: string): ObjectLink {
  const m = /^(0|[1-9][0-9]{0,4}):(0|[1-9][0-9]{0,4})$/.exec(text);
  if (m === null) throw new Lwm2mBadPayloadError(`objlnk ${JSON.stringify(text.slice(0, 40))} is not "objectId:instanceId"`);
  const objectId = Number(m[1]);
  const instanceId = Number(m[2]);
  if (objectId > 65535 || instanceId > 65535) throw new Lwm2mBadPayloadError('objlnk ids must be in 0..65535');
  return { objectId, instanceId };
}

export function formatObjlnkText(link: ObjectLink): string {
  return `${link.objectId}:${link.instanceId}`;
}

/** Parses a decimal integer written without exponent or fraction. */
export function parseIntegerText(text: string, unsigned: boolean): number | bigint {
  const re = unsigned ? /^(0|[1-9][0-9]*)$/ : /^-?(0|[1-9][0-9]*)$/;
  if (text.length > 21 || !re.test(text)) throw new Lwm2mBadPayloadError(`${JSON.stringify(text.slice(0, 40))} is not ${unsigned ? 'an unsigned' : 'an'} integer`);
  const b = BigInt(text);
  const ok = unsigned ? b <= 2n ** 64n - 1n : b >= -(2n ** 63n) && b <= 2n ** 63n - 1n;
  if (!ok) throw new Lwm2mBadPayloadError(`${text} is outside the ${unsigned ? '64-bit unsigned' : '64-bit signed'} range`);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

export function toBigInt(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}
