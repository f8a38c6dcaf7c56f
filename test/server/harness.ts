/**
 * Starts a real server (SQLite store and software KeyStore in a temporary data dir, HTTP, CoAP and
 * CoAPs on free loopback ports) with its log captured, for API and CLI tests. Callers must close() it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ConfigKey } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server/server.js';

export interface TestServer {
  server: RunningServer;
  /** Base URL, e.g. http://127.0.0.1:43121 */
  url: string;
  dir: string;
  /** Every log line written so far. */
  logs(): string;
  /** Closes the server; removes the data dir unless keepDir. */
  close(options?: { keepDir?: boolean }): Promise<void>;
}

export function makeTempDir(prefix = 'rootline-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startTestServer(options: { dir?: string; flags?: Partial<Record<ConfigKey, string>>; start?: Omit<StartServerOptions, 'logger' | 'sources'> } = {}): Promise<TestServer> {
  const dir = options.dir ?? makeTempDir();
  const lines: string[] = [];
  const { config, sources } = loadConfig({ env: {}, flags: { dataDir: dir, httpPort: '0', coapPort: '0', coapsPort: '0', deviceHost: '127.0.0.1', logLevel: 'trace', ...options.flags } });
  const logger = createLogger({ level: config.logLevel, destination: { write: (s: string) => void lines.push(s) } });
  // No delivery driver unless a test asks for one: campaign tests attach fakes or expect the 409.
  const server = await startServer(config, { deliveryDriver: 'none', ...options.start, logger, sources });
  return {
    server,
    url: server.addresses.http!.url,
    dir,
    logs: () => lines.join(''),
    async close(closeOptions = {}) {
      await server.close();
      if (closeOptions.keepDir !== true) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export async function request(url: string, init: { method?: string; body?: unknown; rawBody?: string; contentType?: string } = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (init.rawBody !== undefined) body = init.rawBody;
  else if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  const res = await fetch(url, { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text === '' ? undefined : JSON.parse(text) };
}
