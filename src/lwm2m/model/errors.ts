/**
 * Typed errors of the LwM2M object model and content-format codecs. One subclass per failure, each
 * with a fixed `code` that callers (and the server's response mapping) match on; messages are for
 * people and may change. Bad arguments to public functions throw the shared InvalidArgumentError.
 *
 * How the server maps them (OMA LwM2M Core §6 / Transport §6.x response codes):
 *   ERR_LWM2M_BAD_PAYLOAD        → 4.00 Bad Request
 *   ERR_LWM2M_UNSUPPORTED_FORMAT → 4.15 Unsupported Content-Format (request body) or
 *                                  4.06 Not Acceptable (Accept option of a Read)
 *   ERR_LWM2M_BAD_PATH           → 4.00 Bad Request (or 4.04 where the operation says so)
 */
import { RootlineError } from '../../errors.js';

/** Base of every LwM2M model/codec failure, so callers can catch the room with one `instanceof`. */
export class Lwm2mError extends RootlineError {}

/** An object definition (DDF XML) is malformed or breaks the LWM2M.xsd rules we rely on. */
export class Lwm2mBadDdfError extends Lwm2mError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LWM2M_BAD_DDF', message, options);
  }
}

/** A path is not /o, /o/i, /o/i/r or /o/i/r/ri with ids 0..65534. */
export class Lwm2mBadPathError extends Lwm2mError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LWM2M_BAD_PATH', message, options);
  }
}

/** A payload could not be decoded (malformed, breaks a limit, or contradicts the object model). */
export class Lwm2mBadPayloadError extends Lwm2mError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LWM2M_BAD_PAYLOAD', message, options);
  }
}

/** The content format is unknown, or cannot carry what was asked (e.g. opaque for an object). */
export class Lwm2mUnsupportedFormatError extends Lwm2mError {
  readonly format: number;
  constructor(format: number, message: string) {
    super('ERR_LWM2M_UNSUPPORTED_FORMAT', message);
    this.format = format;
  }
}

/** A value cannot be encoded: wrong type for the resource, out of range, or over a limit. */
export class Lwm2mBadValueError extends Lwm2mError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LWM2M_BAD_VALUE', message, options);
  }
}
