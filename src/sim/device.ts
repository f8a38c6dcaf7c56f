/**
 * One simulated device: an SDK client (src/client) with its own UDP socket, DTLS-PSK session and
 * credentials, a Device object carrying the fleet's model and firmware version, and the probes
 * the fleet summary needs. The SDK offers no hooks for "session established" or "notification
 * sent", so both are observed from the outside, each with the reason below.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { addConnectivityInstance, addDeviceInstance, addServerAccount, FirmwareUpdateObject, Lwm2mClient, ObjectTree, type Requester, type ResourceValue } from '../client/index.js';
import type { Lwm2mNode } from '../lwm2m/model/node.js';
import { lwm2mValue } from '../lwm2m/model/node.js';
import type { Lwm2mPath } from '../lwm2m/model/path.js';
import type { ObjectRegistry } from '../lwm2m/model/registry.js';
import type { SimCredential } from './credentials.js';
import type { FleetCounters } from './stats.js';

/**
 * Marks work started by the fleet's clock tick. A server-role read that runs in this context
 * (synchronously inside the tick, or from a pmin timer the tick armed) is a notification; any
 * other server-role read answers a Read or an Observe registration. AsyncLocalStorage follows
 * timers and promises, which is what tells a deferred notification from a request.
 */
export const notifyContext = new AsyncLocalStorage<true>();

/** The device's tree, counting what it sends to the server into the fleet counters. */
class CountingTree extends ObjectTree {
  counters: FleetCounters | undefined;
  /** The firmware side (firmware.ts) hears of device-side Object 5 and /3/0/3 changes. */
  onFirmwareSet: ((objectId: number, resourceId: number) => void) | undefined;
  /** Told of every server-role read outside the clock tick (the fleet's clock watches such devices). */
  onServerRead: (() => void) | undefined;

  override set(objectId: number, instanceId: number, resourceId: number, value: ResourceValue): void {
    super.set(objectId, instanceId, resourceId, value);
    if (this.onFirmwareSet !== undefined && (objectId === 5 || (objectId === 3 && resourceId === 3))) this.onFirmwareSet(objectId, resourceId);
  }

  override read(path: Lwm2mPath, who: Requester): Lwm2mNode {
    // Before the read, so a refused one counts too: whatever the server asks may come with an
    // Observe (or be part of an Observe-Composite), and the clock must then tick this device.
    if (who === 'server' && this.onServerRead !== undefined && notifyContext.getStore() !== true) this.onServerRead();
    const node = super.read(path, who);
    // Only successful server reads leave the device; refusals throw above and are not counted.
    if (who === 'server' && this.counters !== undefined) {
      if (notifyContext.getStore() === true) this.counters.notificationsSent++;
      else this.counters.readsAnswered++;
    }
    return node;
  }
}

export interface SimDeviceOptions {
  credential: SimCredential;
  /** coaps:// URI of the LwM2M server. */
  server: string;
  registry: ObjectRegistry;
  counters: FleetCounters;
  manufacturer: string;
  model: string;
  firmwareVersion: string;
  /** Registration lifetime (s); the SDK sends an Update at 90 % of it. */
  lifetime: number;
  /** Called on every server-role read outside the clock tick (Read, Observe, Read-/Observe-Composite). */
  onServerRead?: () => void;
  coap?: { ackTimeoutMs: number; maxRetransmit: number };
  dtlsRetransmit?: { initialMs: number; maxRetransmissions: number };
}

export class SimulatedDevice extends Lwm2mClient {
  readonly #counters: FleetCounters;
  readonly #tree: CountingTree;
  #sessionUpAt = 0;
  #startedAt = 0;
  #closed = false;
  /** Object 5 (states and result codes); a FleetFirmware (firmware.ts) attaches the SDK's updater to it. */
  readonly firmwareUpdate: FirmwareUpdateObject;

  constructor(o: SimDeviceOptions) {
    const tree = new CountingTree(o.registry);
    tree.defineObject(0);
    tree.defineObject(1);
    addDeviceInstance(tree, {
      manufacturer: o.manufacturer,
      modelNumber: o.model,
      serialNumber: o.credential.endpoint,
      firmwareVersion: o.firmwareVersion,
      supportedBindings: 'U',
      batteryLevel: 100,
    });
    addConnectivityInstance(tree);
    const firmwareUpdate = new FirmwareUpdateObject(tree);
    addServerAccount(tree, { uri: o.server, security: { mode: 'psk', identity: o.credential.identity, key: o.credential.key }, lifetime: o.lifetime });
    super({
      endpointName: o.credential.endpoint,
      tree,
      ...(o.coap !== undefined ? { coap: { transmission: o.coap } } : {}),
      ...(o.dtlsRetransmit !== undefined ? { dtlsRetransmit: o.dtlsRetransmit } : {}),
    });
    this.firmwareUpdate = firmwareUpdate;
    this.#tree = tree;
    tree.counters = o.counters;
    tree.onServerRead = o.onServerRead;
    this.#counters = o.counters;
    this.on('updated', () => this.#counters.updates++);
    // Failed periodic Updates: the SDK retries them itself; the fleet only counts them.
    this.on('error', () => this.#counters.updateErrors++);
  }

  /**
   * The SDK builds the Register payload right after its DTLS session is up and right before the
   * Register goes out, so the first call after start() marks the end of the handshake.
   */
  override registrationLinks(): string {
    if (this.#sessionUpAt === 0 && this.#startedAt !== 0) this.#sessionUpAt = performance.now();
    return super.registrationLinks();
  }

  /** Handshake + Register; records both durations on success. */
  async run(): Promise<void> {
    this.#startedAt = performance.now();
    this.#sessionUpAt = 0;
    await this.start();
    const done = performance.now();
    this.#counters.handshakeMs.push(this.#sessionUpAt - this.#startedAt);
    this.#counters.registrationMs.push(done - this.#startedAt);
  }

  /** Set by FleetFirmware: told of device-side Object 5 and /3/0/3 changes. */
  get onFirmwareSet(): CountingTree['onFirmwareSet'] {
    return this.#tree.onFirmwareSet;
  }

  set onFirmwareSet(hook: CountingTree['onFirmwareSet']) {
    this.#tree.onFirmwareSet = hook;
  }

  /** True once close() was called: a firmware reboot in flight does not bring the device back. */
  get closed(): boolean {
    return this.#closed;
  }

  override async close(): Promise<void> {
    this.#closed = true;
    await super.close();
  }

  /** What a device's real-time clock does every second: /3/0/13 moves on, so observers hear of it. */
  tickClock(nowSeconds: number): void {
    this.tree.set(3, 0, 13, lwm2mValue.time(nowSeconds));
  }
}

/** A failure's reason for the summary: the typed code, with the CoAP answer when there was one. */
export function failureReason(err: unknown): string {
  const e = err as { code?: unknown; coapCode?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'unknown';
  if (typeof e?.coapCode === 'number') return `${code} ${e.coapCode >> 5}.${String(e.coapCode & 31).padStart(2, '0')}`;
  return code;
}
