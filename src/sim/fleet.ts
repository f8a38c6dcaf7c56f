/**
 * The fleet: N simulated devices in one process, started at a steady rate with a bounded number
 * of handshakes in flight, kept registered by the SDK, and ticked by ONE shared clock timer (not
 * one interval per device). What the SDK itself arms per device is listed in README.md.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { ObjectRegistry } from '../lwm2m/model/registry.js';
import { assertInteger, assertString } from '../util/assert.js';
import { InvalidArgumentError } from '../errors.js';
import type { SimCredential } from './credentials.js';
import { failureReason, notifyContext, SimulatedDevice } from './device.js';
import { assertFileDescriptors } from './fd-limit.js';
import { FleetFirmware, type FleetFirmwareSummary, type SimFirmwareOptions } from './firmware.js';
import { FleetCounters, type FleetSummary } from './stats.js';

export interface FleetOptions {
  /** coaps://host:port of the LwM2M server. */
  server: string;
  credentials: readonly SimCredential[];
  manufacturer?: string;
  /** Device model (/3/0/1), default 'sim'. */
  model?: string;
  /** Firmware version (/3/0/3), default '1.0.0'. */
  firmwareVersion?: string;
  /** Registration lifetime in seconds (default 300): the SDK sends each Update at 90 % of it. */
  lifetime?: number;
  /** Devices started per second (default 200). */
  rate?: number;
  /** Handshakes + Registers in flight at once (default 256): a cap on the burst the server sees. */
  maxInFlight?: number;
  /** How often every device's clock (/3/0/13) moves on, in ms (default 1000; 0: never). */
  clockTickMs?: number;
  /** CoAP timing of the devices (default RFC 7252: 2 s, 4 retransmissions). */
  coap?: { ackTimeoutMs: number; maxRetransmit: number };
  dtlsRetransmit?: { initialMs: number; maxRetransmissions: number };
  /**
   * Firmware over the air (firmware.ts): every device runs `firmware.image` in an A/B slot
   * bank with the SDK's updater, some with an injected fault. Without it, Object 5 only has states.
   */
  firmware?: SimFirmwareOptions;
}

export interface FleetProgress {
  elapsedSeconds: number;
  started: number;
  registered: number;
  failed: number;
  /** In the last progress interval. */
  registeredPerSecond: number;
  failedPerSecond: number;
  notificationsPerSecond: number;
}

export interface FleetEvents {
  progress: [FleetProgress];
}

/**
 * The clock visits a slice of the fleet every CLOCK_SLICE_MS, so a tick spreads over its period
 * instead of every device notifying in the same millisecond: real devices are not synchronised,
 * and a burst of thousands of datagrams would overflow the server's socket buffer.
 */
const CLOCK_SLICE_MS = 5;
const PROGRESS_MS = 1000;

export class Fleet extends EventEmitter<FleetEvents> {
  readonly counters = new FleetCounters();
  readonly #o: Required<Omit<FleetOptions, 'coap' | 'dtlsRetransmit' | 'firmware'>> & Pick<FleetOptions, 'coap' | 'dtlsRetransmit'>;
  /** The devices' firmware updaters and their outcomes (with `firmware` only). */
  readonly firmware: FleetFirmware | undefined;
  readonly #registry = new ObjectRegistry();
  readonly #devices: (SimulatedDevice | undefined)[];
  readonly #createdAt = performance.now();
  #started = 0;
  /** The clock's slices (clockTickMs / CLOCK_SLICE_MS); device i is ticked in slice i % #slots. */
  readonly #slots: number;
  /**
   * Per slice, the devices the clock looks at: those the server has read from (an Observe or an
   * Observe-Composite is a read), dropped again at a tick that finds them unobserved. Only an
   * observed device can send anything from a tick, and every observation starts with a read.
   */
  readonly #watched: Set<SimulatedDevice>[];
  #clock: ReturnType<typeof setInterval> | undefined;
  #progress: ReturnType<typeof setInterval> | undefined;
  #stopping = false;

  constructor(options: FleetOptions) {
    super();
    assertString(options.server, 'server', { pattern: /^coaps:\/\// });
    if (!Array.isArray(options.credentials) || options.credentials.length === 0) throw new InvalidArgumentError('credentials', 'expected at least one credential');
    this.#o = {
      manufacturer: 'rootline-sim',
      model: 'sim',
      firmwareVersion: '1.0.0',
      lifetime: 300,
      rate: 200,
      maxInFlight: 256,
      clockTickMs: 1000,
      ...options,
    };
    assertInteger(this.#o.lifetime, 'lifetime', 1, 86_400 * 365);
    assertInteger(this.#o.maxInFlight, 'maxInFlight', 1, 100_000);
    assertInteger(this.#o.clockTickMs, 'clockTickMs', 0, 3_600_000);
    if (!(this.#o.rate > 0 && this.#o.rate <= 1_000_000)) throw new InvalidArgumentError('rate', `expected 0 < rate <= 1000000, got ${this.#o.rate}`);
    assertFileDescriptors(options.credentials.length);
    this.#devices = new Array<SimulatedDevice | undefined>(options.credentials.length).fill(undefined);
    this.#slots = Math.max(1, Math.floor(this.#o.clockTickMs / CLOCK_SLICE_MS));
    this.#watched = Array.from({ length: this.#slots }, () => new Set<SimulatedDevice>());
    this.firmware = options.firmware === undefined ? undefined : new FleetFirmware(options.firmware, { endpoints: options.credentials.map((c) => c.endpoint), model: this.#o.model, version: this.#o.firmwareVersion });
  }

  get size(): number {
    return this.#devices.length;
  }

  /** Devices registered right now. */
  registeredCount(): number {
    let n = 0;
    for (const d of this.#devices) if (d?.registered === true) n++;
    return n;
  }

  /** Endpoint names of the devices registered right now. */
  registeredEndpoints(): string[] {
    return this.#devices.filter((d): d is SimulatedDevice => d?.registered === true).map((d) => d.endpointName);
  }

  /**
   * Starts every device at the configured rate; resolves once each one has registered or failed
   * (failures are counted by reason, never thrown). `signal` stops starting new devices.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#started > 0) throw new InvalidArgumentError('fleet', 'already started');
    this.#startTimers();
    const creds = this.#o.credentials;
    const t0 = performance.now();
    this.counters.firstStartAt = t0;
    const running = new Set<Promise<void>>();
    let next = 0;
    await new Promise<void>((resolve) => {
      // Every 5 ms the places freed since the last run are filled (as many as the rate allows):
      // the server sees devices arrive in small batches, several datagrams per wake-up. (Filling
      // each place the moment it frees, tried 2026-11-22, cost both processes more per
      // registration in a cold burst: one wake-up per arrival; see bench/RESULTS.md "sim-sdk".)
      const pump = (): void => {
        if (signal?.aborted === true || this.#stopping) next = creds.length;
        const due = Math.min(creds.length, Math.floor(((performance.now() - t0) * this.#o.rate) / 1000) + 1);
        while (next < due && running.size < this.#o.maxInFlight) {
          const p = this.#launch(next++);
          running.add(p);
          void p.then(() => {
            running.delete(p);
            if (next >= creds.length && running.size === 0) resolve();
          });
        }
        if (next < creds.length) setTimeout(pump, 5);
        else if (running.size === 0) resolve();
      };
      pump();
    });
  }

  async #launch(i: number): Promise<void> {
    const watched = this.#watched[i % this.#slots]!;
    const device: SimulatedDevice = new SimulatedDevice({
      credential: this.#o.credentials[i]!,
      server: this.#o.server,
      registry: this.#registry,
      counters: this.counters,
      manufacturer: this.#o.manufacturer,
      model: this.#o.model,
      firmwareVersion: this.#o.firmwareVersion,
      lifetime: this.#o.lifetime,
      onServerRead: () => void watched.add(device),
      ...(this.#o.coap !== undefined ? { coap: this.#o.coap } : {}),
      ...(this.#o.dtlsRetransmit !== undefined ? { dtlsRetransmit: this.#o.dtlsRetransmit } : {}),
    });
    this.firmware?.attach(device, { ...(this.#o.coap !== undefined ? { coap: { transmission: this.#o.coap } } : {}), ...(this.#o.dtlsRetransmit !== undefined ? { dtlsRetransmit: this.#o.dtlsRetransmit } : {}) });
    this.#started++;
    try {
      await device.run();
      this.counters.registered++;
      this.counters.lastRegisteredAt = performance.now();
      this.#devices[i] = device;
    } catch (err) {
      this.counters.fail(failureReason(err));
      // Its socket goes back at once: a failed device holds nothing.
      await device.close().catch(() => undefined);
    }
  }

  #startTimers(): void {
    const every = this.#o.clockTickMs;
    if (every > 0) {
      const slots = this.#slots;
      let slot = 0;
      this.#clock = setInterval(() => {
        slot = (slot + 1) % slots;
        const now = Math.floor(Date.now() / 1000);
        // Only a device the server observes can send anything from its tick (at once, or from
        // a pmin timer the tick arms). On any other the tick has no effect anyone can see: /3/0/13
        // reads through the Device object's clock handler (the stored value is never read), and
        // with nothing observed the tree's listeners do nothing with a value change. So only
        // observed devices tick, in the notification context: until something is observed the
        // AsyncLocalStorage stays unused — Node's promise hooks for it (a cost on every promise in
        // this process, the handshakes' included) stay off — and an idle fleet costs no ticks.
        // The slice's devices are not all visited either: only those the server read from
        // (#watched), as every observation starts with a read; one found unobserved (a plain
        // Read, a cancelled observation, a closed device) leaves the set until the next read.
        const tick = (d: SimulatedDevice): void => {
          try {
            d.tickClock(now);
          } catch {
            // A device whose tree refuses the value (never for /3/0/13) just skips this tick.
          }
        };
        const watched = this.#watched[slot]!;
        for (const d of watched) {
          if (!d.registered || !d.observing) {
            watched.delete(d);
            continue;
          }
          notifyContext.run(true, tick, d);
        }
      }, every / slots);
    }
    let last = { registered: 0, failed: 0, notes: 0, at: performance.now() };
    this.#progress = setInterval(() => {
      const now = performance.now();
      const secs = (now - last.at) / 1000;
      const c = this.counters;
      this.emit('progress', {
        elapsedSeconds: Math.round((now - this.#createdAt) / 100) / 10,
        started: this.#started,
        registered: c.registered,
        failed: c.failed,
        registeredPerSecond: Math.round((c.registered - last.registered) / secs),
        failedPerSecond: Math.round((c.failed - last.failed) / secs),
        notificationsPerSecond: Math.round((c.notificationsSent - last.notes) / secs),
      });
      last = { registered: c.registered, failed: c.failed, notes: c.notificationsSent, at: now };
    }, PROGRESS_MS);
  }

  summary(): FleetSummary {
    return this.counters.summary(this.#devices.length, this.registeredCount(), performance.now() - this.#createdAt);
  }

  /** Firmware update outcomes (undefined without the `firmware` option). */
  firmwareSummary(): FleetFirmwareSummary | undefined {
    return this.firmware?.summary();
  }

  /** The running device for `endpoint` (registered or rebooting), if it started. */
  device(endpoint: string): SimulatedDevice | undefined {
    return this.#devices.find((d) => d?.endpointName === endpoint);
  }

  /**
   * Stops the clock and progress timers and closes every device; with `deregister`, registered
   * devices send De-register first (a bounded number at once). Resolves with the De-registers
   * that were answered 2.02.
   */
  async stop(options: { deregister?: boolean; concurrency?: number } = {}): Promise<{ deregistered: number }> {
    this.#stopping = true;
    clearInterval(this.#clock);
    clearInterval(this.#progress);
    for (const w of this.#watched) w.clear();
    let deregistered = 0;
    let idx = 0;
    const worker = async (): Promise<void> => {
      while (idx < this.#devices.length) {
        const d = this.#devices[idx];
        this.#devices[idx++] = undefined;
        if (d === undefined) continue;
        if (options.deregister === true && d.registered) {
          try {
            await d.deregister();
            deregistered++;
          } catch {
            // The server may be gone; the device still closes.
          }
        }
        await d.close().catch(() => undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 64) }, worker));
    return { deregistered };
  }
}
