/**
 * The part of SenML (RFC 8428) that SenML JSON (110) and SenML CBOR (112) share, with the LwM2M
 * rules of Core §7.4.5:
 *   - RFC 8428 §4.5.1: "the Name value is concatenated to the Base Name value to yield the name of
 *     the sensor"; LwM2M: the resolved name is the LwM2M path of a Resource or Resource Instance
 *     (or, in a Read-Composite / Observe-Composite request, of any node).
 *   - RFC 8428 §4.5.3: a Base Name or Base Time applies to its record and every later record until
 *     another one appears; the time of a record is Base Time + Time.
 *   - LwM2M value fields: "v" for Integer, Unsigned Integer, Float and Time; "vs" for String and
 *     Corelnk; "vb" for Boolean; "vd" for Opaque; "vlo" for Objlnk ("objectId:instanceId").
 *   - RFC 8428 §4.4: "a field name ending with the character '_' ... MUST NOT be ignored" — we do
 *     not understand any, so such a record is refused. Base Value / Base Sum would change values
 *     (§4.5.2) and LwM2M never sends them: refused rather than misread.
 */
import { Lwm2mBadPayloadError, Lwm2mBadValueError } from '../model/errors.js';
import {
  buildNode,
  checkLeafAgainst,
  flattenNode,
  normalizeInteger,
  type Lwm2mNode,
  type Lwm2mValue,
} from '../model/node.js';
import { formatPath, makePath, parsePath, pathIds, type Lwm2mPath } from '../model/path.js';
import {
  checkOpaqueLength,
  checkStringLength,
  encodeUtf8,
  formatObjlnkText,
  modelType,
  multiplicity,
  parseObjlnkText,
  resourceDefinition,
  type Lwm2mCodecOptions,
  type ResolvedLimits,
} from './common.js';

/** One SenML record as carried on the wire (only the fields LwM2M uses). */
export interface SenmlRecord {
  bn?: string;
  bt?: number;
  n?: string;
  t?: number;
  v?: number | bigint;
  /** Set when `v` must be written as a float even if integral (Float resources). */
  vIsFloat?: boolean;
  vs?: string;
  vb?: boolean;
  vd?: Uint8Array;
  vlo?: string;
}

/** One entry of a composite payload: a path, its value (absent in a path list) and its time. */
export interface Lwm2mEntry {
  readonly path: Lwm2mPath;
  readonly value?: Lwm2mValue;
  /**
   * Resolved SenML time (Base Time + Time), in seconds, when the record had one. RFC 8428 §4.5.3:
   * values below 2^28 are relative to the time of reading; the caller, who knows "now", resolves them.
   */
  readonly time?: number;
}

// ---- values ⇄ record fields ---------------------------------------------------------------------

export function valueToRecord(value: Lwm2mValue, rec: SenmlRecord): void {
  switch (value.type) {
    case 'string':
    case 'corelnk':
      rec.vs = value.value;
      return;
    case 'integer':
    case 'unsigned':
    case 'time':
      rec.v = value.value;
      return;
    case 'float':
      rec.v = value.value;
      rec.vIsFloat = true;
      return;
    case 'boolean':
      rec.vb = value.value;
      return;
    case 'opaque':
      rec.vd = value.value;
      return;
    case 'objlnk':
      rec.vlo = formatObjlnkText(value.value);
      return;
  }
}

function integerFrom(v: number | bigint, unsigned: boolean, where: string): number | bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else {
    // A JSON number past 2^53 has already lost digits: refuse it rather than store a wrong value.
    if (!Number.isSafeInteger(v)) throw new Lwm2mBadPayloadError(`${where}: ${v} is not an exact integer`);
    b = BigInt(v);
  }
  const ok = unsigned ? b >= 0n && b <= 2n ** 64n - 1n : b >= -(2n ** 63n) && b <= 2n ** 63n - 1n;
  if (!ok) throw new Lwm2mBadPayloadError(`${where}: ${b} is outside the ${unsigned ? 'unsigned' : 'signed'} 64-bit range`);
  return normalizeInteger(b);
}

function recordValue(rec: SenmlRecord, o: number, r: number, options: Lwm2mCodecOptions, limits: ResolvedLimits, where: string): Lwm2mValue | undefined {
  const present = (['v', 'vs', 'vb', 'vd', 'vlo'] as const).filter((k) => rec[k] !== undefined);
  if (present.length === 0) return undefined;
  if (present.length > 1) throw new Lwm2mBadPayloadError(`${where}: a record carries one value, got ${present.join(', ')}`);
  const field = present[0]!;
  const type = modelType(options, o, r);
  if (type === undefined) {
    // Unknown resource: the field decides (integral numbers read as Integer).
    switch (field) {
      case 'vs':
        checkStringLength(encodeUtf8(rec.vs!).length, limits, where);
        return { type: 'string', value: rec.vs! };
      case 'vb':
        return { type: 'boolean', value: rec.vb! };
      case 'vd':
        checkOpaqueLength(rec.vd!.length, limits, where);
        return { type: 'opaque', value: rec.vd! };
      case 'vlo':
        return { type: 'objlnk', value: parseObjlnkText(rec.vlo!) };
      case 'v': {
        const v = rec.v!;
        if (typeof v === 'bigint' || (Number.isSafeInteger(v) && !rec.vIsFloat)) return { type: 'integer', value: integerFrom(v, false, where) };
        return { type: 'float', value: v };
      }
    }
  }
  const expected = { string: 'vs', corelnk: 'vs', integer: 'v', unsigned: 'v', time: 'v', float: 'v', boolean: 'vb', opaque: 'vd', objlnk: 'vlo' }[type];
  if (field !== expected) throw new Lwm2mBadPayloadError(`${where}: a ${type} resource takes "${expected}", got "${field}"`);
  switch (type) {
    case 'string':
    case 'corelnk':
      checkStringLength(encodeUtf8(rec.vs!).length, limits, where);
      return { type, value: rec.vs! };
    case 'integer':
    case 'time':
      return { type, value: integerFrom(rec.v!, false, where) };
    case 'unsigned':
      return { type, value: integerFrom(rec.v!, true, where) };
    case 'float':
      return { type, value: Number(rec.v!) };
    case 'boolean':
      return { type, value: rec.vb! };
    case 'opaque':
      checkOpaqueLength(rec.vd!.length, limits, where);
      return { type, value: rec.vd! };
    case 'objlnk':
      return { type, value: parseObjlnkText(rec.vlo!) };
  }
}

// ---- records ⇄ entries --------------------------------------------------------------------------

/**
 * Resolves base names and times and converts values. `valuesRequired` is true for Read responses,
 * Write and Write-Composite payloads, false for Read-Composite path lists.
 */
export function resolveRecords(records: readonly SenmlRecord[], options: Lwm2mCodecOptions, limits: ResolvedLimits, valuesRequired: boolean): Lwm2mEntry[] {
  if (records.length > limits.maxEntries) throw new Lwm2mBadPayloadError(`more than ${limits.maxEntries} SenML records`);
  let bn = '';
  let bt: number | undefined;
  const out: Lwm2mEntry[] = [];
  records.forEach((rec, idx) => {
    if (rec.bn !== undefined) bn = rec.bn;
    if (rec.bt !== undefined) bt = rec.bt;
    const name = bn + (rec.n ?? '');
    const where = `SenML record ${idx}`;
    if (name === '') throw new Lwm2mBadPayloadError(`${where}: no name (bn + n is empty)`);
    let path: Lwm2mPath;
    try {
      path = parsePath(name);
    } catch (err) {
      throw new Lwm2mBadPayloadError(`${where}: name ${JSON.stringify(name.slice(0, 64))} is not an LwM2M path`, { cause: err });
    }
    const ids = pathIds(path);
    const time = bt !== undefined || rec.t !== undefined ? (bt ?? 0) + (rec.t ?? 0) : undefined;
    let value: Lwm2mValue | undefined;
    if (ids.length >= 3) value = recordValue(rec, ids[0]!, ids[2]!, options, limits, `${where} (${formatPath(path)})`);
    else if (['v', 'vs', 'vb', 'vd', 'vlo'].some((k) => rec[k as keyof SenmlRecord] !== undefined)) {
      throw new Lwm2mBadPayloadError(`${where}: a value needs a resource path, got ${formatPath(path)}`);
    }
    if (valuesRequired && value === undefined) throw new Lwm2mBadPayloadError(`${where} (${formatPath(path)}) has no value`);
    if (!valuesRequired && value !== undefined) throw new Lwm2mBadPayloadError(`${where}: a path list carries no values`);
    out.push({ path, ...(value !== undefined ? { value } : {}), ...(time !== undefined ? { time } : {}) });
  });
  return out;
}

/** Records for `node` at `path`: the first carries the base name, each name is relative to it. */
export function nodeToRecords(path: Lwm2mPath, node: Lwm2mNode, options: Lwm2mCodecOptions): SenmlRecord[] {
  const leaves = flattenNode(path, node);
  const ids = pathIds(path);
  const leafLevel = node.kind === 'resourceInstance' || (node.kind === 'resource' && !node.multiple);
  const bn = formatPath(path) + (leafLevel ? '' : '/');
  return leaves.map((leaf, i) => {
    const leafIds = pathIds(leaf.path);
    checkLeafAgainst(leaf, resourceDefinition(options, leafIds[0]!, leafIds[2]!));
    const rec: SenmlRecord = {};
    if (i === 0) rec.bn = bn;
    const rel = leafIds.slice(ids.length).join('/');
    if (rel !== '') rec.n = rel;
    valueToRecord(leaf.value, rec);
    return rec;
  });
}

/** Records for a composite payload: full paths as names, no base name. */
export function entriesToRecords(entries: readonly Lwm2mEntry[], options: Lwm2mCodecOptions): SenmlRecord[] {
  return entries.map((e) => {
    const ids = pathIds(e.path);
    const rec: SenmlRecord = { n: formatPath(e.path) };
    if (e.time !== undefined) {
      if (!Number.isFinite(e.time)) throw new Lwm2mBadValueError('a SenML time must be finite');
      rec.t = e.time;
    }
    if (e.value !== undefined) {
      if (ids.length < 3) throw new Lwm2mBadValueError(`${formatPath(e.path)}: only a resource or resource instance holds a value`);
      checkLeafAgainst({ path: e.path, value: e.value }, resourceDefinition(options, ids[0]!, ids[2]!));
      valueToRecord(e.value, rec);
    }
    return rec;
  });
}

/** Builds the node at `path` from resolved entries (a Read response or Write payload). */
export function entriesToNode(path: Lwm2mPath, entries: readonly Lwm2mEntry[], options: Lwm2mCodecOptions): Lwm2mNode {
  makePath(...pathIds(path));
  return buildNode(
    path,
    entries.map((e) => ({ path: e.path, value: e.value! })),
    multiplicity(options),
  );
}
