/**
 * The simulated devices' PSK credentials: generated here and created through the HTTP API
 * (POST /api/v1/devices, the same call `rootline device add` makes), or loaded from a JSON file
 * for devices that were provisioned some other way. Keys never reach a log or an error message.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SimCredentialsFileError, SimProvisioningError } from './errors.js';

export interface SimCredential {
  endpoint: string;
  /** PSK identity (what the DTLS ClientKeyExchange carries). */
  identity: string;
  key: Uint8Array;
}

/** Endpoint names the API accepts (src/api/README.md): 1..128 of A-Z a-z 0-9 . _ : @ + = ~ - */
const ENDPOINT_RE = /^[A-Za-z0-9._:@+=~-]{1,128}$/;
const HEX_RE = /^(?:[0-9a-fA-F]{2}){1,64}$/;

export function isValidEndpointName(name: string): boolean {
  return ENDPOINT_RE.test(name);
}

/**
 * `count` fresh credentials named `<prefix>-<n>`; the identity is the endpoint name with `-psk`
 * appended and the key 16 random bytes (the PSK size of TLS_PSK_WITH_AES_128_CCM_8 deployments).
 */
export function generateCredentials(prefix: string, count: number): SimCredential[] {
  const width = String(Math.max(1, count - 1)).length;
  const out: SimCredential[] = [];
  for (let i = 0; i < count; i++) {
    const endpoint = `${prefix}-${String(i).padStart(width, '0')}`;
    out.push({ endpoint, identity: `${endpoint}-psk`, key: new Uint8Array(randomBytes(16)) });
  }
  return out;
}

/**
 * Reads `[{endpoint, identity, key}]` (key as hex) from `file`. Every entry is checked, and
 * endpoint names and identities must be unique: two devices on one credential would fight over
 * one registration.
 */
export async function loadCredentialsFile(file: string): Promise<SimCredential[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SimCredentialsFileError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new SimCredentialsFileError(`${file} is not JSON`, { cause: err });
  }
  if (!Array.isArray(data) || data.length === 0) throw new SimCredentialsFileError(`${file}: expected a non-empty JSON array of {endpoint, identity, key}`);
  const endpoints = new Set<string>();
  const identities = new Set<string>();
  return data.map((entry: unknown, i) => {
    const e = entry as Record<string, unknown> | null;
    if (e === null || typeof e !== 'object') throw new SimCredentialsFileError(`${file}[${i}]: expected an object`);
    const { endpoint, identity, key } = e;
    if (typeof endpoint !== 'string' || !isValidEndpointName(endpoint)) throw new SimCredentialsFileError(`${file}[${i}].endpoint: expected 1..128 of A-Z a-z 0-9 . _ : @ + = ~ -`);
    if (typeof identity !== 'string' || identity.length === 0 || Buffer.byteLength(identity) > 128) throw new SimCredentialsFileError(`${file}[${i}].identity: expected a string of 1..128 bytes`);
    if (typeof key !== 'string' || !HEX_RE.test(key)) throw new SimCredentialsFileError(`${file}[${i}].key: expected 1..64 bytes as hex`);
    if (endpoints.has(endpoint)) throw new SimCredentialsFileError(`${file}[${i}]: endpoint ${endpoint} appears twice`);
    if (identities.has(identity)) throw new SimCredentialsFileError(`${file}[${i}]: identity of ${endpoint} appears twice`);
    endpoints.add(endpoint);
    identities.add(identity);
    return { endpoint, identity, key: new Uint8Array(Buffer.from(key, 'hex')) };
  });
}

export interface ProvisionOptions {
  /** API base URL, e.g. http://127.0.0.1:8080 */
  api: string;
  model: string;
  firmwareVersion: string;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  fetch?: typeof fetch;
  /** Called after each device; lets the caller print progress. */
  onProvisioned?: (done: number) => void;
}

async function createDevice(o: ProvisionOptions, doFetch: typeof fetch, c: SimCredential): Promise<void> {
  // Relative to the base, so an API behind a path prefix (http://host/rootline/) works too.
  const url = new URL('api/v1/devices', o.api.endsWith('/') ? o.api : `${o.api}/`);
  const body = {
    endpoint: c.endpoint,
    model: o.model,
    firmwareVersion: o.firmwareVersion,
    tags: ['sim'],
    credentials: { psk: { identity: c.identity, key: Buffer.from(c.key).toString('hex') } },
  };
  let res: Response;
  try {
    res = await doFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err) {
    throw new SimProvisioningError(`POST ${url.href} for ${c.endpoint}: no answer (${(err as Error).message})`, undefined, { cause: err });
  }
  const text = await res.text();
  if (res.status === 201) return;
  // Only the API's error code and message: the request body (with the key) is never echoed.
  let code = '';
  try {
    const parsed = JSON.parse(text) as { code?: unknown; message?: unknown };
    code = typeof parsed.code === 'string' ? ` ${parsed.code}` : '';
  } catch {
    // Not JSON: the status alone says enough.
  }
  throw new SimProvisioningError(`creating ${c.endpoint} answered HTTP ${res.status}${code}`, res.status);
}

/** Creates every device with its PSK through the API; the first refusal stops the run. */
export async function provisionCredentials(credentials: readonly SimCredential[], o: ProvisionOptions): Promise<void> {
  const doFetch = o.fetch ?? globalThis.fetch;
  const concurrency = Math.max(1, Math.min(o.concurrency ?? 16, credentials.length));
  let next = 0;
  let done = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < credentials.length) {
      const c = credentials[next++]!;
      try {
        await createDevice(o, doFetch, c);
      } catch (err) {
        failed ??= err;
        return;
      }
      o.onProvisioned?.(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failed !== undefined) throw failed;
}
