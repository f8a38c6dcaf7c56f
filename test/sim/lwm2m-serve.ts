/**
 * `rootline serve` on loopback for the sim tests and bench/lwm2m.ts: startServer() is what the
 * serve command runs (store, key store, HTTP API, CoAPs listener with the LwM2M server), here
 * on free ports in a temporary data directory that close() removes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lwm2mServer } from '../../src/lwm2m/server/index.js';
import { loadConfig } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';

export interface Lwm2mServe {
  server: RunningServer;
  lwm2m: Lwm2mServer;
  /** http://127.0.0.1:<port> */
  api: string;
  /** coaps://127.0.0.1:<port> */
  coaps: string;
  close(): Promise<void>;
}

/**
 * With `dataDir` the caller owns the directory (a second server on the same store, as after a
 * restart) and close() leaves it; without, a temporary one is made and removed.
 */
export async function startLwm2mServe(options: { maxSessions?: number; logLevel?: string; dataDir?: string } = {}): Promise<Lwm2mServe> {
  const owned = options.dataDir === undefined;
  const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'rootline-sim-'));
  const cleanup = (): void => {
    if (owned) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { config, sources } = loadConfig({ env: {}, flags: { dataDir: dir, httpPort: '0', coapPort: '0', coapsPort: '0', estPort: '0', deviceHost: '127.0.0.1', logLevel: options.logLevel ?? 'warn' } });
    const server = await startServer(config, {
      logger: createLogger({ level: config.logLevel, destination: { write: () => true } }),
      sources,
      // serve's default (10,000 DTLS sessions) would refuse the 10,000th device of the bench.
      ...(options.maxSessions !== undefined ? { coapsDtls: { maxSessions: options.maxSessions } } : {}),
    });
    return {
      server,
      lwm2m: server.lwm2m.lwm2m,
      api: server.addresses.http!.url,
      coaps: server.addresses.coaps!.url,
      async close() {
        await server.close();
        cleanup();
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}
