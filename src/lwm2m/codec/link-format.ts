/**
 * CoRE Link Format (application/link-format, content-format 40) as LwM2M uses it, Core §6.2.1
 * (Register / Update payloads) and §6.3.4 / §5.2.7.3 (Discover and Bootstrap-Discover responses).
 * Pure. The RFC 6690 grammar itself is parsed by coap/link-format.ts; this file gives the links
 * their LwM2M meaning and checks the attributes (Core §5.1.2 "Attributes"):
 *   pmin, pmax, epmin, epmax: unsigned integers (seconds); gt, lt, st: numbers, st ≥ 0;
 *   dim: number of resource instances (0..65535); ver: "major.minor"; ssid: 1..65534;
 *   uri: a server URI (quoted string); ct, rt: Register's alternate-path link.
 * The serialiser writes numbers and versions unquoted and other strings quoted, as the spec's
 * examples do (`</3/0>;ver=1.1`, `</0/1>;ssid=101;uri="coaps://server_1.example.com"`).
 */
import { parseLinkFormat, type LinkFormatLimits } from '../../coap/link-format.js';
import { isRootlineError } from '../../errors.js';
import { Lwm2mBadPayloadError, Lwm2mBadValueError } from '../model/errors.js';
import { formatPath, parsePath, pathIds, type Lwm2mPath } from '../model/path.js';
import { decodeUtf8, encodeUtf8 } from './common.js';

export interface Lwm2mLinkAttributes {
  pmin?: number;
  pmax?: number;
  epmin?: number;
  epmax?: number;
  gt?: number;
  lt?: number;
  st?: number;
  dim?: number;
  ver?: string;
  ssid?: number;
  uri?: string;
  /** Content formats the client supports (Register payload, Core §6.2.1). */
  ct?: number[];
  rt?: string;
  /** Attributes LwM2M does not define, kept as read (undefined for a value-less one). */
  other?: Record<string, string | undefined>;
}

export interface Lwm2mLink {
  /** The link target as written, e.g. '/3/0' or '/lwm2m/3/0'. */
  target: string;
  /** The LwM2M path, when the target (after the alternate path) is one; undefined for '</>'. */
  path?: Lwm2mPath;
  attributes: Lwm2mLinkAttributes;
}

const UINT = /^(0|[1-9][0-9]{0,9})$/;
const NUM = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;
const VER = /^[0-9]{1,3}\.[0-9]{1,3}$/;

function attrs(raw: ReadonlyArray<{ name: string; value?: string }>, where: string): Lwm2mLinkAttributes {
  const a: Lwm2mLinkAttributes = {};
  const bad = (what: string): never => {
    throw new Lwm2mBadPayloadError(`${where}: ${what}`);
  };
  const seen = new Set<string>();
  for (const { name, value } of raw) {
    if (seen.has(name)) bad(`attribute ${name} given twice`);
    seen.add(name);
    const need = (): string => (value === undefined ? bad(`attribute ${name} needs a value`) : value);
    switch (name) {
      case 'pmin':
      case 'pmax':
      case 'epmin':
      case 'epmax': {
        const v = need();
        if (!UINT.test(v) || Number(v) > 0xffffffff) bad(`${name} must be an unsigned integer, got ${JSON.stringify(v.slice(0, 20))}`);
        a[name] = Number(v);
        break;
      }
      case 'gt':
      case 'lt':
      case 'st': {
        const v = need();
        if (v.length > 40 || !NUM.test(v) || !Number.isFinite(Number(v))) bad(`${name} must be a number`);
        if (name === 'st' && Number(v) < 0) bad('st must not be negative');
        a[name] = Number(v);
        break;
      }
      case 'dim': {
        const v = need();
        if (!UINT.test(v) || Number(v) > 65535) bad('dim must be an integer in 0..65535');
        a.dim = Number(v);
        break;
      }
      case 'ssid': {
        const v = need();
        // Core §7.3 (Server object, Short Server ID): 1..65534; 0 and 65535 are not server ids.
        if (!UINT.test(v) || Number(v) < 1 || Number(v) > 65534) bad('ssid must be an integer in 1..65534');
        a.ssid = Number(v);
        break;
      }
      case 'ver': {
        const v = need();
        if (!VER.test(v)) bad(`ver must be major.minor, got ${JSON.stringify(v.slice(0, 20))}`);
        a.ver = v;
        break;
      }
      case 'uri':
        a.uri = need();
        break;
      case 'rt':
        a.rt = need();
        break;
      case 'ct': {
        // Core §6.2.1: ct lists the supported formats, space separated (quoted when several).
        const list = need().split(' ');
        if (list.some((x) => !UINT.test(x) || Number(x) > 65535)) bad('ct must list content-format numbers');
        a.ct = list.map(Number);
        break;
      }
      default:
        a.other ??= {};
        a.other[name] = value;
    }
  }
  // Core §5.1.2: when both are present "the "lt" value MUST be smaller than the "gt" value", and
  // with "st" as well, lt + 2*st < gt.
  if (a.gt !== undefined && a.lt !== undefined) {
    if (!(a.lt < a.gt)) bad('lt must be less than gt');
    if (a.st !== undefined && !(a.lt + 2 * a.st < a.gt)) bad('lt + 2*st must be less than gt');
  }
  return a;
}

export interface ParseLinksOptions extends LinkFormatLimits {
  /** Alternate path the client registered (Core §6.2.1 `</lwm2m>;rt="oma.lwm2m"`); default '/'. */
  rootPath?: string;
}

/** Parses link-format text into LwM2M links. Errors: ERR_LWM2M_BAD_PAYLOAD. */
export function parseLwm2mLinks(payload: Uint8Array | string, options: ParseLinksOptions = {}): Lwm2mLink[] {
  const text = typeof payload === 'string' ? payload : decodeUtf8(payload, 'link format');
  let links;
  try {
    links = parseLinkFormat(text, { maxLength: options.maxLength ?? 65536, maxLinks: options.maxLinks ?? 4096 });
  } catch (err) {
    if (isRootlineError(err)) throw new Lwm2mBadPayloadError(`malformed link format: ${err.message}`, { cause: err });
    throw err;
  }
  const root = (options.rootPath ?? '/').replace(/\/+$/, '');
  return links.map((l, i) => {
    const where = `link ${i} <${l.target.slice(0, 40)}>`;
    const link: Lwm2mLink = { target: l.target, attributes: attrs(l.attributes, where) };
    let rel = l.target;
    if (root !== '' && (rel === root || rel.startsWith(`${root}/`))) rel = rel.slice(root.length);
    if (rel !== '' && rel !== '/') {
      try {
        link.path = parsePath(rel);
      } catch {
        // Not an LwM2M path (e.g. another resource the client hosts): kept without a path.
      }
    }
    return link;
  });
}

function quote(v: string): string {
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function formatAttrs(a: Lwm2mLinkAttributes): string {
  let s = '';
  const num = (name: string, v: number | undefined, intOnly: boolean): void => {
    if (v === undefined) return;
    if (!Number.isFinite(v) || (intOnly && (!Number.isInteger(v) || v < 0))) throw new Lwm2mBadValueError(`attribute ${name}: bad value ${v}`);
    s += `;${name}=${v}`;
  };
  if (a.rt !== undefined) s += `;rt=${quote(a.rt)}`;
  if (a.ct !== undefined) s += `;ct=${a.ct.length === 1 ? String(a.ct[0]) : quote(a.ct.join(' '))}`;
  if (a.ssid !== undefined) num('ssid', a.ssid, true);
  if (a.uri !== undefined) s += `;uri=${quote(a.uri)}`;
  if (a.ver !== undefined) {
    if (!VER.test(a.ver)) throw new Lwm2mBadValueError(`ver must be major.minor, got ${a.ver}`);
    s += `;ver=${a.ver}`;
  }
  num('dim', a.dim, true);
  num('pmin', a.pmin, true);
  num('pmax', a.pmax, true);
  num('gt', a.gt, false);
  num('lt', a.lt, false);
  num('st', a.st, false);
  num('epmin', a.epmin, true);
  num('epmax', a.epmax, true);
  for (const [k, v] of Object.entries(a.other ?? {})) {
    if (!/^[A-Za-z0-9!#$&+\-.^_`|~]+$/.test(k)) throw new Lwm2mBadValueError(`attribute name ${JSON.stringify(k)} is not a token`);
    s += v === undefined ? `;${k}` : `;${k}=${/^[0-9]+$/.test(v) ? v : quote(v)}`;
  }
  return s;
}

/** Serialises LwM2M links: `</3/0>;pmin=10,</3/0/1>`. A link's path wins over its target. */
export function formatLwm2mLinks(links: readonly Lwm2mLink[], rootPath = ''): Uint8Array {
  const root = rootPath.replace(/\/+$/, '');
  const text = links
    .map((l) => {
      const target = l.path !== undefined ? (pathIds(l.path).length === 0 ? `${root}/` : `${root}${formatPath(l.path)}`) : l.target;
      if (/[\s<>"]/.test(target)) throw new Lwm2mBadValueError(`invalid link target ${JSON.stringify(target)}`);
      return `<${target}>${formatAttrs(l.attributes)}`;
    })
    .join(',');
  return encodeUtf8(text);
}

/** What a Register / Update payload says (Core §6.2.1). */
export interface RegistrationObjects {
  /** Alternate path ('/' when the client uses none). */
  rootPath: string;
  /** Content formats from the `</>;rt="oma.lwm2m";ct=...` link, when present. */
  contentFormats?: number[];
  /** Object ids with their version (when given) and instance ids. */
  objects: Map<number, { version?: string; instances: number[] }>;
}

/**
 * Reads the object list of a Register / Update payload, e.g. `</1/0>,</3/0>;ver=1.1,</5>`.
 * Core §6.2.1: a link with rt="oma.lwm2m" names the alternate path; the rest are objects or object
 * instances (deeper paths are refused: registration lists no resources).
 */
export function parseRegistrationLinks(payload: Uint8Array | string, options: LinkFormatLimits = {}): RegistrationObjects {
  const first = parseLwm2mLinks(payload, options);
  const alt = first.find((l) => l.attributes.rt === 'oma.lwm2m');
  const rootPath = alt ? alt.target : '/';
  const links = alt && rootPath !== '/' ? parseLwm2mLinks(payload, { ...options, rootPath }) : first;
  const objects = new Map<number, { version?: string; instances: number[] }>();
  for (const l of links) {
    if (l.attributes.rt === 'oma.lwm2m') continue;
    if (l.path === undefined) throw new Lwm2mBadPayloadError(`<${l.target.slice(0, 40)}> is not an object or object instance`);
    const ids = pathIds(l.path);
    if (ids.length > 2) throw new Lwm2mBadPayloadError(`<${l.target.slice(0, 40)}>: a registration lists objects and instances only`);
    let entry = objects.get(ids[0]!);
    if (entry === undefined) objects.set(ids[0]!, (entry = { instances: [] }));
    if (l.attributes.ver !== undefined) entry.version = l.attributes.ver;
    if (ids.length === 2) {
      if (entry.instances.includes(ids[1]!)) throw new Lwm2mBadPayloadError(`</${ids.join('/')}> listed twice`);
      entry.instances.push(ids[1]!);
    }
  }
  const result: RegistrationObjects = { rootPath, objects };
  if (alt?.attributes.ct !== undefined) result.contentFormats = alt.attributes.ct;
  return result;
}
