/**
 * text/plain (content-format 0) and application/octet-stream (42) for single values, OMA LwM2M Core
 * §7.4.1 and §7.4.2. Pure.
 *
 * Core §7.4.1 (Plain Text): "The Plain Text format is used for "Read" and "Write" operations on
 * singular Resources" — numbers as decimal text, Boolean as "0" or "1", Objlnk as
 * "objectId:instanceId", Opaque as base64, Time as the decimal number of seconds.
 * Core §7.4.2 (Opaque): "The opaque content format is used for "Read" and "Write" operations on
 * singular Resources where the value of the Resource is an opaque binary value."
 */
import { Lwm2mBadPayloadError, Lwm2mBadValueError, Lwm2mUnsupportedFormatError } from '../model/errors.js';
import { checkValue, type Lwm2mValue } from '../model/node.js';
import {
  checkOpaqueLength,
  checkPayload,
  checkStringLength,
  decodeUtf8,
  encodeUtf8,
  formatObjlnkText,
  parseIntegerText,
  parseObjlnkText,
  resolveLimits,
  type Lwm2mCodecLimits,
  type ValueType,
} from './common.js';

const FLOAT_TEXT = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encodes one value as LwM2M plain text. */
export function encodePlainText(value: Lwm2mValue): Uint8Array {
  checkValue(value);
  switch (value.type) {
    case 'string':
    case 'corelnk':
      return encodeUtf8(value.value);
    case 'integer':
    case 'unsigned':
    case 'time':
      return encodeUtf8(value.value.toString());
    case 'float':
      if (!Number.isFinite(value.value)) throw new Lwm2mBadValueError('plain text cannot carry NaN or infinity');
      return encodeUtf8(String(value.value));
    case 'boolean':
      return encodeUtf8(value.value ? '1' : '0');
    case 'opaque':
      return encodeUtf8(Buffer.from(value.value.buffer, value.value.byteOffset, value.value.byteLength).toString('base64'));
    case 'objlnk':
      return encodeUtf8(formatObjlnkText(value.value));
  }
}

/** Decodes LwM2M plain text as a value of the model type `type`. */
export function decodePlainText(payload: Uint8Array, type: ValueType, limits?: Lwm2mCodecLimits): Lwm2mValue {
  const l = resolveLimits(limits);
  checkPayload(payload, l);
  if (type === 'opaque') {
    checkOpaqueLength(Math.floor((payload.length * 3) / 4), l, 'opaque value');
    const text = decodeUtf8(payload, 'plain text');
    if (!BASE64.test(text)) throw new Lwm2mBadPayloadError('opaque plain text is not base64');
    return { type, value: Uint8Array.from(Buffer.from(text, 'base64')) };
  }
  checkStringLength(payload.length, l, 'plain text');
  const text = decodeUtf8(payload, 'plain text');
  switch (type) {
    case 'string':
    case 'corelnk':
      return { type, value: text };
    case 'integer':
    case 'time':
      return { type, value: parseIntegerText(text, false) };
    case 'unsigned':
      return { type, value: parseIntegerText(text, true) };
    case 'float': {
      if (text.length > 64 || !FLOAT_TEXT.test(text)) throw new Lwm2mBadPayloadError(`${JSON.stringify(text.slice(0, 40))} is not a decimal number`);
      const value = Number(text);
      if (!Number.isFinite(value)) throw new Lwm2mBadPayloadError(`${text} is out of the float range`);
      return { type, value };
    }
    case 'boolean':
      if (text === '0' || text === '1') return { type, value: text === '1' };
      throw new Lwm2mBadPayloadError('a boolean in plain text is "0" or "1"');
    case 'objlnk':
      return { type, value: parseObjlnkText(text) };
  }
}

/** Opaque content format: only an opaque value can travel as raw bytes. */
export function encodeOpaque(value: Lwm2mValue): Uint8Array {
  checkValue(value);
  if (value.type !== 'opaque') throw new Lwm2mUnsupportedFormatError(42, `application/octet-stream carries only opaque values, not ${value.type}`);
  return value.value;
}

export function decodeOpaque(payload: Uint8Array, type: ValueType | undefined, limits?: Lwm2mCodecLimits): Lwm2mValue {
  const l = resolveLimits(limits);
  checkPayload(payload, l);
  if (type !== undefined && type !== 'opaque') throw new Lwm2mUnsupportedFormatError(42, `application/octet-stream carries only opaque values, not ${type}`);
  checkOpaqueLength(payload.length, l, 'opaque value');
  return { type: 'opaque', value: payload.slice() };
}
