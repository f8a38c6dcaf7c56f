/**
 * Handlers of the firmware routes: upload (a raw application/octet-stream body streamed into the
 * firmware room's blob store, never held whole in memory), list, show, download, manifest and
 * delete. The firmware room signs, stores and audits (`firmware.add`, `firmware.delete`, with
 * denials); this file only translates HTTP to its calls and its typed errors to API codes.
 */
import type { Readable } from 'node:stream';
import { isRootlineError } from '../errors.js';
import type { FirmwareImageQuery, FirmwareImageRecord } from '../store/firmware-types.js';
import { ApiError, type ApiErrorCode } from './errors.js';

/** What the API needs of the firmware service (src/fota/firmware implements it). */
export interface FirmwareRepositoryApi {
  addImage(input: { stream: AsyncIterable<Uint8Array>; vendor: string; model: string; version: string; attributes?: Record<string, unknown>; actor: string }): Promise<FirmwareImageRecord>;
  get(id: string): Promise<FirmwareImageRecord>;
  list(query?: FirmwareImageQuery): Promise<FirmwareImageRecord[]>;
  openDownload(id: string): Promise<{ image: FirmwareImageRecord; stream: Readable }>;
  deleteImage(id: string, options: { actor: string }): Promise<void>;
  /** SPKI DER of the firmware-signing key and the kid manifests carry. */
  readonly signingPublicKey: Uint8Array;
  readonly signingKeyId: Uint8Array;
  readonly signer: { readonly algorithm: 'ES256' | 'EdDSA' };
}

export type FirmwareView = Omit<FirmwareImageRecord, 'manifest'>;

export interface FirmwareUploadQuery {
  vendor?: string;
  model: string;
  version: string;
  description?: string;
}

/**
 * Vendor of uploads that name none. `.invalid` is reserved (RFC 2606), so it can never collide
 * with a real vendor's SUIT vendor ID; production uploads should name their own domain.
 */
export const DEFAULT_FIRMWARE_VENDOR = 'rootline.invalid';

const DEFAULT_PAGE = 100;

const CODES: Readonly<Record<string, ApiErrorCode>> = {
  ERR_FIRMWARE_NOT_FOUND: 'ERR_API_FIRMWARE_NOT_FOUND',
  ERR_FIRMWARE_VERSION_EXISTS: 'ERR_API_FIRMWARE_EXISTS',
  ERR_FIRMWARE_VERSION_NOT_NEWER: 'ERR_API_FIRMWARE_NOT_NEWER',
  ERR_FIRMWARE_IN_USE: 'ERR_API_FIRMWARE_IN_USE',
  ERR_FIRMWARE_TOO_LARGE: 'ERR_API_BODY_TOO_LARGE',
};

/** Re-throws a firmware room error as the API error with the same message; anything else as is. */
function translate(err: unknown): never {
  if (isRootlineError(err)) {
    const code = CODES[err.code];
    if (code !== undefined) throw new ApiError(code, err.message, { cause: err });
  }
  throw err;
}

/**
 * The request body as chunks, without a `return()`: when the firmware room stops reading early
 * (too large, refused), a for-await would otherwise destroy the request mid-upload, and Node's
 * HTTP server then never finishes that connection (closing the server hangs). The caller drains
 * the rest instead and answers with `Connection: close`.
 */
function bodyChunks(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  return { [Symbol.asyncIterator]: () => ({ next: () => it.next() }) };
}

export function firmwareView(image: FirmwareImageRecord): FirmwareView {
  const { manifest: _manifest, ...rest } = image;
  return rest;
}

/** A file name safe in a Content-Disposition header, from model and version. */
function downloadName(image: FirmwareImageRecord, suffix: string): string {
  return `${image.model}-${image.version}`.replace(/[^A-Za-z0-9._+-]/g, '_') + suffix;
}

export function createFirmwareHandlers(deps: { firmware: FirmwareRepositoryApi; actor: string; maxUploadBytes: number }) {
  const { firmware, actor } = deps;

  async function upload(query: FirmwareUploadQuery, body: unknown, contentLength: number | undefined): Promise<FirmwareView> {
    if (contentLength !== undefined && contentLength > deps.maxUploadBytes) {
      throw new ApiError('ERR_API_BODY_TOO_LARGE', `the image is ${contentLength} bytes; the limit is ${deps.maxUploadBytes}`);
    }
    if (contentLength === 0 || body === undefined || body === null) throw new ApiError('ERR_API_VALIDATION', 'body: the firmware image is empty');
    const stream = bodyChunks(body as AsyncIterable<Uint8Array>);
    try {
      const image = await firmware.addImage({
        stream,
        vendor: query.vendor ?? DEFAULT_FIRMWARE_VENDOR,
        model: query.model,
        version: query.version,
        ...(query.description !== undefined ? { attributes: { description: query.description } } : {}),
        actor,
      });
      return firmwareView(image);
    } catch (err) {
      return translate(err);
    }
  }

  async function list(query: { vendor?: string; model?: string; limit?: number; offset?: number }): Promise<{ firmware: FirmwareView[]; next: number | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const offset = query.offset ?? 0;
    const page = await firmware.list({ limit, offset, ...(query.vendor !== undefined ? { vendor: query.vendor } : {}), ...(query.model !== undefined ? { model: query.model } : {}) });
    return { firmware: page.map(firmwareView), next: page.length === limit ? offset + limit : null };
  }

  async function get(id: string): Promise<FirmwareImageRecord> {
    try {
      return await firmware.get(id);
    } catch (err) {
      return translate(err);
    }
  }

  async function download(id: string): Promise<{ image: FirmwareImageRecord; stream: Readable; fileName: string }> {
    try {
      const { image, stream } = await firmware.openDownload(id);
      return { image, stream, fileName: downloadName(image, '.bin') };
    } catch (err) {
      return translate(err);
    }
  }

  async function manifest(id: string): Promise<{ bytes: Buffer; fileName: string }> {
    const image = await get(id);
    return { bytes: Buffer.from(image.manifest), fileName: downloadName(image, '.suit') };
  }

  async function remove(id: string): Promise<void> {
    try {
      await firmware.deleteImage(id, { actor });
    } catch (err) {
      translate(err);
    }
  }

  function signingKey(): { algorithm: 'ES256' | 'EdDSA'; keyId: string; publicKey: string } {
    // An API built without the firmware room has a stand-in without key properties.
    if (!(firmware.signingPublicKey instanceof Uint8Array)) throw new ApiError('ERR_API_NOT_READY', 'this server runs without a firmware service');
    const b64 = Buffer.from(firmware.signingPublicKey).toString('base64').replace(/.{1,64}/g, '$&\n');
    return { algorithm: firmware.signer.algorithm, keyId: Buffer.from(firmware.signingKeyId).toString('hex'), publicKey: `-----BEGIN PUBLIC KEY-----\n${b64}-----END PUBLIC KEY-----\n` };
  }

  return { upload, list, get: async (id: string) => firmwareView(await get(id)), download, manifest, remove, signingKey };
}
