/**
 * EST over HTTPS (RFC 7030 §3.2.2): a fastify plugin serving /.well-known/est/{cacerts,
 * simpleenroll, simplereenroll, csrattrs} on top of an EstService. The server it is registered
 * on must be HTTPS with `requestCert: true, rejectUnauthorized: false`: the handshake accepts
 * any client certificate (RFC 8995 §5.1 provisional trust) and the service's `authorize`
 * decides, so that a refusal is an HTTP answer with a reason and an audit record, not a
 * dropped handshake.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { encodeBase64Body } from './base64-body.js';
import { CERTS_ONLY_MEDIA_TYPE } from './certs-only.js';
import { serverChannelBinding } from './channel-binding.js';
import { CSR_ATTRS_MEDIA_TYPE, encodeCsrAttrs } from './csr-attrs.js';
import { EstBodyTooLargeError, EstError, EstUnsupportedMediaTypeError, estHttpStatus } from './errors.js';
import { PKCS10_MEDIA_TYPE } from './pkcs10-body.js';
import type { EnrollOutcome, EstRequestContext, EstService } from './service.js';

export interface EstRoutesOptions {
  /** Path prefix (default '/.well-known/est', RFC 7030 §3.2.2). */
  prefix?: string;
  /** Largest request body in bytes, base64 included (default 128 KiB). */
  bodyLimit?: number;
}

/**
 * Client chains of TLS 1.3 connections, read once per connection: TLS 1.3 has no renegotiation
 * (RFC 8446 §4.6.2 post-handshake authentication is never requested here), so the certificates a
 * client presented cannot change for the life of its connection, and a pledge sends several
 * requests over one (RFC 8995 §5.1). TLS 1.2 connections are read on every request.
 */
const TLS13_CHAINS = new WeakMap<TLSSocket, readonly Uint8Array[]>();

/** The TLS client chain as DER, leaf first, from the socket (empty when none was presented). */
export function peerCertificateChain(socket: TLSSocket): Uint8Array[] {
  const fixed = typeof socket.getProtocol === 'function' && socket.getProtocol() === 'TLSv1.3';
  const known = fixed ? TLS13_CHAINS.get(socket) : undefined;
  if (known !== undefined) return known.map((c) => c.slice());
  const out = readPeerCertificateChain(socket);
  if (fixed) TLS13_CHAINS.set(socket, out.map((c) => c.slice()));
  return out;
}

function readPeerCertificateChain(socket: TLSSocket): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  let cert = socket.getPeerCertificate(true);
  // Node links each certificate to its issuer; a self-signed one links to itself.
  while (cert !== undefined && cert !== null && cert.raw !== undefined && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    out.push(new Uint8Array(cert.raw));
    cert = cert.issuerCertificate;
  }
  return out;
}

function contextOf(request: FastifyRequest): EstRequestContext {
  const socket = request.raw.socket as TLSSocket;
  const context: EstRequestContext = { clientCertificates: [] };
  if (request.ip !== undefined) context.remoteAddress = request.ip;
  // Only a TLS socket carries client certificates; behind plain HTTP every enroll is refused.
  if (socket.encrypted === true && typeof socket.getPeerCertificate === 'function') {
    context.clientCertificates = peerCertificateChain(socket);
    const binding = serverChannelBinding(socket);
    if (binding !== undefined) context.channelBinding = binding;
  }
  return context;
}

function sendCertsOnly(reply: FastifyReply, der: Uint8Array): FastifyReply {
  // RFC 7030 §4.1.3 / §4.2.3: application/pkcs7-mime with smime-type=certs-only, base64 body; the
  // Content-Transfer-Encoding header is sent for clients written against RFC 7030 before RFC 8951.
  return reply.code(200).header('content-type', CERTS_ONLY_MEDIA_TYPE).header('content-transfer-encoding', 'base64').send(encodeBase64Body(der));
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  // RFC 7030 §4.2.3: "If the content-type is not set, the response data MUST be a plaintext
  // human-readable error message"; we set text/plain and lead with the stable code.
  return reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(`${code}: ${message}\n`);
}

function assertPkcs10(request: FastifyRequest): void {
  const type = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // RFC 7030 §4.2.1: "The HTTP content-type of "application/pkcs10" is used here."
  if (type !== PKCS10_MEDIA_TYPE) throw new EstUnsupportedMediaTypeError(`expected Content-Type ${PKCS10_MEDIA_TYPE}, got ${type === '' ? 'none' : JSON.stringify(type)}`);
}

function bodyOf(request: FastifyRequest): Uint8Array {
  const body = request.body;
  return body instanceof Uint8Array ? body : new Uint8Array(0);
}

function sendEnroll(reply: FastifyReply, outcome: EnrollOutcome): FastifyReply {
  if (outcome.status === 'issued') return sendCertsOnly(reply, outcome.response);
  // RFC 7030 §4.2.3: "If the server responds with an HTTP [RFC2616] 202, this indicates that the
  // request has been accepted for processing but that a response is not yet available. The
  // server MUST include a Retry-After header as defined for HTTP 503 responses."
  return reply
    .code(202)
    .header('retry-after', String(outcome.retryAfterSeconds))
    .header('content-type', 'text/plain; charset=utf-8')
    .send(`pending: ${outcome.reason}\n`);
}

/** The fastify plugin. Register it on an HTTPS fastify instance: `app.register(estRoutes(service))`. */
export function estRoutes(service: EstService, options: EstRoutesOptions = {}): (app: FastifyInstance) => Promise<void> {
  const prefix = options.prefix ?? '/.well-known/est';
  const bodyLimit = options.bodyLimit ?? 128 * 1024;
  return async (app) => {
    // Bodies are taken as raw bytes whatever their type; the handlers check the type themselves
    // so that a wrong one gets an EST error (415) rather than a generic parser failure.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

    app.setErrorHandler((err: unknown, _request, reply) => {
      if (err instanceof EstError) return sendError(reply, estHttpStatus(err), err.code, err.message);
      const status = (err as { statusCode?: unknown })?.statusCode;
      if (status === 413) {
        const e = new EstBodyTooLargeError(`request body larger than ${bodyLimit} bytes`);
        return sendError(reply, 413, e.code, e.message);
      }
      if (typeof status === 'number' && status >= 400 && status < 500) return sendError(reply, status, 'ERR_EST_BAD_REQUEST', (err as Error).message);
      reply.log.error({ err }, 'EST request failed');
      return sendError(reply, 500, 'ERR_EST_INTERNAL', 'internal error');
    });

    // RFC 7030 §4.1.1: /cacerts is served without client authentication, so a client can
    // bootstrap its implicit trust anchors.
    app.get(`${prefix}/cacerts`, async (_request, reply) => sendCertsOnly(reply, service.cacerts().response));

    app.post(`${prefix}/simpleenroll`, async (request, reply) => {
      assertPkcs10(request);
      return sendEnroll(reply, await service.simpleEnroll(contextOf(request), bodyOf(request)));
    });

    app.post(`${prefix}/simplereenroll`, async (request, reply) => {
      assertPkcs10(request);
      return sendEnroll(reply, await service.simpleReenroll(contextOf(request), bodyOf(request)));
    });

    app.get(`${prefix}/csrattrs`, async (_request, reply) => {
      const attrs = service.csrAttrs();
      // RFC 7030 §4.5.2: "An HTTP response code of 204 or 404 indicates that a CSR Attributes
      // Response is not available."
      if (attrs.length === 0) return reply.code(204).send();
      return reply.code(200).header('content-type', CSR_ATTRS_MEDIA_TYPE).header('content-transfer-encoding', 'base64').send(encodeBase64Body(encodeCsrAttrs(attrs)));
    });
  };
}
