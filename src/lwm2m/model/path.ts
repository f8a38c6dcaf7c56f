/**
 * LwM2M paths: / (root), /o, /o/i, /o/i/r, /o/i/r/ri (OMA LwM2M Core §7.1, §6.1). Ids are 0..65534:
 * "The ID value 65535 is reserved" (Core §7.1 and the MAX_ID rule of the Access Control object), so
 * a path holding it is refused.
 */
import { MAX_LWM2M_ID } from './definitions.js';
import { Lwm2mBadPathError } from './errors.js';

export type Lwm2mPathLevel = 'root' | 'object' | 'instance' | 'resource' | 'resourceInstance';

export interface Lwm2mPath {
  readonly objectId?: number;
  readonly instanceId?: number;
  readonly resourceId?: number;
  readonly resourceInstanceId?: number;
}

const LEVELS: readonly Lwm2mPathLevel[] = ['root', 'object', 'instance', 'resource', 'resourceInstance'];

function checkId(id: unknown, what: string): number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_LWM2M_ID) {
    throw new Lwm2mBadPathError(`${what} must be an integer in 0..${MAX_LWM2M_ID}, got ${String(id)}`);
  }
  return id;
}

const ID_NAMES = ['object id', 'instance id', 'resource id', 'resource instance id'] as const;

/** Builds a validated path from its ids; the ids present must form a prefix (no gaps). */
export function makePath(...ids: number[]): Lwm2mPath {
  if (ids.length > 4) throw new Lwm2mBadPathError(`a path has at most 4 ids, got ${ids.length}`);
  // Written out rather than looped: paths are made for every value a device sets and every
  // request either side handles, so this stays free of closures and temporary arrays.
  const p: { objectId?: number; instanceId?: number; resourceId?: number; resourceInstanceId?: number } = {};
  if (ids.length > 0) p.objectId = checkId(ids[0], ID_NAMES[0]);
  if (ids.length > 1) p.instanceId = checkId(ids[1], ID_NAMES[1]);
  if (ids.length > 2) p.resourceId = checkId(ids[2], ID_NAMES[2]);
  if (ids.length > 3) p.resourceInstanceId = checkId(ids[3], ID_NAMES[3]);
  return Object.freeze(p);
}

/** The ids of a path in order (validating them and that they form a prefix). */
export function pathIds(path: Lwm2mPath): number[] {
  const raw = [path.objectId, path.instanceId, path.resourceId, path.resourceInstanceId];
  let n = 0;
  while (n < 4 && raw[n] !== undefined) n++;
  for (let i = n + 1; i < 4; i++) if (raw[i] !== undefined) throw new Lwm2mBadPathError('path ids must form a prefix (no gaps)');
  const ids = new Array<number>(n);
  for (let i = 0; i < n; i++) ids[i] = checkId(raw[i], ID_NAMES[i]!);
  return ids;
}

export function pathLevel(path: Lwm2mPath): Lwm2mPathLevel {
  return LEVELS[pathIds(path).length]!;
}

/**
 * Parses '/3/0/1', '3/0/1' or '/' into a path. Ids are decimal without leading zeros or signs
 * (Core §7.1 identifiers are 16-bit unsigned integers written in decimal).
 */
export function parsePath(text: string): Lwm2mPath {
  if (typeof text !== 'string') throw new Lwm2mBadPathError('a path must be a string');
  if (text.length > 64) throw new Lwm2mBadPathError('path longer than 64 characters');
  let t = text.startsWith('/') ? text.slice(1) : text;
  if (t.endsWith('/')) t = t.slice(0, -1);
  if (t === '') return makePath();
  const parts = t.split('/');
  if (parts.length > 4) throw new Lwm2mBadPathError(`path ${JSON.stringify(text)} has more than 4 segments`);
  const ids = parts.map((p) => {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(p)) throw new Lwm2mBadPathError(`path segment ${JSON.stringify(p)} is not a decimal id`);
    return Number(p);
  });
  return makePath(...ids);
}

/** Formats a path as '/3/0/1' ('/' for the root). */
export function formatPath(path: Lwm2mPath): string {
  const ids = pathIds(path);
  return ids.length === 0 ? '/' : `/${ids.join('/')}`;
}

/** True when `prefix` equals `path` or is an ancestor of it. */
export function pathStartsWith(path: Lwm2mPath, prefix: Lwm2mPath): boolean {
  const a = pathIds(path);
  const b = pathIds(prefix);
  return b.length <= a.length && b.every((id, i) => a[i] === id);
}

/** Orders paths by their ids (shorter first on a tie), for deterministic encodings. */
export function comparePaths(a: Lwm2mPath, b: Lwm2mPath): number {
  const x = pathIds(a);
  const y = pathIds(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
