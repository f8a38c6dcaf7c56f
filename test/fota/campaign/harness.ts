/**
 * Shared set-up of the engine tests: a SQLite store in a temp dir with a registry of simulated
 * devices, the fleet double wired to the engine, and a driver loop that advances logical time
 * (tick, one device step, clock + 1 s) until a condition holds — rounds, never wall-clock waits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { CampaignEngine, type CampaignView } from '../../../src/fota/campaign/index.js';
import type { CampaignEventRecord } from '../../../src/store/campaign-types.js';
import { openSqliteStore } from '../../../src/store/sqlite/store.js';
import type { NewDevice, Store } from '../../../src/store/types.js';
import { FleetDouble, InMemoryCatalog, ManualClock } from './fleet-double.js';

export const FIRMWARE = { id: 'fw-th1-2.0.0', version: '2.0.0', model: 'TH-1' };

export interface Harness {
  /** The SQLite file, or '' when the harness runs on another store. */
  file: string;
  store: Store;
  engine: CampaignEngine;
  fleet: FleetDouble;
  clock: ManualClock;
  catalog: InMemoryCatalog;
  /** Closes engine and store and opens both again on the same file (a process restart). */
  restart(): Promise<void>;
  /**
   * A process death: the engine is abandoned wherever it is (not closed, its pending work never
   * finishes), its store connection dropped, and a new store and engine take over.
   */
  crash(): Promise<void>;
}

export function endpointOf(i: number): string {
  return `dev-${String(i).padStart(3, '0')}`;
}

export interface HarnessOptions {
  count: number;
  extra?: NewDevice[];
  start?: string;
  /** Opens the store (again after a restart); default a SQLite file in a temp dir. */
  openStore?: () => Promise<Store>;
}

/** `count` TH-1 devices on 1.0.0 (every 7th on 1.1.0), plus `extra` devices as given. */
export async function createHarness(t: TestContext, options: HarnessOptions): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'rootline-campaign-'));
  const file = options.openStore === undefined ? join(dir, 'rootline.db') : '';
  const openStore = options.openStore ?? (() => openSqliteStore({ file }));
  const clock = new ManualClock(options.start ?? '2026-03-02T10:00:00.000Z');
  const catalog = new InMemoryCatalog().add(FIRMWARE, ['1.0.0']);
  const fleet = new FleetDouble();
  const h = { file, clock, catalog, fleet } as Harness;
  const open = async (): Promise<void> => {
    h.store = await openStore();
    h.engine = new CampaignEngine({ store: h.store, driver: fleet, firmware: catalog, clock });
    const store = h.store;
    const engine = h.engine;
    fleet.report = (r) => engine.onDeviceReport(r);
    // What the LwM2M registry does when a device re-registers with a new /3/0/3.
    fleet.onVersion = async (endpoint, version) => {
      await store.devices.update(endpoint, { firmwareVersion: version });
    };
  };
  await open();
  h.restart = async () => {
    await h.engine.close();
    await h.store.close();
    await open();
  };
  h.crash = async () => {
    await h.store.close();
    await open();
  };
  t.after(async () => {
    await h.engine.close();
    await h.store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < options.count; i++) {
    const version = i % 7 === 3 ? '1.1.0' : '1.0.0';
    await h.store.devices.create({ endpoint: endpointOf(i), model: 'TH-1', firmwareVersion: version, tags: i % 2 === 0 ? ['even'] : ['odd'] });
    fleet.versions.set(endpointOf(i), version);
  }
  for (const d of options.extra ?? []) await h.store.devices.create(d);
  return h;
}

/** Runs rounds of tick → device step → clock + stepMs until `until` holds; throws after `rounds`. */
export async function drive(h: Harness, id: string, until: (v: CampaignView) => boolean, rounds = 400, stepMs = 1000): Promise<CampaignView> {
  for (let i = 0; i < rounds; i++) {
    await h.engine.tick();
    await h.fleet.step();
    h.clock.advance(stepMs);
    const v = await h.engine.get(id);
    if (until(v)) return v;
  }
  const v = await h.engine.get(id);
  throw new Error(`condition not reached after ${rounds} rounds: state ${v.state}, wave ${v.progress.wave}, ${JSON.stringify(v.waves)}`);
}

export async function allEvents(store: Store, id: string): Promise<CampaignEventRecord[]> {
  const out: CampaignEventRecord[] = [];
  for (;;) {
    const page = await store.campaigns.listEvents(id, { after: out[out.length - 1]?.id ?? 0, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

export async function allDevices(store: Store, id: string): Promise<Awaited<ReturnType<Store['campaigns']['listDevices']>>> {
  const out: Awaited<ReturnType<Store['campaigns']['listDevices']>> = [];
  for (;;) {
    const page = await store.campaigns.listDevices(id, { after: out[out.length - 1]?.position ?? 0, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}
