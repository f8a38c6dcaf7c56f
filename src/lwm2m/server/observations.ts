/**
 * Information Reporting from the server's side (OMA LwM2M Core 1.1 §6.4, Transport §6.6):
 * Observe / Cancel Observation on one path (GET with Observe) and Observe-Composite / Cancel
 * Observe-Composite on a path list (FETCH with Observe). Built on the endpoint's raw exchange so
 * that an observation can end passively — when the registration ends the token is forgotten and
 * the endpoint answers later notifications with Reset (RFC 7641 §3.6) — or actively, with the
 * same request carrying Observe=1.
 */
import { randomBytes } from 'node:crypto';
import { decodeBlock } from '../../coap/block.js';
import { CoapCode, codeToString, type CoapMessage } from '../../coap/codec.js';
import type { CoapResponse } from '../../coap/client.js';
import { isFresherNotification } from '../../coap/observe.js';
import { getOption, getUintOption, OptionNumber, stringOption, uintOption, type CoapOption } from '../../coap/options.js';
import { encodeComposite } from '../codec/content-format.js';
import type { Lwm2mEntry } from '../codec/senml.js';
import type { Lwm2mNode } from '../model/node.js';
import { formatPath, pathIds, type Lwm2mPath } from '../model/path.js';
import type { DeviceChannel, DeviceRequestOptions, Target } from './device-channel.js';
import { expectCode, toPath, type DeviceManagement, type FormatOptions, type PathInput, type WriteAttributes } from './device-management.js';
import { Lwm2mServerError } from './errors.js';

export interface NotificationEvent {
  endpoint: string;
  observationId: string;
  /** Single-path observation: the path and its current value. */
  path?: Lwm2mPath;
  node?: Lwm2mNode;
  /** Composite observation: the entries. */
  entries?: Lwm2mEntry[];
  format: number;
}

export interface ObservationInfo {
  id: string;
  endpoint: string;
  paths: Lwm2mPath[];
  composite: boolean;
}

export interface Lwm2mObservation extends ObservationInfo {
  /** The first response's content (the current value when the observation was made). */
  readonly initial: NotificationEvent;
  /**
   * Cancel Observation (Core §6.4.2): the same request with Observe=1. The observation ends here
   * at once; the request to the device waits like any other for a sleeping queue-mode device
   * (`queueTimeoutMs`, default QueueOptions.maxWaitMs) and then fails with
   * ERR_LWM2M_REQUEST_EXPIRED — the device's next notification is then answered with Reset
   * (passive cancel, RFC 7641 §3.6).
   */
  cancel(options?: DeviceRequestOptions): Promise<void>;
}

export interface ObservationLimits {
  /** Most observations the server keeps per device (default 64). */
  maxPerDevice?: number;
}

interface Live {
  info: ObservationInfo;
  close: () => void;
}

class Lwm2mObservationLimitError extends Lwm2mServerError {
  constructor(endpoint: string, max: number) {
    super('ERR_LWM2M_TOO_MANY_OBSERVATIONS', `${JSON.stringify(endpoint)} already has ${max} observations`);
  }
}

function toResponse(msg: CoapMessage, payload: Uint8Array): CoapResponse {
  return {
    code: msg.code,
    codeText: codeToString(msg.code),
    payload,
    options: msg.options,
    contentFormat: getUintOption(msg.options, OptionNumber.ContentFormat),
    observe: getUintOption(msg.options, OptionNumber.Observe),
    message: msg,
  };
}

export class ObservationManager {
  readonly #channel: DeviceChannel;
  readonly #dm: DeviceManagement;
  readonly #emit: (n: NotificationEvent) => void;
  readonly #max: number;
  readonly #byEndpoint = new Map<string, Map<string, Live>>();

  constructor(channel: DeviceChannel, dm: DeviceManagement, emit: (n: NotificationEvent) => void, limits: ObservationLimits = {}) {
    this.#channel = channel;
    this.#dm = dm;
    this.#emit = emit;
    this.#max = limits.maxPerDevice ?? 64;
  }

  list(endpoint: string): ObservationInfo[] {
    return [...(this.#byEndpoint.get(endpoint)?.values() ?? [])].map((l) => l.info);
  }

  /**
   * Observe one path (Core §6.4.1): GET /path with Observe=0 and Accept. With `attributes`, a
   * Write-Attributes (pmin, pmax, gt, lt, st) on the same path goes first.
   */
  async observe(endpoint: string, pathInput: PathInput, options: FormatOptions & { onNotify?: (n: NotificationEvent) => void; attributes?: WriteAttributes } = {}): Promise<Lwm2mObservation> {
    const path = toPath(pathInput);
    if (options.attributes !== undefined) await this.#dm.writeAttributes(endpoint, path, options.attributes, options);
    return this.#start(endpoint, [path], false, options);
  }

  /** Observe-Composite (Core §6.4.3): FETCH / with the path list and Observe=0. */
  observeComposite(endpoint: string, paths: readonly PathInput[], options: FormatOptions & { onNotify?: (n: NotificationEvent) => void } = {}): Promise<Lwm2mObservation> {
    return this.#start(endpoint, paths.map(toPath), true, options);
  }

  #start(endpoint: string, paths: Lwm2mPath[], composite: boolean, options: FormatOptions & { onNotify?: (n: NotificationEvent) => void }): Promise<Lwm2mObservation> {
    const mine = this.#byEndpoint.get(endpoint);
    if ((mine?.size ?? 0) >= this.#max) return Promise.reject(new Lwm2mObservationLimitError(endpoint, this.#max));
    return this.#channel.run(endpoint, (t) => this.#open(t, endpoint, paths, composite, options), options);
  }

  #open(t: Target, endpoint: string, paths: Lwm2mPath[], composite: boolean, options: FormatOptions & { onNotify?: (n: NotificationEvent) => void }): Promise<Lwm2mObservation> {
    const format = options.format ?? this.#dm.preferredFormat(t.registration, composite);
    const id = randomBytes(8).toString('base64url');
    const info: ObservationInfo = { id, endpoint, paths, composite };
    const uriPath = composite ? t.rootPath : [...t.rootPath, ...pathIds(paths[0]!).map(String)];
    const base: CoapOption[] = uriPath.map((s) => stringOption(OptionNumber.UriPath, s));
    let payload: Uint8Array = new Uint8Array(0);
    if (composite) {
      payload = encodeComposite(format, paths.map((p) => ({ path: p })), this.#dm.codecOptions);
      base.push(uintOption(OptionNumber.ContentFormat, format));
    }
    base.push(uintOption(OptionNumber.Accept, format));
    const code = composite ? CoapCode.FETCH : CoapCode.GET;
    const peer = t.peer;
    const coap = t.coap;

    const toEvent = (res: CoapResponse): NotificationEvent => {
      if (composite) return { endpoint, observationId: id, entries: this.#dm.decodeEntries(res, format), format: res.contentFormat ?? format };
      const d = this.#dm.decode(res, paths[0]!, format);
      return { endpoint, observationId: id, path: paths[0]!, node: d.node, format: d.format };
    };
    // RFC 7959 §2.6: a notification that does not fit one block carries only the first; the rest
    // is fetched with ordinary requests for the same resource.
    const complete = async (msg: CoapMessage): Promise<CoapResponse> => {
      const b2 = getOption(msg.options, OptionNumber.Block2);
      if (b2 === undefined || !decodeBlock(b2).more) return toResponse(msg, msg.payload);
      return coap.request(peer, composite
        ? { method: 'FETCH', path: uriPath, payload, contentFormat: format, accept: format }
        : { method: 'GET', path: uriPath, accept: format });
    };

    return new Promise<Lwm2mObservation>((resolve, reject) => {
      let registered = false;
      let ended = false;
      let last = { seq: 0, at: 0 };
      const end = (): void => {
        if (ended) return;
        ended = true;
        handle.close();
        this.#byEndpoint.get(endpoint)?.delete(id);
        if (this.#byEndpoint.get(endpoint)?.size === 0) this.#byEndpoint.delete(endpoint);
      };
      const deliver = (res: CoapResponse): void => {
        let ev: NotificationEvent;
        try {
          ev = toEvent(res);
        } catch {
          // An undecodable notification is dropped; the relation stays (the next one may decode).
          return;
        }
        options.onNotify?.(ev);
        this.#emit(ev);
      };
      const handle = coap.exchange(peer, { code, options: [...base, uintOption(OptionNumber.Observe, 0)], payload }, {
        onResponse: (msg) => {
          const seq = getUintOption(msg.options, OptionNumber.Observe);
          const now = Date.now();
          if (!registered) {
            registered = true;
            const r0 = toResponse(msg, msg.payload);
            try {
              expectCode(r0, [CoapCode.Content], `Observe ${composite ? 'composite' : formatPath(paths[0]!)}`);
            } catch (err) {
              ended = true;
              reject(err);
              return false;
            }
            const active = seq !== undefined;
            if (active) {
              last = { seq, at: now };
              let mine = this.#byEndpoint.get(endpoint);
              if (mine === undefined) this.#byEndpoint.set(endpoint, (mine = new Map()));
              mine.set(id, { info, close: end });
            } else ended = true;
            complete(msg).then((full) => {
              const initial = toEvent(full);
              resolve({
                ...info,
                initial,
                cancel: async (cancelOptions: DeviceRequestOptions = {}) => {
                  if (ended) return;
                  end();
                  // Core §6.4.2 / RFC 7641 §3.6: the same request, same token, Observe=1 — sent
                  // when the device is reachable (queue mode: when it next wakes), where it is now.
                  await this.#channel.run(endpoint, (now) => new Promise<void>((done) => {
                    const h = now.coap.exchange(now.peer, { code, options: [...base, uintOption(OptionNumber.Observe, 1)], payload, token: handle.token }, {
                      onResponse: () => {
                        h.close();
                        done();
                        return false;
                      },
                      onError: () => done(),
                    });
                  }), cancelOptions);
                },
              });
            }, (err: unknown) => {
              end();
              reject(err);
            });
            return active;
          }
          if (ended) return false;
          // RFC 7641 §3.2: a response without Observe, or an error, ends the observation.
          if (seq === undefined || msg.code >> 5 !== 2) {
            end();
            return false;
          }
          // RFC 7641 §3.4: only a fresher notification updates the client.
          if (!isFresherNotification(last.seq, last.at, seq, now)) return true;
          last = { seq, at: now };
          const r = this.#channel.registrationOf(endpoint);
          if (r !== undefined) this.#channel.contact(r);
          complete(msg).then(deliver, () => undefined);
          return true;
        },
        onError: (err) => {
          if (!registered) reject(err);
          end();
        },
      });
    });
  }

  /** The registration ended: its observations end passively (later notifications get Reset). */
  forget(endpoint: string): void {
    const mine = this.#byEndpoint.get(endpoint);
    if (mine === undefined) return;
    for (const l of [...mine.values()]) l.close();
    this.#byEndpoint.delete(endpoint);
  }

  close(): void {
    for (const ep of [...this.#byEndpoint.keys()]) this.forget(ep);
  }
}
