/**
 * The LwM2M data tree (Core §6.1: Object → Object Instances → Resources → Resource Instances) with
 * typed values, plus the two conversions every codec shares: a node ⇄ its flat list of leaf values
 * with absolute paths. Values carry their LwM2M data type (Core Appendix C), so encoders need no
 * object model; decoders ask the ObjectRegistry for types the format does not carry.
 */
import type { ResourceDefinition, ResourceType } from './definitions.js';
import { Lwm2mBadPayloadError, Lwm2mBadValueError } from './errors.js';
import { comparePaths, formatPath, makePath, pathIds, type Lwm2mPath } from './path.js';

/** Objlnk (Core Appendix C): "MAX_ID:MAX_ID" (65535:65535) is the null link, so 65535 is allowed here. */
export interface ObjectLink {
  readonly objectId: number;
  readonly instanceId: number;
}

export type Lwm2mValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'integer'; readonly value: number | bigint }
  | { readonly type: 'unsigned'; readonly value: number | bigint }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'opaque'; readonly value: Uint8Array }
  /** Seconds since the Unix epoch (Core Appendix C: Time is a signed integer). */
  | { readonly type: 'time'; readonly value: number | bigint }
  | { readonly type: 'objlnk'; readonly value: ObjectLink }
  /** CoRE link format text (RFC 6690), kept as text. */
  | { readonly type: 'corelnk'; readonly value: string };

export type Lwm2mValueType = Lwm2mValue['type'];

export interface SingleResourceNode {
  readonly kind: 'resource';
  readonly id: number;
  readonly multiple: false;
  readonly value: Lwm2mValue;
}

export interface MultipleResourceNode {
  readonly kind: 'resource';
  readonly id: number;
  readonly multiple: true;
  readonly instances: ReadonlyMap<number, Lwm2mValue>;
}

export type ResourceNode = SingleResourceNode | MultipleResourceNode;

export interface ResourceInstanceNode {
  readonly kind: 'resourceInstance';
  readonly id: number;
  readonly value: Lwm2mValue;
}

export interface ObjectInstanceNode {
  readonly kind: 'instance';
  readonly id: number;
  readonly resources: ReadonlyMap<number, ResourceNode>;
}

export interface ObjectNode {
  readonly kind: 'object';
  readonly id: number;
  readonly instances: ReadonlyMap<number, ObjectInstanceNode>;
}

export type Lwm2mNode = ObjectNode | ObjectInstanceNode | ResourceNode | ResourceInstanceNode;

/** One leaf of a tree: a single resource or a resource instance, with its absolute path. */
export interface Lwm2mLeaf {
  readonly path: Lwm2mPath;
  readonly value: Lwm2mValue;
}

/** A UTF-16 surrogate without its partner: such a string has no UTF-8 encoding. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

// ---- value constructors -------------------------------------------------------------------------

export const lwm2mValue = {
  string: (value: string): Lwm2mValue => ({ type: 'string', value }),
  integer: (value: number | bigint): Lwm2mValue => ({ type: 'integer', value }),
  unsigned: (value: number | bigint): Lwm2mValue => ({ type: 'unsigned', value }),
  float: (value: number): Lwm2mValue => ({ type: 'float', value }),
  boolean: (value: boolean): Lwm2mValue => ({ type: 'boolean', value }),
  opaque: (value: Uint8Array): Lwm2mValue => ({ type: 'opaque', value }),
  time: (value: number | bigint): Lwm2mValue => ({ type: 'time', value }),
  objlnk: (objectId: number, instanceId: number): Lwm2mValue => ({ type: 'objlnk', value: { objectId, instanceId } }),
  corelnk: (value: string): Lwm2mValue => ({ type: 'corelnk', value }),
} as const;

/** Normalises an integer: bigint when outside the safe range, number otherwise. */
export function normalizeInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function toBigInt(v: number | bigint, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Lwm2mBadValueError(`${what} must be a safe integer or a bigint`);
  return BigInt(v);
}

/**
 * Checks a value against the rules of its type (Core Appendix C ranges: Integer is int64, Unsigned
 * Integer uint64, Objlnk two 16-bit ids). Throws Lwm2mBadValueError.
 */
export function checkValue(v: Lwm2mValue): void {
  if (typeof v !== 'object' || v === null) throw new Lwm2mBadValueError('a value must be an object {type, value}');
  switch (v.type) {
    case 'string':
    case 'corelnk':
      if (typeof v.value !== 'string') throw new Lwm2mBadValueError('string value must be a string');
      if (LONE_SURROGATE.test(v.value)) throw new Lwm2mBadValueError('string value is not well-formed Unicode');
      return;
    case 'integer':
    case 'time': {
      const b = toBigInt(v.value, `${v.type} value`);
      if (b < INT64_MIN || b > INT64_MAX) throw new Lwm2mBadValueError(`${v.type} value outside the 64-bit signed range`);
      return;
    }
    case 'unsigned': {
      const b = toBigInt(v.value, 'unsigned value');
      if (b < 0n || b > UINT64_MAX) throw new Lwm2mBadValueError('unsigned value outside 0..2^64-1');
      return;
    }
    case 'float':
      if (typeof v.value !== 'number') throw new Lwm2mBadValueError('float value must be a number');
      return;
    case 'boolean':
      if (typeof v.value !== 'boolean') throw new Lwm2mBadValueError('boolean value must be a boolean');
      return;
    case 'opaque':
      if (!(v.value instanceof Uint8Array)) throw new Lwm2mBadValueError('opaque value must be a Uint8Array');
      return;
    case 'objlnk': {
      const l = v.value;
      const ok = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535;
      if (typeof l !== 'object' || l === null || !ok(l.objectId) || !ok(l.instanceId)) {
        throw new Lwm2mBadValueError('objlnk value must be {objectId, instanceId} with ids in 0..65535');
      }
      return;
    }
    default:
      throw new Lwm2mBadValueError(`unknown value type ${String((v as { type: unknown }).type)}`);
  }
}

/** Refuses a value whose type differs from what the object model defines for its resource. */
export function checkValueAgainst(v: Lwm2mValue, def: ResourceDefinition | undefined, path: Lwm2mPath): void {
  checkValue(v);
  if (def === undefined) return;
  if (def.type === 'none') throw new Lwm2mBadValueError(`${formatPath(path)} is executable and holds no value`);
  if (def.type !== v.type) throw new Lwm2mBadValueError(`${formatPath(path)} is ${def.type}, got a ${v.type} value`);
}

/**
 * checkValueAgainst plus multiplicity: a value at /o/i/r needs a single resource, one at /o/i/r/ri a
 * multiple resource, when the object model knows the resource.
 */
export function checkLeafAgainst(leaf: Lwm2mLeaf, def: ResourceDefinition | undefined): void {
  checkValueAgainst(leaf.value, def, leaf.path);
  if (def === undefined) return;
  const isInstance = leaf.path.resourceInstanceId !== undefined;
  if (isInstance !== def.multiple) {
    throw new Lwm2mBadValueError(`${formatPath(leaf.path)}: the resource is ${def.multiple ? 'multiple' : 'single'}-instance in the object model`);
  }
}

// ---- node constructors --------------------------------------------------------------------------

function byId<T extends { id: number }>(items: readonly T[], what: string): Map<number, T> {
  const m = new Map<number, T>();
  for (const it of items) {
    if (m.has(it.id)) throw new Lwm2mBadValueError(`${what} ${it.id} appears twice`);
    m.set(it.id, it);
  }
  return m;
}

export function singleResource(id: number, value: Lwm2mValue): SingleResourceNode {
  makePath(0, 0, id);
  checkValue(value);
  return { kind: 'resource', id, multiple: false, value };
}

export function multipleResource(id: number, instances: Iterable<readonly [number, Lwm2mValue]>): MultipleResourceNode {
  makePath(0, 0, id);
  const m = new Map<number, Lwm2mValue>();
  for (const [ri, v] of instances) {
    makePath(0, 0, id, ri);
    if (m.has(ri)) throw new Lwm2mBadValueError(`resource instance ${ri} appears twice`);
    checkValue(v);
    m.set(ri, v);
  }
  return { kind: 'resource', id, multiple: true, instances: m };
}

export function resourceInstance(id: number, value: Lwm2mValue): ResourceInstanceNode {
  makePath(0, 0, 0, id);
  checkValue(value);
  return { kind: 'resourceInstance', id, value };
}

export function objectInstance(id: number, resources: readonly ResourceNode[]): ObjectInstanceNode {
  makePath(0, id);
  return { kind: 'instance', id, resources: byId(resources, 'resource') };
}

export function objectNode(id: number, instances: readonly ObjectInstanceNode[]): ObjectNode {
  makePath(id);
  return { kind: 'object', id, instances: byId(instances, 'object instance') };
}

// ---- flatten / build ----------------------------------------------------------------------------

const KIND_FOR_DEPTH = ['root', 'object', 'instance', 'resource', 'resourceInstance'] as const;

/** Checks that `node` is what `path` addresses (an instance node at /o/i with id i, and so on). */
export function checkNodeAtPath(path: Lwm2mPath, node: Lwm2mNode): number[] {
  const ids = pathIds(path);
  if (ids.length === 0) throw new Lwm2mBadValueError('a node cannot sit at the root path');
  const expected = KIND_FOR_DEPTH[ids.length];
  if (node.kind !== expected) throw new Lwm2mBadValueError(`${formatPath(path)} addresses a ${expected}, got a ${node.kind} node`);
  if (node.id !== ids[ids.length - 1]) throw new Lwm2mBadValueError(`node id ${node.id} does not match ${formatPath(path)}`);
  return ids;
}

/** Every leaf of `node` (sitting at `path`), sorted by path. */
export function flattenNode(path: Lwm2mPath, node: Lwm2mNode): Lwm2mLeaf[] {
  const ids = checkNodeAtPath(path, node);
  const out: Lwm2mLeaf[] = [];
  const resourceLeaves = (prefix: number[], r: ResourceNode): void => {
    if (r.multiple) for (const [ri, v] of r.instances) out.push({ path: makePath(...prefix, r.id, ri), value: v });
    else out.push({ path: makePath(...prefix, r.id), value: r.value });
  };
  const instanceLeaves = (prefix: number[], inst: ObjectInstanceNode): void => {
    for (const r of inst.resources.values()) resourceLeaves([...prefix, inst.id], r);
  };
  switch (node.kind) {
    case 'object':
      for (const inst of node.instances.values()) instanceLeaves([node.id], inst);
      break;
    case 'instance':
      instanceLeaves(ids.slice(0, 1), node);
      break;
    case 'resource':
      resourceLeaves(ids.slice(0, 2), node);
      break;
    case 'resourceInstance':
      out.push({ path, value: node.value });
      break;
  }
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/** Answers whether a resource is multiple-instance; undefined when the object model does not know. */
export type MultiplicityLookup = (objectId: number, resourceId: number) => boolean | undefined;

/**
 * Builds the node addressed by `path` from leaves with absolute paths (what SenML and LwM2M CBOR
 * carry). Throws Lwm2mBadPayloadError for a leaf outside `path`, a duplicate leaf, or a leaf whose
 * depth contradicts the object model (a resource instance of a single resource and vice versa).
 */
export function buildNode(path: Lwm2mPath, leaves: readonly Lwm2mLeaf[], isMultiple: MultiplicityLookup): Lwm2mNode {
  const base = pathIds(path);
  if (base.length === 0) throw new Lwm2mBadPayloadError('cannot build a node at the root path');
  const objects = new Map<number, Map<number, Map<number, { single?: Lwm2mValue; multi?: Map<number, Lwm2mValue> }>>>();
  for (const leaf of leaves) {
    const ids = pathIds(leaf.path);
    if (ids.length < 3 || !base.every((id, i) => ids[i] === id)) {
      throw new Lwm2mBadPayloadError(`${formatPath(leaf.path)} is not a resource under ${formatPath(path)}`);
    }
    const [o, i, r, ri] = ids as [number, number, number, number | undefined];
    const defined = isMultiple(o, r);
    if (defined === true && ri === undefined) throw new Lwm2mBadPayloadError(`${formatPath(leaf.path)} is a multiple resource: a value needs a resource instance id`);
    if (defined === false && ri !== undefined) throw new Lwm2mBadPayloadError(`${formatPath(leaf.path)}: resource /${o}/${i}/${r} is single-instance`);
    let insts = objects.get(o);
    if (!insts) objects.set(o, (insts = new Map()));
    let res = insts.get(i);
    if (!res) insts.set(i, (res = new Map()));
    let slot = res.get(r);
    if (!slot) res.set(r, (slot = {}));
    if (ri === undefined) {
      if (slot.single !== undefined || slot.multi !== undefined) throw new Lwm2mBadPayloadError(`${formatPath(leaf.path)} given twice`);
      slot.single = leaf.value;
    } else {
      if (slot.single !== undefined) throw new Lwm2mBadPayloadError(`${formatPath(leaf.path)} mixes a single value and instances`);
      slot.multi ??= new Map();
      if (slot.multi.has(ri)) throw new Lwm2mBadPayloadError(`${formatPath(leaf.path)} given twice`);
      slot.multi.set(ri, leaf.value);
    }
  }
  const toResource = (r: number, slot: { single?: Lwm2mValue; multi?: Map<number, Lwm2mValue> }): ResourceNode =>
    slot.single !== undefined
      ? { kind: 'resource', id: r, multiple: false, value: slot.single }
      : { kind: 'resource', id: r, multiple: true, instances: slot.multi ?? new Map() };
  const toInstance = (i: number, res: Map<number, { single?: Lwm2mValue; multi?: Map<number, Lwm2mValue> }> | undefined): ObjectInstanceNode => {
    const resources = new Map<number, ResourceNode>();
    for (const [r, slot] of res ?? []) resources.set(r, toResource(r, slot));
    return { kind: 'instance', id: i, resources };
  };
  const [o, i, r, ri] = base as [number, number | undefined, number | undefined, number | undefined];
  if (i === undefined) {
    const instances = new Map<number, ObjectInstanceNode>();
    for (const [iid, res] of objects.get(o) ?? []) instances.set(iid, toInstance(iid, res));
    return { kind: 'object', id: o, instances };
  }
  const res = objects.get(o)?.get(i);
  if (r === undefined) return toInstance(i, res);
  const slot = res?.get(r);
  if (ri !== undefined) {
    const v = slot?.multi?.get(ri);
    if (v === undefined) throw new Lwm2mBadPayloadError(`payload holds no value for ${formatPath(path)}`);
    return { kind: 'resourceInstance', id: ri, value: v };
  }
  if (slot === undefined) {
    // An empty multiple resource is a valid answer (e.g. a Read of /3/0/11 after Reset Error Code).
    if (isMultiple(o, r) === true) return { kind: 'resource', id: r, multiple: true, instances: new Map() };
    throw new Lwm2mBadPayloadError(`payload holds no value for ${formatPath(path)}`);
  }
  return toResource(r, slot);
}

/** The model type of a resource, when the registry knows it (never 'none' for a value). */
export type TypeLookup = (objectId: number, resourceId: number) => ResourceType | undefined;
