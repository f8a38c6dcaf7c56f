/**
 * Errors of the SUIT manifest codec and verifier. Every failure a manifest or an image can cause
 * is a SuitError with a stable ERR_SUIT_* code, so the device side maps it to an LwM2M Update
 * Result (/5/0/5) without reading messages. Bad arguments throw the shared InvalidArgumentError.
 */
import { RootlineError } from '../../errors.js';

export type SuitErrorCode =
  | 'ERR_SUIT_MALFORMED'
  | 'ERR_SUIT_UNSUPPORTED'
  | 'ERR_SUIT_BAD_SIGNATURE'
  | 'ERR_SUIT_UNKNOWN_KEY'
  | 'ERR_SUIT_ROLLBACK'
  | 'ERR_SUIT_WRONG_CLASS'
  | 'ERR_SUIT_DIGEST_MISMATCH'
  | 'ERR_SUIT_SIZE_MISMATCH'
  | 'ERR_SUIT_WRONG_BASE'
  | 'ERR_SUIT_DECRYPTION_FAILED';

export const SUIT_ERROR_CODES: readonly SuitErrorCode[] = [
  'ERR_SUIT_MALFORMED',
  'ERR_SUIT_UNSUPPORTED',
  'ERR_SUIT_BAD_SIGNATURE',
  'ERR_SUIT_UNKNOWN_KEY',
  'ERR_SUIT_ROLLBACK',
  'ERR_SUIT_WRONG_CLASS',
  'ERR_SUIT_DIGEST_MISMATCH',
  'ERR_SUIT_SIZE_MISMATCH',
  'ERR_SUIT_WRONG_BASE',
  'ERR_SUIT_DECRYPTION_FAILED',
];

/** Base class: `code` says which failure. */
export class SuitError extends RootlineError {
  declare readonly code: SuitErrorCode;
  constructor(code: SuitErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Not a SUIT envelope/manifest as draft-ietf-suit-manifest defines it, or over a parser limit. */
export class SuitMalformedError extends SuitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SUIT_MALFORMED', message, options);
  }
}

/** Well-formed, but uses something this implementation does not do (digest or signature algorithm, manifest version). */
export class SuitUnsupportedError extends SuitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SUIT_UNSUPPORTED', message, options);
  }
}

/** The authentication wrapper does not authenticate this manifest (bad signature, digest of another manifest). */
export class SuitBadSignatureError extends SuitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SUIT_BAD_SIGNATURE', message, options);
  }
}

/** No signature in the wrapper is by a trusted key. */
export class SuitUnknownKeyError extends SuitError {
  constructor(message: string) {
    super('ERR_SUIT_UNKNOWN_KEY', message);
  }
}

/** The sequence number is not greater than the installed manifest's (anti-rollback, RFC 9124 §3.2). */
export class SuitRollbackError extends SuitError {
  readonly sequenceNumber: number;
  readonly minSequence: number;
  constructor(sequenceNumber: number, minSequence: number) {
    super('ERR_SUIT_ROLLBACK', `manifest sequence number ${sequenceNumber} is not greater than ${minSequence}`);
    this.sequenceNumber = sequenceNumber;
    this.minSequence = minSequence;
  }
}

/** The manifest is for another vendor or device class, or does not say which. */
export class SuitWrongClassError extends SuitError {
  constructor(message: string) {
    super('ERR_SUIT_WRONG_CLASS', message);
  }
}

/** The image's digest is not the one the manifest names. */
export class SuitDigestMismatchError extends SuitError {
  constructor(what = 'image') {
    super('ERR_SUIT_DIGEST_MISMATCH', `${what} digest does not match the manifest`);
  }
}

/** The image's size is not the one the manifest names. */
export class SuitSizeMismatchError extends SuitError {
  readonly expected: number;
  readonly actual: number;
  constructor(expected: number, actual: number) {
    super('ERR_SUIT_SIZE_MISMATCH', `image is ${actual} bytes, the manifest says ${expected}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** A delta manifest names a base image other than the one installed. */
export class SuitWrongBaseError extends SuitError {
  constructor() {
    super('ERR_SUIT_WRONG_BASE', 'the installed image is not the base this delta applies to');
  }
}

/** The encrypted payload does not decrypt under the class key (wrong key or tampered). */
export class SuitDecryptionFailedError extends SuitError {
  constructor(options?: { cause?: unknown }) {
    super('ERR_SUIT_DECRYPTION_FAILED', 'payload decryption failed', options);
  }
}
