/**
 * LwM2M nodes as plain JSON for the HTTP API (`devices/{endpoint}/objects/{path}`), shaped like
 * Leshan's REST representation so operators find what they know: `{kind, id, value|values|
 * resources|instances}` with typed values. Opaque values are hex, 64-bit integers outside the
 * safe range are decimal strings, object links are "objectId:instanceId", times are Unix seconds.
 * `nodeFromJson` reads the same shape back for a Write, with the object model deciding types.
 */
import type { ResourceType } from '../model/definitions.js';
import { checkValue, type Lwm2mNode, type Lwm2mValue, type ResourceNode, type ObjectInstanceNode } from '../model/node.js';
import { formatPath, makePath, pathIds, type Lwm2mPath } from '../model/path.js';
import type { ObjectRegistry } from '../model/registry.js';
import { Lwm2mBadValueError } from '../model/errors.js';

export type JsonValue = string | number | boolean;

export type JsonNode =
  | { kind: 'object'; id: number; instances: JsonNode[] }
  | { kind: 'instance'; id: number; resources: JsonNode[] }
  | { kind: 'singleResource'; id: number; type: string; value: JsonValue }
  | { kind: 'multiResource'; id: number; type: string; values: Record<string, JsonValue> }
  | { kind: 'resourceInstance'; id: number; type: string; value: JsonValue };

export function valueToJson(v: Lwm2mValue): JsonValue {
  switch (v.type) {
    case 'opaque':
      return Buffer.from(v.value).toString('hex');
    case 'objlnk':
      return `${v.value.objectId}:${v.value.instanceId}`;
    case 'integer':
    case 'unsigned':
    case 'time':
      return typeof v.value === 'bigint' ? v.value.toString() : v.value;
    default:
      return v.value;
  }
}

function resourceToJson(r: ResourceNode): JsonNode {
  if (!r.multiple) return { kind: 'singleResource', id: r.id, type: r.value.type, value: valueToJson(r.value) };
  const values: Record<string, JsonValue> = {};
  let type = 'none';
  for (const [ri, v] of r.instances) {
    values[String(ri)] = valueToJson(v);
    type = v.type;
  }
  return { kind: 'multiResource', id: r.id, type, values };
}

function instanceToJson(i: ObjectInstanceNode): JsonNode {
  return { kind: 'instance', id: i.id, resources: [...i.resources.values()].map(resourceToJson) };
}

export function nodeToJson(node: Lwm2mNode): JsonNode {
  switch (node.kind) {
    case 'object':
      return { kind: 'object', id: node.id, instances: [...node.instances.values()].map(instanceToJson) };
    case 'instance':
      return instanceToJson(node);
    case 'resource':
      return resourceToJson(node);
    case 'resourceInstance':
      return { kind: 'resourceInstance', id: node.id, type: node.value.type, value: valueToJson(node.value) };
  }
}

function bad(message: string): never {
  throw new Lwm2mBadValueError(message);
}

function integerFrom(x: unknown, where: string): number | bigint {
  if (typeof x === 'number' && Number.isSafeInteger(x)) return x;
  if (typeof x === 'string' && /^-?(0|[1-9][0-9]{0,19})$/.test(x)) {
    const b = BigInt(x);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  }
  return bad(`${where}: expected an integer`);
}

/** A JSON value as the LwM2M type the object model gives (or the JSON type suggests, for unknown resources). */
export function valueFromJson(x: unknown, type: ResourceType | undefined, where: string): Lwm2mValue {
  let v: Lwm2mValue;
  switch (type ?? (typeof x === 'boolean' ? 'boolean' : typeof x === 'number' ? (Number.isInteger(x) ? 'integer' : 'float') : 'string')) {
    case 'string':
      if (typeof x !== 'string') bad(`${where}: expected a string`);
      v = { type: 'string', value: x };
      break;
    case 'corelnk':
      if (typeof x !== 'string') bad(`${where}: expected link-format text`);
      v = { type: 'corelnk', value: x };
      break;
    case 'integer':
      v = { type: 'integer', value: integerFrom(x, where) };
      break;
    case 'unsigned':
      v = { type: 'unsigned', value: integerFrom(x, where) };
      break;
    case 'time':
      v = { type: 'time', value: integerFrom(x, where) };
      break;
    case 'float':
      if (typeof x !== 'number' || !Number.isFinite(x)) bad(`${where}: expected a finite number`);
      v = { type: 'float', value: x };
      break;
    case 'boolean':
      if (typeof x !== 'boolean') bad(`${where}: expected true or false`);
      v = { type: 'boolean', value: x };
      break;
    case 'opaque':
      if (typeof x !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(x)) bad(`${where}: expected hex`);
      v = { type: 'opaque', value: new Uint8Array(Buffer.from(x, 'hex')) };
      break;
    case 'objlnk': {
      const m = typeof x === 'string' ? /^([0-9]{1,5}):([0-9]{1,5})$/.exec(x) : null;
      if (m === null) bad(`${where}: expected "objectId:instanceId"`);
      v = { type: 'objlnk', value: { objectId: Number(m[1]), instanceId: Number(m[2]) } };
      break;
    }
    case 'none':
      return bad(`${where} is executable and holds no value`);
  }
  checkValue(v);
  return v;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const MAX_ENTRIES = 4096;

/**
 * Reads a Write body for `path`: for a resource a bare value, `{value}` or (multiple) `{values:
 * {ri: v}}`; for a resource instance a bare value; for an instance `{resources: {id: value |
 * {values}}}` or nodeToJson's `{resources: [{id, value} | {id, values}]}`. Throws
 * ERR_LWM2M_BAD_VALUE or ERR_LWM2M_BAD_PATH (the API answers 400).
 */
export function nodeFromJson(registry: ObjectRegistry, path: Lwm2mPath, json: unknown): Lwm2mNode {
  const ids = pathIds(path);
  if (ids.length < 2) bad(`a Write addresses an instance, a resource or a resource instance, not ${formatPath(path)}`);
  const o = ids[0]!;
  const resource = (r: number, body: unknown): ResourceNode => {
    makePath(o, 0, r);
    const def = registry.getResource(o, r);
    const where = `/${o}/${ids[1]}/${r}`;
    const multi = isRecord(body) && 'values' in body;
    if (def?.multiple === true || multi) {
      if (def?.multiple === false) bad(`${where} is a single-instance resource`);
      const values = isRecord(body) ? body.values : undefined;
      if (!isRecord(values)) bad(`${where}: expected {values: {instanceId: value}}`);
      const entries = Object.entries(values);
      if (entries.length > MAX_ENTRIES) bad(`${where}: too many resource instances`);
      const m = new Map<number, Lwm2mValue>();
      for (const [k, x] of entries) {
        if (!/^(0|[1-9][0-9]{0,4})$/.test(k) || Number(k) > 65534) bad(`${where}: resource instance id ${JSON.stringify(k.slice(0, 8))}`);
        m.set(Number(k), valueFromJson(x, def?.type, `${where}/${k}`));
      }
      return { kind: 'resource', id: r, multiple: true, instances: m };
    }
    const x = isRecord(body) && 'value' in body ? body.value : body;
    return { kind: 'resource', id: r, multiple: false, value: valueFromJson(x, def?.type, where) };
  };
  if (ids.length === 2) {
    let resources = isRecord(json) ? json.resources : undefined;
    // nodeToJson's own shape: resources as an array of {id, value} / {id, values}.
    if (Array.isArray(resources)) {
      if (resources.length > MAX_ENTRIES) bad('too many resources');
      const byId: Record<string, unknown> = {};
      for (const r of resources as unknown[]) {
        if (!isRecord(r) || typeof r.id !== 'number' || !Number.isInteger(r.id)) bad('each resource needs a numeric id');
        byId[String(r.id)] = 'values' in r ? { values: r.values } : { value: r.value };
      }
      resources = byId;
    }
    if (!isRecord(resources)) bad('an instance write takes {resources: {resourceId: value}}');
    const entries = Object.entries(resources);
    if (entries.length > MAX_ENTRIES) bad('too many resources');
    const map = new Map<number, ResourceNode>();
    for (const [k, body] of entries) {
      if (!/^(0|[1-9][0-9]{0,4})$/.test(k)) bad(`resource id ${JSON.stringify(k.slice(0, 8))}`);
      map.set(Number(k), resource(Number(k), body));
    }
    return { kind: 'instance', id: ids[1]!, resources: map };
  }
  if (ids.length === 3) return resource(ids[2]!, json);
  const def = registry.getResource(o, ids[2]!);
  const x = isRecord(json) && 'value' in json ? json.value : json;
  return { kind: 'resourceInstance', id: ids[3]!, value: valueFromJson(x, def?.type, formatPath(path)) };
}
