/** Fixtures for the LwM2M server tests: a SQLite store in a temp dir, CoAP endpoints on loopback. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { UdpTransport } from '../../../src/coap/transport.js';
import { openSqliteStore } from '../../../src/store/sqlite/store.js';
import type { Store } from '../../../src/store/types.js';

export interface TempStore {
  file: string;
  open(): Promise<Store>;
}

/** A SQLite file in a fresh temp directory, removed after the test. */
export function tempStore(t: TestContext): TempStore {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-lwm2m-'));
  const file = join(dir, 'rootline.db');
  const stores: Store[] = [];
  t.after(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    file,
    async open() {
      const s = await openSqliteStore({ file });
      stores.push(s);
      return s;
    },
  };
}

/** A UDP CoAP endpoint on 127.0.0.1 that is closed after the test; fast retransmission. */
export async function udpEndpoint(t: TestContext): Promise<{ endpoint: CoapEndpoint; key: string }> {
  const transport = await UdpTransport.bind({ address: '127.0.0.1' });
  const endpoint = new CoapEndpoint(transport, { transmission: { ackTimeoutMs: 200, maxRetransmit: 2 } });
  t.after(() => endpoint.close());
  return { endpoint, key: transport.localKey };
}

/** Resolves when `emitter` emits `event` with an argument passing `match`. */
export function nextEvent<T>(emitter: { on(e: string, l: (a: T) => void): unknown; off(e: string, l: (a: T) => void): unknown }, event: string, match: (a: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const l = (a: T): void => {
      if (!match(a)) return;
      emitter.off(event, l);
      resolve(a);
    };
    emitter.on(event, l);
  });
}

export function text(p: Uint8Array): string {
  return Buffer.from(p).toString('utf8');
}
