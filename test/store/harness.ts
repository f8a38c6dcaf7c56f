/**
 * Opening stores for the contract tests: every store opened here and the harness's database are
 * closed and removed after the test, pass or fail.
 */
import type { TestContext } from 'node:test';
import type { Store } from '../../src/store/types.js';
import type { StoreBackend, StoreHarness } from './contract.js';

/** A fresh database; `open` opens another store (own connection / pool) on it. */
export async function setup(t: TestContext, backend: StoreBackend): Promise<{ harness: StoreHarness; open: () => Promise<Store> }> {
  const harness = await backend.createHarness();
  const stores: Store[] = [];
  t.after(async () => {
    for (const s of stores) await s.close();
    await harness.dispose();
  });
  const open = async (): Promise<Store> => {
    const s = await harness.open();
    stores.push(s);
    return s;
  };
  return { harness, open };
}

/** A fresh database with one store open on it; `second` opens another, as a second node would. */
export async function openFreshStore(t: TestContext, backend: StoreBackend): Promise<{ store: Store; second: () => Promise<Store> }> {
  const { open } = await setup(t, backend);
  return { store: await open(), second: open };
}
