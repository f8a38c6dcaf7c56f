/**
 * The MASA's HTTP face (RFC 8995 §5.5, §5.6, §5.8), as a fastify plugin the server mounts on its
 * HTTPS listener:
 *
 *   POST /.well-known/brski/requestvoucher   body: the registrar voucher request, CMS
 *        (Content-Type application/voucher-cms+json) or COSE_Sign1 (application/voucher+cose,
 *        cBRSKI draft-ietf-anima-constrained-voucher §7.1: a constrained pledge's registrar
 *        "MUST use the media type application/voucher+cose for its voucher request to MASA");
 *        Accept picks the voucher format (default: the request's). Any other Content-Type: 415,
 *        a body that is not what its Content-Type says: 400, no acceptable Accept: 406.
 *   POST /.well-known/brski/requestauditlog  body: a voucher request signed by the owning domain;
 *        answers the RFC 8995 §5.8.1 JSON log.
 *   POST /.well-known/brski/release          (rootline extension, not in RFC 8995) body: a voucher
 *        request signed by the owning domain; releases its claim. 204.
 *
 * For the owner requests, a TLS client certificate the registrar presented must hold the key
 * that signed the request (src/onboarding/masa.ts OwnerRequestContext).
 *
 * Only types come from fastify here, so the room does not depend on the server's choice of
 * version; the caller registers it: `app.register(masaRoutes, { masa })`.
 */
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RootlineError } from '../../errors.js';
import type { AuditLog } from '../../store/types.js';
import type { Masa, OwnerRequestContext } from '../masa.js';
import { auditText } from '../masa-registry.js';
import { acceptedVoucherFormat, requestFormatOf, VOUCHER_CMS_MEDIA_TYPE, VOUCHER_COSE_MEDIA_TYPE } from './voucher-media-types.js';

export interface MasaRoutesOptions {
  masa: Masa;
  /** Largest request body accepted (default 256 KiB). */
  bodyLimit?: number;
  /**
   * Where the route's own refusals (415, 406: before the MASA sees the request) are recorded,
   * as 'masa.voucher.request' deny records like the MASA's. Absent: not recorded.
   */
  audit?: AuditLog;
}

export const VOUCHER_REQUEST_MEDIA_TYPE = VOUCHER_CMS_MEDIA_TYPE;

/** RFC 8995 §5.6 status codes for each refusal. */
export const MASA_ERROR_STATUS: Readonly<Record<string, number>> = {
  ERR_VOUCHER_MALFORMED: 400,
  ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE: 400,
  ERR_ONBOARDING_BAD_REQUEST: 400,
  // §5.6: "403 (Forbidden) ... if the voucher request is not signed correctly or is stale, or if
  // the pledge has another outstanding voucher that cannot be overridden".
  ERR_VOUCHER_BAD_SIGNATURE: 403,
  ERR_VOUCHER_UNTRUSTED_SIGNER: 403,
  ERR_ONBOARDING_UNTRUSTED_PLEDGE: 403,
  ERR_ONBOARDING_PROXIMITY_MISMATCH: 403,
  ERR_ONBOARDING_REPLAY: 403,
  ERR_ONBOARDING_ALREADY_OWNED: 403,
  ERR_ONBOARDING_NOT_OWNER: 403,
  // §5.6: "404 (Not Found) if the MASA does not know the pledge".
  ERR_ONBOARDING_UNKNOWN_DEVICE: 404,
};


/** The TLS client certificate of the request's connection, when the listener asked for one and got it. */
function ownerContext(req: FastifyRequest): OwnerRequestContext {
  const socket = req.raw.socket as Partial<TLSSocket>;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
  return peer !== undefined && peer !== null && Buffer.isBuffer(peer.raw) && peer.raw.length > 0 ? { tlsClientCertificate: new Uint8Array(peer.raw) } : {};
}

function refuse(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof RootlineError && MASA_ERROR_STATUS[err.code] !== undefined) {
    return reply.code(MASA_ERROR_STATUS[err.code]!).type('application/json').send({ code: err.code, message: err.message });
  }
  throw err;
}

export async function masaRoutes(app: FastifyInstance, options: MasaRoutesOptions): Promise<void> {
  const { masa, audit } = options;
  const bodyLimit = options.bodyLimit ?? 262_144;
  // Encapsulated: these parsers apply inside this plugin only. Every other type is read as bytes
  // too (within bodyLimit) so that the route answers it with its own typed, audited 415.
  const raw = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void => done(null, body);
  app.addContentTypeParser(VOUCHER_CMS_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit }, raw);
  app.addContentTypeParser(VOUCHER_COSE_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit }, raw);
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, raw);

  const body = (raw: unknown): Uint8Array | undefined => (Buffer.isBuffer(raw) && raw.length > 0 ? new Uint8Array(raw) : undefined);
  const record = async (req: FastifyRequest, code: string, reason: string): Promise<void> => {
    await audit?.append({ actor: 'registrar:unauthenticated', action: 'masa.voucher.request', subject: 'unknown', outcome: 'deny', details: { code, reason: auditText(reason, 300), ...(req.ip !== undefined ? { remoteAddress: auditText(req.ip, 64) } : {}) } });
  };
  const unsupported = (reply: FastifyReply, expected: string): FastifyReply =>
    reply.code(415).type('application/json').send({ code: 'ERR_ONBOARDING_UNSUPPORTED_MEDIA_TYPE', message: `expected Content-Type ${expected}` });

  app.post('/.well-known/brski/requestvoucher', async (req, reply) => {
    const requestFormat = requestFormatOf(req.headers['content-type']);
    const der = body(req.body);
    if (requestFormat === undefined || der === undefined) {
      const expected = `${VOUCHER_CMS_MEDIA_TYPE} or ${VOUCHER_COSE_MEDIA_TYPE}`;
      await record(req, 'ERR_ONBOARDING_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${String(req.headers['content-type'] ?? 'none').slice(0, 100)} (expected ${expected})`);
      return unsupported(reply, expected);
    }
    // cBRSKI §7.1: "The Registrar indicates the voucher format (by media type) it wants to receive
    // from MASA using the HTTP Accept header"; none: the request's own format.
    const format = acceptedVoucherFormat(req.headers.accept, requestFormat);
    // RFC 8995 §5.6: "406 (Not Acceptable) ... if the Accept header ... is not supported".
    if (format === undefined) {
      await record(req, 'ERR_ONBOARDING_NOT_ACCEPTABLE', `Accept ${String(req.headers.accept).slice(0, 100)}`);
      return reply.code(406).type('application/json').send({ code: 'ERR_ONBOARDING_NOT_ACCEPTABLE', message: `acceptable: ${VOUCHER_CMS_MEDIA_TYPE}, ${VOUCHER_COSE_MEDIA_TYPE}` });
    }
    try {
      // The MASA checks the body is what Content-Type says (audited) and then the request itself.
      const res = await masa.requestVoucher(der, { format, requestFormat });
      return reply.code(200).type(res.contentType).send(Buffer.from(res.voucher));
    } catch (err) {
      return refuse(reply, err);
    }
  });

  // Owner requests are CMS (voucher-request format, signed by the owner's registrar).
  const ownerBody = (req: FastifyRequest): Uint8Array | undefined => (requestFormatOf(req.headers['content-type']) === 'cms' ? body(req.body) : undefined);

  app.post('/.well-known/brski/requestauditlog', async (req, reply) => {
    const der = ownerBody(req);
    if (der === undefined) return unsupported(reply, VOUCHER_CMS_MEDIA_TYPE);
    try {
      return reply.code(200).type('application/json').send(await masa.requestAuditLog(der, ownerContext(req)));
    } catch (err) {
      return refuse(reply, err);
    }
  });

  app.post('/.well-known/brski/release', async (req, reply) => {
    const der = ownerBody(req);
    if (der === undefined) return unsupported(reply, VOUCHER_CMS_MEDIA_TYPE);
    try {
      await masa.releaseClaim(der, ownerContext(req));
      return reply.code(204).send();
    } catch (err) {
      return refuse(reply, err);
    }
  });
}
