/**
 * Attaches the campaign engine's delivery driver in `serve`: LwM2M pull (src/fota/drivers), the
 * package served at /fw/<token> on the CoAPs endpoint the LwM2M server runs on, with the same
 * DTLS identity resolver, so a token is only ever served to the session of the device it names.
 *
 * The Package URI written to /5/0/1 must be an address devices can reach. A wildcard bind
 * (0.0.0.0, ::) is not one; without `packageBaseUri` configured the loopback address is used and
 * a warning says so, because only devices on this host could then download anything.
 *
 * Shutdown is three steps, because a report lost in the gap between engine and driver is worse
 * than either alone: a device that rebooted into the new image while the engine was already
 * closed would have its version in the registry but its attempt still in flight, and be skipped
 * as "already current" instead of counted. So: (1) the gate refuses new attempts
 * (ERR_SERVER_SHUTTING_DOWN, audited; the engine retries them after the restart), (2) the driver
 * closes while the engine still takes its reports, (3) the engine closes; then, by the caller,
 * the LwM2M server.
 *
 * A device that rebooted while no driver was listening (server down) comes back with a
 * registration Update, not a Register, so the driver's re-registration check never sees it: for a
 * device with an attempt in flight, an Update also has its /3/0/3 read and given to the engine
 * (which only counts it when it is the campaign's target version).
 */
import type { Logger } from 'pino';
import { RootlineError } from '../errors.js';
import type { DeliveryDriver } from '../fota/campaign/index.js';
import { createLwm2mPullDriver, driverErrorChannel, type Lwm2mDeliveryDriver } from '../fota/drivers/index.js';
import { dtlsPeerIdentity } from '../lwm2m/server/index.js';
import type { Store } from '../store/types.js';
import type { CoapListener } from './coap-listeners.js';
import type { ServerConfig } from './config.js';
import type { FotaServices } from './fota-services.js';
import type { ListenerAddress } from './listeners.js';
import type { Lwm2mServices } from './lwm2m-service.js';

/** The server is stopping: no new delivery attempt is started. */
export class ServerShuttingDownError extends RootlineError {
  constructor() {
    super('ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down; the attempt is retried after the restart');
  }
}

/** Which delivery driver `serve` attaches; 'none' leaves the slot empty (tests attach their own). */
export type DeliveryDriverChoice = 'lwm2m-pull' | 'none';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '::0']);

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host);
}

/**
 * The Package URI base devices get: the configured one, else the CoAPs listener's bound address
 * (its real port, which differs from the setting when that is 0), loopback for a wildcard bind.
 */
export function resolvePackageBaseUri(config: Pick<ServerConfig, 'packageBaseUri' | 'deviceHost'>, coaps: Pick<ListenerAddress, 'port'>): { uri: string; source: 'config' | 'listener' | 'loopback-fallback' } {
  if (config.packageBaseUri !== undefined) return { uri: config.packageBaseUri, source: 'config' };
  if (isWildcardHost(config.deviceHost)) return { uri: `coaps://127.0.0.1:${coaps.port}`, source: 'loopback-fallback' };
  const host = config.deviceHost.includes(':') ? `[${config.deviceHost}]` : config.deviceHost;
  return { uri: `coaps://${host}:${coaps.port}`, source: 'listener' };
}

export interface AttachedDeliveryDriver {
  readonly driver: Lwm2mDeliveryDriver | undefined;
  readonly packageBaseUri: string | undefined;
  /** Refuses new attempts, closes the driver, then the engine. Idempotent. Call before the LwM2M server closes. */
  close(): Promise<void>;
}

export async function attachDeliveryDriver(o: {
  choice: DeliveryDriverChoice;
  config: Pick<ServerConfig, 'packageBaseUri' | 'deviceHost'>;
  coapsAddress: ListenerAddress | undefined;
  secure: CoapListener;
  lwm2m: Lwm2mServices;
  store: Store;
  fota: FotaServices;
  logger: Logger;
}): Promise<AttachedDeliveryDriver> {
  if (o.choice === 'none') return { driver: undefined, packageBaseUri: undefined, close: async () => undefined };
  const endpoint = o.secure.endpoint;
  const dtls = o.secure.dtls;
  if (endpoint === undefined || dtls === undefined || o.coapsAddress === undefined) throw new Error('the CoAPs listener must be started before the delivery driver');
  const log = o.logger.child({ room: 'fota-driver' });
  const { uri, source } = resolvePackageBaseUri(o.config, o.coapsAddress);
  if (source === 'loopback-fallback') {
    log.warn(
      { packageBaseUri: uri, deviceHost: o.config.deviceHost },
      `firmware packages are offered at ${uri} because the device host ${o.config.deviceHost} is a wildcard; ` +
        'only devices on this host can download them: set packageBaseUri (--package-base-uri, ROOTLINE_PACKAGE_BASE_URI) to an address devices reach',
    );
  }
  const driver = createLwm2mPullDriver({
    lwm2m: o.lwm2m.lwm2m,
    coap: endpoint,
    identityOf: dtlsPeerIdentity((peer) => dtls.getSession(peer)),
    store: o.store,
    firmware: o.fota.firmware,
    deltas: o.fota.deltas,
    reports: o.fota.engine,
    packageBaseUri: uri,
    // The LwM2M wiring (lwm2m-service.ts) does not record /3/0/3 in the registry: the driver does.
    updateRegistry: true,
  });
  let closingDown = false;
  const gate: DeliveryDriver = {
    async startUpdate(request) {
      if (closingDown) {
        await o.store.audit
          .append({ actor: 'system:fota-driver', action: 'fota.delivery.start', subject: request.endpoint, outcome: 'deny', details: { campaignId: request.campaignId, attempt: request.attempt, reason: 'ERR_SERVER_SHUTTING_DOWN' } })
          .catch((err: unknown) => log.error({ err }, 'audit append failed'));
        throw new ServerShuttingDownError();
      }
      return driver.startUpdate(request);
    },
    cancelUpdate: (request) => driver.cancelUpdate(request),
  };
  const lwm2mServer = o.lwm2m.lwm2m;
  const onUpdated = ({ registration }: { registration: { endpoint: string } }): void => void versionAfterUpdate(registration.endpoint);
  const versionAfterUpdate = async (endpoint: string): Promise<void> => {
    try {
      const rows = await o.store.campaigns.devicesByEndpoint(endpoint);
      if (!rows.some((r) => r.status === 'in-flight')) return;
      const node = (await lwm2mServer.read(endpoint, '/3/0/3')).node;
      if (closingDown || node.kind !== 'resource' || node.multiple || node.value.type !== 'string') return;
      const version = node.value.value;
      const applied = await o.fota.engine.onDeviceVersion(endpoint, version);
      if (applied.length === 0) return;
      // As the driver does after a re-registration: the registry follows what the device reports.
      const device = await o.store.devices.get(endpoint);
      if (device !== undefined && device.firmwareVersion !== version) await o.store.devices.update(endpoint, { firmwareVersion: version });
      log.info({ endpoint, version, campaigns: applied }, 'firmware version read after a registration update applied to in-flight attempts');
    } catch (err) {
      log.warn({ err, endpoint }, 'reading the firmware version after a registration update failed');
    }
  };
  const onDriverError = (message: unknown): void => {
    const m = (message ?? {}) as { error?: unknown; endpoint?: string; action?: string; subject?: string };
    log.warn({ err: m.error, endpoint: m.endpoint, action: m.action, subject: m.subject }, 'delivery driver: a report, device request or audit record failed');
  };
  driverErrorChannel.subscribe(onDriverError);
  try {
    await o.store.audit.append({ actor: 'system', action: 'fota.driver.attach', subject: 'lwm2m-pull', outcome: 'success', details: { packageBaseUri: uri, source } });
    o.fota.setDeliveryDriver(gate);
    lwm2mServer.on('updated', onUpdated);
  } catch (err) {
    driverErrorChannel.unsubscribe(onDriverError);
    await driver.close();
    throw err;
  }
  log.info({ packageBaseUri: uri, source }, 'LwM2M pull delivery driver attached');

  let closing: Promise<void> | undefined;
  return {
    driver,
    packageBaseUri: uri,
    close() {
      closing ??= (async () => {
        closingDown = true;
        lwm2mServer.off('updated', onUpdated);
        try {
          await driver.close();
        } finally {
          await o.fota.engine.close();
          driverErrorChannel.unsubscribe(onDriverError);
        }
      })();
      return closing;
    },
  };
}
