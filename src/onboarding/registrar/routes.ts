/**
 * The registrar's HTTPS face (RFC 8995 §5): BRSKI endpoints plus the EST routes, as one fastify
 * plugin for an HTTPS listener with `requestCert: true, rejectUnauthorized: false` (provisional
 * TLS, §5.1: the handshake takes any client certificate; the registrar decides and audits).
 *
 *   POST /.well-known/brski/requestvoucher  application/voucher-cms+json → 200 voucher | 202 Retry-After
 *   POST /.well-known/brski/voucher_status  application/json → 200
 *   POST /.well-known/brski/enrollstatus    application/json → 200
 *   GET  /.well-known/rootline/lwm2m-bootstrap  (LDevID client certificate) → 200 application/json
 *        { endpoint, uri, securityMode: 'x509', serverCertificate: base64 DER }: where to bootstrap
 *   /.well-known/est/{cacerts,simpleenroll,simplereenroll,csrattrs}  (est/routes.ts)
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { RootlineError } from '../../errors.js';
import { estRoutes, peerCertificateChain } from '../est/routes.js';
import { REGISTRAR_HTTP_STATUS, RegistrarUnsupportedMediaTypeError } from './errors.js';
import type { PledgeContext, Registrar } from './registrar.js';

export const VOUCHER_CMS_MEDIA_TYPE = 'application/voucher-cms+json';
/** Where an enrolled device asks which LwM2M bootstrap server to use (LDevID TLS client certificate). */
export const LWM2M_BOOTSTRAP_PATH = '/.well-known/rootline/lwm2m-bootstrap';

export interface RegistrarRoutesOptions {
  /** Largest BRSKI request body (default 256 KiB). */
  bodyLimit?: number;
}

function contextOf(request: FastifyRequest): PledgeContext {
  const socket = request.raw.socket as TLSSocket;
  const context: PledgeContext = { clientCertificates: [] };
  if (request.ip !== undefined) context.remoteAddress = request.ip;
  if (socket.encrypted === true && typeof socket.getPeerCertificate === 'function') {
    context.clientCertificates = peerCertificateChain(socket);
    // The proximity check compares with the certificate presented in *this* session.
    const own = serverCertificateOf(socket);
    if (own !== undefined) context.serverCertificate = own;
  }
  return context;
}

/** The certificate this server presented, read once per TLS 1.3 connection (see peerCertificateChain). */
const TLS13_OWN = new WeakMap<TLSSocket, Uint8Array>();

function serverCertificateOf(socket: TLSSocket): Uint8Array | undefined {
  const fixed = typeof socket.getProtocol === 'function' && socket.getProtocol() === 'TLSv1.3';
  const known = fixed ? TLS13_OWN.get(socket) : undefined;
  if (known !== undefined) return known.slice();
  const own = socket.getCertificate();
  if (own === null || typeof own !== 'object' || !('raw' in own) || own.raw === undefined) return undefined;
  const der = new Uint8Array(own.raw);
  if (fixed) TLS13_OWN.set(socket, der.slice());
  return der;
}

function mediaType(request: FastifyRequest): string {
  return String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function bodyOf(request: FastifyRequest, type: string): Uint8Array {
  if (mediaType(request) !== type) throw new RegistrarUnsupportedMediaTypeError(`expected Content-Type ${type}`);
  const body = request.body;
  return body instanceof Uint8Array ? new Uint8Array(body) : new Uint8Array(0);
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ code, message });
}

async function brskiRoutes(app: FastifyInstance, registrar: Registrar, bodyLimit: number): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: unknown, _request, reply) => {
    if (err instanceof RootlineError) {
      const status = REGISTRAR_HTTP_STATUS[err.code];
      if (status !== undefined) return sendError(reply, status, err.code, err.message);
    }
    const status = (err as { statusCode?: unknown })?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(reply, status, 'ERR_REGISTRAR_BAD_REQUEST', (err as Error).message);
    reply.log.error({ err }, 'BRSKI request failed');
    return sendError(reply, 500, 'ERR_REGISTRAR_INTERNAL', 'internal error');
  });

  app.post('/.well-known/brski/requestvoucher', async (request, reply) => {
    // RFC 8995 §5.2: the pledge "SHOULD include an Accept header" for the voucher format; we
    // make CMS vouchers only on this transport.
    const accept = String(request.headers.accept ?? '');
    if (accept !== '' && !accept.includes('*/*') && !accept.toLowerCase().includes(VOUCHER_CMS_MEDIA_TYPE)) {
      return sendError(reply, 406, 'ERR_REGISTRAR_NOT_ACCEPTABLE', `acceptable: ${VOUCHER_CMS_MEDIA_TYPE}`);
    }
    const outcome = await registrar.requestVoucher(contextOf(request), bodyOf(request, VOUCHER_CMS_MEDIA_TYPE));
    if (outcome.status === 'pending') {
      // RFC 8995 §5.3: "the registrar ... MAY respond with an HTTP 202 ... with a Retry-After".
      return reply.code(202).header('retry-after', String(outcome.retryAfterSeconds)).type('text/plain; charset=utf-8').send('pending operator approval\n');
    }
    return reply.code(200).type(VOUCHER_CMS_MEDIA_TYPE).send(Buffer.from(outcome.voucher));
  });

  // RFC 8995 §5.7: "The registrar SHOULD respond with an HTTP 200".
  app.post('/.well-known/brski/voucher_status', async (request, reply) => {
    await registrar.voucherStatus(contextOf(request), bodyOf(request, 'application/json'));
    return reply.code(200).send();
  });

  app.post('/.well-known/brski/enrollstatus', async (request, reply) => {
    await registrar.enrollStatus(contextOf(request), bodyOf(request, 'application/json'));
    return reply.code(200).send();
  });

  // Not BRSKI: the step after it (issue 6, enrolled pledge → LwM2M bootstrap), hence not under /brski.
  app.get(LWM2M_BOOTSTRAP_PATH, async (request, reply) => {
    const info = await registrar.bootstrapServerFor(contextOf(request));
    return reply.code(200).type('application/json').send({ endpoint: info.endpoint, uri: info.uri, securityMode: info.securityMode, serverCertificate: Buffer.from(info.serverCertificate).toString('base64') });
  });
}

/** Registers BRSKI and EST on an HTTPS fastify instance: `app.register(registrarRoutes(registrar))`. */
export function registrarRoutes(registrar: Registrar, options: RegistrarRoutesOptions = {}): (app: FastifyInstance) => Promise<void> {
  const bodyLimit = options.bodyLimit ?? 262_144;
  return async (app) => {
    // Sibling plugins: each keeps its own body parsers and error handler.
    await app.register(async (child) => brskiRoutes(child, registrar, bodyLimit));
    await app.register(estRoutes(registrar.est));
  };
}
