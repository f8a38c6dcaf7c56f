/**
 * One loopback world for the delivery tests: a SQLite store and a software key store in a temp
 * dir, the firmware service with two small images (1.0.0, 2.0.0), the delta cache, a DTLS-PSK
 * LwM2M server, the pull driver and the campaign engine; SDK devices with A/B memory slots.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { addServerAccount, attachFirmwareUpdater, createLwm2mClient, SlotBank, type FirmwareFaults, type FirmwareUpdater, type Lwm2mClient } from '../../../src/client/index.js';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { openSoftwareKeyStore } from '../../../src/crypto/keystore/software.js';
import { createDtlsServer, dtlsServerTransport } from '../../../src/dtls/index.js';
import { CampaignEngine, type DeliveryDriver } from '../../../src/fota/campaign/index.js';
import { HttpsPskCache, createHttpsPullDriver, createLwm2mPullDriver, createLwm2mPushDriver, startHttpsPackageServer, type Lwm2mDeliveryDriver, type Lwm2mDeliveryDriverOptions } from '../../../src/fota/drivers/index.js';
import { createDeltaCache, createFirmwareService, type DeltaCache, type FirmwareService } from '../../../src/fota/firmware/index.js';
import { createLwm2mServer, dtlsPeerIdentity, type Lwm2mServer } from '../../../src/lwm2m/server/index.js';
import type { FirmwareImageRecord } from '../../../src/store/firmware-types.js';
import { openSqliteStore } from '../../../src/store/sqlite/store.js';
import type { CampaignDeviceRecord } from '../../../src/store/campaign-types.js';
import type { Store } from '../../../src/store/types.js';

export const KEY = new Uint8Array(Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
const FAST = { transmission: { ackTimeoutMs: 300, maxRetransmit: 3 } };

export interface World {
  store: Store;
  firmware: FirmwareService;
  deltas: DeltaCache;
  lwm2m: Lwm2mServer;
  readonly driver: Lwm2mDeliveryDriver;
  engine: CampaignEngine;
  coapsUri: string;
  v1: Uint8Array;
  v2: Uint8Array;
  img1: FirmwareImageRecord;
  img2: FirmwareImageRecord;
  /** With `httpsKeyCache`: the cache the HTTPS listener answers PSKs from (as in serve). */
  pskCache: HttpsPskCache | undefined;
  addDevice(endpoint: string, o?: DeviceSetup): Promise<Device>;
  /** Closes the driver and makes a new one (its attempts in memory are gone, as after a restart). */
  restartDriver(): Promise<Lwm2mDeliveryDriver>;
  /** Ticks the engine until every listed device is done (succeeded or failed). */
  runUntilDone(campaignId: string, endpoints: readonly string[]): Promise<Map<string, CampaignDeviceRecord>>;
}

export interface DeviceSetup {
  faults?: FirmwareFaults;
  /** What the slot holds and the manifest sequence it ran (default v1 / img1). */
  image?: Uint8Array;
  sequence?: number;
  trustedKeys?: Uint8Array[];
  maxResumes?: number;
  /** Leave Object 5 without an updater (nothing downloads). */
  noUpdater?: boolean;
}

export interface Device {
  endpoint: string;
  client: Lwm2mClient;
  bank: SlotBank;
  updater: FirmwareUpdater | undefined;
}

export async function createWorld(t: TestContext, options: { delivery?: 'pull' | 'push' | 'https-pull'; httpsKeyCache?: boolean; inventoryReads?: Lwm2mDeliveryDriverOptions['inventoryReads'] } = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-fota-driver-'));
  const store = await openSqliteStore({ file: join(dir, 'db.sqlite') });
  const keyStore = await openSoftwareKeyStore({ directory: join(dir, 'keys'), masterKey: randomBytes(32) });
  const firmware = await createFirmwareService({ store, keyStore, blobDirectory: join(dir, 'firmware') });
  const deltas = createDeltaCache(firmware);
  const v1 = new Uint8Array(randomBytes(9_000));
  const v2 = new Uint8Array(v1);
  for (let i = 100; i < v2.length; i += 700) v2[i]! ^= 0x5a;
  const img1 = await firmware.addImage({ bytes: v1, vendor: 'example.com', model: 'TH-1', version: '1.0.0' });
  const img2 = await firmware.addImage({ bytes: v2, vendor: 'example.com', model: 'TH-1', version: '2.0.0' });

  const keys = new Map<string, Uint8Array>();
  const dtls = await createDtlsServer({ port: 0, psk: { lookup: (id) => keys.get(id) } });
  const coap = new CoapEndpoint(dtlsServerTransport(dtls), FAST);
  const identityOf = dtlsPeerIdentity((peer) => dtls.getSession(peer));
  const lwm2m = createLwm2mServer({ endpoint: coap, store, identityOf });
  const coapsUri = `coaps://127.0.0.1:${dtls.address().port}`;
  // The engine takes the driver, the driver reports to the engine: bound once both exist.
  const late: { engine?: CampaignEngine } = {};
  // HTTPS pull: a TLS-PSK package server on the same credentials, asking whichever driver is current.
  // serve's way: keys only while an HTTPS attempt of their device is open.
  const pskCache = options.httpsKeyCache === true ? new HttpsPskCache({ loadPsks: async (ep) => (keys.has(`${ep}-psk`) ? [{ identity: `${ep}-psk`, key: keys.get(`${ep}-psk`)! }] : []) }) : undefined;
  const https =
    options.delivery === 'https-pull'
      ? await startHttpsPackageServer({ driver: { authorizeFetch: (token, requester) => driver.authorizeFetch(token, requester) }, store, pskLookup: (id) => (pskCache !== undefined ? pskCache.lookup(id) : keys.get(id)) })
      : undefined;
  const create = options.delivery === 'push' ? createLwm2mPushDriver : https !== undefined ? (o: Parameters<typeof createLwm2mPullDriver>[0]) => createHttpsPullDriver({ ...o, httpsBaseUri: https.uri, ...(pskCache !== undefined ? { httpsAccess: pskCache } : {}) }) : createLwm2mPullDriver;
  const makeDriver = (): Lwm2mDeliveryDriver => create({
    lwm2m,
    coap,
    identityOf,
    store,
    firmware,
    deltas,
    packageBaseUri: coapsUri,
    reports: { onDeviceReport: (r) => late.engine!.onDeviceReport(r), onDeviceVersion: (e, v) => late.engine!.onDeviceVersion(e, v) },
    ...(options.inventoryReads !== undefined ? { inventoryReads: options.inventoryReads } : {}),
  });
  let driver = makeDriver();
  // As in src/server: the engine holds a forwarder, so the driver can be replaced (a restart).
  const forward: DeliveryDriver = { startUpdate: (r) => driver.startUpdate(r), cancelUpdate: (r) => driver.cancelUpdate(r) };
  const engine = new CampaignEngine({ store, driver: forward, firmware: deltas });
  late.engine = engine;
  const clients: Lwm2mClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close();
    await engine.close();
    await driver.close();
    await https?.close();
    await lwm2m.close();
    await coap.close();
    await store.close();
    await keyStore.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const world: World = {
    store, firmware, deltas, lwm2m, engine, pskCache,
    get driver() {
      return driver;
    },
    async restartDriver() {
      await driver.close();
      driver = makeDriver();
      return driver;
    }, coapsUri, v1, v2, img1, img2,
    async addDevice(endpoint, o = {}) {
      await store.devices.createWithCredentials({ endpoint, model: 'TH-1', firmwareVersion: '1.0.0' }, [{ kind: 'psk', lookup: `${endpoint}-psk`, material: KEY }]);
      keys.set(`${endpoint}-psk`, KEY);
      const client = createLwm2mClient({ endpointName: endpoint, device: { manufacturer: 'ACME', modelNumber: 'TH-1', serialNumber: endpoint, firmwareVersion: '1.0.0' }, coap: FAST });
      addServerAccount(client.tree, { uri: coapsUri, security: { mode: 'psk', identity: `${endpoint}-psk`, key: KEY }, lifetime: 300 });
      clients.push(client);
      const bank = await SlotBank.inMemory(o.image ?? v1, { version: '1.0.0', sequence: o.sequence ?? img1.sequence }, 32 * 1024);
      const updater =
        o.noUpdater === true
          ? undefined
          : attachFirmwareUpdater(client, { bank, trustedKeys: o.trustedKeys ?? [firmware.signingPublicKey], vendor: 'example.com', model: 'TH-1', faults: o.faults ?? {}, ...(o.maxResumes !== undefined ? { maxResumes: o.maxResumes } : {}), connection: { coap: FAST } });
      await client.start();
      return { endpoint, client, bank, updater };
    },
    async runUntilDone(campaignId, endpoints) {
      const done = new Map<string, CampaignDeviceRecord>();
      // Rounds, not a deadline: the test runner's timeout is the guard.
      for (let round = 0; done.size < endpoints.length; round++) {
        assert.ok(round < 4000, `devices still not done: ${endpoints.filter((e) => !done.has(e)).join(', ')}`);
        await engine.tick();
        for (const e of endpoints) {
          const row = await store.campaigns.getDevice(campaignId, e);
          if (row !== undefined && (row.status === 'succeeded' || row.status === 'failed')) done.set(e, row);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return done;
    },
  };
  return world;
}
