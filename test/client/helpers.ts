/** A DTLS-PSK LwM2M server on loopback with a SQLite store, for the SDK tests. */
import type { TestContext } from 'node:test';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { createDtlsServer, dtlsServerTransport, type DtlsServer } from '../../src/dtls/index.js';
import { createLwm2mServer, dtlsPeerIdentity, type Lwm2mServer, type Lwm2mServerOptions } from '../../src/lwm2m/server/index.js';
import type { Store } from '../../src/store/types.js';
import { tempStore } from '../lwm2m/server/helpers.js';

export interface PskServer {
  dtls: DtlsServer;
  coap: CoapEndpoint;
  lwm2m: Lwm2mServer;
  store: Store;
  uri: string;
  /** Adds a device with a PSK credential (in the store and in the DTLS key lookup). */
  addDevice(endpoint: string, identity: string, key: Uint8Array): Promise<void>;
  /** Binds one more PSK to an existing device. */
  addPsk(endpoint: string, identity: string, key: Uint8Array): Promise<void>;
}

export async function startPskServer(t: TestContext, options: Partial<Omit<Lwm2mServerOptions, 'endpoint' | 'store' | 'identityOf'>> = {}): Promise<PskServer> {
  const store = await tempStore(t).open();
  const keys = new Map<string, Uint8Array>();
  const dtls = await createDtlsServer({ port: 0, psk: { lookup: (id) => keys.get(id) } });
  const coap = new CoapEndpoint(dtlsServerTransport(dtls), { transmission: { ackTimeoutMs: 500, maxRetransmit: 3 } });
  const lwm2m = createLwm2mServer({ endpoint: coap, store, identityOf: dtlsPeerIdentity((peer) => dtls.getSession(peer)), ...options });
  t.after(async () => {
    await lwm2m.close();
    await coap.close();
  });
  return {
    dtls,
    coap,
    lwm2m,
    store,
    uri: `coaps://127.0.0.1:${dtls.address().port}`,
    async addDevice(endpoint, identity, key) {
      await store.devices.createWithCredentials({ endpoint }, [{ kind: 'psk', lookup: identity, material: key }]);
      keys.set(identity, key);
    },
    async addPsk(endpoint, identity, key) {
      await store.devices.addCredential({ endpoint, kind: 'psk', lookup: identity, material: key });
      keys.set(identity, key);
    },
  };
}
