/**
 * SenML CBOR (application/senml+cbor, content-format 112), RFC 8428 §6 with the LwM2M rules of
 * Core §7.4.5 (see senml.ts). Pure.
 *
 * RFC 8428 §6 Table 6 labels: bver -1, bn -2, bt -3, bu -4, bv -5, bs -6, n 0, u 1, v 2, vs 3, vb 4,
 * s 5, t 6, ut 7, vd 8. LwM2M Core §7.4.5: the Objlnk value uses the text label "vlo".
 * Records are written with their fields in the order of the OMA examples (bn, bt, n, t, value), so
 * the spec's SenML CBOR example for /3/0 is reproduced byte for byte.
 */
import { decodeCbor, CborTag } from '../../cose/cbor.js';
import { Lwm2mBadPayloadError } from '../model/errors.js';
import type { Lwm2mNode } from '../model/node.js';
import type { Lwm2mPath } from '../model/path.js';
import { writeCbor, type CborItem } from './cbor-writer.js';
import { decodeSimpleSenmlCbor } from './senml-cbor-fast.js';
import { checkPayload, resolveLimits, type Lwm2mCodecOptions } from './common.js';
import { entriesToNode, entriesToRecords, nodeToRecords, resolveRecords, type Lwm2mEntry, type SenmlRecord } from './senml.js';

const BVER = -1;
const BN = -2;
const BT = -3;
const BV = -5;
const BS = -6;
const N = 0;
const V = 2;
const VS = 3;
const VB = 4;
const T = 6;
const VD = 8;
const VLO = 'vlo';

function num(v: number | bigint, isFloat: boolean): CborItem {
  if (typeof v === 'bigint') return { int: v };
  return Number.isSafeInteger(v) && !isFloat ? { int: v } : { float: v };
}

function serialize(records: readonly SenmlRecord[]): Uint8Array {
  return writeCbor({
    array: records.map((r) => {
      const m: Array<[CborItem, CborItem]> = [];
      if (r.bn !== undefined) m.push([{ int: BN }, { text: r.bn }]);
      if (r.bt !== undefined) m.push([{ int: BT }, num(r.bt, false)]);
      if (r.n !== undefined) m.push([{ int: N }, { text: r.n }]);
      if (r.t !== undefined) m.push([{ int: T }, num(r.t, false)]);
      if (r.v !== undefined) m.push([{ int: V }, num(r.v, r.vIsFloat === true)]);
      if (r.vs !== undefined) m.push([{ int: VS }, { text: r.vs }]);
      if (r.vb !== undefined) m.push([{ int: VB }, { bool: r.vb }]);
      if (r.vd !== undefined) m.push([{ int: VD }, { bytes: r.vd }]);
      if (r.vlo !== undefined) m.push([{ text: VLO }, { text: r.vlo }]);
      return { map: m };
    }),
  });
}

function decodeItems(payload: Uint8Array, options: Lwm2mCodecOptions): unknown {
  const limits = resolveLimits(options.limits);
  checkPayload(payload, limits);
  const simple = decodeSimpleSenmlCbor(payload, limits.maxDepth);
  if (simple !== undefined) return simple;
  try {
    return decodeCbor(payload, { maxDepth: limits.maxDepth });
  } catch (err) {
    throw new Lwm2mBadPayloadError(`malformed CBOR: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function parse(payload: Uint8Array, options: Lwm2mCodecOptions): SenmlRecord[] {
  const limits = resolveLimits(options.limits);
  const doc = decodeItems(payload, options);
  if (!Array.isArray(doc)) throw new Lwm2mBadPayloadError('SenML CBOR must be an array of records');
  if (doc.length > limits.maxEntries) throw new Lwm2mBadPayloadError(`more than ${limits.maxEntries} SenML records`);
  return doc.map((item, idx) => {
    if (!(item instanceof Map)) throw new Lwm2mBadPayloadError(`SenML record ${idx} is not a map`);
    const rec: SenmlRecord = {};
    const bad = (what: string): never => {
      throw new Lwm2mBadPayloadError(`SenML record ${idx}: ${what}`);
    };
    const isNum = (x: unknown): x is number | bigint => (typeof x === 'number' && Number.isFinite(x)) || typeof x === 'bigint';
    for (const [k, val] of item as Map<unknown, unknown>) {
      if (val instanceof CborTag) bad('tagged values are not SenML');
      if (typeof k === 'string') {
        if (k.endsWith('_')) bad(`must-understand field "${k}" is not supported`);
        if (k === VLO) {
          if (typeof val !== 'string') bad('"vlo" must be a text string');
          rec.vlo = val as string;
        }
        continue; // RFC 8428 §4.4: other unknown fields may be ignored
      }
      if (typeof k !== 'number') bad('labels are integers or text');
      switch (k) {
        case BN:
          if (typeof val !== 'string') bad('"bn" must be a text string');
          rec.bn = val as string;
          break;
        case BT:
          if (!isNum(val)) bad('"bt" must be a number');
          rec.bt = Number(val);
          break;
        case N:
          if (typeof val !== 'string') bad('"n" must be a text string');
          rec.n = val as string;
          break;
        case T:
          if (!isNum(val)) bad('"t" must be a number');
          rec.t = Number(val);
          break;
        case V:
          if (!isNum(val)) bad('"v" must be a number');
          rec.v = val as number | bigint;
          if (typeof val === 'number' && !Number.isInteger(val)) rec.vIsFloat = true;
          break;
        case VS:
          if (typeof val !== 'string') bad('"vs" must be a text string');
          rec.vs = val as string;
          break;
        case VB:
          if (typeof val !== 'boolean') bad('"vb" must be a boolean');
          rec.vb = val as boolean;
          break;
        case VD:
          if (!(val instanceof Uint8Array)) bad('"vd" must be a byte string');
          rec.vd = val as Uint8Array;
          break;
        case BVER:
          if (!isNum(val) || Number(val) > 10) bad('unsupported SenML version');
          break;
        case BV:
        case BS:
          bad('base value and base sum are not used by LwM2M and are refused');
          break;
        default:
          break;
      }
    }
    return rec;
  });
}

/** Encodes the node addressed by `path` (Read response, Write request) as SenML CBOR. */
export function encodeSenmlCbor(path: Lwm2mPath, node: Lwm2mNode, options: Lwm2mCodecOptions = {}): Uint8Array {
  return serialize(nodeToRecords(path, node, options));
}

/** Decodes SenML CBOR into the node addressed by `path`. */
export function decodeSenmlCbor(path: Lwm2mPath, payload: Uint8Array, options: Lwm2mCodecOptions = {}): Lwm2mNode {
  const limits = resolveLimits(options.limits);
  return entriesToNode(path, resolveRecords(parse(payload, options), options, limits, true), options);
}

/** Composite payloads (see decodeSenmlJsonComposite). */
export function encodeSenmlCborComposite(entries: readonly Lwm2mEntry[], options: Lwm2mCodecOptions = {}): Uint8Array {
  return serialize(entriesToRecords(entries, options));
}

export function decodeSenmlCborComposite(payload: Uint8Array, withValues: boolean, options: Lwm2mCodecOptions = {}): Lwm2mEntry[] {
  const limits = resolveLimits(options.limits);
  return resolveRecords(parse(payload, options), options, limits, withValues);
}
