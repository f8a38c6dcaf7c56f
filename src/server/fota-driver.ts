/**
 * Attaches the campaign engine's delivery driver in `serve`: one LwM2M driver (src/fota/drivers)
 * offering LwM2M pull (the package at /fw/<token> on the CoAPs endpoint the LwM2M server runs
 * on, with the same DTLS identity resolver, so a token is only ever served to the session of the
 * device it names), LwM2M push (Block1 write of /5/0/0) and, when the HTTPS package listener is
 * configured (fotaHttpsPort), HTTPS pull. A campaign picks one with its `delivery` field; without
 * one the serve setting fotaDelivery applies (default lwm2m-pull).
 *
 * HTTPS pull: node:tls asks for a PSK synchronously, but device keys are sealed in the store and
 * open asynchronously. So the listener serves TLS-PSK from an in-memory cache that holds a
 * device's unsealed key only while an HTTPS-pull attempt of that device is open (granted when
 * the attempt starts or is adopted after a restart, revoked when it ends, expiring with the
 * token): the device authenticates with the credential its LwM2M account already uses, the
 * listener needs no certificate the device would have to trust, and an identity with no open
 * attempt cannot complete a handshake at all (refusals audited, rate-limited).
 *
 * The Package URI written to /5/0/1 must be an address devices can reach. A wildcard bind
 * (0.0.0.0, ::) is not one; without `packageBaseUri` (or `fotaHttpsBaseUri`) configured the
 * loopback address is used and a warning says so, because only devices on this host could then
 * download anything.
 *
 * Shutdown is three steps, because a report lost in the gap between engine and driver is worse
 * than either alone: (1) the gate refuses new attempts (canDeliver false, so the engine records
 * none; a start already under way gets ERR_SERVER_SHUTTING_DOWN, audited, and is retried after
 * the restart), (2) the driver and the HTTPS listener close while the engine still takes their
 * reports, (3) the engine closes; then, by the caller, the LwM2M server.
 *
 * After a restart, devices come back with a registration Update (or a Register after a reboot):
 * the driver adopts the attempt the store still has in flight for them and continues it from
 * the device's Object 5 (see src/fota/drivers/README.md). Until a device has talked to this
 * server again it has no DTLS session here, so the engine does not start attempts on it.
 */
import type { Logger } from 'pino';
import { RootlineError } from '../errors.js';
import type { DeliveryDriver } from '../fota/campaign/index.js';
import { HttpsPskCache, Lwm2mDeliveryDriver, driverDeliveryOf, driverErrorChannel, startHttpsPackageServer, type DriverDelivery, type HttpsPackageServer } from '../fota/drivers/index.js';
import { dtlsPeerIdentity } from '../lwm2m/server/index.js';
import type { Store } from '../store/types.js';
import type { CoapListener } from './coap-listeners.js';
import type { ServerConfig } from './config.js';
import type { CredentialSealer } from './credential-seal.js';
import type { FotaServices } from './fota-services.js';
import type { ListenerAddress } from './listeners.js';
import type { Lwm2mServices } from './lwm2m-service.js';

/** The server is stopping: no new delivery attempt is started. */
export class ServerShuttingDownError extends RootlineError {
  constructor() {
    super('ERR_SERVER_SHUTTING_DOWN', 'the server is shutting down; the attempt is retried after the restart');
  }
}

/** HTTPS pull is configured but the server was given no credential sealer to open device PSKs with. */
export class FotaHttpsSetupError extends RootlineError {
  constructor(message: string) {
    super('ERR_FOTA_HTTPS_SETUP', message);
  }
}

/**
 * Which delivery driver `serve` attaches: 'lwm2m-pull' attaches the LwM2M driver with every
 * configured method (the name is historical; the default method is the fotaDelivery setting);
 * 'none' leaves the slot empty (tests attach their own).
 */
export type DeliveryDriverChoice = 'lwm2m-pull' | 'none';

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '::0']);

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(host);
}

function baseUri(scheme: 'coaps' | 'https', configured: string | undefined, deviceHost: string, port: number): { uri: string; source: 'config' | 'listener' | 'loopback-fallback' } {
  if (configured !== undefined) return { uri: configured, source: 'config' };
  if (isWildcardHost(deviceHost)) return { uri: `${scheme}://127.0.0.1:${port}`, source: 'loopback-fallback' };
  const host = deviceHost.includes(':') ? `[${deviceHost}]` : deviceHost;
  return { uri: `${scheme}://${host}:${port}`, source: 'listener' };
}

/**
 * The Package URI base devices get: the configured one, else the CoAPs listener's bound address
 * (its real port, which differs from the setting when that is 0), loopback for a wildcard bind.
 */
export function resolvePackageBaseUri(config: Pick<ServerConfig, 'packageBaseUri' | 'deviceHost'>, coaps: Pick<ListenerAddress, 'port'>): { uri: string; source: 'config' | 'listener' | 'loopback-fallback' } {
  return baseUri('coaps', config.packageBaseUri, config.deviceHost, coaps.port);
}

/** The same for the HTTPS package listener (setting fotaHttpsBaseUri). */
export function resolveHttpsBaseUri(config: Pick<ServerConfig, 'fotaHttpsBaseUri' | 'deviceHost'>, https: { port: number }): { uri: string; source: 'config' | 'listener' | 'loopback-fallback' } {
  return baseUri('https', config.fotaHttpsBaseUri, config.deviceHost, https.port);
}

export interface AttachedDeliveryDriver {
  readonly driver: Lwm2mDeliveryDriver | undefined;
  readonly packageBaseUri: string | undefined;
  /** The HTTPS package listener's base URI (what devices are told), when it runs. */
  readonly httpsBaseUri: string | undefined;
  /** Refuses new attempts, closes the driver and the HTTPS listener, then the engine. Idempotent. Call before the LwM2M server closes. */
  close(): Promise<void>;
}

type DeliveryConfig = Pick<ServerConfig, 'packageBaseUri' | 'deviceHost'> & Partial<Pick<ServerConfig, 'fotaDelivery' | 'fotaHttpsPort' | 'fotaHttpsBaseUri'>>;

export async function attachDeliveryDriver(o: {
  choice: DeliveryDriverChoice;
  config: DeliveryConfig;
  coapsAddress: ListenerAddress | undefined;
  secure: CoapListener;
  lwm2m: Lwm2mServices;
  store: Store;
  fota: FotaServices;
  logger: Logger;
  /** Opens device PSKs for the HTTPS package listener; required when fotaHttpsPort is set. */
  sealer?: CredentialSealer;
}): Promise<AttachedDeliveryDriver> {
  if (o.choice === 'none') return { driver: undefined, packageBaseUri: undefined, httpsBaseUri: undefined, close: async () => undefined };
  const endpoint = o.secure.endpoint;
  const dtls = o.secure.dtls;
  if (endpoint === undefined || dtls === undefined || o.coapsAddress === undefined) throw new Error('the CoAPs listener must be started before the delivery driver');
  const log = o.logger.child({ room: 'fota-driver' });
  const warnLoopback = (uri: string, setting: string): void =>
    log.warn(
      { uri, deviceHost: o.config.deviceHost },
      `firmware packages are offered at ${uri} because the device host ${o.config.deviceHost} is a wildcard; ` +
        `only devices on this host can download them: set ${setting} to an address devices reach`,
    );
  const { uri, source } = resolvePackageBaseUri(o.config, o.coapsAddress);
  if (source === 'loopback-fallback') warnLoopback(uri, 'packageBaseUri (--package-base-uri, ROOTLINE_PACKAGE_BASE_URI)');
  const defaultMethod: DriverDelivery = driverDeliveryOf(o.config.fotaDelivery ?? 'lwm2m-pull');

  // HTTPS pull: the TLS-PSK listener and its key cache, only when configured.
  let https: HttpsPackageServer | undefined;
  let cache: HttpsPskCache | undefined;
  let httpsBase: { uri: string; source: string } | undefined;
  let driver: Lwm2mDeliveryDriver | undefined;
  if (o.config.fotaHttpsPort !== undefined) {
    const sealer = o.sealer;
    if (sealer === undefined) throw new FotaHttpsSetupError('the HTTPS package listener needs the credential sealer to open device PSKs');
    cache = new HttpsPskCache({
      loadPsks: async (ep) => {
        const psks = (await o.store.devices.credentials(ep)).filter((c) => c.kind === 'psk');
        return Promise.all(psks.map(async (c) => ({ identity: c.lookup, key: await sealer.unseal(ep, c.lookup, c.material) })));
      },
    });
    const keys = cache;
    https = await startHttpsPackageServer({
      driver: {
        authorizeFetch: async (token, requester) => (driver === undefined ? 'not-found' : driver.authorizeFetch(token, requester)),
      },
      store: o.store,
      pskLookup: (identity) => keys.lookup(identity),
      host: o.config.deviceHost,
      port: o.config.fotaHttpsPort,
    });
    httpsBase = resolveHttpsBaseUri(o.config, https);
    if (httpsBase.source === 'loopback-fallback') warnLoopback(httpsBase.uri, 'fotaHttpsBaseUri (--fota-https-base-uri, ROOTLINE_FOTA_HTTPS_BASE_URI)');
  } else if (defaultMethod === 'https-pull') {
    throw new FotaHttpsSetupError('fotaDelivery https-pull needs the HTTPS package listener (fotaHttpsPort)');
  }
  const methods: DriverDelivery[] = ['pull', 'push', ...(https !== undefined ? (['https-pull'] as const) : [])];
  try {
    driver = new Lwm2mDeliveryDriver({
      lwm2m: o.lwm2m.lwm2m,
      coap: endpoint,
      identityOf: dtlsPeerIdentity((peer) => dtls.getSession(peer)),
      store: o.store,
      firmware: o.fota.firmware,
      deltas: o.fota.deltas,
      reports: o.fota.engine,
      packageBaseUri: uri,
      delivery: defaultMethod,
      methods,
      ...(httpsBase !== undefined && cache !== undefined ? { httpsBaseUri: httpsBase.uri, httpsAccess: cache } : {}),
      // The LwM2M wiring (lwm2m-service.ts) does not record /3/0/3 in the registry: the driver does.
      updateRegistry: true,
    });
  } catch (err) {
    await https?.close();
    throw err;
  }
  const lwm2mDriver = driver;
  let closingDown = false;
  const gate: DeliveryDriver = {
    async startUpdate(request) {
      if (closingDown) {
        await o.store.audit
          .append({ actor: 'system:fota-driver', action: 'fota.delivery.start', subject: request.endpoint, outcome: 'deny', details: { campaignId: request.campaignId, attempt: request.attempt, reason: 'ERR_SERVER_SHUTTING_DOWN' } })
          .catch((err: unknown) => log.error({ err }, 'audit append failed'));
        throw new ServerShuttingDownError();
      }
      return lwm2mDriver.startUpdate(request);
    },
    cancelUpdate: (request) => lwm2mDriver.cancelUpdate(request),
    canDeliver: async (ep) => !closingDown && lwm2mDriver.canDeliver(ep),
  };
  const onDriverError = (message: unknown): void => {
    const m = (message ?? {}) as { error?: unknown; endpoint?: string; action?: string; subject?: string };
    log.warn({ err: m.error, endpoint: m.endpoint, action: m.action, subject: m.subject }, 'delivery driver: a report, device request or audit record failed');
  };
  driverErrorChannel.subscribe(onDriverError);
  const attachDetails = { packageBaseUri: uri, source, defaultMethod: lwm2mDriver.methods[0], methods: lwm2mDriver.methods, ...(httpsBase !== undefined ? { httpsBaseUri: httpsBase.uri, httpsSource: httpsBase.source, httpsPort: https!.port } : {}) };
  try {
    await o.store.audit.append({ actor: 'system', action: 'fota.driver.attach', subject: 'lwm2m', outcome: 'success', details: attachDetails });
    o.fota.setDeliveryDriver(gate, { methods: lwm2mDriver.methods });
  } catch (err) {
    driverErrorChannel.unsubscribe(onDriverError);
    await lwm2mDriver.close();
    await https?.close();
    throw err;
  }
  log.info(attachDetails, `delivery driver attached (default ${attachDetails.defaultMethod}; offered ${attachDetails.methods.join(', ')})`);
  if (https !== undefined) log.info({ port: https.port, httpsBaseUri: httpsBase!.uri }, `HTTPS package listener on port ${https.port}`);

  let closing: Promise<void> | undefined;
  return {
    driver: lwm2mDriver,
    packageBaseUri: uri,
    httpsBaseUri: httpsBase?.uri,
    close() {
      closing ??= (async () => {
        closingDown = true;
        try {
          // The CoAPs endpoint closes right after (server.ts): downloads under way keep their
          // link until then, and resume against the restarted server.
          await lwm2mDriver.close({ keepServing: true });
          await https?.close();
          cache?.clear();
        } finally {
          await o.fota.engine.close();
          driverErrorChannel.unsubscribe(onDriverError);
        }
      })();
      return closing;
    },
  };
}
