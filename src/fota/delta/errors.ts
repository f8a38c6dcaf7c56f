/**
 * Errors of the delta engine. Every failure of a patch (bad bytes, wrong base, limits) is a
 * DeltaError with a stable ERR_DELTA_* code, so the device side can map it to an LwM2M Update
 * Result without parsing messages. Bad arguments to public functions throw the shared
 * InvalidArgumentError instead.
 */
import { RootlineError } from '../../errors.js';

export type DeltaErrorCode =
  | 'ERR_DELTA_BAD_MAGIC'
  | 'ERR_DELTA_UNSUPPORTED_VERSION'
  | 'ERR_DELTA_CORRUPT'
  | 'ERR_DELTA_TRUNCATED'
  | 'ERR_DELTA_TRAILING_DATA'
  | 'ERR_DELTA_LIMIT_EXCEEDED'
  | 'ERR_DELTA_WRONG_BASE'
  | 'ERR_DELTA_DIGEST_MISMATCH'
  | 'ERR_DELTA_IO'
  | 'ERR_DELTA_STATE';

/** Base class: `code` says which failure; tests and callers match on it. */
export class DeltaError extends RootlineError {
  declare readonly code: DeltaErrorCode;
  constructor(code: DeltaErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The patch does not start with the rootline delta magic: not a patch of ours at all. */
export class DeltaBadMagicError extends DeltaError {
  constructor() {
    super('ERR_DELTA_BAD_MAGIC', 'not a rootline delta (bad magic)');
  }
}

/** A format version this build cannot decode (a newer server, or a corrupted version byte). */
export class DeltaUnsupportedVersionError extends DeltaError {
  constructor(version: number) {
    super('ERR_DELTA_UNSUPPORTED_VERSION', `unsupported delta format version ${version}`);
  }
}

/** The patch's bytes are inconsistent (header checksum, command out of bounds, ...). */
export class DeltaCorruptError extends DeltaError {
  constructor(message: string) {
    super('ERR_DELTA_CORRUPT', `corrupt delta: ${message}`);
  }
}

/** The patch ended before the new image was complete. */
export class DeltaTruncatedError extends DeltaError {
  constructor(message: string) {
    super('ERR_DELTA_TRUNCATED', `truncated delta: ${message}`);
  }
}

/** Bytes follow the end of the coded stream (an oversize package). */
export class DeltaTrailingDataError extends DeltaError {
  constructor(extra: number) {
    super('ERR_DELTA_TRAILING_DATA', `delta has ${extra} byte(s) after its end`);
  }
}

/** A declared size is beyond a configured limit (e.g. larger than the spare slot). */
export class DeltaLimitExceededError extends DeltaError {
  constructor(what: string, value: number, limit: number) {
    super('ERR_DELTA_LIMIT_EXCEEDED', `${what} ${value} exceeds the limit ${limit}`);
  }
}

/** The old image on the device is not the one the patch was made from. */
export class DeltaWrongBaseError extends DeltaError {
  constructor(message: string) {
    super('ERR_DELTA_WRONG_BASE', `delta does not apply to this image: ${message}`);
  }
}

/** The rebuilt image's SHA-256 differs from the patch header's or the caller's expected digest. */
export class DeltaDigestMismatchError extends DeltaError {
  constructor(message: string) {
    super('ERR_DELTA_DIGEST_MISMATCH', `digest mismatch: ${message}`);
  }
}

/** A readOld/writeNew callback failed or returned the wrong amount of data. */
export class DeltaIoError extends DeltaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DELTA_IO', message, options);
  }
}

/** The patcher was used after it finished or failed. */
export class DeltaStateError extends DeltaError {
  constructor(message: string) {
    super('ERR_DELTA_STATE', message);
  }
}
