/**
 * What `rootline sim --firmware` needs before the fleet starts: the image file devices run, the
 * trust anchor (a PEM file, or the server's firmware-signing key from the API), and the
 * installed image's SUIT sequence number (given, or found in the API's firmware catalog by the
 * image's SHA-256). Every failure is a SimFirmwareError naming what was wrong; never a key.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SimFirmwareError } from './errors.js';
import type { SimFirmwareOptions } from './firmware.js';

export interface FirmwareSetupOptions {
  /** Path of the image every device runs at start. */
  imageFile: string;
  /** PEM file of the firmware-signing public key; without it, GET /api/v1/firmware/signing-key. */
  signingKeyFile?: string;
  /** Installed image's SUIT sequence; without it, looked up in GET /api/v1/firmware by SHA-256. */
  sequence?: number;
  /** rootline API base URL (http://host:port). */
  api: string;
  model: string;
  vendor: string;
  /** Largest image accepted (default 64 MiB, serve's upload limit). */
  maxImageBytes?: number;
  fetch?: typeof fetch;
}

const PAGE = 100;

async function getJson(doFetch: typeof fetch, url: URL, what: string): Promise<unknown> {
  let res: Response;
  try {
    res = await doFetch(url, { headers: { accept: 'application/json' } });
  } catch (err) {
    throw new SimFirmwareError(`${what}: ${url.origin} did not answer`, { cause: err });
  }
  const text = await res.text();
  if (res.status !== 200) throw new SimFirmwareError(`${what}: ${url.pathname} answered ${res.status}`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SimFirmwareError(`${what}: ${url.pathname} did not answer JSON`, { cause: err });
  }
}

/** PEM SubjectPublicKeyInfo → DER (what the SDK's trustedKeys holds). */
export function spkiFromPem(pem: string, source: string): Uint8Array {
  try {
    const key = createPublicKey(pem);
    return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
  } catch (err) {
    throw new SimFirmwareError(`${source}: not a PEM public key`, { cause: err });
  }
}

export async function loadSimFirmware(o: FirmwareSetupOptions): Promise<Pick<SimFirmwareOptions, 'image' | 'sequence' | 'vendor' | 'trustedKeys'>> {
  const doFetch = o.fetch ?? globalThis.fetch;
  const max = o.maxImageBytes ?? 64 * 1024 * 1024;
  let image: Uint8Array;
  try {
    image = new Uint8Array(await readFile(o.imageFile));
  } catch (err) {
    throw new SimFirmwareError(`--firmware ${o.imageFile}: cannot be read`, { cause: err });
  }
  if (image.length === 0 || image.length > max) throw new SimFirmwareError(`--firmware ${o.imageFile}: ${image.length} bytes, expected 1..${max}`);

  let trusted: Uint8Array;
  if (o.signingKeyFile !== undefined) {
    let pem: string;
    try {
      pem = await readFile(o.signingKeyFile, 'utf8');
    } catch (err) {
      throw new SimFirmwareError(`--signing-key ${o.signingKeyFile}: cannot be read`, { cause: err });
    }
    trusted = spkiFromPem(pem, `--signing-key ${o.signingKeyFile}`);
  } else {
    const body = (await getJson(doFetch, new URL('/api/v1/firmware/signing-key', o.api), 'signing key')) as { publicKey?: unknown };
    if (typeof body?.publicKey !== 'string') throw new SimFirmwareError('signing key: the API answer has no publicKey');
    trusted = spkiFromPem(body.publicKey, 'signing key from the API');
  }

  let sequence = o.sequence;
  if (sequence === undefined) {
    const sha = createHash('sha256').update(image).digest('hex');
    for (let offset: number | null = 0; offset !== null && sequence === undefined; ) {
      const url = new URL('/api/v1/firmware', o.api);
      url.searchParams.set('model', o.model);
      url.searchParams.set('vendor', o.vendor);
      url.searchParams.set('limit', String(PAGE));
      url.searchParams.set('offset', String(offset));
      const page = (await getJson(doFetch, url, 'firmware catalog')) as { firmware?: unknown; next?: unknown };
      if (!Array.isArray(page?.firmware)) throw new SimFirmwareError('firmware catalog: the API answer has no firmware list');
      for (const f of page.firmware as { sha256?: unknown; sequence?: unknown }[]) {
        if (f?.sha256 === sha && Number.isSafeInteger(f.sequence) && (f.sequence as number) >= 0) sequence = f.sequence as number;
      }
      offset = typeof page.next === 'number' ? page.next : null;
    }
    if (sequence === undefined) {
      throw new SimFirmwareError(`--firmware ${o.imageFile}: no image with its SHA-256 for model ${o.model}, vendor ${o.vendor} in the server's catalog; upload it, or give --firmware-sequence`);
    }
  }
  return { image, sequence, vendor: o.vendor, trustedKeys: [trusted] };
}
