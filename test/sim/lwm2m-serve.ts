/**
 * `rootline serve` (HTTP API, store, key store) with an LwM2M server on a CoAPs listener of its
 * own, composed from the modules the way serve will wire it: PSKs come from the store through
 * the API's sealer, the registration is bound to the credential the DTLS session authenticated.
 * Used by the sim tests in-process and by bench/lwm2m.ts in a child process.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { createDtlsServer, dtlsServerTransport, type DtlsServer } from '../../src/dtls/index.js';
import { createLwm2mServer, dtlsPeerIdentity, type Lwm2mServer } from '../../src/lwm2m/server/index.js';
import { loadConfig } from '../../src/server/config.js';
import { CredentialSealer } from '../../src/server/credential-seal.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';

/** Capped by net.core.rmem_max (4 MiB here); the kernel takes what it allows. */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

export interface Lwm2mServe {
  server: RunningServer;
  dtls: DtlsServer;
  coap: CoapEndpoint;
  lwm2m: Lwm2mServer;
  /** http://127.0.0.1:<port> */
  api: string;
  /** coaps://127.0.0.1:<port> */
  coaps: string;
  close(): Promise<void>;
}

export async function startLwm2mServe(options: { maxSessions?: number; logLevel?: string } = {}): Promise<Lwm2mServe> {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-sim-'));
  const { config, sources } = loadConfig({ env: {}, flags: { dataDir: dir, httpPort: '0', coapPort: '0', coapsPort: '0', deviceHost: '127.0.0.1', logLevel: options.logLevel ?? 'warn' } });
  const server = await startServer(config, { logger: createLogger({ level: config.logLevel, destination: { write: () => true } }), sources });
  try {
    const { sealer } = await CredentialSealer.open(server.keystore);
    const lookup = async (identity: string): Promise<Uint8Array | undefined> => {
      const cred = await server.store.devices.findCredential('psk', identity);
      if (cred === undefined) return undefined;
      return sealer.unseal(cred.endpoint, identity, cred.material).catch(() => undefined);
    };
    // One socket takes every device's datagrams: the kernel default receive buffer (~200 KiB,
    // about a hundred small datagrams at loopback truesize) overflows during a registration
    // burst while the event loop is busy, and every drop costs a 1 s DTLS retransmission.
    const socket = createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER_BYTES });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
    const dtls = await createDtlsServer({ socket, psk: { lookup }, maxSessions: options.maxSessions ?? 20_000 });
    const coap = new CoapEndpoint(dtlsServerTransport(dtls));
    dtls.on('sessionClosed', (session: { peerKey: string }) => coap.forgetPeer(session.peerKey));
    const lwm2m = createLwm2mServer({ endpoint: coap, store: server.store, identityOf: dtlsPeerIdentity((peer) => dtls.getSession(peer)) });
    return {
      server,
      dtls,
      coap,
      lwm2m,
      api: server.addresses.http!.url,
      coaps: `coaps://127.0.0.1:${dtls.address().port}`,
      async close() {
        await lwm2m.close();
        await coap.close();
        await server.close();
        await new Promise<void>((resolve) => socket.close(() => resolve()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
