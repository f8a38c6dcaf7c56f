/**
 * One door to every LwM2M content-format codec: pick by content-format number, encode a node at a
 * path or decode one. Unknown formats and formats that cannot carry the addressed node give
 * ERR_LWM2M_UNSUPPORTED_FORMAT (the server answers 4.15 to a request body, 4.06 to an Accept);
 * malformed payloads give ERR_LWM2M_BAD_PAYLOAD (4.00).
 */
import { Lwm2mUnsupportedFormatError } from '../model/errors.js';
import { checkNodeAtPath, type Lwm2mNode, type Lwm2mValue } from '../model/node.js';
import { pathIds, type Lwm2mPath } from '../model/path.js';
import { modelType, resourceDefinition, type Lwm2mCodecOptions } from './common.js';
import { decodeLwm2mCbor, decodeLwm2mCborComposite, encodeLwm2mCbor, encodeLwm2mCborComposite } from './lwm2m-cbor.js';
import { decodeOpaque, decodePlainText, encodeOpaque, encodePlainText } from './plain-text.js';
import type { Lwm2mEntry } from './senml.js';
import { decodeSenmlCbor, decodeSenmlCborComposite, encodeSenmlCbor, encodeSenmlCborComposite } from './senml-cbor.js';
import { decodeSenmlJson, decodeSenmlJsonComposite, encodeSenmlJson, encodeSenmlJsonComposite } from './senml-json.js';
import { decodeTlv, encodeTlv } from './tlv.js';
import { InvalidArgumentError } from '../../errors.js';

/** Content-format numbers LwM2M uses (Core §7.4, CoAP Content-Formats registry). */
export const Lwm2mContentFormat = {
  TextPlain: 0,
  LinkFormat: 40,
  Opaque: 42,
  SenmlJson: 110,
  SenmlCbor: 112,
  Tlv: 11542,
  /** The LwM2M 1.0 JSON format: not implemented (SenML JSON replaced it in 1.1). */
  Lwm2mJson: 11543,
  Lwm2mCbor: 11544,
} as const;

/** Formats that carry a whole node (object, instance, multiple resource). */
export const NODE_FORMATS: readonly number[] = [11542, 110, 112, 11544];
/** Formats for composite operations (Read-/Write-/Observe-Composite, Send). */
export const COMPOSITE_FORMATS: readonly number[] = [110, 112, 11544];

function singleValue(node: Lwm2mNode, format: number): Lwm2mValue {
  if (node.kind === 'resourceInstance' || (node.kind === 'resource' && !node.multiple)) return node.value;
  throw new Lwm2mUnsupportedFormatError(format, `content-format ${format} carries a single value, not a ${node.kind === 'resource' ? 'multiple resource' : node.kind}`);
}

/** Encodes `node`, addressed by `path`, in `format`. */
export function encodeNode(format: number, path: Lwm2mPath, node: Lwm2mNode, options: Lwm2mCodecOptions = {}): Uint8Array {
  switch (format) {
    case 0:
    case 42: {
      checkNodeAtPath(path, node);
      const value = singleValue(node, format);
      const ids = pathIds(path);
      const def = resourceDefinition(options, ids[0]!, ids[2]!);
      if (def !== undefined && def.type !== value.type) {
        throw new Lwm2mUnsupportedFormatError(format, `resource is ${def.type}, value is ${value.type}`);
      }
      return format === 0 ? encodePlainText(value) : encodeOpaque(value);
    }
    case 11542:
      return encodeTlv(path, node, options);
    case 110:
      return encodeSenmlJson(path, node, options);
    case 112:
      return encodeSenmlCbor(path, node, options);
    case 11544:
      return encodeLwm2mCbor(path, node, options);
    default:
      throw new Lwm2mUnsupportedFormatError(format, `content-format ${format} is not supported for LwM2M data`);
  }
}

/** Decodes a payload in `format` into the node addressed by `path`. */
export function decodeNode(format: number, path: Lwm2mPath, payload: Uint8Array, options: Lwm2mCodecOptions = {}): Lwm2mNode {
  switch (format) {
    case 0:
    case 42: {
      const ids = pathIds(path);
      if (ids.length < 3) throw new Lwm2mUnsupportedFormatError(format, `content-format ${format} carries a single value, not a whole ${ids.length === 1 ? 'object' : ids.length === 2 ? 'instance' : 'tree'}`);
      const def = resourceDefinition(options, ids[0]!, ids[2]!);
      if (def?.multiple === true && ids.length === 3) throw new Lwm2mUnsupportedFormatError(format, `content-format ${format} cannot carry the multiple resource`);
      const type = modelType(options, ids[0]!, ids[2]!);
      let value: Lwm2mValue;
      if (format === 42) value = decodeOpaque(payload, type, options.limits);
      else {
        // Plain text needs the type: for an unknown resource the text stays a string.
        value = decodePlainText(payload, type ?? 'string', options.limits);
      }
      return ids.length === 4 ? { kind: 'resourceInstance', id: ids[3]!, value } : { kind: 'resource', id: ids[2]!, multiple: false, value };
    }
    case 11542:
      return decodeTlv(path, payload, options);
    case 110:
      return decodeSenmlJson(path, payload, options);
    case 112:
      return decodeSenmlCbor(path, payload, options);
    case 11544:
      return decodeLwm2mCbor(path, payload, options);
    default:
      throw new Lwm2mUnsupportedFormatError(format, `content-format ${format} is not supported for LwM2M data`);
  }
}

/** Encodes composite entries (with values, or a path list without) in a composite format. */
export function encodeComposite(format: number, entries: readonly Lwm2mEntry[], options: Lwm2mCodecOptions = {}): Uint8Array {
  switch (format) {
    case 110:
      return encodeSenmlJsonComposite(entries, options);
    case 112:
      return encodeSenmlCborComposite(entries, options);
    case 11544:
      return encodeLwm2mCborComposite(entries, options);
    default:
      throw new Lwm2mUnsupportedFormatError(format, `content-format ${format} cannot carry composite operations`);
  }
}

/**
 * Decodes a composite payload. `withValues`: true for Read-Composite responses, Write-Composite
 * requests and Send; false for Read-/Observe-Composite request path lists.
 */
export function decodeComposite(format: number, payload: Uint8Array, withValues: boolean, options: Lwm2mCodecOptions = {}): Lwm2mEntry[] {
  if (typeof withValues !== 'boolean') throw new InvalidArgumentError('withValues', 'expected a boolean');
  switch (format) {
    case 110:
      return decodeSenmlJsonComposite(payload, withValues, options);
    case 112:
      return decodeSenmlCborComposite(payload, withValues, options);
    case 11544:
      return decodeLwm2mCborComposite(payload, withValues, options);
    default:
      throw new Lwm2mUnsupportedFormatError(format, `content-format ${format} cannot carry composite operations`);
  }
}
