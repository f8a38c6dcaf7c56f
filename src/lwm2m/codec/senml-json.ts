/**
 * SenML JSON (application/senml+json, content-format 110), RFC 8428 §5 with the LwM2M rules of
 * Core §7.4.5 (see senml.ts). Pure.
 *
 * RFC 8428 §5: "The Data Value ... is base64 encoded with the URL-safe alphabet ... with padding
 * omitted" — "vd" is base64url. JSON numbers past 2^53 cannot be read exactly by JSON.parse; an
 * Integer resource holding one is refused (ERR_LWM2M_BAD_PAYLOAD) instead of silently rounded, and
 * the encoder writes bigints digit for digit.
 */
import { Lwm2mBadPayloadError, Lwm2mBadValueError } from '../model/errors.js';
import type { Lwm2mNode } from '../model/node.js';
import type { Lwm2mPath } from '../model/path.js';
import { checkPayload, decodeUtf8, encodeUtf8, resolveLimits, type Lwm2mCodecOptions } from './common.js';
import { entriesToNode, entriesToRecords, nodeToRecords, resolveRecords, type Lwm2mEntry, type SenmlRecord } from './senml.js';

const B64URL = /^[A-Za-z0-9_-]*$/;

/** JSON has one kind of number: a Float resource holding 1.0 is written 1, the model reads it back. */
function number(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isFinite(v)) throw new Lwm2mBadValueError('SenML JSON cannot carry NaN or infinity');
  return JSON.stringify(v);
}

function serialize(records: readonly SenmlRecord[]): Uint8Array {
  const parts = records.map((r) => {
    const f: string[] = [];
    if (r.bn !== undefined) f.push(`"bn":${JSON.stringify(r.bn)}`);
    if (r.bt !== undefined) f.push(`"bt":${number(r.bt)}`);
    if (r.n !== undefined) f.push(`"n":${JSON.stringify(r.n)}`);
    if (r.t !== undefined) f.push(`"t":${number(r.t)}`);
    if (r.v !== undefined) f.push(`"v":${number(r.v)}`);
    if (r.vs !== undefined) f.push(`"vs":${JSON.stringify(r.vs)}`);
    if (r.vb !== undefined) f.push(`"vb":${r.vb ? 'true' : 'false'}`);
    if (r.vd !== undefined) f.push(`"vd":"${Buffer.from(r.vd.buffer, r.vd.byteOffset, r.vd.byteLength).toString('base64url')}"`);
    if (r.vlo !== undefined) f.push(`"vlo":${JSON.stringify(r.vlo)}`);
    return `{${f.join(',')}}`;
  });
  return encodeUtf8(`[${parts.join(',')}]`);
}

function field<T>(obj: Record<string, unknown>, name: string, kind: 'string' | 'number' | 'boolean', idx: number): T | undefined {
  const v = obj[name];
  if (v === undefined) return undefined;
  if (typeof v !== kind) throw new Lwm2mBadPayloadError(`SenML record ${idx}: "${name}" must be a ${kind}`);
  if (kind === 'number' && !Number.isFinite(v)) throw new Lwm2mBadPayloadError(`SenML record ${idx}: "${name}" is not finite`);
  return v as T;
}

function parse(payload: Uint8Array, options: Lwm2mCodecOptions): SenmlRecord[] {
  const limits = resolveLimits(options.limits);
  checkPayload(payload, limits);
  const text = decodeUtf8(payload, 'SenML JSON');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Lwm2mBadPayloadError('SenML JSON is not valid JSON', { cause: err });
  }
  // RFC 8428 §5: "the SenML Pack is a JSON array of SenML Records".
  if (!Array.isArray(doc)) throw new Lwm2mBadPayloadError('SenML JSON must be an array of records');
  if (doc.length > limits.maxEntries) throw new Lwm2mBadPayloadError(`more than ${limits.maxEntries} SenML records`);
  return doc.map((item, idx) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Lwm2mBadPayloadError(`SenML record ${idx} is not an object`);
    const obj = item as Record<string, unknown>;
    for (const k of Object.keys(obj)) {
      if (k.endsWith('_')) throw new Lwm2mBadPayloadError(`SenML record ${idx}: must-understand field "${k}" is not supported`);
      if (k === 'bv' || k === 'bs') throw new Lwm2mBadPayloadError(`SenML record ${idx}: "${k}" is not used by LwM2M and is refused`);
    }
    const rec: SenmlRecord = {};
    const bn = field<string>(obj, 'bn', 'string', idx);
    const bt = field<number>(obj, 'bt', 'number', idx);
    const n = field<string>(obj, 'n', 'string', idx);
    const t = field<number>(obj, 't', 'number', idx);
    const v = field<number>(obj, 'v', 'number', idx);
    const vs = field<string>(obj, 'vs', 'string', idx);
    const vb = field<boolean>(obj, 'vb', 'boolean', idx);
    const vd = field<string>(obj, 'vd', 'string', idx);
    const vlo = field<string>(obj, 'vlo', 'string', idx);
    const bver = field<number>(obj, 'bver', 'number', idx);
    // RFC 8428 §4.4: version 10 is the one defined; a higher one may use features we do not know.
    if (bver !== undefined && bver > 10) throw new Lwm2mBadPayloadError(`SenML record ${idx}: unsupported version ${bver}`);
    if (bn !== undefined) rec.bn = bn;
    if (bt !== undefined) rec.bt = bt;
    if (n !== undefined) rec.n = n;
    if (t !== undefined) rec.t = t;
    if (v !== undefined) rec.v = v;
    if (vs !== undefined) rec.vs = vs;
    if (vb !== undefined) rec.vb = vb;
    if (vlo !== undefined) rec.vlo = vlo;
    if (vd !== undefined) {
      if (!B64URL.test(vd) || vd.length % 4 === 1) throw new Lwm2mBadPayloadError(`SenML record ${idx}: "vd" is not base64url`);
      rec.vd = Uint8Array.from(Buffer.from(vd, 'base64url'));
    }
    return rec;
  });
}

/** Encodes the node addressed by `path` (Read response, Write request) as SenML JSON. */
export function encodeSenmlJson(path: Lwm2mPath, node: Lwm2mNode, options: Lwm2mCodecOptions = {}): Uint8Array {
  return serialize(nodeToRecords(path, node, options));
}

/** Decodes SenML JSON into the node addressed by `path`. */
export function decodeSenmlJson(path: Lwm2mPath, payload: Uint8Array, options: Lwm2mCodecOptions = {}): Lwm2mNode {
  const limits = resolveLimits(options.limits);
  return entriesToNode(path, resolveRecords(parse(payload, options), options, limits, true), options);
}

/**
 * Composite payloads: Read-Composite / Observe-Composite requests (entries without values),
 * Read-Composite responses, Write-Composite requests and Send (entries with values, optional times).
 */
export function encodeSenmlJsonComposite(entries: readonly Lwm2mEntry[], options: Lwm2mCodecOptions = {}): Uint8Array {
  return serialize(entriesToRecords(entries, options));
}

export function decodeSenmlJsonComposite(payload: Uint8Array, withValues: boolean, options: Lwm2mCodecOptions = {}): Lwm2mEntry[] {
  const limits = resolveLimits(options.limits);
  return resolveRecords(parse(payload, options), options, limits, withValues);
}
