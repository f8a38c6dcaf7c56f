/**
 * HTTPS pull (issue 5: "LwM2M pull, LwM2M push, and HTTPS pull"): GET /fw/<token> over TLS 1.2
 * with PSK, the same credential the device uses for DTLS, so the session names the device just
 * as its DTLS session does and a token is served only to the device it was made for. A device
 * that lost its connection resumes with `Range: bytes=N-` (RFC 9110 §14.2), answered 206.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Store } from '../../store/types.js';
import { InvalidArgumentError } from '../../errors.js';
import type { Lwm2mDeliveryDriver } from './lwm2m-driver.js';

export interface HttpsPackageServerOptions {
  /** The https-pull driver (createHttpsPullDriver), or anything that authorizes fetches like it. */
  driver: Pick<Lwm2mDeliveryDriver, 'authorizeFetch'>;
  store: Store;
  /**
   * The PSK of a TLS-PSK identity, or undefined. node:tls asks synchronously, so this is the
   * DTLS server's lookup (or a cache in front of the store), not a store query.
   */
  pskLookup: (identity: string) => Uint8Array | undefined;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** First path segment (default 'fw', as the driver's resourcePath). */
  resourcePath?: string;
  /** Bytes per write (default 16 KiB). */
  chunkSize?: number;
  /**
   * Refused TLS handshakes (unknown or closed PSK identity, no shared suite) are audited as
   * `fota.https.handshake` deny, at most this many records a minute (default 60; the rest are
   * counted in the next record), so a scan cannot flood the audit log.
   */
  maxRefusalAuditsPerMinute?: number;
}

export interface HttpsPackageServer {
  readonly port: number;
  /** 'https://host:port', what the driver's httpsBaseUri should be (with a reachable host). */
  readonly uri: string;
  close(): Promise<void>;
}

/** TLS-PSK suites only: without a certificate, the PSK authenticates both ends. */
const PSK_CIPHERS = 'PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305';

export async function startHttpsPackageServer(options: HttpsPackageServerOptions): Promise<HttpsPackageServer> {
  if (typeof options.pskLookup !== 'function') throw new InvalidArgumentError('options.pskLookup', 'expected a function');
  const prefix = `/${options.resourcePath ?? 'fw'}/`;
  const chunkSize = options.chunkSize ?? 16 * 1024;
  const identities = new WeakMap<object, string>();
  const refusedIdentity = new WeakMap<object, string>();
  const maxAudits = options.maxRefusalAuditsPerMinute ?? 60;
  let window = { start: 0, written: 0, suppressed: 0 };
  const auditRefusal = (socket: object, err: Error): void => {
    const now = Date.now();
    if (now - window.start >= 60_000) window = { start: now, written: 0, suppressed: window.suppressed };
    if (window.written >= maxAudits) {
      window.suppressed++;
      return;
    }
    window.written++;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    const identity = refusedIdentity.get(socket) ?? null;
    const remote = (socket as { remoteAddress?: string }).remoteAddress ?? null;
    const reason = identity !== null ? 'no open HTTPS-pull attempt for this PSK identity' : ((err as { code?: string }).code ?? 'handshake failed');
    options.store.audit
      .append({ actor: 'system:fota-https', action: 'fota.https.handshake', subject: identity ?? remote ?? 'unknown', outcome: 'deny', details: { identity, remote, reason, ...(suppressed > 0 ? { suppressedBefore: suppressed } : {}) } })
      .catch(() => undefined);
  };
  const server: Server = createServer(
    {
      ciphers: PSK_CIPHERS,
      maxVersion: 'TLSv1.2',
      minVersion: 'TLSv1.2',
      pskCallback: (socket, identity) => {
        const key = options.pskLookup(identity);
        if (key === undefined) {
          refusedIdentity.set(socket, identity);
          return null;
        }
        identities.set(socket, identity);
        return Buffer.from(key);
      },
    },
    (req, res) => void handle(req, res).catch(() => res.destroy()),
  );

  const endpointOf = async (socket: TLSSocket): Promise<string | undefined> => {
    const identity = identities.get(socket);
    return identity === undefined ? undefined : (await options.store.devices.findCredential('psk', identity))?.endpoint;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'https://device.invalid').pathname;
    if (req.method !== 'GET' || !path.startsWith(prefix) || path.length === prefix.length || path.slice(prefix.length).includes('/')) {
      res.writeHead(req.method === 'GET' ? 404 : 405).end();
      return;
    }
    const found = await options.driver.authorizeFetch(path.slice(prefix.length), await endpointOf(req.socket as TLSSocket));
    if (found === 'not-found' || found === 'forbidden') {
      res.writeHead(found === 'forbidden' ? 403 : 404).end();
      return;
    }
    const etag = `"${Buffer.from(found.etag).toString('hex')}"`;
    let start = 0;
    const range = req.headers.range;
    if (range !== undefined) {
      // Only what a resuming device sends: one open-ended range from where it stopped.
      const m = /^bytes=(\d+)-$/.exec(range);
      const ifRange = req.headers['if-range'];
      if (m === null || Number(m[1]) >= found.size) {
        res.writeHead(416, { 'content-range': `bytes */${found.size}` }).end();
        return;
      }
      // RFC 9110 §13.1.5: If-Range with another ETag means "send the whole new representation".
      if (ifRange === undefined || ifRange === etag) start = Number(m[1]);
    }
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', etag, 'accept-ranges': 'bytes', 'content-length': found.size - start };
    if (start > 0) headers['content-range'] = `bytes ${start}-${found.size - 1}/${found.size}`;
    res.writeHead(start > 0 ? 206 : 200, headers);
    for (let off = start; off < found.size; off += chunkSize) {
      if (res.destroyed) return;
      const chunk = await found.read(off, Math.min(chunkSize, found.size - off));
      if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve).once('close', resolve));
    }
    res.end();
  };

  server.on('tlsClientError', (err, socket) => auditRefusal(socket, err));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  return {
    port,
    uri: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
