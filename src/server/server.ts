/**
 * The composition root: the one place that picks implementations (SQLite or PostgreSQL store,
 * software KeyStore), wires them into services and the HTTP API, and starts the listeners.
 * `rootline serve` calls startServer(); tests call it directly on ports 0.
 *
 * Start-up order is chosen so a failure leaves nothing behind: data dir, master key, key store,
 * store, sealing key, API, listeners; whatever was opened is closed again if a later step fails.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { buildApi } from '../api/app.js';
import { EventHub, type EventHubOptions, type EventPublisher } from '../api/events-hub.js';
import type { DeliveryDriver } from '../fota/campaign/index.js';
import { KEYSTORE_FILE_NAME, loadMasterKey, openSoftwareKeyStore } from '../crypto/keystore/index.js';
import type { KeyStore } from '../crypto/keystore/types.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import type { ConfigKey, ServerConfig } from './config.js';
import { coapsListener, noSecCoapListener, type CoapListener, type CoapsDtlsLimits } from './coap-listeners.js';
import { ensureCoapsIdentity } from './coaps-identity.js';
import { CredentialSealer } from './credential-seal.js';
import { forwardDiagnostics } from './diagnostics.js';
import { startFotaServices, type FotaOptions, type FotaServices } from './fota-services.js';
import { DataDirectoryError, type ConfigSource } from './errors.js';
import { HandshakeAuditor, type HandshakeAuditOptions } from './handshake-audit.js';
import { ListenerRegistry, type ListenerAddress } from './listeners.js';
import { BootstrapSecrets } from './lwm2m-bootstrap-secrets.js';
import { Lwm2mGatewayService } from './lwm2m-gateway.js';
import { startLwm2mServices, type Lwm2mServices, type Lwm2mTuning } from './lwm2m-service.js';
import { attachDeliveryDriver, type DeliveryDriverChoice } from './fota-driver.js';
import { createLogger, redactStoreUrl } from './logger.js';
import { coapsTarget, startOnboardingServices, type OnboardingServices } from './onboarding-services.js';
import { packageVersion } from './version.js';

/** Environment variable holding the master key (hex or base64), preferred over the key file. */
export const MASTER_KEY_ENV = 'ROOTLINE_MASTER_KEY';

export interface StartServerOptions {
  logger?: Logger;
  /** Where each setting came from; an explicitly configured master key file must exist. */
  sources?: Partial<Record<ConfigKey, ConfigSource>>;
  /** Name of the master key environment variable (default ROOTLINE_MASTER_KEY). */
  masterKeyEnv?: string;
  /** DTLS limits of the CoAPs listener (tests shorten the handshake timeout). */
  coapsDtls?: CoapsDtlsLimits;
  /** Rate limits of the DTLS handshake audit records. */
  handshakeAudit?: Pick<HandshakeAuditOptions, 'windowMs' | 'maxRecordsPerWindow' | 'maxTracked'>;
  /** Campaign engine tick interval and firmware upload limit; override the config's values (tests). */
  fota?: FotaOptions;
  /** Ring size, stream cap and heartbeat of GET /api/v1/events. */
  events?: EventHubOptions;
  /** LwM2M queue-mode and expiry settings (tests shorten the awake window). */
  lwm2m?: Lwm2mTuning;
  /** The campaign delivery driver attached at start (default 'lwm2m-pull'; 'none': attach one with setDeliveryDriver). */
  deliveryDriver?: DeliveryDriverChoice;
}

export interface RunningServer {
  readonly config: ServerConfig;
  /** Bound addresses by listener name ('http', and later 'coap', 'coaps', 'est'). */
  readonly addresses: Readonly<Record<string, ListenerAddress>>;
  readonly listeners: ListenerRegistry;
  /** The device-facing CoAP endpoints, for rooms that add resources (LwM2M, bootstrap, firmware). */
  readonly coap: { readonly noSec: CoapListener; readonly secure: CoapListener };
  readonly store: Store;
  readonly keystore: KeyStore;
  readonly logger: Logger;
  /** Firmware service, delta cache and campaign engine. */
  readonly fota: FotaServices;
  /** The live event feed (GET /api/v1/events): rooms publish device and protocol events here. */
  readonly events: EventPublisher;
  /** The LwM2M server (CoAPs and NoSec CoAP) and the bootstrap server (CoAPs). */
  readonly lwm2m: Lwm2mServices;
  /** The BRSKI registrar (and MASA) behind the 'est' listener; absent when onboarding is not configured. */
  readonly onboarding: OnboardingServices | undefined;
  /** Attaches the campaign delivery driver (LwM2M) once; until then campaigns cannot start. */
  setDeliveryDriver(driver: DeliveryDriver): void;
  /** Stops the listeners, then closes the store and the key store. Idempotent. */
  close(): Promise<void>;
}

function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new DataDirectoryError(`cannot create data directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (!statSync(dir).isDirectory()) throw new DataDirectoryError(`data directory ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.R_OK);
  } catch (err) {
    throw new DataDirectoryError(`data directory ${dir} is not readable and writable by this user`, { cause: err });
  }
}

/**
 * The master key: from the environment variable, else from the key file. On a brand-new data dir
 * (no key store yet) with neither, one is generated into the key file so a first `rootline serve`
 * just works, and the operator is told to move it out of the data dir. An existing key store with
 * no key available is left to openSoftwareKeyStore, which refuses with its own clear error.
 */
function resolveMasterKey(config: ServerConfig, options: StartServerOptions, logger: Logger): { key: Uint8Array | undefined; generated: boolean } {
  const env = options.masterKeyEnv ?? MASTER_KEY_ENV;
  const explicitFile = (options.sources?.masterKeyFile ?? 'default') !== 'default';
  const fileExists = existsSync(config.masterKeyFile);
  const key = loadMasterKey({ env, ...(fileExists || explicitFile ? { file: config.masterKeyFile } : {}) });
  if (key !== undefined) return { key, generated: false };
  if (existsSync(join(config.dataDir, KEYSTORE_FILE_NAME))) return { key: undefined, generated: false };

  const fresh = randomBytes(32);
  // 'wx' refuses to overwrite: a key file appearing between the check and here is someone
  // else's key, and clobbering it would lock its key store forever.
  writeFileSync(config.masterKeyFile, `${fresh.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  logger.warn(
    { masterKeyFile: config.masterKeyFile },
    `generated a new master key in ${config.masterKeyFile}; move it into ${env} or your secret storage and delete the file: ` +
      'anyone who can read the data directory can otherwise decrypt the key store',
  );
  return { key: new Uint8Array(fresh), generated: true };
}

export async function startServer(config: ServerConfig, options: StartServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const version = packageVersion();
  const cleanups: (() => Promise<void> | void)[] = [];
  const unwind = async (): Promise<void> => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err }, 'shutdown step failed');
      }
    }
    cleanups.length = 0;
  };

  try {
    cleanups.push(forwardDiagnostics(logger));
    prepareDataDir(config.dataDir);
    const { key: masterKey, generated } = resolveMasterKey(config, options, logger);
    const keystore = await openSoftwareKeyStore({ directory: config.dataDir, ...(masterKey ? { masterKey } : {}) });
    cleanups.push(() => keystore.close());

    // openStore applies pending migrations before returning. Audit appends of one event-loop turn
    // (the I/O of many devices at once) share one SQLite commit; each still resolves only after
    // its COMMIT (src/store/README.md, "audit commit window").
    const store = await openStore(config.storeUrl, { auditCommitWindow: 'turn' });
    cleanups.push(() => store.close());
    logger.info({ store: redactStoreUrl(config.storeUrl), kind: store.kind }, 'store opened');

    if (generated) {
      await store.audit.append({ actor: 'system', action: 'keystore.master-key.generate', subject: config.masterKeyFile, outcome: 'success', details: {} });
    }
    const { sealer, created } = await CredentialSealer.open(keystore);
    if (created) {
      await store.audit.append({ actor: 'system', action: 'keystore.key.generate', subject: 'credentials-seal', outcome: 'success', details: { type: 'aes-256' } });
    }

    // Firmware over the air: the firmware service, the delta cache, the campaign engine (no
    // delivery driver until the LwM2M room attaches one) and the event feed the API streams.
    const events = new EventHub(options.events);
    const fotaOptions = { campaignTickMs: config.campaignTickMs, maxFirmwareBytes: config.firmwareMaxBytes, ...options.fota };
    const fota = await startFotaServices({ store, keystore, dataDir: config.dataDir, events, logger, options: fotaOptions });
    cleanups.push(() => fota.close());

    const listeners = new ListenerRegistry();
    // The API exists before the listeners; the LwM2M server is attached to it once they are up.
    const bootstrapSecrets = new BootstrapSecrets(keystore);
    const lwm2mGateway = new Lwm2mGatewayService(store, bootstrapSecrets);
    // Zero-touch onboarding (registrar, EST, optional MASA) only when configured: onboarding-services.ts.
    // The LwM2M target is asked at enrollment, when the CoAPs listener and identity exist.
    const onboarding =
      config.onboarding === undefined
        ? undefined
        : await startOnboardingServices({ config: config.onboarding, dataDir: config.dataDir, host: config.deviceHost, port: config.estPort, keystore, store, sealer, logger, lwm2mTarget: () => coapsTarget(config.onboarding!, listeners.status().coaps?.address, coapsIdentity.chain[0]!) });
    const app = await buildApi({
      ...(onboarding !== undefined ? { onboarding: onboarding.api } : {}),
      lwm2m: lwm2mGateway,
      store,
      sealer,
      health: listeners,
      version,
      logger,
      firmware: fota.firmware,
      campaigns: fota.campaigns,
      events,
      maxFirmwareBytes: fotaOptions.maxFirmwareBytes,
    });
    listeners.register({
      name: 'http',
      async start() {
        await app.listen({ host: config.host, port: config.httpPort });
        const addr = app.server.address();
        if (addr === null || typeof addr === 'string') throw new Error('HTTP server has no TCP address');
        const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        return { host: addr.address, port: addr.port, url: `http://${host}:${addr.port}` };
      },
      stop: () => app.close(),
    });
    const coapsIdentity = await ensureCoapsIdentity({ keystore, dataDir: config.dataDir, audit: (entry) => store.audit.append(entry) });
    const auditor = new HandshakeAuditor((entry) => store.audit.append(entry), {
      ...options.handshakeAudit,
      onError: (err) => logger.error({ err }, 'writing a DTLS handshake audit record failed'),
    });
    // After the listeners have stopped (cleanups run in reverse), so their last decisions are in.
    cleanups.push(() => auditor.close());
    const secure = coapsListener({
      host: config.deviceHost,
      port: config.coapsPort,
      store,
      sealer,
      identity: coapsIdentity,
      auditor,
      logger,
      ...(options.coapsDtls !== undefined ? { dtls: options.coapsDtls } : {}),
      ...(onboarding?.pinTransfers !== undefined ? { pinTransfers: onboarding.pinTransfers } : {}),
      ...(onboarding?.justWorks !== undefined ? { justWorks: onboarding.justWorks } : {}),
    });
    const noSec = noSecCoapListener({ host: config.deviceHost, port: config.coapPort });
    listeners.register(secure);
    listeners.register(noSec);
    if (onboarding !== undefined) listeners.register(onboarding.listener);
    // The registrar's CoAPs listener (EST-coaps + constrained BRSKI), when onboarding.coapsPort is set.
    if (onboarding?.coapsListener !== undefined) listeners.register(onboarding.coapsListener);
    cleanups.push(() => listeners.stopAll());
    const addresses = await listeners.startAll();
    // Pushed after the listeners' cleanup, so it runs first: /rd, /dp and /bs go before the endpoints close.
    const lwm2m = startLwm2mServices({ store, secure, noSec, secrets: bootstrapSecrets, gateway: lwm2mGateway, events, logger, ...(options.lwm2m !== undefined ? { tuning: options.lwm2m } : {}) });
    cleanups.push(() => lwm2m.close());
    // Issue 6: an onboarded device's first acknowledged registration completes onboarding
    // (RFPRO → RFNOP, audited), whichever owner transfer (BRSKI, random PIN, just-works) it came by.
    if (onboarding !== undefined) {
      lwm2m.lwm2m.on('registered', ({ registration }) => {
        onboarding.ownership.deviceRegistered(registration.endpoint, { trigger: 'lwm2m.registered' }).catch((err: unknown) => logger.error({ err, endpoint: registration.endpoint }, 'ownership RFPRO → RFNOP after registration failed'));
      });
    }
    // Pushed after lwm2m's cleanup, so it runs before it: engine ticks stop, then the driver closes (fota-driver.ts).
    const delivery = await attachDeliveryDriver({ choice: options.deliveryDriver ?? 'lwm2m-pull', config, coapsAddress: addresses.coaps, secure, lwm2m, store, fota, logger, sealer });
    cleanups.push(() => delivery.close());

    let closing: Promise<void> | undefined;
    return {
      config,
      addresses,
      listeners,
      coap: { noSec, secure },
      store,
      keystore,
      logger,
      fota,
      events,
      lwm2m,
      onboarding,
      setDeliveryDriver: (driver) => fota.setDeliveryDriver(driver),
      close() {
        closing ??= (async () => {
          logger.info('shutting down');
          await unwind();
          logger.info('stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
