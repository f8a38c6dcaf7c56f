/**
 * The SUIT layer's view of the CBOR decoder: every nested `bstr .cbor` is decoded with the
 * cose room's strict decoder, and its failures become ERR_SUIT_MALFORMED naming where.
 */
import { decodeCbor } from '../../cose/cbor.js';
import { SuitMalformedError } from './errors.js';

/** Depth limit per nested item; SUIT structures are shallow, try-each nests through bstrs. */
const NESTED_MAX_DEPTH = 16;

export function decodeNested(bytes: Uint8Array, where: string): unknown {
  try {
    return decodeCbor(bytes, { maxDepth: NESTED_MAX_DEPTH });
  } catch (err) {
    throw new SuitMalformedError(`${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export function asMap(value: unknown, where: string): Map<unknown, unknown> {
  if (!(value instanceof Map)) throw new SuitMalformedError(`${where}: expected a map`);
  return value;
}

export function asBytes(value: unknown, where: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new SuitMalformedError(`${where}: expected a bstr`);
  return value;
}

export function asUint(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SuitMalformedError(`${where}: expected an unsigned integer below 2^53`);
  }
  return value;
}

export function asText(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new SuitMalformedError(`${where}: expected a tstr`);
  return value;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
