/**
 * Typed failures of EST (RFC 7030). Each refusal has its own stable code; `EST_HTTP_STATUS`
 * maps the code to the HTTP status the server answers with, so the transport (HTTPS here, CoAPs
 * per RFC 9148 later) decides on the code and never on the message text.
 */
import { RootlineError } from '../../errors.js';

/** Base of every EST failure, so callers can catch the whole protocol with one `instanceof`. */
export class EstError extends RootlineError {}

/** A body is not the base64 DER that RFC 7030 / RFC 8951 require (PEM, binary, bad alphabet, empty). */
export class EstMalformedBodyError extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_MALFORMED_BODY', message, options);
  }
}

/** A certs-only CMS SignedData ("Simple PKI Response", RFC 5272 §3.2.1) is malformed. */
export class EstMalformedPkcs7Error extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_MALFORMED_PKCS7', message, options);
  }
}

/** A CSR Attributes body (RFC 7030 §4.5.2) is malformed. */
export class EstMalformedCsrAttrsError extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_MALFORMED_CSRATTRS', message, options);
  }
}

/** The PKCS#10 request is malformed, or its self-signature (proof of possession) does not verify. */
export class EstBadCsrError extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_BAD_CSR', message, options);
  }
}

/** The CSR is not linked to this TLS session (RFC 7030 §3.5): missing or wrong challengePassword. */
export class EstChannelBindingError extends EstError {
  constructor(message: string) {
    super('ERR_EST_CHANNEL_BINDING', message);
  }
}

/** No TLS client certificate was presented where the operation needs one. */
export class EstUnauthenticatedError extends EstError {
  constructor(message: string) {
    super('ERR_EST_UNAUTHENTICATED', message);
  }
}

/** The client is known but not allowed (unknown manufacturer, refused by policy, revoked, ...). */
export class EstForbiddenError extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_FORBIDDEN', message, options);
  }
}

/** A /simplereenroll CSR asks for a different subject or subjectAltName (RFC 7030 §4.2.2). */
export class EstReenrollMismatchError extends EstError {
  constructor(message: string) {
    super('ERR_EST_REENROLL_MISMATCH', message);
  }
}

/** The request's media type is not the one the operation takes (application/pkcs10). */
export class EstUnsupportedMediaTypeError extends EstError {
  constructor(message: string) {
    super('ERR_EST_UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** The request body is larger than the configured limit. */
export class EstBodyTooLargeError extends EstError {
  constructor(message: string) {
    super('ERR_EST_BODY_TOO_LARGE', message);
  }
}

/** The CA could not issue (signer failure, policy produced an unusable certificate). */
export class EstIssueFailedError extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_ISSUE_FAILED', message, options);
  }
}

/**
 * Client side: the server keeps answering 202 (manual approval pending) longer than the client
 * was told to wait. `retryAfterSeconds` is the server's last Retry-After.
 */
export class EstPendingError extends EstError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('ERR_EST_PENDING', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Client side: the server answered with an error status. `serverCode` is its ERR_* code when it sent one. */
export class EstHttpError extends EstError {
  readonly status: number;
  readonly serverCode: string | undefined;

  constructor(status: number, serverCode: string | undefined, message: string) {
    super('ERR_EST_HTTP', message);
    this.status = status;
    this.serverCode = serverCode;
  }
}

/** Client side: the server's TLS certificate does not verify against the explicit trust anchor. */
export class EstUntrustedServerError extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_UNTRUSTED_SERVER', message, options);
  }
}

/** Client side: the connection to the server failed or timed out (before or during the exchange). */
export class EstConnectionError extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_CONNECTION', message, options);
  }
}

/** Client side: a successful response is unusable (wrong media type, not our key, does not chain). */
export class EstBadResponseError extends EstError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EST_BAD_RESPONSE', message, options);
  }
}

/**
 * HTTP status for each server-side code. RFC 7030 §4.2.3: "When rejecting a request, the server
 * MUST specify either an HTTP 4xx error or an HTTP 5xx error." 403 (not 401) for a missing
 * client certificate: RFC 9110 §15.5.2 says a server generating 401 "MUST send a
 * WWW-Authenticate header field", and TLS client authentication has no HTTP challenge scheme.
 */
export const EST_HTTP_STATUS: Readonly<Record<string, number>> = Object.freeze({
  ERR_EST_MALFORMED_BODY: 400,
  ERR_EST_BAD_CSR: 400,
  ERR_EST_CHANNEL_BINDING: 400,
  ERR_EST_REENROLL_MISMATCH: 400,
  ERR_EST_UNAUTHENTICATED: 403,
  ERR_EST_FORBIDDEN: 403,
  ERR_EST_BODY_TOO_LARGE: 413,
  ERR_EST_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_EST_ISSUE_FAILED: 500,
});

/** The HTTP status for an error thrown by the EST service (500 for anything unexpected). */
export function estHttpStatus(err: unknown): number {
  if (err instanceof EstError) return EST_HTTP_STATUS[err.code] ?? 500;
  return 500;
}
