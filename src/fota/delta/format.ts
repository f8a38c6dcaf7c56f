/**
 * The patch header (format version 1). All integers little-endian.
 *
 *   offset size  field
 *   0      4     magic "RLDT"
 *   4      1     format version (1)
 *   5      1     flags (0; any other value is rejected so future flags cannot be misread)
 *   6      4     old image size in bytes (≤ 2^31 - 2)
 *   10     4     new image size in bytes (≤ 2^31 - 2)
 *   14     32    SHA-256 of the old image
 *   46     32    SHA-256 of the new image
 *   78     4     first 4 bytes of SHA-256 over bytes 0..77 (header check)
 *   82     ...   range-coded command stream to the end of the patch (see model.ts, README)
 *
 * The header check catches a corrupted size or digest before anything is read or written; the
 * body is covered by the new image's digest, checked when the last byte is out.
 */
import { createHash } from 'node:crypto';
import { DeltaBadMagicError, DeltaCorruptError, DeltaUnsupportedVersionError } from './errors.js';
import { MAX_FIELD } from './model.js';

export const DELTA_MAGIC = Uint8Array.of(0x52, 0x4c, 0x44, 0x54);
export const DELTA_FORMAT_VERSION = 1;
export const HEADER_SIZE = 82;
/** Largest image the format describes. */
export const MAX_IMAGE_SIZE = MAX_FIELD;

export interface DeltaHeader {
  oldSize: number;
  newSize: number;
  oldDigest: Uint8Array;
  newDigest: Uint8Array;
}

function headerCheck(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes.subarray(0, 78)).digest().subarray(0, 4);
}

export function encodeHeader(h: DeltaHeader): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  const view = new DataView(out.buffer);
  out.set(DELTA_MAGIC, 0);
  out[4] = DELTA_FORMAT_VERSION;
  out[5] = 0;
  view.setUint32(6, h.oldSize, true);
  view.setUint32(10, h.newSize, true);
  out.set(h.oldDigest, 14);
  out.set(h.newDigest, 46);
  out.set(headerCheck(out), 78);
  return out;
}

/** Parses and checks a complete header (exactly HEADER_SIZE bytes). */
export function decodeHeader(bytes: Uint8Array): DeltaHeader {
  for (let i = 0; i < 4; i++) if (bytes[i] !== DELTA_MAGIC[i]) throw new DeltaBadMagicError();
  if (bytes[4] !== DELTA_FORMAT_VERSION) throw new DeltaUnsupportedVersionError(bytes[4]!);
  const check = headerCheck(bytes);
  for (let i = 0; i < 4; i++) if (bytes[78 + i] !== check[i]) throw new DeltaCorruptError('header check failed');
  if (bytes[5] !== 0) throw new DeltaCorruptError(`unknown flags 0x${bytes[5]!.toString(16)}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const oldSize = view.getUint32(6, true);
  const newSize = view.getUint32(10, true);
  if (oldSize > MAX_IMAGE_SIZE || newSize > MAX_IMAGE_SIZE) throw new DeltaCorruptError('image size beyond the format');
  return { oldSize, newSize, oldDigest: bytes.slice(14, 46), newDigest: bytes.slice(46, 78) };
}
