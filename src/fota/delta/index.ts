/** The delta engine: patch generation (server) and bounded-memory streaming apply (device). */
export { createDelta, type CreateDeltaOptions } from './create.js';
export { createPatcher, type Patcher, type PatcherOptions, type PatchResult } from './patcher.js';
export { applyDeltaToBuffer, type ApplyDeltaOptions } from './apply-buffer.js';
export { decodeHeader, DELTA_FORMAT_VERSION, HEADER_SIZE, MAX_IMAGE_SIZE, type DeltaHeader } from './format.js';
export {
  DeltaError,
  DeltaBadMagicError,
  DeltaUnsupportedVersionError,
  DeltaCorruptError,
  DeltaTruncatedError,
  DeltaTrailingDataError,
  DeltaLimitExceededError,
  DeltaWrongBaseError,
  DeltaDigestMismatchError,
  DeltaIoError,
  DeltaStateError,
  type DeltaErrorCode,
} from './errors.js';
