/**
 * How the registrar reaches a MASA (RFC 8995 §5.4-§5.5): over HTTPS to the MASA's
 * /.well-known/brski/requestvoucher, or in process when the same rootline instance runs the
 * MASA. The registrar only sees `MasaClient`, so the transport is the caller's choice.
 */
import { request as httpsRequest } from 'node:https';
import { InvalidArgumentError, RootlineError } from '../../errors.js';
import { encodePem, parsePem } from '../../pki/pem.js';
import type { Masa } from '../masa.js';
import { MasaFailedError } from './errors.js';

export interface MasaVoucherCall {
  /** The MASA base URL (from the IDevID's id-pe-masa-url, or the manufacturer trust entry). */
  masaUrl: string;
  /** The CMS-signed registrar voucher request (RFC 8995 §5.5). */
  request: Uint8Array;
  serialNumber: string;
}

export interface MasaClient {
  /** Returns the CMS-signed voucher; throws MasaFailedError (with the MASA's code) otherwise. */
  requestVoucher(call: MasaVoucherCall): Promise<Uint8Array>;
}

/** A MASA in this process (`createMasa`): its typed refusals become MasaFailedError with the code. */
export function inProcessMasaClient(masa: Masa): MasaClient {
  return {
    async requestVoucher(call) {
      try {
        const res = await masa.requestVoucher(call.request, { format: 'cms' });
        return res.voucher;
      } catch (err) {
        if (err instanceof RootlineError) throw new MasaFailedError(`the MASA refused: ${err.code}: ${err.message}`, { masaCode: err.code }, { cause: err });
        throw err;
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

/** A MASA over HTTPS: POST application/voucher-cms+json, 200 with the voucher. */
export function httpsMasaClient(options: HttpsMasaClientOptions): MasaClient {
  if (options === null || typeof options !== 'object' || !Array.isArray(options.trustAnchors) || options.trustAnchors.length === 0) {
    throw new InvalidArgumentError('options.trustAnchors', 'expected the MASA TLS trust anchor(s)');
  }
  const ca = pem(options.trustAnchors);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBytes = options.maxResponseBytes ?? 262_144;
  return {
    requestVoucher(call) {
      let url: URL;
      try {
        // RFC 8995 §5.5: the request goes to "/.well-known/brski/requestvoucher" under the MASA URL.
        url = new URL(`${call.masaUrl.replace(/\/+$/, '')}/.well-known/brski/requestvoucher`);
      } catch (err) {
        return Promise.reject(new MasaFailedError(`the MASA URL ${JSON.stringify(call.masaUrl)} is not a URL`, {}, { cause: err }));
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
            headers: { 'content-type': 'application/voucher-cms+json', accept: 'application/voucher-cms+json', 'content-length': String(call.request.length) },
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
              const body = Buffer.concat(chunks);
              const status = res.statusCode ?? 0;
              if (status === 200) return resolve(new Uint8Array(body));
              let code: string | undefined;
              try {
                const parsed = JSON.parse(body.toString('utf8')) as { code?: unknown };
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
        req.end(Buffer.from(call.request));
      });
    },
  };
}
