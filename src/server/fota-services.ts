/**
 * Wires the firmware room into `serve`: the firmware service (blobs under <data>/firmware, the
 * signing key in the KeyStore), the delta cache, and the campaign engine on the store's
 * repositories, with its events forwarded to the API's event feed.
 *
 * Delivery is pluggable: the LwM2M delivery driver lives in another room and attaches itself
 * with setDeliveryDriver(). Until one is attached the engine does not tick at all, and starting
 * or resuming a campaign is refused (ERR_CAMPAIGN_NO_DRIVER): a tick without a driver would
 * fail every attempt as a delivery error and burn the devices' retries for nothing. Creating,
 * listing, approving, pausing and cancelling work without one, since they only touch the store.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CampaignOperations } from '../api/campaign-routes.js';
import type { EventHub } from '../api/events-hub.js';
import type { KeyStore } from '../crypto/keystore/types.js';
import { InvalidArgumentError, RootlineError } from '../errors.js';
import { CampaignEngine, CampaignSpecError, DELIVERY_METHODS, isDeliveryMethod, validateCampaignSpec, type CampaignView, type DeliveryDriver, type DeliveryMethod, type UpdateRequest } from '../fota/campaign/index.js';
import { createDeltaCache, createFirmwareService, type DeltaCache, type FirmwareService } from '../fota/firmware/index.js';
import type { CampaignState } from '../store/campaign-types.js';
import type { Store } from '../store/types.js';

/** No delivery driver is attached yet, so nothing can be delivered to devices. */
export class CampaignNoDriverError extends RootlineError {
  constructor(action: string) {
    super('ERR_CAMPAIGN_NO_DRIVER', `cannot ${action} the campaign: no delivery driver is attached to this server yet (the LwM2M delivery driver attaches it)`);
  }
}

export interface FotaOptions {
  /** Milliseconds between campaign engine ticks once a driver is attached. Default 1000. */
  campaignTickMs?: number;
  /** Largest firmware image accepted, bytes. Default 64 MiB. */
  maxFirmwareBytes?: number;
}

export interface FotaServices {
  readonly firmware: FirmwareService;
  readonly deltas: DeltaCache;
  readonly engine: CampaignEngine;
  /** The engine's operator commands as the API uses them, start/resume guarded by the driver check. */
  readonly campaigns: CampaignOperations;
  /**
   * Attaches the delivery driver (once) and starts the engine's tick loop. `methods`: the
   * delivery methods it offers, default first; campaigns naming another are refused (400
   * ERR_CAMPAIGN_INVALID_SPEC on field `delivery`) at create, start and resume. Absent: any.
   */
  setDeliveryDriver(driver: DeliveryDriver, options?: { methods?: readonly DeliveryMethod[] }): void;
  /** The delivery methods the attached driver offers (default first); [] before one is attached. */
  readonly deliveryMethods: readonly DeliveryMethod[];
  readonly hasDeliveryDriver: boolean;
  close(): Promise<void>;
}

const ACTIVE: CampaignState[] = ['draft', 'approved', 'running', 'paused'];

/** True while an unfinished campaign targets the image: deleting it would strand that campaign. */
async function targetedByActiveCampaign(store: Store, firmwareId: string): Promise<boolean> {
  let after: string | undefined;
  for (;;) {
    const page = await store.campaigns.list({ state: ACTIVE, limit: 500, ...(after !== undefined ? { after } : {}) });
    if (page.some((c) => c.firmwareId === firmwareId)) return true;
    if (page.length < 500) return false;
    after = page[page.length - 1]!.id;
  }
}

export async function startFotaServices(deps: { store: Store; keystore: KeyStore; dataDir: string; events: EventHub; logger: Logger; options?: FotaOptions }): Promise<FotaServices> {
  const { store, events, logger } = deps;
  const tickMs = deps.options?.campaignTickMs ?? 1000;
  const firmware = await createFirmwareService({
    store,
    keyStore: deps.keystore,
    blobDirectory: join(deps.dataDir, 'firmware'),
    ...(deps.options?.maxFirmwareBytes !== undefined ? { maxImageSize: deps.options.maxFirmwareBytes } : {}),
    isReferenced: (image) => targetedByActiveCampaign(store, image.id),
  });
  const deltas = createDeltaCache(firmware);

  let attached: DeliveryDriver | undefined;
  let offered: readonly DeliveryMethod[] | undefined;
  /** A campaign must ask for a method the attached driver offers (null: its default). */
  const checkDelivery = (delivery: DeliveryMethod | null | undefined): void => {
    if (offered === undefined || delivery === null || delivery === undefined || offered.includes(delivery)) return;
    throw new CampaignSpecError('delivery', `${delivery} is not offered by this server (offered: ${offered.join(', ')}); see the serve settings fotaDelivery and fotaHttpsPort`);
  };
  const deliveryOf = (view: CampaignView): DeliveryMethod | null => view.spec.delivery ?? null;
  // The engine holds this forwarder from the start; the real driver arrives later.
  const driver: DeliveryDriver = {
    startUpdate(request: UpdateRequest) {
      if (attached === undefined) return Promise.reject(new CampaignNoDriverError('deliver'));
      return attached.startUpdate(request);
    },
    async canDeliver(endpoint) {
      if (attached === undefined) return false;
      return attached.canDeliver === undefined ? true : attached.canDeliver(endpoint);
    },
    async cancelUpdate(request) {
      await attached?.cancelUpdate?.(request);
    },
  };
  const engine = new CampaignEngine({ store, driver, firmware: deltas });
  engine.on('event', (e) => {
    try {
      events.publish('campaign', e.type, { campaignId: e.campaignId, endpoint: e.endpoint, details: e.details });
    } catch (err) {
      logger.error({ err, type: e.type }, 'publishing a campaign event failed');
    }
  });
  engine.on('tickError', (err) => logger.error({ err }, 'campaign engine tick failed'));

  // Devices added through the API join running campaigns whose filter they match.
  const unsubscribe = events.subscribe((e) => {
    if (e.topic !== 'device' || e.type !== 'device.created' || typeof e.data.endpoint !== 'string') return;
    engine.onDeviceMatched(e.data.endpoint).catch((err: unknown) => logger.error({ err, endpoint: e.data.endpoint }, 'joining a new device to running campaigns failed'));
  });

  /** Deltas from the versions the devices run are built in the background as soon as a campaign starts. */
  const prepareDeltas = async (campaignId: string, firmwareId: string): Promise<void> => {
    const from = new Set<string>();
    let after: number | undefined;
    for (;;) {
      const page = await engine.devices(campaignId, { limit: 1000, ...(after !== undefined ? { after } : {}) });
      for (const d of page) if (d.fromVersion !== null) from.add(d.fromVersion);
      if (page.length < 1000) break;
      after = page[page.length - 1]!.position;
    }
    await deltas.prepare(firmwareId, [...from]);
  };

  const campaigns: CampaignOperations = {
    create(input, o) {
      // The engine validates the whole spec again; here only the method matters.
      checkDelivery(validateCampaignSpec(input).spec.delivery);
      return engine.create(input, o);
    },
    get: (id) => engine.get(id),
    list: (o) => engine.list(o),
    devices: (id, q) => engine.devices(id, q),
    approve: (id, o) => engine.approve(id, o),
    async start(id, o) {
      if (attached === undefined) {
        await engine.get(id); // an unknown id is still a 404, not a 409
        throw new CampaignNoDriverError('start');
      }
      checkDelivery(deliveryOf(await engine.get(id)));
      const view = await engine.start(id, o);
      prepareDeltas(view.id, view.firmwareId).catch((err: unknown) => logger.warn({ err, campaignId: view.id }, 'preparing delta packages failed; full images will be served'));
      return view;
    },
    pause: (id, o) => engine.pause(id, o),
    async resume(id, o) {
      if (attached === undefined) {
        await engine.get(id);
        throw new CampaignNoDriverError('resume');
      }
      checkDelivery(deliveryOf(await engine.get(id)));
      return engine.resume(id, o);
    },
    cancel: (id, o) => engine.cancel(id, o),
  };

  return {
    firmware,
    deltas,
    engine,
    campaigns,
    get hasDeliveryDriver() {
      return attached !== undefined;
    },
    get deliveryMethods() {
      return offered ?? [];
    },
    setDeliveryDriver(d, options = {}) {
      if (typeof d !== 'object' || d === null || typeof d.startUpdate !== 'function') throw new InvalidArgumentError('driver', 'expected a DeliveryDriver (startUpdate)');
      if (attached !== undefined) throw new InvalidArgumentError('driver', 'a delivery driver is already attached');
      const methods = options.methods;
      if (methods !== undefined && (!Array.isArray(methods) || methods.length === 0 || methods.some((m) => !isDeliveryMethod(m)))) {
        throw new InvalidArgumentError('options.methods', `expected a non-empty list of ${DELIVERY_METHODS.join(', ')}`);
      }
      attached = d;
      offered = methods === undefined ? undefined : [...methods];
      engine.run({ intervalMs: tickMs });
      logger.info({ tickMs }, 'delivery driver attached; campaign engine running');
    },
    async close() {
      unsubscribe();
      await engine.close();
    },
  };
}
