/**
 * LwM2M CBOR (application/vnd.oma.lwm2m+cbor, content-format 11544), OMA LwM2M Core 1.2 §7.4.6.
 * Pure.
 *
 * The payload is a nested structure of CBOR maps starting at the root: keys are Object, Object
 * Instance, Resource and Resource Instance ids; a key may also be an array of ids that stands for
 * several levels at once (path compression). Leaves hold the values: Integer and Time as CBOR
 * integers (Time also accepted as tag 1 around an integer), Unsigned Integer as unsigned integer,
 * Float as floating point, Boolean, String and Corelnk as text strings, Opaque as byte string,
 * Objlnk as the text "objectId:instanceId". A null leaf appears only in path lists
 * (Read-Composite / Observe-Composite requests).
 *
 * The encoder writes definite-length maps, ids ascending, without path compression.
 */
import { decodeCbor, CborTag } from '../../cose/cbor.js';
import { Lwm2mBadPayloadError, Lwm2mBadValueError } from '../model/errors.js';
import { buildNode, checkLeafAgainst, flattenNode, normalizeInteger, type Lwm2mNode, type Lwm2mValue } from '../model/node.js';
import { formatPath, makePath, pathIds, type Lwm2mPath } from '../model/path.js';
import { writeCbor, type CborItem } from './cbor-writer.js';
import {
  checkOpaqueLength,
  checkPayload,
  checkStringLength,
  encodeUtf8,
  formatObjlnkText,
  modelType,
  multiplicity,
  parseObjlnkText,
  resolveLimits,
  resourceDefinition,
  type Lwm2mCodecOptions,
  type ResolvedLimits,
} from './common.js';
import type { Lwm2mEntry } from './senml.js';

// ---- encode -------------------------------------------------------------------------------------

function valueItem(v: Lwm2mValue): CborItem {
  switch (v.type) {
    case 'string':
    case 'corelnk':
      return { text: v.value };
    case 'integer':
    case 'unsigned':
    case 'time':
      return { int: v.value };
    case 'float':
      return { float: v.value };
    case 'boolean':
      return { bool: v.value };
    case 'opaque':
      return { bytes: v.value };
    case 'objlnk':
      return { text: formatObjlnkText(v.value) };
  }
}

type Tree = Map<number, Tree | CborItem | null>;

function insert(root: Tree, ids: readonly number[], leaf: CborItem | null, where: string): void {
  let node = root;
  ids.forEach((id, i) => {
    const last = i === ids.length - 1;
    const existing = node.get(id);
    if (last) {
      if (existing !== undefined) throw new Lwm2mBadValueError(`${where} given twice or overlaps another path`);
      node.set(id, leaf);
    } else {
      if (existing === undefined) node.set(id, (node = new Map()) as Tree);
      else if (existing instanceof Map) node = existing as Tree;
      else throw new Lwm2mBadValueError(`${where} overlaps another path`);
    }
  });
}

function toItem(tree: Tree): CborItem {
  const keys = [...tree.keys()].sort((a, b) => a - b);
  return {
    map: keys.map((k) => {
      const v = tree.get(k)!;
      const item: CborItem = v === null ? { null: true } : v instanceof Map ? toItem(v as Tree) : v;
      return [{ int: k }, item] as const;
    }),
  };
}

function serialize(tree: Tree): Uint8Array {
  return writeCbor(toItem(tree));
}

/** Encodes the node addressed by `path` as LwM2M CBOR (nested maps from the root). */
export function encodeLwm2mCbor(path: Lwm2mPath, node: Lwm2mNode, options: Lwm2mCodecOptions = {}): Uint8Array {
  const root: Tree = new Map();
  const leaves = flattenNode(path, node);
  if (leaves.length === 0) {
    // An empty object or instance is still answered with its path, as nested empty maps.
    let t = root;
    for (const id of pathIds(path)) {
      const next: Tree = new Map();
      t.set(id, next);
      t = next;
    }
  }
  for (const leaf of leaves) {
    const ids = pathIds(leaf.path);
    checkLeafAgainst(leaf, resourceDefinition(options, ids[0]!, ids[2]!));
    insert(root, ids, valueItem(leaf.value), formatPath(leaf.path));
  }
  return serialize(root);
}

/**
 * Composite payloads: entries with values (Read-Composite response, Write-Composite, Send) or
 * without (a path list: each path carries null). LwM2M CBOR has no timestamps.
 */
export function encodeLwm2mCborComposite(entries: readonly Lwm2mEntry[], options: Lwm2mCodecOptions = {}): Uint8Array {
  const root: Tree = new Map();
  for (const e of entries) {
    if (e.time !== undefined) throw new Lwm2mBadValueError('LwM2M CBOR carries no timestamps; use SenML for timed values');
    const ids = pathIds(e.path);
    if (ids.length === 0) throw new Lwm2mBadValueError('the root cannot be an entry');
    if (e.value === undefined) {
      insert(root, ids, null, formatPath(e.path));
      continue;
    }
    if (ids.length < 3) throw new Lwm2mBadValueError(`${formatPath(e.path)}: only a resource or resource instance holds a value`);
    checkLeafAgainst({ path: e.path, value: e.value }, resourceDefinition(options, ids[0]!, ids[2]!));
    insert(root, ids, valueItem(e.value), formatPath(e.path));
  }
  return serialize(root);
}

// ---- decode -------------------------------------------------------------------------------------

function isInt(x: unknown): x is number | bigint {
  return (typeof x === 'number' && Number.isSafeInteger(x)) || typeof x === 'bigint';
}

function leafValue(raw: unknown, ids: readonly number[], options: Lwm2mCodecOptions, limits: ResolvedLimits): Lwm2mValue {
  const where = formatPath(makePath(...ids));
  const type = modelType(options, ids[0]!, ids[2]!);
  const bad = (what: string): never => {
    throw new Lwm2mBadPayloadError(`${where}: ${what}`);
  };
  const int = (x: unknown, unsigned: boolean): number | bigint => {
    if (!isInt(x)) bad('expected an integer');
    const b = BigInt(x as number | bigint);
    const ok = unsigned ? b >= 0n && b <= 2n ** 64n - 1n : b >= -(2n ** 63n) && b <= 2n ** 63n - 1n;
    if (!ok) bad('integer out of range');
    return normalizeInteger(b);
  };
  const text = (x: unknown): string => {
    if (typeof x !== 'string') bad('expected a text string');
    checkStringLength(encodeUtf8(x as string).length, limits, where);
    return x as string;
  };
  if (raw instanceof CborTag) {
    // RFC 8949 §3.4.2: tag 1 is epoch-based date/time; the only tag LwM2M CBOR leaves may carry.
    if (Number(raw.tag) === 1 && (type === undefined || type === 'time') && isInt(raw.contents)) return { type: 'time', value: int(raw.contents, false) };
    bad(`unexpected CBOR tag ${String(raw.tag)}`);
  }
  switch (type) {
    case undefined:
      if (typeof raw === 'string') return { type: 'string', value: text(raw) };
      if (typeof raw === 'boolean') return { type: 'boolean', value: raw };
      if (raw instanceof Uint8Array) {
        checkOpaqueLength(raw.length, limits, where);
        return { type: 'opaque', value: raw };
      }
      if (isInt(raw)) return { type: 'integer', value: int(raw, false) };
      if (typeof raw === 'number') return { type: 'float', value: raw };
      return bad('expected a value');
    case 'string':
    case 'corelnk':
      return { type, value: text(raw) };
    case 'integer':
    case 'time':
      return { type, value: int(raw, false) };
    case 'unsigned':
      return { type, value: int(raw, true) };
    case 'float':
      if (typeof raw === 'number') return { type, value: raw };
      if (typeof raw === 'bigint') return { type, value: Number(raw) };
      return bad('expected a number');
    case 'boolean':
      if (typeof raw !== 'boolean') bad('expected a boolean');
      return { type, value: raw as boolean };
    case 'opaque':
      if (!(raw instanceof Uint8Array)) bad('expected a byte string');
      checkOpaqueLength((raw as Uint8Array).length, limits, where);
      return { type, value: raw as Uint8Array };
    case 'objlnk':
      return { type, value: parseObjlnkText(text(raw)) };
  }
}

function walk(
  map: Map<unknown, unknown>,
  prefix: readonly number[],
  out: Array<{ ids: number[]; raw: unknown }>,
  limits: ResolvedLimits,
): void {
  for (const [k, val] of map) {
    let keyIds: number[];
    if (typeof k === 'number') keyIds = [k];
    else if (Array.isArray(k) && k.length > 0) keyIds = k as number[];
    else throw new Lwm2mBadPayloadError('LwM2M CBOR keys are ids or non-empty arrays of ids');
    for (const id of keyIds) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 65534) throw new Lwm2mBadPayloadError(`LwM2M CBOR key ${String(id)} is not an id in 0..65534`);
    }
    const ids = [...prefix, ...keyIds];
    if (ids.length > 4) throw new Lwm2mBadPayloadError(`path /${ids.join('/')} is deeper than a resource instance`);
    if (val instanceof Map) {
      walk(val, ids, out, limits);
      continue;
    }
    if (out.length >= limits.maxEntries) throw new Lwm2mBadPayloadError(`more than ${limits.maxEntries} LwM2M CBOR values`);
    out.push({ ids, raw: val });
  }
}

function parse(payload: Uint8Array, options: Lwm2mCodecOptions): Array<{ ids: number[]; raw: unknown }> {
  const limits = resolveLimits(options.limits);
  checkPayload(payload, limits);
  let doc: unknown;
  try {
    doc = decodeCbor(payload, { maxDepth: limits.maxDepth });
  } catch (err) {
    throw new Lwm2mBadPayloadError(`malformed CBOR: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!(doc instanceof Map)) throw new Lwm2mBadPayloadError('LwM2M CBOR must be a map');
  const out: Array<{ ids: number[]; raw: unknown }> = [];
  walk(doc, [], out, limits);
  const seen = new Set<string>();
  for (const e of out) {
    const key = e.ids.join('/');
    if (seen.has(key)) throw new Lwm2mBadPayloadError(`/${key} given twice`);
    seen.add(key);
  }
  return out;
}

/** Decodes LwM2M CBOR into the node addressed by `path`. */
export function decodeLwm2mCbor(path: Lwm2mPath, payload: Uint8Array, options: Lwm2mCodecOptions = {}): Lwm2mNode {
  const limits = resolveLimits(options.limits);
  const leaves = parse(payload, options).map(({ ids, raw }) => {
    if (ids.length < 3 || raw === null || raw === undefined) throw new Lwm2mBadPayloadError(`/${ids.join('/')} holds no resource value`);
    return { path: makePath(...ids), value: leafValue(raw, ids, options, limits) };
  });
  return buildNode(path, leaves, multiplicity(options));
}

export function decodeLwm2mCborComposite(payload: Uint8Array, withValues: boolean, options: Lwm2mCodecOptions = {}): Lwm2mEntry[] {
  const limits = resolveLimits(options.limits);
  return parse(payload, options).map(({ ids, raw }) => {
    const path = makePath(...ids);
    if (!withValues) {
      if (raw !== null) throw new Lwm2mBadPayloadError(`${formatPath(path)}: a path list carries null, not values`);
      return { path };
    }
    if (ids.length < 3 || raw === null || raw === undefined) throw new Lwm2mBadPayloadError(`${formatPath(path)} holds no resource value`);
    return { path, value: leafValue(raw, ids, options, limits) };
  });
}
