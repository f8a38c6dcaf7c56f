/**
 * Patch generation (server side, in memory): bsdiff's matching over a suffix array of the old
 * image, then one range-coded stream of commands through the shared context model. A single
 * interleaved stream (bsdiff keeps three separately compressed blocks) lets the device decode
 * strictly front to back without seeking in the patch.
 */
import { createHash } from 'node:crypto';
import { assertBytes, assertInteger } from '../../util/assert.js';
import { DeltaLimitExceededError } from './errors.js';
import { encodeHeader, HEADER_SIZE, MAX_IMAGE_SIZE } from './format.js';
import { matchImages } from './matcher.js';
import { DeltaModel, encoderBitCoder, LEN_ADD, LEN_EXTRA } from './model.js';
import { RangeEncoder } from './range-coder.js';

export interface CreateDeltaOptions {
  /** Largest old or new image accepted, in bytes (default and maximum: 2^31 - 2). */
  maxImageSize?: number;
}

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** old[pos..pos+3] little-endian, bytes past the end read as 0 (as the patcher sees them). */
function oldWord(old: Uint8Array, pos: number): number {
  const n = old.length;
  return (
    (old[pos]! | ((pos + 1 < n ? old[pos + 1]! : 0) << 8) | ((pos + 2 < n ? old[pos + 2]! : 0) << 16) | ((pos + 3 < n ? old[pos + 3]! : 0) << 24)) >>> 0
  );
}

/** Builds a patch that turns `oldImage` into `newImage`. */
export function createDelta(oldImage: Uint8Array, newImage: Uint8Array, options: CreateDeltaOptions = {}): Uint8Array {
  assertBytes(oldImage, 'oldImage');
  assertBytes(newImage, 'newImage');
  const maxImageSize = options.maxImageSize ?? MAX_IMAGE_SIZE;
  assertInteger(maxImageSize, 'options.maxImageSize', 0, MAX_IMAGE_SIZE);
  if (oldImage.length > maxImageSize) throw new DeltaLimitExceededError('old image size', oldImage.length, maxImageSize);
  if (newImage.length > maxImageSize) throw new DeltaLimitExceededError('new image size', newImage.length, maxImageSize);

  const commands = matchImages(oldImage, newImage);
  const enc = new RangeEncoder(Math.max(1024, newImage.length >>> 4));
  const c = encoderBitCoder(enc);
  const model = new DeltaModel();
  let oldPos = 0;
  let newPos = 0;
  for (const cmd of commands) {
    model.seek(c, cmd.seek);
    oldPos += cmd.seek;
    model.length(c, LEN_ADD, cmd.add);
    for (let i = 0; i < cmd.add; i++) {
      const j = oldPos + i;
      const d = (newImage[newPos + i]! - oldImage[j]!) & 0xff;
      model.diff(c, d, j, j > 0 ? oldImage[j - 1]! : 0, oldWord(oldImage, j));
    }
    oldPos += cmd.add;
    newPos += cmd.add;
    model.length(c, LEN_EXTRA, cmd.extra);
    for (let i = 0; i < cmd.extra; i++) model.extra(c, newImage[newPos + i]!);
    newPos += cmd.extra;
  }
  // an empty new image has no commands and no coded stream at all
  const body = newImage.length === 0 ? new Uint8Array(0) : enc.finish();
  const header = encodeHeader({
    oldSize: oldImage.length,
    newSize: newImage.length,
    oldDigest: sha256(oldImage),
    newDigest: sha256(newImage),
  });
  const patch = new Uint8Array(HEADER_SIZE + body.length);
  patch.set(header, 0);
  patch.set(body, HEADER_SIZE);
  return patch;
}
