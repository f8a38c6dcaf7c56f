/**
 * Typed errors of the DTLS room. One subclass per failure, each with a fixed `code` that callers
 * and tests match on; messages are for people and may change.
 */
import type { PeerIdentity } from './connection.js';
import { RootlineError } from '../errors.js';

/** Base of every DTLS failure, so callers can catch the whole room with one `instanceof`. */
export class DtlsError extends RootlineError {}

/** Bytes that are not a well-formed record or handshake message (RFC 6347 §4.1, §4.2.2). */
export class DtlsDecodeError extends DtlsError {
  constructor(message: string) {
    super('ERR_DTLS_DECODE', message);
  }
}

/** An AEAD-protected record failed authentication (RFC 5246 §6.2.3.3 bad_record_mac). */
export class DtlsBadRecordMacError extends DtlsError {
  constructor(message = 'record authentication failed') {
    super('ERR_DTLS_BAD_RECORD_MAC', message);
  }
}

/** A handshake message would exceed the reassembly cap (option `maxHandshakeMessageSize`). */
export class DtlsReassemblyLimitError extends DtlsError {
  constructor(message: string) {
    super('ERR_DTLS_REASSEMBLY_LIMIT', message);
  }
}

/** The peer offered nothing we can agree on (version, cipher suite, group, credential). */
export class DtlsHandshakeFailureError extends DtlsError {
  constructor(message: string) {
    super('ERR_DTLS_HANDSHAKE_FAILURE', message);
  }
}

/** A message arrived that the handshake state machine does not expect now. */
export class DtlsUnexpectedMessageError extends DtlsError {
  constructor(message: string) {
    super('ERR_DTLS_UNEXPECTED_MESSAGE', message);
  }
}

/** Finished verify_data or a handshake signature did not verify. */
export class DtlsDecryptError extends DtlsError {
  constructor(message: string) {
    super('ERR_DTLS_DECRYPT_ERROR', message);
  }
}

/** The PSK identity is unknown to the server's lookup. */
export class DtlsUnknownPskIdentityError extends DtlsError {
  constructor(message: string) {
    super('ERR_DTLS_UNKNOWN_PSK_IDENTITY', message);
  }
}

/** The peer's certificate or raw public key was refused by the verification callback. */
export class DtlsBadCertificateError extends DtlsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DTLS_BAD_CERTIFICATE', message, options);
  }
}

/** The handshake did not complete within the retransmission budget. */
export class DtlsHandshakeTimeoutError extends DtlsError {
  /** The peer (its peer key) whose handshake timed out, when known (the server fills it in). */
  peer: string | undefined;
  /** The identity the peer had presented so far (e.g. a PSK identity whose key did not match). */
  identity: PeerIdentity | undefined;

  constructor(message: string) {
    super('ERR_DTLS_HANDSHAKE_TIMEOUT', message);
  }
}

/** The peer sent a fatal alert; `description` is its AlertDescription number. */
export class DtlsAlertReceivedError extends DtlsError {
  readonly description: number;

  constructor(description: number, name: string) {
    super('ERR_DTLS_ALERT_RECEIVED', `peer sent fatal alert ${name} (${description})`);
    this.description = description;
  }
}

/** send() on a session that is closed or not yet established. */
export class DtlsSessionClosedError extends DtlsError {
  constructor(message = 'DTLS session is closed') {
    super('ERR_DTLS_SESSION_CLOSED', message);
  }
}

/** A configured limit refused new work (max sessions, max half-open handshakes). */
export class DtlsLimitError extends DtlsError {
  constructor(message: string) {
    super('ERR_DTLS_LIMIT', message);
  }
}
