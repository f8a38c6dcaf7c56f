/**
 * A factory in a temporary directory: software KeyStore, in-memory SQLite store, the MASA
 * registry over its settings. Every test builds its own and closes it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSoftwareKeyStore } from '../../src/crypto/keystore/index.js';
import type { KeyStore } from '../../src/crypto/keystore/types.js';
import { initFactory, type Factory } from '../../src/onboarding/factory.js';
import { settingsMasaRegistry, type MasaRegistry } from '../../src/onboarding/masa-registry.js';
import { openSqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { requirePeer } from '../helpers/peers.js';

export const opensslSkip = requirePeer('openssl', ['openssl'], 'apt-get install openssl');

export interface TestFactory {
  dir: string;
  keyStore: KeyStore;
  store: Store;
  registry: MasaRegistry;
  factory: Factory;
  close(): Promise<void>;
}

export async function createTestFactory(masaUrl = 'https://masa.example.com'): Promise<TestFactory> {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-onboarding-'));
  const keyStore = await openSoftwareKeyStore({ directory: join(dir, 'keys'), masterKey: randomBytes(32) });
  const store = await openSqliteStore({ file: ':memory:' });
  const registry = settingsMasaRegistry(store.settings);
  const factory = await initFactory({ keyStore, directory: join(dir, 'factory'), registry, masaUrl, manufacturer: 'Acme', audit: store.audit });
  return {
    dir,
    keyStore,
    store,
    registry,
    factory,
    async close() {
      await keyStore.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
