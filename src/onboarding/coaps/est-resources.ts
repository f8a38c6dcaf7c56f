/**
 * EST over secure CoAP (RFC 9148) on a CoapEndpoint, on top of the transport-free EstService:
 *
 *   GET  <root>/crts  Accept 281 (default) | 287      → 2.05 certs-only CMS | the CA certificate
 *   POST <root>/sen   Content-Format 286 (DER CSR)    → 2.04 281 (default) | 287
 *   POST <root>/sren  Content-Format 286              → 2.04 281 | 287
 *   GET  <root>/att   Accept 285 (default)            → 2.05 CsrAttrs DER
 *
 * Roots: /.well-known/est (RFC 9148 §4.1: "The server MUST support the default /.well-known/est
 * root resource") and /est, which is what /.well-known/core advertises with rt="ace.est.*" and
 * ct (§4.1 discovery example). Payloads are binary DER, never base64 (§4.3); the service takes
 * base64, so the CSR is wrapped on the way in. An operation the registrar holds (operator
 * approval) is answered 5.03 with Max-Age = the wait (§4.7, in place of HTTP 202 + Retry-After).
 * Block-wise transfer (§4.6: "EST-coaps servers MUST implement Block1 and Block2") is the
 * endpoint's. Every enroll decision is audited by the service.
 *
 * RFC 9148 §4: "While [RFC7030] permits a number of the EST functions to be used without
 * authentication, this specification requires that the client MUST be authenticated for all
 * functions." So /crts and /att, which EST over HTTPS serves to anyone, need a DTLS client
 * certificate here too (4.01 otherwise, audited as est.cacerts / est.csrattrs).
 */
import { CoapCode, type CoapEndpoint, type CoapRequest, type CoapResponseInit, type ResourceHandle } from '../../coap/index.js';
import { InvalidArgumentError } from '../../errors.js';
import { encodeBase64Body } from '../est/base64-body.js';
import { encodeCsrAttrs } from '../est/csr-attrs.js';
import { EstUnauthenticatedError } from '../est/errors.js';
import type { EnrollOutcome, EstAuditSink, EstService } from '../est/service.js';
import { coapErrorResponse } from './coap-errors.js';
import { EST_SHORT_NAMES, EstCoapsFormat } from './content-formats.js';
import { CoapsNotAcceptableError, CoapsUnsupportedContentFormatError } from './errors.js';
import type { CoapsPeerLookup } from './peer.js';

export interface EstCoapsOptions {
  est: EstService;
  peerOf: CoapsPeerLookup;
  /** Advertised root (default '/est'); '/.well-known/est' is always served too, unlisted. */
  root?: string;
  /** Where refusals of /crts and /att are recorded (enroll decisions are the service's). */
  audit?: EstAuditSink;
}

/** Max-Age is a uint of at most 4 bytes (RFC 7252 §5.10.5). */
const MAX_AGE_LIMIT = 0xffff_ffff;

function accept(req: CoapRequest, allowed: readonly number[]): number {
  if (req.accept === undefined) return allowed[0]!;
  // RFC 7252 §5.10.4: "If the preferred Content-Format cannot be returned, then a 4.06 "Not Acceptable" MUST be sent".
  if (!allowed.includes(req.accept)) throw new CoapsNotAcceptableError(`acceptable Content-Formats: ${allowed.join(', ')}`);
  return req.accept;
}

function requireFormat(req: CoapRequest, format: number, name: string): void {
  if (req.contentFormat !== format) throw new CoapsUnsupportedContentFormatError(`expected Content-Format ${format} (${name}), got ${req.contentFormat ?? 'none'}`);
}

/** Runs `fn`, turning typed refusals into CoAP error responses. */
export async function answer(fn: () => Promise<CoapResponseInit> | CoapResponseInit): Promise<CoapResponseInit> {
  try {
    return await fn();
  } catch (err) {
    return coapErrorResponse(err);
  }
}

/** 5.03 with Max-Age: RFC 9148 §4.7's stand-in for 202 + Retry-After. */
export function retryLater(seconds: number, reason: string): CoapResponseInit {
  return { code: CoapCode.ServiceUnavailable, maxAge: Math.min(Math.max(1, Math.ceil(seconds)), MAX_AGE_LIMIT), payload: `pending: ${reason}`.slice(0, 200) };
}

function enrolled(outcome: EnrollOutcome, format: number): CoapResponseInit {
  if (outcome.status === 'pending') return retryLater(outcome.retryAfterSeconds, outcome.reason);
  const payload = format === EstCoapsFormat.PkixCert ? outcome.certificate.der : outcome.response;
  return { code: CoapCode.Changed, contentFormat: format, payload };
}

/** Mounts the EST-coaps resources; returns their handles (remove() unmounts). */
export function mountEstCoaps(endpoint: CoapEndpoint, options: EstCoapsOptions): ResourceHandle[] {
  if (options === null || typeof options !== 'object' || options.est === undefined || typeof options.peerOf !== 'function') throw new InvalidArgumentError('options', 'expected { est, peerOf }');
  const root = options.root ?? '/est';
  if (!/^(\/[A-Za-z0-9._~-]{1,32}){1,4}$/.test(root) || root === '/.well-known/est') throw new InvalidArgumentError('root', 'expected a short absolute path other than /.well-known/est');
  const { est, peerOf } = options;
  const certFormats = [EstCoapsFormat.CertsOnly, EstCoapsFormat.PkixCert];

  /** RFC 9148 §4: every function needs an authenticated client (a DTLS client certificate). */
  async function requireClient(req: CoapRequest, action: string): Promise<void> {
    const peer = peerOf(req.peer);
    if (peer.clientCertificates.length > 0) return;
    const err = new EstUnauthenticatedError('EST-coaps requires a DTLS client certificate for every function (RFC 9148 §4)');
    await options.audit?.append({ actor: 'device:unauthenticated', action, subject: 'unauthenticated', outcome: 'deny', details: { code: err.code, ...(peer.remoteAddress !== undefined ? { remoteAddress: peer.remoteAddress } : {}) } });
    throw err;
  }

  const crts = (req: CoapRequest) =>
    answer(async () => {
      await requireClient(req, 'est.cacerts');
      const format = accept(req, certFormats);
      const cacerts = est.cacerts();
      if (format === EstCoapsFormat.CertsOnly) return { code: CoapCode.Content, contentFormat: format, payload: cacerts.response };
      // application/pkix-cert holds one certificate: only a single-certificate CA answers it.
      if (cacerts.certificates.length !== 1) throw new CoapsNotAcceptableError('the CA chain has more than one certificate; ask for 281 (certs-only)');
      return { code: CoapCode.Content, contentFormat: format, payload: cacerts.certificates[0]! };
    });
  const enroll = (operation: 'simpleEnroll' | 'simpleReenroll') => (req: CoapRequest) =>
    answer(async () => {
      requireFormat(req, EstCoapsFormat.Pkcs10, 'application/pkcs10');
      const format = accept(req, certFormats);
      const peer = peerOf(req.peer);
      const context = { clientCertificates: peer.clientCertificates, ...(peer.remoteAddress !== undefined ? { remoteAddress: peer.remoteAddress } : {}) };
      // RFC 9148 §4.3: the CSR travels as DER; EstService takes the RFC 7030 base64 body.
      return enrolled(await est[operation](context, encodeBase64Body(req.payload)), format);
    });
  const att = (req: CoapRequest) =>
    answer(async () => {
      await requireClient(req, 'est.csrattrs');
      const format = accept(req, [EstCoapsFormat.CsrAttrs]);
      const attrs = est.csrAttrs();
      // RFC 7030 §4.5.2: 204 or 404 when there are none; 4.04 here.
      if (attrs.length === 0) return { code: CoapCode.NotFound };
      return { code: CoapCode.Content, contentFormat: format, payload: encodeCsrAttrs(attrs) };
    });

  const handles: ResourceHandle[] = [];
  for (const [base, hidden] of [[root, false], ['/.well-known/est', true]] as const) {
    handles.push(endpoint.resource(`${base}/${EST_SHORT_NAMES.cacerts}`, { get: crts, hidden, attributes: { rt: 'ace.est.crts', ct: certFormats } }));
    handles.push(endpoint.resource(`${base}/${EST_SHORT_NAMES.simpleenroll}`, { post: enroll('simpleEnroll'), hidden, attributes: { rt: 'ace.est.sen', ct: certFormats } }));
    handles.push(endpoint.resource(`${base}/${EST_SHORT_NAMES.simplereenroll}`, { post: enroll('simpleReenroll'), hidden, attributes: { rt: 'ace.est.sren', ct: certFormats } }));
    handles.push(endpoint.resource(`${base}/${EST_SHORT_NAMES.csrattrs}`, { get: att, hidden, attributes: { rt: 'ace.est.att', ct: EstCoapsFormat.CsrAttrs } }));
  }
  return handles;
}
