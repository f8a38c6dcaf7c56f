/**
 * The Device Management & Service Enablement interface from the server's side (OMA LwM2M Core
 * 1.1 §6.3, Transport §6.5 Table 6.5-1): Read, Discover, Write (replace / partial update),
 * Write-Attributes, Execute, Create, Delete, Read-Composite, Write-Composite. Payloads go
 * through the codec room with the object model deciding types.
 */
import { CoapCode } from '../../coap/codec.js';
import { ContentFormat } from '../../coap/content-format.js';
import type { CoapResponse } from '../../coap/client.js';
import { OptionNumber } from '../../coap/options.js';
import { decodeComposite, decodeNode, encodeComposite, encodeNode } from '../codec/content-format.js';
import type { Lwm2mCodecOptions } from '../codec/common.js';
import { parseLwm2mLinks, parseRegistrationLinks, type Lwm2mLink, type Lwm2mLinkAttributes } from '../codec/link-format.js';
import type { Lwm2mEntry } from '../codec/senml.js';
import { Lwm2mError } from '../model/errors.js';
import { objectNode, singleResource, resourceInstance, type Lwm2mNode, type Lwm2mValue, type ObjectInstanceNode } from '../model/node.js';
import { formatPath, parsePath, pathIds, type Lwm2mPath } from '../model/path.js';
import type { RegistrationRecord } from '../../store/types.js';
import type { DeviceChannel, DeviceRequestOptions, Target } from './device-channel.js';
import { Lwm2mBadDeviceResponseError, Lwm2mDeviceResponseError } from './errors.js';

export type PathInput = string | Lwm2mPath;

export interface FormatOptions extends DeviceRequestOptions {
  /** Content format to ask for / send (default: what the registration says the device prefers). */
  format?: number;
}

export interface WriteOptions extends FormatOptions {
  /** 'replace' (PUT, default) or 'update' (POST, partial update) — Core §6.3.3. */
  mode?: 'replace' | 'update';
}

export interface ReadResult {
  path: Lwm2mPath;
  node: Lwm2mNode;
  format: number;
}

export type WriteAttributes = { [K in 'pmin' | 'pmax' | 'gt' | 'lt' | 'st' | 'epmin' | 'epmax']?: number | null };

/** Formats the server prefers, best first (compact and typed first). */
const PREFERENCE = [ContentFormat.SenmlCbor, ContentFormat.LwM2mCbor, ContentFormat.SenmlJson, ContentFormat.LwM2mTlv];

export function toPath(p: PathInput): Lwm2mPath {
  return typeof p === 'string' ? parsePath(p) : p;
}

function segments(p: Lwm2mPath): string[] {
  return pathIds(p).map(String);
}

/** Throws the typed error for a device's error answer. */
export function expectCode(res: CoapResponse, ok: readonly number[], what: string): void {
  if (ok.includes(res.code)) return;
  const diag = res.payload.length > 0 && res.payload.length <= 256 ? `: ${Buffer.from(res.payload).toString('utf8')}` : '';
  throw new Lwm2mDeviceResponseError(res.code, res.codeText, `${what} answered ${res.codeText}${diag}`);
}

export class DeviceManagement {
  readonly #channel: DeviceChannel;
  readonly #codec: Lwm2mCodecOptions;

  constructor(channel: DeviceChannel, codec: Lwm2mCodecOptions) {
    this.#channel = channel;
    this.#codec = codec;
  }

  get codecOptions(): Lwm2mCodecOptions {
    return this.#codec;
  }

  /**
   * The default content format for a device: what its Register payload lists (`</>;ct=...`), in
   * our order of preference; otherwise TLV for LwM2M 1.0 devices (the only mandatory multi-value
   * format of 1.0) and SenML CBOR from 1.1 on.
   */
  preferredFormat(r: RegistrationRecord, composite = false): number {
    let declared: number[] | undefined;
    if (r.objectLinks.includes('ct=')) {
      try {
        declared = parseRegistrationLinks(r.objectLinks).contentFormats;
      } catch {
        declared = undefined;
      }
    }
    const candidates = composite ? PREFERENCE.filter((f) => f !== ContentFormat.LwM2mTlv) : PREFERENCE;
    const hit = declared !== undefined ? candidates.find((f) => declared.includes(f)) : undefined;
    if (hit !== undefined) return hit;
    return r.lwm2mVersion === '1.0' && !composite ? ContentFormat.LwM2mTlv : ContentFormat.SenmlCbor;
  }

  /** Decodes a device's payload; a payload we cannot read is the device's fault, not the caller's. */
  decode(res: CoapResponse, path: Lwm2mPath, fallbackFormat: number): { node: Lwm2mNode; format: number } {
    const format = res.contentFormat ?? fallbackFormat;
    try {
      return { node: decodeNode(format, path, res.payload, this.#codec), format };
    } catch (err) {
      if (err instanceof Lwm2mError) throw new Lwm2mBadDeviceResponseError(`cannot decode ${formatPath(path)} (content-format ${format}): ${err.message}`, { cause: err });
      throw err;
    }
  }

  #run<T>(endpoint: string, options: DeviceRequestOptions, work: (t: Target) => Promise<T>): Promise<T> {
    return this.#channel.run(endpoint, work, options);
  }

  /** Read (Core §6.3.1): GET with Accept. */
  read(endpoint: string, pathInput: PathInput, options: FormatOptions = {}): Promise<ReadResult> {
    const path = toPath(pathInput);
    return this.#run(endpoint, options, async (t) => {
      const accept = options.format ?? this.preferredFormat(t.registration);
      const res = await this.#channel.request(t, { method: 'GET', path: segments(path), accept });
      expectCode(res, [CoapCode.Content], `Read ${formatPath(path)}`);
      const { node, format } = this.decode(res, path, accept);
      return { path, node, format };
    });
  }

  /** Discover (Core §6.3.2): GET with Accept application/link-format. */
  discover(endpoint: string, pathInput: PathInput, options: DeviceRequestOptions & { depth?: number } = {}): Promise<Lwm2mLink[]> {
    const path = toPath(pathInput);
    return this.#run(endpoint, options, async (t) => {
      const query = options.depth !== undefined ? [`depth=${options.depth}`] : [];
      const res = await this.#channel.request(t, { method: 'GET', path: segments(path), accept: ContentFormat.LinkFormat, query });
      expectCode(res, [CoapCode.Content], `Discover ${formatPath(path)}`);
      try {
        return parseLwm2mLinks(res.payload, t.rootPath.length > 0 ? { rootPath: `/${t.rootPath.join('/')}` } : {});
      } catch (err) {
        throw new Lwm2mBadDeviceResponseError(`Discover ${formatPath(path)}: ${(err as Error).message}`, { cause: err });
      }
    });
  }

  /**
   * Write (Core §6.3.3): PUT replaces the addressed instance or resource, POST updates part of an
   * instance. A bare value is wrapped as the resource (or resource instance) the path names.
   */
  write(endpoint: string, pathInput: PathInput, data: Lwm2mNode | Lwm2mValue, options: WriteOptions = {}): Promise<void> {
    const path = toPath(pathInput);
    const ids = pathIds(path);
    let node: Lwm2mNode;
    if ('kind' in data) node = data;
    else if (ids.length === 3) node = singleResource(ids[2]!, data);
    else if (ids.length === 4) node = resourceInstance(ids[3]!, data);
    else throw new Lwm2mBadDeviceResponseError(`a single value cannot be written to ${formatPath(path)}`);
    return this.#run(endpoint, options, async (t) => {
      const format = options.format ?? this.preferredFormat(t.registration);
      const payload = encodeNode(format, path, node, this.#codec);
      const method = options.mode === 'update' ? 'POST' : 'PUT';
      const res = await this.#channel.request(t, { method, path: segments(path), payload, contentFormat: format });
      expectCode(res, [CoapCode.Changed], `Write ${formatPath(path)}`);
    });
  }

  /** Write-Attributes (Core §6.3.4): PUT with the attributes as Uri-Query and no payload; null removes one. */
  writeAttributes(endpoint: string, pathInput: PathInput, attributes: WriteAttributes, options: DeviceRequestOptions = {}): Promise<void> {
    const path = toPath(pathInput);
    const query: string[] = [];
    for (const [k, v] of Object.entries(attributes)) {
      if (!['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax'].includes(k)) throw new Lwm2mBadDeviceResponseError(`unknown attribute ${k}`);
      if (v === undefined) continue;
      if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new Lwm2mBadDeviceResponseError(`attribute ${k} must be a finite number`);
      query.push(v === null ? k : `${k}=${v}`);
    }
    return this.#run(endpoint, options, async (t) => {
      const res = await this.#channel.request(t, { method: 'PUT', path: segments(path), query });
      expectCode(res, [CoapCode.Changed], `Write-Attributes ${formatPath(path)}`);
    });
  }

  /** Execute (Core §6.3.5): POST on a resource, with optional arguments (Core §5.4.5 syntax) as text. */
  execute(endpoint: string, pathInput: PathInput, args?: string, options: DeviceRequestOptions = {}): Promise<void> {
    const path = toPath(pathInput);
    if (pathIds(path).length !== 3) throw new Lwm2mBadDeviceResponseError(`Execute addresses a resource, not ${formatPath(path)}`);
    return this.#run(endpoint, options, async (t) => {
      const res = await this.#channel.request(t, {
        method: 'POST',
        path: segments(path),
        ...(args !== undefined && args.length > 0 ? { payload: args, contentFormat: ContentFormat.TextPlain } : {}),
      });
      expectCode(res, [CoapCode.Changed], `Execute ${formatPath(path)}`);
    });
  }

  /** Create (Core §6.3.6): POST /{object} with the new instance(s); returns the created instance paths. */
  create(endpoint: string, objectId: number, instances: readonly ObjectInstanceNode[], options: FormatOptions = {}): Promise<string[]> {
    const path = toPath(`/${objectId}`);
    const node = objectNode(objectId, [...instances]);
    return this.#run(endpoint, options, async (t) => {
      const format = options.format ?? this.preferredFormat(t.registration);
      const payload = encodeNode(format, path, node, this.#codec);
      const res = await this.#channel.request(t, { method: 'POST', path: segments(path), payload, contentFormat: format });
      expectCode(res, [CoapCode.Created], `Create in /${objectId}`);
      // Core §6.3.6: a client that picked the instance id itself returns it as Location-Path.
      const location = res.options.filter((o) => o.number === OptionNumber.LocationPath).at(-1);
      if (location !== undefined && instances.length <= 1) return [`/${objectId}/${Buffer.from(location.value).toString('utf8')}`];
      return instances.map((i) => `/${objectId}/${i.id}`);
    });
  }

  /** Delete (Core §6.3.7): DELETE an object instance (or a resource instance in 1.1). */
  delete(endpoint: string, pathInput: PathInput, options: DeviceRequestOptions = {}): Promise<void> {
    const path = toPath(pathInput);
    return this.#run(endpoint, options, async (t) => {
      const res = await this.#channel.request(t, { method: 'DELETE', path: segments(path) });
      expectCode(res, [CoapCode.Deleted], `Delete ${formatPath(path)}`);
    });
  }

  /** Read-Composite (Core §6.3.8): FETCH / with the path list; the answer holds the values. */
  readComposite(endpoint: string, paths: readonly PathInput[], options: FormatOptions = {}): Promise<Lwm2mEntry[]> {
    const entries = paths.map((p) => ({ path: toPath(p) }));
    return this.#run(endpoint, options, async (t) => {
      const format = options.format ?? this.preferredFormat(t.registration, true);
      const payload = encodeComposite(format, entries, this.#codec);
      const res = await this.#channel.request(t, { method: 'FETCH', path: [], payload, contentFormat: format, accept: format });
      expectCode(res, [CoapCode.Content], 'Read-Composite');
      return this.decodeEntries(res, format);
    });
  }

  /** Write-Composite (Core §6.3.9): iPATCH / with paths and values. */
  writeComposite(endpoint: string, entries: readonly Lwm2mEntry[], options: FormatOptions = {}): Promise<void> {
    return this.#run(endpoint, options, async (t) => {
      const format = options.format ?? this.preferredFormat(t.registration, true);
      const payload = encodeComposite(format, entries, this.#codec);
      const res = await this.#channel.request(t, { method: 'iPATCH', path: [], payload, contentFormat: format });
      expectCode(res, [CoapCode.Changed], 'Write-Composite');
    });
  }

  decodeEntries(res: CoapResponse, fallbackFormat: number): Lwm2mEntry[] {
    const format = res.contentFormat ?? fallbackFormat;
    try {
      return decodeComposite(format, res.payload, true, this.#codec);
    } catch (err) {
      if (err instanceof Lwm2mError) throw new Lwm2mBadDeviceResponseError(`cannot decode composite payload (content-format ${format}): ${err.message}`, { cause: err });
      throw err;
    }
  }
}

export type { Lwm2mLink, Lwm2mLinkAttributes };
