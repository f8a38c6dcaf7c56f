/**
 * Whole-buffer apply, for the server, the CLI (`rootline firmware patch`) and tests: the
 * streaming patcher with the old image in memory and the output collected into one buffer.
 */
import { assertBytes } from '../../util/assert.js';
import { DeltaLimitExceededError, DeltaTruncatedError } from './errors.js';
import { decodeHeader, HEADER_SIZE, MAX_IMAGE_SIZE } from './format.js';
import { createPatcher } from './patcher.js';

export interface ApplyDeltaOptions {
  /** Largest new image accepted (default 2^31 - 2): caps the output allocation. */
  maxNewSize?: number;
  /** SHA-256 the new image must have. */
  expectedDigest?: Uint8Array;
}

/** Applies `patch` to `oldImage` and returns the new image (digests verified). */
export async function applyDeltaToBuffer(oldImage: Uint8Array, patch: Uint8Array, options: ApplyDeltaOptions = {}): Promise<Uint8Array> {
  assertBytes(oldImage, 'oldImage');
  assertBytes(patch, 'patch');
  if (patch.length < HEADER_SIZE) {
    // let the header parser name a wrong magic first; otherwise it is simply cut short
    if (patch.length >= 5) decodeHeaderPrefix(patch);
    throw new DeltaTruncatedError(`header incomplete (${patch.length} of ${HEADER_SIZE} bytes)`);
  }
  const header = decodeHeader(patch.subarray(0, HEADER_SIZE));
  const maxNewSize = options.maxNewSize ?? MAX_IMAGE_SIZE;
  if (header.newSize > maxNewSize) throw new DeltaLimitExceededError('new image size', header.newSize, maxNewSize);
  const out = new Uint8Array(header.newSize);
  let at = 0;
  const patcher = createPatcher({
    readOld: (offset, length) => oldImage.subarray(offset, offset + length),
    writeNew: (chunk) => {
      out.set(chunk, at);
      at += chunk.length;
    },
    oldSize: oldImage.length,
    maxNewSize,
    bufferSize: 65536,
    ...(options.expectedDigest === undefined ? {} : { expectedDigest: options.expectedDigest }),
  });
  await patcher.push(patch);
  await patcher.finish();
  return out;
}

function decodeHeaderPrefix(patch: Uint8Array): void {
  const padded = new Uint8Array(HEADER_SIZE);
  padded.set(patch);
  try {
    decodeHeader(padded);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_DELTA_CORRUPT') throw err;
  }
}
