/**
 * HTTPS pull for Object 5 (resource 8 value 3, "HTTPS 1.1"): GET over TLS 1.2 with the device's
 * PSK (the credential its LwM2M account uses), streamed into the package reader; a dropped
 * connection is resumed with `Range: bytes=N-` and `If-Range` (RFC 9110 §13.1.5, §14.2), so the
 * bytes already checked and written are never fetched again.
 */
import { get, type RequestOptions } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { RootlineError } from '../errors.js';
import { FirmwareUpdateError, type PackageReader } from './firmware-update-package.js';
import { FirmwareResult } from './standard-objects.js';

export interface HttpsDownloadOptions {
  psk: { identity: string; key: Uint8Array };
  maxResumes: number;
  /** Fault injection: the connection drops once after this many bytes. */
  lossAtByte?: number | undefined;
  /** True once the download was cancelled or superseded. */
  cancelled: () => boolean;
  /** Errors that must not be retried besides RootlineErrors (a simulated power loss). */
  fatal: (err: unknown) => boolean;
  /** Longest wait a 503's Retry-After may ask for (default 30 s). */
  maxRetryAfterMs?: number;
}

class LinkLost extends Error {}

/**
 * A temporary refusal (5xx, 429; RFC 9110 §15.6.4: 503 "likely be alleviated after some delay"),
 * e.g. a package server that is restarting: retried like a lost link, after Retry-After.
 */
class Unavailable extends Error {
  readonly waitMs: number;
  constructor(status: number, waitMs: number) {
    super(`package server answered ${status}`);
    this.waitMs = waitMs;
  }
}

/** Retry-After in seconds (RFC 9110 §10.2.3; an HTTP-date is taken as 1 s), bounded. */
function retryAfter(value: string | undefined, maxMs: number): number {
  const seconds = value !== undefined && /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : 1;
  return Math.min(seconds * 1000, maxMs);
}

const PSK_CIPHERS = 'PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:PSK-CHACHA20-POLY1305';

export async function downloadHttps(uri: URL, reader: PackageReader, o: HttpsDownloadOptions): Promise<boolean> {
  let resumes = 0;
  let etag: string | undefined;
  let lossInjected = false;
  for (;;) {
    if (o.cancelled()) return false;
    try {
      await once(uri, reader, o, etag, (e) => (etag = e), () => {
        if (lossInjected || o.lossAtByte === undefined) return false;
        lossInjected = true;
        return true;
      });
      return true;
    } catch (err) {
      if (err instanceof RootlineError || o.fatal(err)) throw err;
      // A transport failure: reconnect and ask for the rest.
      if (++resumes > o.maxResumes) throw new FirmwareUpdateError('ERR_FIRMWARE_CONNECTION_LOST', FirmwareResult.ConnectionLost, `download failed ${resumes} times`, { cause: err });
      if (err instanceof Unavailable && err.waitMs > 0) await new Promise((r) => setTimeout(r, err.waitMs));
    }
  }
}

function once(uri: URL, reader: PackageReader, o: HttpsDownloadOptions, etag: string | undefined, setEtag: (e: string | undefined) => void, injectLoss: () => boolean): Promise<void> {
  const start = reader.received;
  const headers: Record<string, string> = {};
  if (start > 0) {
    headers.range = `bytes=${start}-`;
    if (etag !== undefined) headers['if-range'] = etag;
  }
  return new Promise<void>((resolve, reject) => {
    // node:https passes TLS options through to tls.connect, pskCallback included (not in its type).
    const options: RequestOptions & Pick<ConnectionOptions, 'pskCallback'> = {
        host: uri.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: uri.port === '' ? 443 : Number(uri.port),
        path: `${uri.pathname}${uri.search}`,
        headers,
        agent: false,
        ciphers: PSK_CIPHERS,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        // No certificate in TLS-PSK: the shared key authenticates the server.
        pskCallback: () => ({ identity: o.psk.identity, psk: Buffer.from(o.psk.key) }),
        checkServerIdentity: () => undefined,
      };
    const req = get(
      options,
      (res) => {
        const fail = (err: Error): void => {
          res.destroy();
          reject(err);
        };
        const status = res.statusCode ?? 0;
        if (status >= 500 || status === 429) return fail(new Unavailable(status, retryAfter(res.headers['retry-after'], o.maxRetryAfterMs ?? 30_000)));
        if (status === 403 || status === 404 || (start === 0 && status !== 200)) return fail(new FirmwareUpdateError('ERR_FIRMWARE_DOWNLOAD_REFUSED', FirmwareResult.InvalidUri, `package server answered ${status}`));
        if (start > 0 && status !== 206) return fail(new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_CHANGED', FirmwareResult.IntegrityCheckFailure, `resume answered ${status}, not 206 (the package changed)`));
        const e = res.headers.etag;
        if (etag === undefined) setEtag(e);
        else if (e !== etag) return fail(new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_CHANGED', FirmwareResult.IntegrityCheckFailure, 'the package changed between requests (ETag)'));
        if (start > 0 && !(res.headers['content-range'] ?? '').startsWith(`bytes ${start}-`)) return fail(new FirmwareUpdateError('ERR_FIRMWARE_PACKAGE_CHANGED', FirmwareResult.IntegrityCheckFailure, 'the resumed range does not start where the download stopped'));
        const expected = Number(res.headers['content-length'] ?? NaN);
        void (async () => {
          for await (const chunk of res as AsyncIterable<Buffer>) {
            if (o.cancelled()) {
              res.destroy();
              return;
            }
            let part: Uint8Array = chunk;
            const cut = o.lossAtByte;
            if (cut !== undefined && reader.received + part.length > cut && injectLoss()) {
              part = part.subarray(0, Math.max(0, cut - reader.received));
              if (part.length > 0) await reader.push(part);
              res.destroy();
              throw new LinkLost(`connection dropped at byte ${cut} (injected)`);
            }
            await reader.push(part);
          }
          // A body shorter than announced is a lost link too, not the end of the package.
          if (Number.isFinite(expected) && reader.received !== start + expected) throw new LinkLost('the response ended early');
        })().then(resolve, reject);
      },
    );
    req.on('error', reject);
  });
}
