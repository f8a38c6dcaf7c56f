/**
 * Typed errors of the CoAP room. One subclass per failure, each with a fixed `code` (ERR_COAP_*)
 * that callers and tests match on; messages are for people and may change.
 */
import { RootlineError } from '../errors.js';

/** What the decoder could read of the fixed header before it gave up (RFC 7252 §3). */
export interface CoapHeaderInfo {
  type: number;
  code: number;
  messageId: number;
}

/** Base of every CoAP failure, so callers can catch the whole room with one `instanceof`. */
export class CoapError extends RootlineError {}

/**
 * A datagram is not a well-formed CoAP message (RFC 7252 §3). `header` is set when the 4-byte
 * fixed header could be read, so the endpoint can reject a Confirmable one with a Reset
 * (RFC 7252 §4.2) and silently ignore the rest (§4.3).
 */
export class CoapFormatError extends CoapError {
  readonly header: CoapHeaderInfo | undefined;

  constructor(code: string, message: string, header?: CoapHeaderInfo, options?: { cause?: unknown }) {
    super(code, message, options);
    this.header = header;
  }
}

/** Shorter than the 4-byte fixed header. */
export class CoapTruncatedHeaderError extends CoapFormatError {
  constructor(length: number) {
    super('ERR_COAP_TRUNCATED_HEADER', `datagram of ${length} bytes is shorter than the 4-byte CoAP header`);
  }
}

/** Version field other than 1 (RFC 7252 §3: such messages MUST be silently ignored). */
export class CoapBadVersionError extends CoapFormatError {
  constructor(version: number, header: CoapHeaderInfo) {
    super('ERR_COAP_BAD_VERSION', `unknown CoAP version ${version}`, header);
  }
}

/** Token length 9..15 (reserved, RFC 7252 §3) or a token longer than the datagram. */
export class CoapBadTokenError extends CoapFormatError {
  constructor(message: string, header: CoapHeaderInfo) {
    super('ERR_COAP_BAD_TOKEN', message, header);
  }
}

/** Option delta or length nibble 15 outside the payload marker, or an option running past the end. */
export class CoapBadOptionEncodingError extends CoapFormatError {
  constructor(message: string, header: CoapHeaderInfo) {
    super('ERR_COAP_BAD_OPTION_ENCODING', message, header);
  }
}

/** A payload marker followed by a zero-length payload (RFC 7252 §3). */
export class CoapEmptyPayloadError extends CoapFormatError {
  constructor(header: CoapHeaderInfo) {
    super('ERR_COAP_EMPTY_PAYLOAD', 'payload marker followed by a zero-length payload', header);
  }
}

/** An Empty message (code 0.00) with a token, options or payload (RFC 7252 §4.1). */
export class CoapBadEmptyMessageError extends CoapFormatError {
  constructor(header: CoapHeaderInfo) {
    super('ERR_COAP_BAD_EMPTY_MESSAGE', 'Empty message (0.00) carries bytes after the message ID', header);
  }
}

/** A code of a reserved class (1, 6 or 7; RFC 7252 §12.1). */
export class CoapReservedCodeError extends CoapFormatError {
  constructor(header: CoapHeaderInfo) {
    super('ERR_COAP_RESERVED_CODE', `code class ${header.code >> 5} is reserved`, header);
  }
}

/** More options than the decoder's `maxOptions` limit. */
export class CoapTooManyOptionsError extends CoapFormatError {
  constructor(limit: number, header: CoapHeaderInfo) {
    super('ERR_COAP_TOO_MANY_OPTIONS', `more than ${limit} options`, header);
  }
}

/** A payload or reassembled body larger than the configured limit. */
export class CoapBodyTooLargeError extends CoapFormatError {
  readonly limit: number;

  constructor(limit: number, header?: CoapHeaderInfo) {
    super('ERR_COAP_BODY_TOO_LARGE', `body larger than the limit of ${limit} bytes`, header);
    this.limit = limit;
  }
}

/** A Block1/Block2 option value that cannot be used (SZX 7, NUM too large, bad length). */
export class CoapBadBlockOptionError extends CoapError {
  constructor(message: string) {
    super('ERR_COAP_BAD_BLOCK_OPTION', message);
  }
}

/** An option value that does not fit its registered format (RFC 7252 §3.2, §5.4.3). */
export class CoapBadOptionValueError extends CoapError {
  readonly option: number;

  constructor(option: number, message: string) {
    super('ERR_COAP_BAD_OPTION_VALUE', `option ${option}: ${message}`);
    this.option = option;
  }
}

/** Text that is not valid CoRE Link Format (RFC 6690 §2). */
export class CoapLinkFormatError extends CoapError {
  readonly offset: number;

  constructor(message: string, offset: number) {
    super('ERR_COAP_LINK_FORMAT', `${message} at offset ${offset}`);
    this.offset = offset;
  }
}

/** A CoAP URI that cannot be used (RFC 7252 §6). */
export class CoapBadUriError extends CoapError {
  constructor(message: string) {
    super('ERR_COAP_BAD_URI', message);
  }
}

/** A Confirmable message was not acknowledged after MAX_RETRANSMIT retransmissions (RFC 7252 §4.2). */
export class CoapTimeoutError extends CoapError {
  constructor(message: string) {
    super('ERR_COAP_TIMEOUT', message);
  }
}

/** The peer answered with a Reset (RFC 7252 §4.2, §4.3). */
export class CoapResetError extends CoapError {
  constructor(message: string) {
    super('ERR_COAP_RESET', message);
  }
}

/** The exchange was cancelled locally (endpoint closed, observation cancelled). */
export class CoapCancelledError extends CoapError {
  constructor(message: string) {
    super('ERR_COAP_CANCELLED', message);
  }
}

/** A block-wise transfer broke its rules (RFC 7959): wrong NUM, changed ETag, missing block. */
export class CoapBlockTransferError extends CoapError {
  constructor(message: string) {
    super('ERR_COAP_BLOCK_TRANSFER', message);
  }
}

/** A response we must reject (RFC 7252 §5.4.1: unrecognised critical option in a response). */
export class CoapBadResponseError extends CoapError {
  constructor(message: string) {
    super('ERR_COAP_BAD_RESPONSE', message);
  }
}

/** The transport refused to send (e.g. no DTLS session with that peer any more); `cause` says why. */
export class CoapSendError extends CoapError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_COAP_SEND_FAILED', message, options);
  }
}
