/**
 * The pledge's side of EST (RFC 7030): fetch the CA certificates, enroll, re-enroll and read the
 * CSR attributes over HTTPS with a TLS client certificate (the IDevID, or the LDevID being renewed).
 *
 * Each operation opens its own TLS connection and sends one request on it, so the CSR can be
 * built after the handshake and carry that session's channel binding (RFC 7030 §3.5: "clients
 * SHOULD link identity and POP by embedding tls-unique information in the certification
 * request"). The TLS key must be given to node:tls as key material (PEM or KeyObject); the key
 * being certified stays behind a Signer (KeyStore, PKCS#11) and only signs the CSR.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { checkServerIdentity, connect, createSecureContext, type DetailedPeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import type { KeyObject } from 'node:crypto';
import type { Signer } from '../../crypto/keystore/types.js';
import { InvalidArgumentError, RootlineError } from '../../errors.js';
import { parseCertificate, type ParsedCertificate } from '../../pki/certificate.js';
import { createCsr } from '../../pki/create-csr.js';
import { bytesEqual } from '../../pki/der.js';
import type { SubjectAltNames } from '../../pki/extensions.js';
import type { DistinguishedNameInput } from '../../pki/name.js';
import { parseCsr } from '../../pki/parse-csr.js';
import { derFrom, encodePem, parsePem } from '../../pki/pem.js';
import { verifyChain } from '../../pki/verify-chain.js';
import { assertInteger } from '../../util/assert.js';
import { decodeBase64Body, encodeBase64Body } from './base64-body.js';
import { decodeCertsOnly } from './certs-only.js';
import { challengePasswordFor, clientChannelBinding, type ChannelBinding } from './channel-binding.js';
import { decodeCsrAttrs, type CsrAttr } from './csr-attrs.js';
import { EstBadResponseError, EstConnectionError, EstHttpError, EstPendingError, EstUntrustedServerError } from './errors.js';
import { PKCS10_MEDIA_TYPE } from './pkcs10-body.js';

type Pem = string | Uint8Array;

export interface EstClientOptions {
  /** https://host:port, optionally with a path; '/.well-known/est' is used when the path is '/'. */
  baseUrl: string;
  /** Explicit trust anchor(s) for the EST server's certificate (RFC 7030 §3.6.1), PEM or DER. */
  ca: Pem | readonly Pem[];
  /** TLS client certificate (and chain), PEM or DER. */
  clientCert?: Pem | readonly Pem[];
  /** Its private key, PEM or a node:crypto KeyObject. */
  clientKey?: string | KeyObject;
  /** TLS server name to check (default: the URL's host). */
  servername?: string;
  /** Per-exchange timeout (default 30 s). */
  timeoutMs?: number;
  /** How many times a 202 answer is followed before giving up with ERR_EST_PENDING (default 5). */
  maxAttempts?: number;
  /** A Retry-After longer than this ends the call at once with ERR_EST_PENDING (default 3600 s). */
  maxRetryAfterSeconds?: number;
  /** How the client waits for Retry-After (default setTimeout); tests may record instead. */
  sleep?: (ms: number) => Promise<void>;
  /** Largest response body accepted (default 1 MiB). */
  maxResponseBytes?: number;
  /**
   * An open TLS connection to the EST server to send the first request on (the BRSKI pledge's
   * connection of the voucher exchange, RFC 8995 §5.1, once the voucher pinned the domain). Its
   * server certificate is checked here as on a connection of our own — the chain the server
   * presented must verify to `ca`, and name the URL's host — else ERR_EST_UNTRUSTED_SERVER
   * before anything is sent. The client closes it.
   */
  connection?: TLSSocket;
}

/** A CSR to send as is (DER or PEM), or what the client needs to build one bound to the session. */
export type EnrollRequest =
  | Uint8Array
  | string
  | {
      signer: Signer;
      subject: DistinguishedNameInput;
      subjectAltNames?: SubjectAltNames;
      /** Put the channel binding in challengePassword (default true). */
      linkToSession?: boolean;
    };

export interface EnrollResult {
  /** The issued certificate, DER. */
  certificate: Uint8Array;
  pem: string;
  parsed: ParsedCertificate;
  /** Leaf first, up to a root from /cacerts, each DER: what the device presents and stores. */
  chain: Uint8Array[];
}

export interface EstClient {
  /** RFC 7030 §4.1: the CA certificates (DER), fetched under the explicit trust anchor. */
  cacerts(): Promise<Uint8Array[]>;
  /** RFC 7030 §4.5: what the server wants in the CSR; [] on 204/404. */
  csrAttrs(): Promise<CsrAttr[]>;
  simpleEnroll(request: EnrollRequest): Promise<EnrollResult>;
  simpleReenroll(request: EnrollRequest): Promise<EnrollResult>;
}

interface Exchange {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

function pemList(v: Pem | readonly Pem[], name: string): string[] {
  const list: readonly Pem[] = Array.isArray(v) ? (v as readonly Pem[]) : [v as Pem];
  if (list.length === 0) throw new InvalidArgumentError(name, 'expected at least one certificate');
  return list.flatMap((c, i) => {
    if (typeof c === 'string' || (c instanceof Uint8Array && Buffer.from(c.subarray(0, 11)).toString('latin1') === '-----BEGIN ')) {
      return parsePem(c, {}).map((b) => encodePem(b.label, b.der));
    }
    return [encodePem('CERTIFICATE', derFrom(c, `${name}[${i}]`, 'CERTIFICATE'))];
  });
}

/** RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date. */
function retryAfterSeconds(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined;
  const h = header.trim();
  if (/^[0-9]{1,9}$/.test(h)) return Number(h);
  const at = Date.parse(h);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function mediaType(headers: IncomingMessage['headers']): string {
  return String(headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function httpError(ex: Exchange, what: string): EstHttpError {
  const text = ex.body.toString('utf8', 0, Math.min(ex.body.length, 500)).trim();
  const code = /^(ERR_[A-Z0-9_]+):/.exec(text)?.[1];
  return new EstHttpError(ex.status, code, `${what}: HTTP ${ex.status}${text ? `: ${text}` : ''}`);
}

/**
 * What tls.connect checks on a server when given `ca` — the chain the server presented verifies
 * to one of `anchors` for TLS server use (OpenSSL's ssl_server purpose: an extendedKeyUsage, where
 * present, must allow serverAuth), and the certificate names `hostname` (node's
 * checkServerIdentity) — made on an established connection, before anything is sent on it: for
 * a connection opened with `rejectUnauthorized: false` (provisional, RFC 8995 §5.1, or one whose
 * checks are made here rather than by OpenSSL), or handed over from elsewhere. Throws on any
 * failure; the caller destroys the socket and throws its own typed error.
 *
 * The leaf alone first (one certificate read, ~15 µs): most servers' leaf is issued by the anchor
 * itself. Only then the chain the server presented (getPeerCertificate(true), which builds an
 * object per certificate, ~170 µs). Not getPeerX509Certificate: on a client socket, Node 20 takes
 * the leaf out of OpenSSL's peer chain when it builds that object, and later reads of the chain
 * miss it.
 */
export function checkServerCertificate(socket: TLSSocket, anchors: readonly ParsedCertificate[], hostname: string): void {
  const legacy = socket.getPeerCertificate(false);
  if (legacy === null || typeof legacy !== 'object' || legacy.raw === undefined) throw new Error('no server certificate (connection closed?)');
  const leaf = parseCertificate(new Uint8Array(legacy.raw));
  const options = { purpose: 'serverAuth' };
  try {
    verifyChain(leaf, [], anchors, options);
  } catch {
    const presented: Uint8Array[] = [];
    for (let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); c !== undefined && c.raw !== undefined && presented.length < 10; c = c.issuerCertificate === c ? undefined : c.issuerCertificate) presented.push(new Uint8Array(c.raw));
    verifyChain(leaf, presented.slice(1).map((c) => parseCertificate(c)), anchors, options);
  }
  const mismatch = checkServerIdentity(hostname, legacy);
  if (mismatch !== undefined) throw mismatch;
}

/** Creates an EST client. Nothing is sent until an operation is called. */
export function estClient(options: EstClientOptions): EstClient {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch (err) {
    throw new InvalidArgumentError('options.baseUrl', 'not a URL', { cause: err });
  }
  if (url.protocol !== 'https:') throw new InvalidArgumentError('options.baseUrl', 'EST runs over HTTPS (RFC 7030 §3.2)');
  const prefix = url.pathname === '/' ? '/.well-known/est' : url.pathname.replace(/\/+$/, '');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? 443 : Number(url.port);
  const ca = pemList(options.ca, 'options.ca');
  const cert = options.clientCert === undefined ? undefined : pemList(options.clientCert, 'options.clientCert').join('');
  if ((cert === undefined) !== (options.clientKey === undefined)) throw new InvalidArgumentError('options', 'give clientCert and clientKey together');
  // node:tls takes the key as PEM; a KeyObject is already in this process's memory.
  const key = options.clientKey === undefined || typeof options.clientKey === 'string' ? options.clientKey : String(options.clientKey.export({ type: 'pkcs8', format: 'pem' }));
  const timeoutMs = options.timeoutMs ?? 30_000;
  assertInteger(timeoutMs, 'options.timeoutMs', 1);
  const maxAttempts = options.maxAttempts ?? 5;
  assertInteger(maxAttempts, 'options.maxAttempts', 1, 1000);
  const maxRetryAfter = options.maxRetryAfterSeconds ?? 3600;
  assertInteger(maxRetryAfter, 'options.maxRetryAfterSeconds', 0);
  const maxResponseBytes = options.maxResponseBytes ?? 1024 * 1024;
  assertInteger(maxResponseBytes, 'options.maxResponseBytes', 1);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const servername = options.servername ?? (/^[0-9.]+$|:/.test(host) ? undefined : host);
  let cachedCaCerts: Uint8Array[] | undefined;
  // One TLS context (trust anchors, client certificate and key) for every connection of this
  // client: the same options node:tls would turn into a fresh context on each connect().
  let context: SecureContext | undefined;
  // A connection kept for the request that follows at once (cacerts right after an enroll).
  let spare: TLSSocket | undefined = options.connection === undefined ? undefined : adopt(options.connection);

  /** A connection opened elsewhere: the same checks our own connect() makes on the server. */
  function adopt(socket: TLSSocket): TLSSocket {
    if (socket === null || typeof socket !== 'object' || typeof socket.getPeerCertificate !== 'function') throw new InvalidArgumentError('options.connection', 'expected a TLS socket');
    try {
      checkServerCertificate(socket, ca.flatMap((p) => parsePem(p, {}).map((b) => parseCertificate(b.der))), servername ?? host);
    } catch (err) {
      socket.destroy();
      throw new EstUntrustedServerError(`the EST server's certificate is not trusted: ${(err as Error).message}`, { cause: err });
    }
    return socket;
  }

  function open(): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      context ??= createSecureContext({ ca, ...(cert !== undefined ? { cert, key } : {}) });
      const socket = connect({
        host,
        port,
        secureContext: context,
        ...(servername !== undefined ? { servername } : {}),
      });
      socket.setTimeout(timeoutMs, () => socket.destroy(new EstConnectionError(`no answer from ${url.host} within ${timeoutMs} ms`)));
      socket.once('secureConnect', () => resolve(socket));
      socket.once('error', (err: Error & { code?: string }) => {
        socket.destroy();
        if (err instanceof RootlineError) return reject(err);
        // RFC 7030 §3.6.1: the client MUST check the server against its explicit trust anchor.
        if (/CERT|SELF_SIGNED|VERIFY|ALTNAME|ISSUER/.test(err.code ?? '')) return reject(new EstUntrustedServerError(`the EST server's certificate is not trusted: ${err.message}`, { cause: err }));
        reject(new EstConnectionError(`cannot reach ${url.host}: ${err.message}`, { cause: err }));
      });
    });
  }

  function dropSpare(): void {
    spare?.destroy();
    spare = undefined;
  }

  /**
   * One request; `body` may depend on the session's channel binding. On a fresh connection, or
   * on the spare one when there is one (same context, so the same checks were made on it); a
   * GET that meets a spare connection the server has closed meanwhile is sent again on a new
   * one. With `keepForNext` the connection is kept as the spare when the server keeps it open.
   */
  async function exchange(method: 'GET' | 'POST', op: string, body?: (binding: ChannelBinding | undefined) => Promise<string>, keepForNext = false): Promise<Exchange> {
    const reused = spare !== undefined && !spare.destroyed && spare.writable ? spare : undefined;
    if (reused === undefined) dropSpare();
    spare = undefined;
    if (reused !== undefined && method === 'GET' && body === undefined) {
      try {
        return await exchangeOn(reused, method, op, undefined, keepForNext);
      } catch (err) {
        if (!(err instanceof EstConnectionError)) throw err;
      }
      return exchangeOn(await open(), method, op, undefined, keepForNext);
    }
    return exchangeOn(reused ?? (await open()), method, op, body, keepForNext);
  }

  async function exchangeOn(socket: TLSSocket, method: 'GET' | 'POST', op: string, body: ((binding: ChannelBinding | undefined) => Promise<string>) | undefined, keepForNext: boolean): Promise<Exchange> {
    let kept = false;
    try {
      const payload = body === undefined ? undefined : Buffer.from(await body(clientChannelBinding(socket)));
      const ex = await new Promise<Exchange>((resolve, reject) => {
        const headers: Record<string, string> = { host: url.host, connection: keepForNext ? 'keep-alive' : 'close', accept: '*/*' };
        if (payload !== undefined) {
          headers['content-type'] = PKCS10_MEDIA_TYPE;
          headers['content-transfer-encoding'] = 'base64';
          headers['content-length'] = String(payload.length);
        }
        const req = httpRequest({ method, host, port, path: `${prefix}/${op}`, headers, createConnection: () => socket }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxResponseBytes) {
              res.destroy();
              reject(new EstBadResponseError(`${op}: response larger than ${maxResponseBytes} bytes`));
            } else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', (err) => reject(new EstConnectionError(`${op}: ${err.message}`, { cause: err })));
        });
        req.on('error', (err) => reject(err instanceof RootlineError ? err : new EstConnectionError(`${op}: ${err.message}`, { cause: err })));
        req.end(payload);
      });
      if (keepForNext && String(ex.headers.connection ?? '').toLowerCase() !== 'close' && !socket.destroyed) {
        spare = socket;
        kept = true;
      }
      return ex;
    } finally {
      if (!kept) socket.destroy();
    }
  }

  async function cacerts(): Promise<Uint8Array[]> {
    const ex = await exchange('GET', 'cacerts');
    // RFC 7030 §4.1.3: "Any other response code indicates an error and the client MUST abort the protocol."
    if (ex.status !== 200) throw httpError(ex, 'cacerts');
    const certs = certsOnlyBody(ex, 'cacerts');
    if (certs.length === 0) throw new EstBadResponseError('cacerts: the response carries no certificate');
    cachedCaCerts = certs;
    return certs.map((c) => c.slice());
  }

  function certsOnlyBody(ex: Exchange, op: string): Uint8Array[] {
    const type = mediaType(ex.headers);
    if (type !== 'application/pkcs7-mime') throw new EstBadResponseError(`${op}: expected application/pkcs7-mime, got ${JSON.stringify(type)}`);
    return decodeCertsOnly(decodeBase64Body(ex.body, { maxLength: maxResponseBytes, what: `${op} response` }));
  }

  async function enroll(op: 'simpleenroll' | 'simplereenroll', request: EnrollRequest): Promise<EnrollResult> {
    let build: (binding: ChannelBinding | undefined) => Promise<Uint8Array>;
    // The key the issued certificate must be for: the CSR's (a CSR we build carries the signer's).
    let csrKey: Uint8Array | undefined;
    if (typeof request === 'string' || request instanceof Uint8Array) {
      const der = derFrom(request, 'request', 'CERTIFICATE REQUEST');
      csrKey = parseCsr(der).publicKey;
      build = async () => der;
    } else if (request !== null && typeof request === 'object' && request.signer !== undefined) {
      const link = request.linkToSession !== false;
      csrKey = request.signer.publicKey;
      build = (binding) =>
        createCsr({
          signer: request.signer,
          subject: request.subject,
          ...(request.subjectAltNames !== undefined ? { subjectAltNames: request.subjectAltNames } : {}),
          ...(link && binding !== undefined ? { challengePassword: challengePasswordFor(binding) } : {}),
        });
    } else {
      throw new InvalidArgumentError('request', 'expected a CSR or { signer, subject }');
    }
    for (let attempt = 1; ; attempt++) {
      // The CA certificates are fetched after the first issuance: over the same connection.
      const ex = await exchange('POST', op, async (binding) => encodeBase64Body(await build(binding)), cachedCaCerts === undefined);
      try {
        if (ex.status === 200) return await acceptIssued(op, certsOnlyBody(ex, op), csrKey!);
      } finally {
        dropSpare();
      }
      if (ex.status !== 202) throw httpError(ex, op);
      const wait = retryAfterSeconds(ex.headers['retry-after'] as string | undefined, Date.now());
      if (wait === undefined) throw new EstBadResponseError(`${op}: 202 without a usable Retry-After (RFC 7030 §4.2.3 requires one)`);
      if (wait > maxRetryAfter || attempt >= maxAttempts) {
        throw new EstPendingError(`${op}: still pending after ${attempt} attempt(s); the server asks to retry after ${wait} s`, wait);
      }
      // RFC 7030 §4.2.3: "The client MUST wait at least the specified 'retry-after' time before
      // repeating the same request."
      await sleep(wait * 1000);
    }
  }

  async function acceptIssued(op: string, certs: Uint8Array[], csrKey: Uint8Array): Promise<EnrollResult> {
    const parsed = certs.map((c) => parseCertificate(c));
    const leaf = parsed.find((c) => bytesEqual(c.publicKey, csrKey));
    if (leaf === undefined) throw new EstBadResponseError(`${op}: no certificate in the response is for the key in our CSR`);
    const caCerts = cachedCaCerts ?? (await cacerts());
    const all = [...parsed.filter((c) => c !== leaf), ...caCerts.map((c) => parseCertificate(c))];
    const anchors = all.filter((c) => c.selfIssued);
    try {
      const { chain } = verifyChain(leaf, all.filter((c) => !c.selfIssued), anchors);
      return { certificate: leaf.der.slice(), pem: encodePem('CERTIFICATE', leaf.der), parsed: leaf, chain: chain.map((c) => c.der.slice()) };
    } catch (err) {
      throw new EstBadResponseError(`${op}: the issued certificate does not chain to the CA certificates from /cacerts: ${(err as Error).message}`, { cause: err });
    }
  }

  async function csrAttrs(): Promise<CsrAttr[]> {
    const ex = await exchange('GET', 'csrattrs');
    // RFC 7030 §4.5.2: "An HTTP response code of 204 or 404 indicates that a CSR Attributes
    // Response is not available."
    if (ex.status === 204 || ex.status === 404) return [];
    if (ex.status !== 200) throw httpError(ex, 'csrattrs');
    const type = mediaType(ex.headers);
    if (type !== 'application/csrattrs') throw new EstBadResponseError(`csrattrs: expected application/csrattrs, got ${JSON.stringify(type)}`);
    return decodeCsrAttrs(decodeBase64Body(ex.body, { maxLength: maxResponseBytes, what: 'csrattrs response' }));
  }

  return {
    cacerts,
    csrAttrs,
    simpleEnroll: (request) => enroll('simpleenroll', request),
    simpleReenroll: (request) => enroll('simplereenroll', request),
  };
}
