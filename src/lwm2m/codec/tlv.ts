/**
 * OMA-TLV (application/vnd.oma.lwm2m+tlv, content-format 11542), OMA LwM2M Core §7.4.3. Pure.
 *
 * Each TLV: a type byte, an 8- or 16-bit identifier, a length (in the type byte, or 8/16/24 bits
 * after the identifier) and the value:
 *   bits 7-6  00 Object Instance (value = nested TLVs), 01 Resource Instance,
 *             10 Multiple Resource (value = nested Resource Instance TLVs), 11 Resource with Value
 *   bit 5     0: identifier 8 bits, 1: 16 bits
 *   bits 4-3  00: length in bits 2-0; 01/10/11: length field of 8/16/24 bits follows the identifier
 *   bits 2-0  length when bits 4-3 are 00
 * Values (Core §7.4.3 table "TLV value encoding"): Integer and Time in 1, 2, 4 or 8 bytes two's
 * complement; Unsigned Integer in 1, 2, 4 or 8 bytes; Float in 4 or 8 bytes IEEE 754; Boolean one
 * byte 0 or 1; Objlnk two 16-bit ids; String and Corelnk UTF-8; Opaque raw. All big-endian.
 */
import { formatPath, makePath, pathIds, type Lwm2mPath } from '../model/path.js';
import {
  checkNodeAtPath,
  checkValueAgainst,
  normalizeInteger,
  type Lwm2mNode,
  type Lwm2mValue,
  type ObjectInstanceNode,
  type ResourceNode,
} from '../model/node.js';
import type { ResourceType } from '../model/definitions.js';
import { Lwm2mBadPayloadError, Lwm2mBadValueError } from '../model/errors.js';
import {
  checkOpaqueLength,
  checkPayload,
  checkStringLength,
  decodeUtf8,
  encodeUtf8,
  modelType,
  resolveLimits,
  resourceDefinition,
  toBigInt,
  type Lwm2mCodecOptions,
  type ResolvedLimits,
} from './common.js';

const enum TlvKind {
  ObjectInstance = 0,
  ResourceInstance = 1,
  MultipleResource = 2,
  Resource = 3,
}

interface Tlv {
  kind: TlvKind;
  id: number;
  /** Raw value bytes (for every kind; nested kinds are parsed into `children` as well). */
  value: Uint8Array;
  children?: Tlv[];
}

const MAX_TLV_LENGTH = 0xffffff;

// ---- raw TLV layer ------------------------------------------------------------------------------

function parseTlvs(bytes: Uint8Array, depth: number, counter: { n: number }, limits: ResolvedLimits): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < bytes.length) {
    const start = i;
    const type = bytes[i++]!;
    const kind = (type >> 6) as TlvKind;
    const idLen = type & 0x20 ? 2 : 1;
    const lenType = (type >> 3) & 0x03;
    if (i + idLen > bytes.length) throw new Lwm2mBadPayloadError(`TLV at byte ${start}: truncated identifier`);
    const id = idLen === 2 ? (bytes[i]! << 8) | bytes[i + 1]! : bytes[i]!;
    i += idLen;
    let length = type & 0x07;
    if (lenType !== 0) {
      if (i + lenType > bytes.length) throw new Lwm2mBadPayloadError(`TLV at byte ${start}: truncated length field`);
      length = 0;
      for (let k = 0; k < lenType; k++) length = length * 256 + bytes[i + k]!;
      i += lenType;
    }
    if (i + length > bytes.length) throw new Lwm2mBadPayloadError(`TLV at byte ${start}: value of ${length} bytes runs past the payload`);
    // Core §7.1: identifier 65535 is reserved and never names an instance or resource.
    if (id > 65534) throw new Lwm2mBadPayloadError(`TLV at byte ${start}: identifier ${id} is reserved`);
    if (++counter.n > limits.maxEntries) throw new Lwm2mBadPayloadError(`more than ${limits.maxEntries} TLVs`);
    const value = bytes.subarray(i, i + length);
    i += length;
    const tlv: Tlv = { kind, id, value };
    if (kind === TlvKind.ObjectInstance || kind === TlvKind.MultipleResource) {
      // Core §7.4.3: an Object Instance holds Resource / Multiple Resource TLVs; a Multiple Resource
      // holds Resource Instance TLVs. Nothing else nests.
      if (depth >= 2 || (depth === 1 && kind === TlvKind.ObjectInstance)) throw new Lwm2mBadPayloadError(`TLV at byte ${start}: nested too deep`);
      tlv.children = parseTlvs(value, depth + 1, counter, limits);
      for (const c of tlv.children) {
        const ok = kind === TlvKind.ObjectInstance ? c.kind === TlvKind.Resource || c.kind === TlvKind.MultipleResource : c.kind === TlvKind.ResourceInstance;
        if (!ok) throw new Lwm2mBadPayloadError(`TLV at byte ${start}: a ${kindName(kind)} cannot hold a ${kindName(c.kind)}`);
      }
    }
    out.push(tlv);
  }
  return out;
}

function kindName(k: TlvKind): string {
  return ['object instance', 'resource instance', 'multiple resource', 'resource'][k]!;
}

function headerLength(id: number, length: number): number {
  return 1 + (id > 255 ? 2 : 1) + (length <= 7 ? 0 : length <= 0xff ? 1 : length <= 0xffff ? 2 : 3);
}

function writeTlv(kind: TlvKind, id: number, value: Uint8Array): Uint8Array {
  if (value.length > MAX_TLV_LENGTH) throw new Lwm2mBadValueError(`TLV value of ${value.length} bytes exceeds the 24-bit length field`);
  const buf = new Uint8Array(headerLength(id, value.length) + value.length);
  let i = 0;
  const lenType = value.length <= 7 ? 0 : value.length <= 0xff ? 1 : value.length <= 0xffff ? 2 : 3;
  buf[i++] = (kind << 6) | (id > 255 ? 0x20 : 0) | (lenType << 3) | (lenType === 0 ? value.length : 0);
  if (id > 255) buf[i++] = id >> 8;
  buf[i++] = id & 0xff;
  for (let k = lenType - 1; k >= 0; k--) buf[i++] = (value.length >> (8 * k)) & 0xff;
  buf.set(value, i);
  return buf;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- values -------------------------------------------------------------------------------------

function encodeSigned(v: bigint): Uint8Array {
  for (const n of [1, 2, 4, 8]) {
    const bits = BigInt(8 * n);
    if (v >= -(1n << (bits - 1n)) && v < 1n << (bits - 1n)) {
      const out = new Uint8Array(n);
      let x = BigInt.asUintN(8 * n, v);
      for (let k = n - 1; k >= 0; k--) {
        out[k] = Number(x & 0xffn);
        x >>= 8n;
      }
      return out;
    }
  }
  throw new Lwm2mBadValueError('integer outside the 64-bit signed range');
}

function encodeUnsigned(v: bigint): Uint8Array {
  for (const n of [1, 2, 4, 8]) {
    if (v < 1n << BigInt(8 * n)) {
      const out = new Uint8Array(n);
      let x = v;
      for (let k = n - 1; k >= 0; k--) {
        out[k] = Number(x & 0xffn);
        x >>= 8n;
      }
      return out;
    }
  }
  throw new Lwm2mBadValueError('unsigned integer outside 0..2^64-1');
}

/** Encodes one value into TLV value bytes. */
export function encodeTlvValue(v: Lwm2mValue): Uint8Array {
  switch (v.type) {
    case 'string':
    case 'corelnk':
      return encodeUtf8(v.value);
    case 'integer':
    case 'time':
      return encodeSigned(toBigInt(v.value));
    case 'unsigned':
      return encodeUnsigned(toBigInt(v.value));
    case 'float': {
      // 4 bytes when single precision holds the value exactly, else 8 (both allowed by §7.4.3).
      if (Number.isNaN(v.value) || Math.fround(v.value) === v.value) {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setFloat32(0, v.value);
        return b;
      }
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v.value);
      return b;
    }
    case 'boolean':
      return Uint8Array.of(v.value ? 1 : 0);
    case 'opaque':
      return v.value;
    case 'objlnk':
      return Uint8Array.of(v.value.objectId >> 8, v.value.objectId & 0xff, v.value.instanceId >> 8, v.value.instanceId & 0xff);
  }
}

/** Decodes TLV value bytes as the given model type. */
export function decodeTlvValue(bytes: Uint8Array, type: Exclude<ResourceType, 'none'>, limits: ResolvedLimits, where: string): Lwm2mValue {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  switch (type) {
    case 'string':
    case 'corelnk':
      checkStringLength(n, limits, where);
      return { type, value: decodeUtf8(bytes, where) };
    case 'integer':
    case 'time':
    case 'unsigned': {
      if (n !== 1 && n !== 2 && n !== 4 && n !== 8) throw new Lwm2mBadPayloadError(`${where}: an integer takes 1, 2, 4 or 8 bytes, got ${n}`);
      let x = 0n;
      for (const b of bytes) x = (x << 8n) | BigInt(b);
      const value = type === 'unsigned' ? x : BigInt.asIntN(8 * n, x);
      return { type, value: normalizeInteger(value) };
    }
    case 'float':
      if (n === 4) return { type, value: dv.getFloat32(0) };
      if (n === 8) return { type, value: dv.getFloat64(0) };
      throw new Lwm2mBadPayloadError(`${where}: a float takes 4 or 8 bytes, got ${n}`);
    case 'boolean':
      if (n !== 1 || bytes[0]! > 1) throw new Lwm2mBadPayloadError(`${where}: a boolean is one byte 0 or 1`);
      return { type, value: bytes[0] === 1 };
    case 'opaque':
      checkOpaqueLength(n, limits, where);
      return { type, value: bytes.slice() };
    case 'objlnk':
      if (n !== 4) throw new Lwm2mBadPayloadError(`${where}: an objlnk takes 4 bytes, got ${n}`);
      return { type, value: { objectId: dv.getUint16(0), instanceId: dv.getUint16(2) } };
  }
}

// ---- nodes --------------------------------------------------------------------------------------

function encodeResource(objectId: number, instanceId: number, r: ResourceNode, options: Lwm2mCodecOptions): Uint8Array {
  const def = resourceDefinition(options, objectId, r.id);
  if (def !== undefined && def.multiple !== r.multiple) {
    throw new Lwm2mBadValueError(`/${objectId}/${instanceId}/${r.id} is ${def.multiple ? 'multiple' : 'single'}-instance in the object model`);
  }
  if (!r.multiple) {
    checkValueAgainst(r.value, def, makePath(objectId, instanceId, r.id));
    return writeTlv(TlvKind.Resource, r.id, encodeTlvValue(r.value));
  }
  const ids = [...r.instances.keys()].sort((a, b) => a - b);
  const inner = ids.map((ri) => {
    const v = r.instances.get(ri)!;
    checkValueAgainst(v, def, makePath(objectId, instanceId, r.id, ri));
    return writeTlv(TlvKind.ResourceInstance, ri, encodeTlvValue(v));
  });
  return writeTlv(TlvKind.MultipleResource, r.id, concat(inner));
}

function encodeInstanceBody(objectId: number, inst: ObjectInstanceNode, options: Lwm2mCodecOptions): Uint8Array {
  const ids = [...inst.resources.keys()].sort((a, b) => a - b);
  return concat(ids.map((r) => encodeResource(objectId, inst.id, inst.resources.get(r)!, options)));
}

/**
 * Encodes `node`, addressed by `path`, as OMA-TLV. An object becomes Object Instance TLVs; an object
 * instance becomes its Resource TLVs without a wrapper (Core §7.4.3.1 example for Read /3/0); a
 * multiple resource becomes one Multiple Resource TLV. Resources are ordered by id.
 */
export function encodeTlv(path: Lwm2mPath, node: Lwm2mNode, options: Lwm2mCodecOptions = {}): Uint8Array {
  const ids = checkNodeAtPath(path, node);
  const objectId = ids[0]!;
  switch (node.kind) {
    case 'object': {
      const instIds = [...node.instances.keys()].sort((a, b) => a - b);
      return concat(instIds.map((i) => writeTlv(TlvKind.ObjectInstance, i, encodeInstanceBody(objectId, node.instances.get(i)!, options))));
    }
    case 'instance':
      return encodeInstanceBody(objectId, node, options);
    case 'resource':
      return encodeResource(objectId, ids[1]!, node, options);
    case 'resourceInstance': {
      const def = resourceDefinition(options, objectId, ids[2]!);
      if (def !== undefined && !def.multiple) throw new Lwm2mBadValueError(`${formatPath(path)}: resource is single-instance`);
      checkValueAgainst(node.value, def, path);
      return writeTlv(TlvKind.ResourceInstance, node.id, encodeTlvValue(node.value));
    }
  }
}

function valueOf(o: number, r: number, bytes: Uint8Array, options: Lwm2mCodecOptions, limits: ResolvedLimits, where: string): Lwm2mValue {
  // TLV does not carry types: the object model decides; an unknown resource stays opaque bytes.
  const type = modelType(options, o, r) ?? 'opaque';
  return decodeTlvValue(bytes, type, limits, where);
}

function decodeResource(o: number, i: number, tlv: Tlv, options: Lwm2mCodecOptions, limits: ResolvedLimits): ResourceNode {
  const def = resourceDefinition(options, o, tlv.id);
  const where = `/${o}/${i}/${tlv.id}`;
  if (tlv.kind === TlvKind.Resource) {
    if (def?.multiple === true) throw new Lwm2mBadPayloadError(`${where} is a multiple resource, sent as a single value`);
    return { kind: 'resource', id: tlv.id, multiple: false, value: valueOf(o, tlv.id, tlv.value, options, limits, where) };
  }
  if (tlv.kind !== TlvKind.MultipleResource) throw new Lwm2mBadPayloadError(`${where}: expected a resource TLV, got a ${kindName(tlv.kind)}`);
  if (def?.multiple === false) throw new Lwm2mBadPayloadError(`${where} is a single resource, sent as multiple`);
  const instances = new Map<number, Lwm2mValue>();
  for (const c of tlv.children!) {
    if (instances.has(c.id)) throw new Lwm2mBadPayloadError(`${where}/${c.id} given twice`);
    instances.set(c.id, valueOf(o, tlv.id, c.value, options, limits, `${where}/${c.id}`));
  }
  return { kind: 'resource', id: tlv.id, multiple: true, instances };
}

function decodeInstance(o: number, id: number, tlvs: readonly Tlv[], options: Lwm2mCodecOptions, limits: ResolvedLimits): ObjectInstanceNode {
  const resources = new Map<number, ResourceNode>();
  for (const t of tlvs) {
    if (t.kind === TlvKind.ObjectInstance || t.kind === TlvKind.ResourceInstance) {
      throw new Lwm2mBadPayloadError(`/${o}/${id}: expected resource TLVs, got a ${kindName(t.kind)}`);
    }
    if (resources.has(t.id)) throw new Lwm2mBadPayloadError(`/${o}/${id}/${t.id} given twice`);
    resources.set(t.id, decodeResource(o, id, t, options, limits));
  }
  return { kind: 'instance', id, resources };
}

/**
 * Decodes an OMA-TLV payload into the node addressed by `path` (Read response, Write/Create
 * request). Throws Lwm2mBadPayloadError (ERR_LWM2M_BAD_PAYLOAD) for any malformation, for TLVs that
 * do not fit the path, and for values that do not fit the object model.
 */
export function decodeTlv(path: Lwm2mPath, payload: Uint8Array, options: Lwm2mCodecOptions = {}): Lwm2mNode {
  const limits = resolveLimits(options.limits);
  checkPayload(payload, limits);
  const ids = pathIds(path);
  if (ids.length === 0) throw new Lwm2mBadPayloadError('TLV cannot address the root');
  const tlvs = parseTlvs(payload, 0, { n: 0 }, limits);
  const [o, i, r, ri] = ids as [number, number | undefined, number | undefined, number | undefined];
  if (i === undefined) {
    const instances = new Map<number, ObjectInstanceNode>();
    for (const t of tlvs) {
      if (t.kind !== TlvKind.ObjectInstance) throw new Lwm2mBadPayloadError(`/${o}: expected object instance TLVs, got a ${kindName(t.kind)}`);
      if (instances.has(t.id)) throw new Lwm2mBadPayloadError(`/${o}/${t.id} given twice`);
      instances.set(t.id, decodeInstance(o, t.id, t.children!, options, limits));
    }
    return { kind: 'object', id: o, instances };
  }
  // Core §7.4.3.2: an instance may come bare (its resources) or wrapped in one Object Instance TLV.
  let body = tlvs;
  if (tlvs.length === 1 && tlvs[0]!.kind === TlvKind.ObjectInstance) {
    if (tlvs[0]!.id !== i) throw new Lwm2mBadPayloadError(`object instance TLV ${tlvs[0]!.id} does not match ${formatPath(path)}`);
    body = tlvs[0]!.children!;
  }
  if (r === undefined) return decodeInstance(o, i, body, options, limits);
  if (ri !== undefined) {
    if (body.length !== 1 || body[0]!.kind !== TlvKind.ResourceInstance || body[0]!.id !== ri) {
      throw new Lwm2mBadPayloadError(`${formatPath(path)}: expected one resource instance TLV with id ${ri}`);
    }
    if (resourceDefinition(options, o, r)?.multiple === false) throw new Lwm2mBadPayloadError(`${formatPath(path)}: resource is single-instance`);
    return { kind: 'resourceInstance', id: ri, value: valueOf(o, r, body[0]!.value, options, limits, formatPath(path)) };
  }
  // A multiple resource may also arrive as bare Resource Instance TLVs (Leshan and Wakaama accept it).
  if (body.length > 0 && body.every((t) => t.kind === TlvKind.ResourceInstance)) {
    return decodeResource(o, i, { kind: TlvKind.MultipleResource, id: r, value: new Uint8Array(0), children: body }, options, limits);
  }
  if (body.length === 0 && resourceDefinition(options, o, r)?.multiple === true) {
    return { kind: 'resource', id: r, multiple: true, instances: new Map() };
  }
  if (body.length !== 1 || body[0]!.id !== r) throw new Lwm2mBadPayloadError(`${formatPath(path)}: expected one resource TLV with id ${r}`);
  return decodeResource(o, i, body[0]!, options, limits);
}
