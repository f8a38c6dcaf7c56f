// The server's LwM2M Register path alone (issue 4, "Speed"): what one registration costs
// `rootline serve` above DTLS and CoAP — parameter and link-format parsing, the security binding
// (credential lookup), the audit record, the registry write to SQLite, the 'registered' event
// and its publication to the event feed as src/server/lwm2m-service.ts does it — in CPU time per
// registration and heap bytes per registered device. No sockets: the /rd handler the server
// installs is called with decoded CoAP requests, so the figures do not move with the machine's
// load the way bench:lwm2m's wall-clock rates do (CPU-seconds are measured, not wall time).
//   1. N devices with PSK credentials are created in a SQLite store (a file, WAL, as serve runs);
//   2. N Registers at BENCH_CONCURRENCY in flight (default 128, bench:lwm2m's in-flight count);
//      CPU ms per Register; the heap after a full GC, before and after, / N;
//   3. N Updates (the periodic renewal) the same way.
// Usage: node --import tsx --expose-gc bench/lwm2m-register-path.ts
//   LWM2M_DEVICES=10000     devices
//   BENCH_CONCURRENCY=128   Registers in flight
//   BENCH_PROFILE=file      V8 CPU profile of the Register window, summarised at the end
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHub } from '../src/api/events-hub.js';
import { CoapCode } from '../src/coap/codec.js';
import { ContentFormat } from '../src/coap/content-format.js';
import type { CoapEndpoint, ResourceHandle } from '../src/coap/endpoint.js';
import type { CoapMethod, CoapRequest, CoapResponseInit, ResourceDefinition } from '../src/coap/router.js';
import { createLwm2mServer, type PeerIdentity } from '../src/lwm2m/server/index.js';
import { registrationView } from '../src/server/lwm2m-gateway.js';
import { openSqliteStore } from '../src/store/sqlite/store.js';
import { summariseCpuProfile } from './lib/cpuprofile-summary.js';

const DEVICES = intEnv('LWM2M_DEVICES', 10_000, 1, 1_000_000);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 128, 1, 100_000);
const PROFILE = process.env.BENCH_PROFILE;
const LINKS = '</>;rt="oma.lwm2m";ct=112,</1/0>,</3/0>,</4/0>,</5/0>';

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    process.stderr.write(`bench:lwm2m-register-path: ${name} must be an integer ${min}..${max}, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return Number(raw);
}

type Handler = (req: CoapRequest) => Promise<CoapResponseInit> | CoapResponseInit;

/** Stands in for a CoapEndpoint: keeps the handlers the server installs so they can be called. */
class HandlerTable {
  readonly handlers = new Map<string, Partial<Record<'post' | 'delete', Handler>>>();

  resource(path: string, def: ResourceDefinition): ResourceHandle {
    this.handlers.set(path, { post: def.post as Handler | undefined, delete: def.delete as Handler | undefined });
    return { remove: () => this.handlers.delete(path) } as unknown as ResourceHandle;
  }
}

function request(method: CoapMethod, path: string[], peer: string, query: string[], payload: string, wildcard: string[] = []): CoapRequest {
  return {
    peer,
    method,
    path,
    query,
    wildcard,
    options: [],
    payload: Buffer.from(payload),
    token: new Uint8Array(4),
    confirmable: true,
    contentFormat: payload.length > 0 ? ContentFormat.LinkFormat : undefined,
    accept: undefined,
    observe: undefined,
  };
}

async function inFlight(n: number, concurrency: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
}

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

async function main(): Promise<void> {
  if ((globalThis as { gc?: () => void }).gc === undefined) process.stderr.write('(run with --expose-gc for heap figures)\n');
  const dir = mkdtempSync(join(tmpdir(), 'rootline-bench-regpath-'));
  const store = await openSqliteStore({ file: join(dir, 'rootline.db') });
  try {
    const peers: string[] = [];
    const identities = new Map<string, PeerIdentity>();
    for (let i = 0; i < DEVICES; i++) {
      const ep = `urn:dev:bench-${String(i).padStart(6, '0')}`;
      const identity = `bench-${i}`;
      await store.devices.createWithCredentials({ endpoint: ep, model: 'BENCH-1' }, [{ kind: 'psk', lookup: identity, material: new Uint8Array(16) }]);
      const peer = `127.0.0.1:${20000 + (i % 40000)}#${i}`;
      peers.push(peer);
      identities.set(peer, { kind: 'psk', lookup: identity });
    }
    const table = new HandlerTable();
    const server = createLwm2mServer({ store, endpoint: table as unknown as CoapEndpoint, identityOf: (peer) => identities.get(peer), sweepIntervalMs: 3_600_000 });
    // What src/server/lwm2m-service.ts does with each registration.
    const hub = new EventHub();
    server.on('registered', ({ registration: r }) => {
      const view = registrationView(r);
      hub.publish('lwm2m', 'lwm2m.registered', { endpoint: r.endpoint, ...view.lastRegistration, objects: view.objects });
    });
    server.on('updated', ({ registration: r }) => {
      const view = registrationView(r);
      hub.publish('lwm2m', 'lwm2m.updated', { endpoint: r.endpoint, ...view.lastRegistration, objects: view.objects });
    });
    const rd = table.handlers.get('/rd')!.post!;
    const rdId = table.handlers.get('/rd/*')!.post!;
    const locations: string[] = new Array<string>(DEVICES);

    // A short warm-up on the first devices (JIT), registered again below (a Register replaces).
    await inFlight(Math.min(500, DEVICES), CONCURRENCY, async (i) => {
      await rd(request('POST', ['rd'], peers[i]!, [`ep=urn:dev:bench-${String(i).padStart(6, '0')}`, 'lt=3600', 'lwm2m=1.1', 'b=U'], LINKS));
    });
    const heap0 = heap();
    let profiler: Session | undefined;
    const post = (method: string, params?: object): Promise<unknown> => new Promise((res, rej) => profiler!.post(method, params, (err, result) => (err ? rej(err) : res(result))));
    if (PROFILE !== undefined) {
      profiler = new Session();
      profiler.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 100 });
      await post('Profiler.start');
    }
    let cpu0 = process.cpuUsage();
    let t0 = performance.now();
    await inFlight(DEVICES, CONCURRENCY, async (i) => {
      const res = await rd(request('POST', ['rd'], peers[i]!, [`ep=urn:dev:bench-${String(i).padStart(6, '0')}`, 'lt=3600', 'lwm2m=1.1', 'b=U'], LINKS));
      if (res.code !== CoapCode.Created) throw new Error(`Register ${i} answered ${res.code}`);
      locations[i] = Buffer.from(res.options!.at(-1)!.value).toString('utf8');
    });
    const registerCpuMs = cpuMs(cpu0);
    const registerWallS = (performance.now() - t0) / 1000;
    if (profiler !== undefined) {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      profiler.disconnect();
      writeFileSync(PROFILE!, JSON.stringify(profile));
    }
    await new Promise((r) => setTimeout(r, 100));
    const heap1 = heap();

    cpu0 = process.cpuUsage();
    t0 = performance.now();
    await inFlight(DEVICES, CONCURRENCY, async (i) => {
      const res = await rdId(request('POST', ['rd', locations[i]!], peers[i]!, [], '', [locations[i]!]));
      if (res.code !== CoapCode.Changed) throw new Error(`Update ${i} answered ${res.code}`);
    });
    const updateCpuMs = cpuMs(cpu0);
    const updateWallS = (performance.now() - t0) / 1000;
    await server.close();

    const perReg = registerCpuMs / DEVICES;
    const perUpd = updateCpuMs / DEVICES;
    console.log(`LwM2M Register path (no DTLS/CoAP), ${DEVICES.toLocaleString('en-US')} PSK devices, ${CONCURRENCY} in flight, SQLite (WAL) store`);
    console.log(`  Register: ${perReg.toFixed(3)} ms CPU each (${Math.round(1000 / perReg).toLocaleString('en-US')} per CPU-second; wall ${Math.round(DEVICES / registerWallS).toLocaleString('en-US')}/s)`);
    console.log(`  Update:   ${perUpd.toFixed(3)} ms CPU each (${Math.round(1000 / perUpd).toLocaleString('en-US')} per CPU-second; wall ${Math.round(DEVICES / updateWallS).toLocaleString('en-US')}/s)`);
    console.log(`  heap per registered device: ${Math.round((heap1 - heap0) / DEVICES).toLocaleString('en-US')} B (JS heap + external, after a full GC)`);
    console.log(JSON.stringify({ bench: 'lwm2m-register-path', devices: DEVICES, register_cpu_ms: Number(perReg.toFixed(4)), update_cpu_ms: Number(perUpd.toFixed(4)), heap_bytes_per_device: Math.round((heap1 - heap0) / DEVICES) }));
    if (PROFILE !== undefined) {
      const { total, byFile } = summariseCpuProfile(PROFILE, 25);
      console.log('\nself time by file:');
      for (const f of byFile) console.log(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.frame}`);
      console.log('heaviest functions:');
      for (const f of total) console.log(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.frame}`);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
