/**
 * The pledge's HTTPS exchanges with the registrar: one TLS connection per request, opened first
 * so the caller can look at the registrar's certificate before deciding what to send (RFC 8995
 * §5.1: the pledge names that certificate in its voucher request and checks it only once the
 * voucher pins the domain).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type TLSSocket } from 'node:tls';
import { parseCertificate, type ParsedCertificate } from '../../pki/certificate.js';
import { encodePem, parsePem } from '../../pki/pem.js';
import { checkServerCertificate } from '../est/client.js';
import { PledgeProtocolError } from '../registrar/errors.js';

export interface TlsTarget {
  host: string;
  port: number;
  servername?: string;
  timeoutMs: number;
  /** PEM client certificate chain and key. */
  cert: string;
  key: string;
  /**
   * Trust anchors (PEM); absent = provisional: any server certificate is taken, and checked later.
   * Given, the server's chain and name are checked here once the handshake is done, before the
   * socket is handed out (`checkServerCertificate`, the checks node:tls makes with `ca`), rather
   * than by OpenSSL: no CA store in the TLS context, no detailed peer-certificate objects.
   */
  ca?: string[];
}

export interface Exchange {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export function openTls(target: TlsTarget): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const anchors = target.ca === undefined ? undefined : anchorsOf(target.ca);
    // rejectUnauthorized: false either way: provisional (checked after the voucher, RFC 8995
    // §5.6.2) or checked below before anything is sent. The handshake itself still proves the
    // server holds the key of the certificate it presented (CertificateVerify).
    const socket = connect({
      host: target.host,
      port: target.port,
      cert: target.cert,
      key: target.key,
      ...(target.servername !== undefined ? { servername: target.servername } : {}),
      rejectUnauthorized: false,
    });
    socket.setTimeout(target.timeoutMs, () => socket.destroy(new PledgeProtocolError(`no answer from ${target.host}:${target.port} within ${target.timeoutMs} ms`)));
    socket.once('secureConnect', () => {
      if (anchors !== undefined) {
        try {
          checkServerCertificate(socket, anchors, target.servername ?? target.host);
        } catch (err) {
          socket.destroy();
          reject(new PledgeProtocolError(`TLS to the registrar failed: ${(err as Error).message}`, {}, { cause: err }));
          return;
        }
      }
      resolve(socket);
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err instanceof PledgeProtocolError ? err : new PledgeProtocolError(`TLS to the registrar failed: ${err.message}`, {}, { cause: err }));
    });
  });
}

function anchorsOf(pems: readonly string[]): ParsedCertificate[] {
  const anchors = pems.flatMap((p) => parsePem(p, {}).map((b) => parseCertificate(b.der)));
  if (anchors.length === 0) throw new PledgeProtocolError('no trust anchor for the registrar');
  return anchors;
}

/**
 * The certificate chain a pledge presents as TLS client: `pem` (leaf first) without a last
 * certificate that is self-issued — the root, which the registrar must hold as its trust anchor
 * for that manufacturer or domain anyway. RFC 8446 §4.4.2: "a certificate that specifies a trust
 * anchor MAY be omitted from the chain"; RFC 5246 §7.4.2 the same for the self-signed root.
 * Sending it costs both sides a certificate decode per handshake (OpenSSL 3.0: the TLS context
 * reads a chain certificate twice, the server's detailed peer chain decodes it once more).
 * A single certificate is returned as it is.
 */
export function tlsClientChain(pem: string): string {
  const blocks = parsePem(pem, {});
  if (blocks.length < 2 || blocks.some((b) => b.label !== 'CERTIFICATE')) return pem;
  if (!parseCertificate(blocks[blocks.length - 1]!.der).selfIssued) return pem;
  return blocks
    .slice(0, -1)
    .map((b) => encodePem('CERTIFICATE', b.der))
    .join('');
}

/** The server's end-entity certificate as presented in this session, DER. */
export function serverCertificateOf(socket: TLSSocket): Uint8Array {
  const peer = socket.getPeerCertificate(false);
  if (peer === null || typeof peer !== 'object' || peer.raw === undefined) throw new PledgeProtocolError('the registrar presented no certificate');
  return new Uint8Array(peer.raw);
}

/** One request on `socket` (closed afterwards). */
export function exchange(socket: TLSSocket, host: string, path: string, body: Uint8Array, headers: Record<string, string>, maxBytes: number): Promise<Exchange> {
  return new Promise<Exchange>((resolve, reject) => {
    const req = httpRequest(
      { method: 'POST', path, headers: { host, connection: 'close', 'content-length': String(body.length), ...headers }, createConnection: () => socket },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            res.destroy();
            reject(new PledgeProtocolError(`${path}: response larger than ${maxBytes} bytes`));
          } else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (err) => reject(new PledgeProtocolError(`${path}: ${err.message}`, {}, { cause: err })));
      },
    );
    req.on('error', (err) => reject(err instanceof PledgeProtocolError ? err : new PledgeProtocolError(`${path}: ${err.message}`, {}, { cause: err })));
    req.end(Buffer.from(body));
  }).finally(() => socket.destroy());
}

/** The registrar's error as a typed error: status and the code its JSON body names. */
export function protocolError(ex: Exchange, what: string): PledgeProtocolError {
  let code: string | undefined;
  let message = '';
  try {
    const j = JSON.parse(ex.body.toString('utf8')) as { code?: unknown; message?: unknown };
    if (typeof j.code === 'string' && /^ERR_[A-Z0-9_]{1,80}$/.test(j.code)) code = j.code;
    if (typeof j.message === 'string') message = j.message.slice(0, 300);
  } catch {
    message = ex.body.toString('utf8', 0, Math.min(ex.body.length, 300));
  }
  return new PledgeProtocolError(`${what}: HTTP ${ex.status}${code !== undefined ? ` ${code}` : ''}${message ? `: ${message}` : ''}`, { status: ex.status, ...(code !== undefined ? { serverCode: code } : {}) });
}
