/**
 * Errors of the firmware repository service, each with a stable ERR_FIRMWARE_* code the API maps
 * to an HTTP status (conflict, not found, ...). Bad arguments throw InvalidArgumentError.
 */
import { RootlineError } from '../../errors.js';

export type FirmwareErrorCode =
  | 'ERR_FIRMWARE_VERSION_EXISTS'
  | 'ERR_FIRMWARE_VERSION_NOT_NEWER'
  | 'ERR_FIRMWARE_NOT_FOUND'
  | 'ERR_FIRMWARE_IN_USE'
  | 'ERR_FIRMWARE_TOO_LARGE'
  | 'ERR_FIRMWARE_BLOB_MISSING'
  | 'ERR_FIRMWARE_BLOB_CORRUPT'
  | 'ERR_FIRMWARE_DELTA_MISMATCH'
  | 'ERR_FIRMWARE_MODEL_MISMATCH';

export const FIRMWARE_ERROR_CODES: readonly FirmwareErrorCode[] = [
  'ERR_FIRMWARE_VERSION_EXISTS',
  'ERR_FIRMWARE_VERSION_NOT_NEWER',
  'ERR_FIRMWARE_NOT_FOUND',
  'ERR_FIRMWARE_IN_USE',
  'ERR_FIRMWARE_TOO_LARGE',
  'ERR_FIRMWARE_BLOB_MISSING',
  'ERR_FIRMWARE_BLOB_CORRUPT',
  'ERR_FIRMWARE_DELTA_MISMATCH',
  'ERR_FIRMWARE_MODEL_MISMATCH',
];

export class FirmwareError extends RootlineError {
  declare readonly code: FirmwareErrorCode;
  constructor(code: FirmwareErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** This vendor/model already has an image with this version (a conflict, HTTP 409). */
export class FirmwareVersionExistsError extends FirmwareError {
  constructor(vendor: string, model: string, version: string, options?: { cause?: unknown }) {
    super('ERR_FIRMWARE_VERSION_EXISTS', `${vendor}/${model} already has version ${version}`, options);
  }
}

/**
 * The version is not above every stored version of the model. Sequence numbers follow upload
 * order, so an older version uploaded later would carry a higher sequence number and pass every
 * device's anti-rollback check: a downgrade in disguise.
 */
export class FirmwareVersionNotNewerError extends FirmwareError {
  constructor(version: string, newest: string) {
    super('ERR_FIRMWARE_VERSION_NOT_NEWER', `version ${version} is not newer than the stored ${newest}`);
  }
}

export class FirmwareNotFoundError extends FirmwareError {
  constructor(id: string) {
    super('ERR_FIRMWARE_NOT_FOUND', `firmware ${JSON.stringify(id)} does not exist`);
  }
}

/** Deletion refused: a campaign (or another holder) still references the image. */
export class FirmwareInUseError extends FirmwareError {
  constructor(id: string) {
    super('ERR_FIRMWARE_IN_USE', `firmware ${JSON.stringify(id)} is referenced and cannot be deleted`);
  }
}

export class FirmwareTooLargeError extends FirmwareError {
  constructor(limit: number) {
    super('ERR_FIRMWARE_TOO_LARGE', `the image exceeds ${limit} bytes`);
  }
}

export class FirmwareBlobMissingError extends FirmwareError {
  constructor(sha256: string) {
    super('ERR_FIRMWARE_BLOB_MISSING', `the blob ${sha256} is missing from the blob directory`);
  }
}

/** The stored blob no longer has the digest it was stored under (disk damage or tampering). */
export class FirmwareBlobCorruptError extends FirmwareError {
  constructor(sha256: string) {
    super('ERR_FIRMWARE_BLOB_CORRUPT', `the blob ${sha256} does not match its digest`);
  }
}

/** A delta whose header names other images than the (from, to) pair it is packaged for. */
export class FirmwareDeltaMismatchError extends FirmwareError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_FIRMWARE_DELTA_MISMATCH', message, options);
  }
}

/** A delta between images of different vendors or models. */
export class FirmwareModelMismatchError extends FirmwareError {
  constructor() {
    super('ERR_FIRMWARE_MODEL_MISMATCH', 'a delta needs two images of the same vendor and model');
  }
}
