/**
 * A small client for the rootline HTTP API, used by the device and audit commands. It turns an
 * error body into ApiResponseError (keeping the API's code) and a failed connection into
 * ApiUnreachableError with a hint, so the user sees one clear line instead of a fetch stack.
 */
import { ApiResponseError, ApiUnreachableError, UsageError } from './errors.js';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
export const API_ENV = 'ROOTLINE_API';

/** Resolves the API base URL from --api, then ROOTLINE_API, then the default; validates it. */
export function resolveApiUrl(command: string, flag: string | undefined, env: Readonly<Record<string, string | undefined>>): URL {
  const [raw, where] = flag !== undefined ? [flag, '--api'] : env[API_ENV] ? [env[API_ENV], API_ENV] : [DEFAULT_API_URL, 'default'];
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(command, `${where}: not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(command, `${where}: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  if (url.search !== '' || url.hash !== '') throw new UsageError(command, `${where}: the API URL may not have a query or fragment`);
  return url;
}

export class ApiClient {
  readonly #base: URL;
  readonly #fetch: typeof fetch;

  constructor(base: URL, fetchImpl: typeof fetch) {
    this.#base = base;
    this.#fetch = fetchImpl;
  }

  /** `path` is relative to /api/v1, e.g. '/devices'. Returns the parsed JSON (undefined on 204). */
  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.#send<T>(method, path, body === undefined ? undefined : { contentType: 'application/json', bytes: JSON.stringify(body) });
  }

  /** POSTs raw bytes (a firmware image) with their media type; answers like request(). */
  async upload<T>(path: string, bytes: Uint8Array, contentType: string): Promise<T> {
    return this.#send<T>('POST', path, { contentType, bytes });
  }

  /**
   * GETs a binary resource (a firmware image, a manifest): the response, body unread, once its
   * status is a success; an error body is turned into ApiResponseError as for request().
   */
  async download(path: string): Promise<Response> {
    const res = await this.#fetchOrFail('GET', path, undefined, '*/*');
    if (!res.ok) await this.#json(res);
    return res;
  }

  async #fetchOrFail(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: { contentType: string; bytes: string | Uint8Array } | undefined, accept: string): Promise<Response> {
    const url = new URL(`${this.#base.pathname.replace(/\/$/, '')}/api/v1${path}`, this.#base);
    try {
      return await this.#fetch(url, {
        method,
        headers: body === undefined ? { accept } : { accept, 'content-type': body.contentType },
        ...(body === undefined ? {} : { body: body.bytes }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      throw new ApiUnreachableError(
        `cannot reach the rootline API at ${this.#base.origin}${cause?.code ? ` (${cause.code})` : ''}; is \`rootline serve\` running? Point --api or ${API_ENV} at it`,
        { cause: err },
      );
    }
  }

  async #send<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body: { contentType: string; bytes: string | Uint8Array } | undefined): Promise<T> {
    return this.#json<T>(await this.#fetchOrFail(method, path, body, 'application/json'));
  }

  async #json<T>(res: Response): Promise<T> {
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ApiUnreachableError(`${this.#base.origin} answered HTTP ${res.status} with a body that is not JSON; is it a rootline server?`);
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      if (e !== undefined && typeof e.code === 'string' && typeof e.message === 'string') throw new ApiResponseError(res.status, e.code, e.message);
      throw new ApiResponseError(res.status, 'unknown', `HTTP ${res.status} without an error body`);
    }
    return parsed as T;
  }
}
