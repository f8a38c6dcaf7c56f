/**
 * How the registrar's and EST's typed refusals leave over CoAP: the HTTP status each code already
 * has (REGISTRAR_HTTP_STATUS, estHttpStatus) mapped to the CoAP code of RFC 8075 §7 / RFC 9148
 * §5, with the stable code first in a diagnostic payload (RFC 7252 §5.5.2: no Content-Format,
 * UTF-8 text for humans). Missing authentication is 4.01 here: CoAP has no WWW-Authenticate
 * constraint that made HTTPS answer 403 for it.
 */
import { CoapCode, type CoapResponseInit } from '../../coap/index.js';
import { RootlineError } from '../../errors.js';
import { EstError, estHttpStatus } from '../est/errors.js';
import { REGISTRAR_HTTP_STATUS } from '../registrar/errors.js';

const HTTP_TO_COAP: ReadonlyMap<number, number> = new Map([
  [400, CoapCode.BadRequest],
  [401, CoapCode.Unauthorized],
  [403, CoapCode.Forbidden],
  [404, CoapCode.NotFound],
  [406, CoapCode.NotAcceptable],
  [413, CoapCode.RequestEntityTooLarge],
  [415, CoapCode.UnsupportedContentFormat],
  [500, CoapCode.InternalServerError],
  [502, CoapCode.BadGateway],
  [503, CoapCode.ServiceUnavailable],
]);

const UNAUTHENTICATED = new Set(['ERR_EST_UNAUTHENTICATED', 'ERR_REGISTRAR_UNAUTHENTICATED']);
const COAPS_ONLY: Readonly<Record<string, number>> = { ERR_COAPS_NOT_ACCEPTABLE: CoapCode.NotAcceptable, ERR_COAPS_UNSUPPORTED_CONTENT_FORMAT: CoapCode.UnsupportedContentFormat };

/** Longest diagnostic payload: a constrained pledge reads it whole, and it is never a trace. */
const MAX_DIAGNOSTIC_BYTES = 256;

/** A CoAP error response carrying `code: message`, cut to fit one small datagram. */
export function diagnostic(code: number, errorCode: string, message: string): CoapResponseInit {
  const text = Buffer.from(`${errorCode}: ${message}`, 'utf8');
  // Cut on a character boundary so the payload stays valid UTF-8.
  let end = Math.min(text.length, MAX_DIAGNOSTIC_BYTES);
  while (end > 0 && end < text.length && (text[end]! & 0xc0) === 0x80) end--;
  return { code, payload: new Uint8Array(text.subarray(0, end)) };
}

/** The CoAP response for an error thrown by the registrar or EST service. */
export function coapErrorResponse(err: unknown): CoapResponseInit {
  if (err instanceof RootlineError) {
    if (UNAUTHENTICATED.has(err.code)) return diagnostic(CoapCode.Unauthorized, err.code, err.message);
    const own = COAPS_ONLY[err.code];
    if (own !== undefined) return diagnostic(own, err.code, err.message);
    const status = err instanceof EstError ? estHttpStatus(err) : REGISTRAR_HTTP_STATUS[err.code];
    const code = status === undefined ? undefined : HTTP_TO_COAP.get(status);
    if (code !== undefined) return diagnostic(code, err.code, err.message);
  }
  return diagnostic(CoapCode.InternalServerError, 'ERR_REGISTRAR_INTERNAL', 'internal error');
}
