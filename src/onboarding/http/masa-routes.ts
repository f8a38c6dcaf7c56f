/**
 * The MASA's HTTP face (RFC 8995 §5.5, §5.6, §5.8), as a fastify plugin the server mounts on its
 * HTTPS listener:
 *
 *   POST /.well-known/brski/requestvoucher   body: CMS registrar voucher request
 *        (Content-Type application/voucher-cms+json); Accept application/voucher-cms+json
 *        (default) or application/voucher+cose picks the voucher format.
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
import type { Masa, OwnerRequestContext, VoucherFormat } from '../masa.js';

export interface MasaRoutesOptions {
  masa: Masa;
  /** Largest request body accepted (default 256 KiB). */
  bodyLimit?: number;
}

export const VOUCHER_REQUEST_MEDIA_TYPE = 'application/voucher-cms+json';
const COSE_MEDIA_TYPE = 'application/voucher+cose';

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

function acceptedFormat(accept: string | undefined): VoucherFormat | undefined {
  if (accept === undefined || accept.trim() === '' || accept.includes('*/*')) return 'cms';
  const types = accept.split(',').map((t) => t.split(';')[0]!.trim().toLowerCase());
  if (types.includes(VOUCHER_REQUEST_MEDIA_TYPE)) return 'cms';
  if (types.includes(COSE_MEDIA_TYPE)) return 'cose';
  return undefined;
}

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
  const { masa } = options;
  const bodyLimit = options.bodyLimit ?? 262_144;
  // Encapsulated: this parser applies inside this plugin only.
  app.addContentTypeParser(VOUCHER_REQUEST_MEDIA_TYPE, { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  const body = (raw: unknown): Uint8Array | undefined => (Buffer.isBuffer(raw) && raw.length > 0 ? new Uint8Array(raw) : undefined);
  const unsupported = (reply: FastifyReply): FastifyReply =>
    reply.code(415).type('application/json').send({ code: 'ERR_ONBOARDING_UNSUPPORTED_MEDIA_TYPE', message: `expected Content-Type ${VOUCHER_REQUEST_MEDIA_TYPE}` });

  app.post('/.well-known/brski/requestvoucher', async (req, reply) => {
    const der = body(req.body);
    if (der === undefined) return unsupported(reply);
    const format = acceptedFormat(req.headers.accept);
    // §5.6: "406 (Not Acceptable) ... if the Accept header ... is not supported".
    if (format === undefined) return reply.code(406).type('application/json').send({ code: 'ERR_ONBOARDING_NOT_ACCEPTABLE', message: `acceptable: ${VOUCHER_REQUEST_MEDIA_TYPE}, ${COSE_MEDIA_TYPE}` });
    try {
      const res = await masa.requestVoucher(der, { format });
      return reply.code(200).type(res.contentType).send(Buffer.from(res.voucher));
    } catch (err) {
      return refuse(reply, err);
    }
  });

  app.post('/.well-known/brski/requestauditlog', async (req, reply) => {
    const der = body(req.body);
    if (der === undefined) return unsupported(reply);
    try {
      return reply.code(200).type('application/json').send(await masa.requestAuditLog(der, ownerContext(req)));
    } catch (err) {
      return refuse(reply, err);
    }
  });

  app.post('/.well-known/brski/release', async (req, reply) => {
    const der = body(req.body);
    if (der === undefined) return unsupported(reply);
    try {
      await masa.releaseClaim(der, ownerContext(req));
      return reply.code(204).send();
    } catch (err) {
      return refuse(reply, err);
    }
  });
}
