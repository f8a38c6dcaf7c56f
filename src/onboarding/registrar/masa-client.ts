/**
 * How the registrar reaches a MASA (RFC 8995 §5.4-§5.5): over HTTPS to the MASA's
 * /.well-known/brski/requestvoucher, or in process when the same rootline instance runs the
 * MASA. The registrar only sees `MasaClient`, so the transport is the caller's choice.
 *
 * Decommission also releases the claim through it (rootline's /.well-known/brski/release: a
 * voucher request signed by this registrar, see voucher-requests.ts createReleaseRequest), and
 * `masaUrlBook` remembers which MASA vouched for each serial so that the release goes there.
 */
import { request as httpsRequest } from 'node:https';
import { InvalidArgumentError, RootlineError } from '../../errors.js';
import { encodePem, parsePem } from '../../pki/pem.js';
import type { SettingsRepository } from '../../store/types.js';
import { looksLikeCoseSign1 } from '../constrained-voucher.js';
import type { Masa } from '../masa.js';
import { MasaFailedError } from './errors.js';

export interface MasaVoucherCall {
  /** The MASA base URL (from the IDevID's id-pe-masa-url, or the manufacturer trust entry). */
  masaUrl: string;
  /**
   * The signed registrar voucher request (RFC 8995 §5.5): CMS, or a COSE_Sign1 for a constrained
   * pledge (cBRSKI §7.1) — the voucher asked for is then COSE too.
   */
  request: Uint8Array;
  serialNumber: string;
}

export interface MasaReleaseCall {
  /** The MASA base URL that vouched for the device. */
  masaUrl: string;
  /** The CMS-signed release request (createReleaseRequest). */
  request: Uint8Array;
  serialNumber: string;
}

export interface MasaClient {
  /** Returns the signed voucher; throws MasaFailedError (with the MASA's code) otherwise. */
  requestVoucher(call: MasaVoucherCall): Promise<Uint8Array>;
  /**
   * Releases this domain's claim; throws MasaFailedError otherwise — with `masaStatus` when the
   * MASA answered (a refusal), without when it could not be reached (worth retrying).
   */
  releaseClaim?(call: MasaReleaseCall): Promise<void>;
}

function refusal(err: unknown): never {
  if (err instanceof RootlineError) throw new MasaFailedError(`the MASA refused: ${err.code}: ${err.message}`, { masaCode: err.code }, { cause: err });
  throw err;
}

/** A MASA in this process (`createMasa`): its typed refusals become MasaFailedError with the code. */
export function inProcessMasaClient(masa: Masa): MasaClient {
  return {
    async requestVoucher(call) {
      try {
        const res = await masa.requestVoucher(call.request, { format: 'cms' });
        return res.voucher;
      } catch (err) {
        return refusal(err);
      }
    },
    async releaseClaim(call) {
      try {
        await masa.releaseClaim(call.request);
      } catch (err) {
        refusal(err);
      }
    },
  };
}

type Pem = string | Uint8Array;

export interface HttpsMasaClientOptions {
  /** Trust anchors for the MASA's TLS server certificate (RFC 8995 §5.4: the registrar authenticates the MASA). */
  trustAnchors: readonly Pem[];
  /** The registrar's TLS client certificate (chain) and key, if the MASA asks for one (§5.4: MAY). */
  clientCertificate?: string;
  clientKey?: string;
  /** Default 30 s. */
  timeoutMs?: number;
  /** Largest voucher accepted (default 256 KiB). */
  maxResponseBytes?: number;
}

function pem(list: readonly Pem[]): string[] {
  return list.flatMap((c) => (typeof c === 'string' ? parsePem(c, {}).map((b) => encodePem(b.label, b.der)) : [encodePem('CERTIFICATE', c)]));
}

const CMS_MEDIA_TYPE = 'application/voucher-cms+json';
const COSE_MEDIA_TYPE = 'application/voucher+cose';

/**
 * A MASA over HTTPS: POST the registrar request, 200 with the voucher; release: 204. A CMS request
 * goes as application/voucher-cms+json asking for a CMS voucher; a COSE_Sign1 request (a
 * constrained pledge's, cBRSKI §7.1: "the Registrar MUST use the media type
 * application/voucher+cose for its voucher request to MASA" and asks by Accept for the format of
 * the pledge's request) as application/voucher+cose asking for a COSE voucher. An answer of
 * another media type is refused.
 */
export function httpsMasaClient(options: HttpsMasaClientOptions): MasaClient {
  if (options === null || typeof options !== 'object' || !Array.isArray(options.trustAnchors) || options.trustAnchors.length === 0) {
    throw new InvalidArgumentError('options.trustAnchors', 'expected the MASA TLS trust anchor(s)');
  }
  if ((options.clientCertificate === undefined) !== (options.clientKey === undefined)) throw new InvalidArgumentError('options.clientKey', 'give the TLS client certificate and key together');
  const ca = pem(options.trustAnchors);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBytes = options.maxResponseBytes ?? 262_144;

  function post(masaUrl: string, path: string, body: Uint8Array, expect: number, mediaType = CMS_MEDIA_TYPE): Promise<Uint8Array> {
    let url: URL;
    try {
      // RFC 8995 §5.5: the request goes to "/.well-known/brski/..." under the MASA URL.
      url = new URL(`${masaUrl.replace(/\/+$/, '')}${path}`);
    } catch (err) {
      return Promise.reject(new MasaFailedError(`the MASA URL ${JSON.stringify(masaUrl)} is not a URL`, {}, { cause: err }));
    }
    // RFC 8995 §2.3.2: the MASA URL is https; a plain-HTTP MASA would let anyone on the path answer.
    if (url.protocol !== 'https:') return Promise.reject(new MasaFailedError(`the MASA URL ${url.origin} is not https`));
    return new Promise<Uint8Array>((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          ca,
          ...(options.clientCertificate !== undefined && options.clientKey !== undefined ? { cert: options.clientCertificate, key: options.clientKey } : {}),
          headers: { 'content-type': mediaType, accept: mediaType, 'content-length': String(body.length) },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              res.destroy();
              reject(new MasaFailedError(`the MASA answer is larger than ${maxBytes} bytes`));
            } else chunks.push(c);
          });
          res.on('error', (err) => reject(new MasaFailedError(`reading the MASA answer failed: ${err.message}`, {}, { cause: err })));
          res.on('end', () => {
            const answer = Buffer.concat(chunks);
            const status = res.statusCode ?? 0;
            if (status === expect) {
              // A voucher of another format than asked for would not parse at the pledge.
              const type = (res.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
              if (expect === 200 && type !== mediaType) return reject(new MasaFailedError(`the MASA answered ${JSON.stringify(type.slice(0, 100))} instead of ${mediaType}`, { masaStatus: status }));
              return resolve(new Uint8Array(answer));
            }
            let code: string | undefined;
            try {
              const parsed = JSON.parse(answer.toString('utf8')) as { code?: unknown };
              if (typeof parsed.code === 'string' && /^ERR_[A-Z0-9_]{1,80}$/.test(parsed.code)) code = parsed.code;
            } catch {
              // not JSON: only the status is known
            }
            reject(new MasaFailedError(`the MASA refused with HTTP ${status}${code !== undefined ? ` (${code})` : ''}`, { masaStatus: status, ...(code !== undefined ? { masaCode: code } : {}) }));
          });
        },
      );
      req.on('timeout', () => req.destroy(new MasaFailedError(`no answer from the MASA within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(err instanceof MasaFailedError ? err : new MasaFailedError(`cannot reach the MASA at ${url.origin}: ${err.message}`, {}, { cause: err })));
      req.end(Buffer.from(body));
    });
  }

  return {
    requestVoucher: (call) => post(call.masaUrl, '/.well-known/brski/requestvoucher', call.request, 200, call.request instanceof Uint8Array && looksLikeCoseSign1(call.request) ? COSE_MEDIA_TYPE : CMS_MEDIA_TYPE),
    async releaseClaim(call) {
      await post(call.masaUrl, '/.well-known/brski/release', call.request, 204);
    },
  };
}

const MASA_URL_PREFIX = 'registrar.masa-url.';

/** Which MASA vouched for each serial (settings `registrar.masa-url.<serial>`), for the release at decommission. */
export interface MasaUrlBook {
  lookup(serial: string): Promise<string | undefined>;
  remember(serial: string, masaUrl: string): Promise<void>;
}

export function masaUrlBook(settings: SettingsRepository): MasaUrlBook {
  const key = (serial: string): string => {
    if (typeof serial !== 'string' || !/^[\x20-\x7e]{1,64}$/.test(serial)) throw new InvalidArgumentError('serial', 'expected 1..64 printable ASCII characters');
    return MASA_URL_PREFIX + serial;
  };
  return {
    lookup: (serial) => settings.get(key(serial)),
    async remember(serial, masaUrl) {
      if (typeof masaUrl !== 'string' || !masaUrl.startsWith('https://') || masaUrl.length > 2048) throw new InvalidArgumentError('masaUrl', 'expected an https:// URL');
      await settings.set(key(serial), masaUrl);
    },
  };
}

/** Wraps a MasaClient so that every voucher it obtains records the MASA URL in `book`. */
export function recordingMasaClient(inner: MasaClient, book: MasaUrlBook): MasaClient {
  return {
    async requestVoucher(call) {
      const voucher = await inner.requestVoucher(call);
      await book.remember(call.serialNumber, call.masaUrl);
      return voucher;
    },
    ...(inner.releaseClaim !== undefined ? { releaseClaim: inner.releaseClaim.bind(inner) } : {}),
  };
}
