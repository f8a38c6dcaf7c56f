/**
 * Zero-touch onboarding of a simulated fleet (issue 6, `rootline sim --onboard`): each device
 * starts from its factory identity (an IDevID directory as `rootline factory mint` writes it) and
 * runs the whole device side — BRSKI voucher, EST enrollment for an LDevID, LwM2M bootstrap with
 * the LDevID, registration — through `onboardDevice` (src/onboarding/pledge), with at most
 * `concurrency` devices in flight. Devices stay registered (each with its own DTLS session) until
 * stop(). One device's failure is counted by its error code and never ends the run.
 *
 * Per-device latency is start of onboardDevice until the Register was answered 2.01; the step
 * times split it at the pledge's progress callbacks (voucher verified, LDevID enrolled,
 * Bootstrap-Finish, registered).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import type { Lwm2mClient, Lwm2mClientOptions } from '../client/client.js';
import type { DeviceInit } from '../client/standard-objects.js';
import { InvalidArgumentError, isRootlineError } from '../errors.js';
import { ObjectRegistry } from '../lwm2m/model/registry.js';
import { onboardDevice, type OnboardStep } from '../onboarding/pledge/index.js';
import { assertFileDescriptors } from './fd-limit.js';

export interface OnboardFleetOptions {
  /** https://host:port of the registrar (rootline serve's EST listener). */
  registrarUrl: string;
  /** One IDevID directory per device (idevid.pem, idevid.key, idevid-chain.pem, masa-ca.pem). */
  idevidDirs: readonly string[];
  /** Devices onboarding at once (default 32, 1..4096). */
  concurrency?: number;
  /** Device (object 3) facts for every device; serialNumber is each device's own. */
  device?: Partial<DeviceInit>;
  /** LwM2M client options for every device (DTLS retransmission, lifetime...). */
  client?: Omit<Lwm2mClientOptions, 'endpointName' | 'tree' | 'device'>;
  /** Per-exchange timeout of the pledge (default 30 s). */
  timeoutMs?: number;
  /** Progress interval (default 1000 ms). */
  progressIntervalMs?: number;
}

export interface OnboardProgress {
  elapsedSeconds: number;
  started: number;
  onboarded: number;
  failed: number;
  inFlight: number;
  /** Onboarded devices per minute since the first start. */
  perMinute: number;
}

export interface LatencyPercentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface OnboardFleetSummary {
  devices: number;
  onboarded: number;
  failed: number;
  /** Failures by error code (ERR_PLEDGE_LWM2M gets the step and the client's code appended). */
  failedByReason: Record<string, number>;
  /** Per device, start to registered (ms). */
  latencyMs: LatencyPercentiles;
  /** Per step (ms): voucher (request until verified), enroll (until the LDevID), bootstrap (until Bootstrap-Finish), register. */
  stepMs: { voucher: LatencyPercentiles; enroll: LatencyPercentiles; bootstrap: LatencyPercentiles; register: LatencyPercentiles };
  /** Onboarded devices per minute, first start to last registration. */
  perMinute: number;
  elapsedSeconds: number;
}

export interface OnboardFleetEvents {
  progress: [OnboardProgress];
  onboarded: [{ endpoint: string; serialNumber: string; ms: number }];
  failed: [{ idevidDir: string; code: string; message: string }];
}

/** Nearest-rank percentiles (ms, rounded to 0.1). */
export function latencyPercentiles(samples: readonly number[]): LatencyPercentiles {
  if (samples.length === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number): number => Math.round(sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]! * 10) / 10;
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) };
}

/**
 * The IDevID directories under `root`: `root` itself when it holds idevid.pem, else its
 * subdirectories that do, sorted by name.
 */
export function listIdevidDirs(root: string): string[] {
  if (typeof root !== 'string' || root.length === 0) throw new InvalidArgumentError('root', 'expected a directory');
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new InvalidArgumentError('root', `${root} is not a directory`);
  if (existsSync(join(root, 'idevid.pem'))) return [root];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(root, e.name, 'idevid.pem')))
    .map((e) => join(root, e.name))
    .sort();
}

function reasonOf(err: unknown): string {
  if (!isRootlineError(err)) return 'ERR_INTERNAL';
  const cause = (err as { causeCode?: unknown; step?: unknown }).causeCode;
  const step = (err as { step?: unknown }).step;
  return err.code === 'ERR_PLEDGE_LWM2M' && typeof step === 'string' ? `${err.code} ${step}${typeof cause === 'string' ? ` ${cause}` : ''}` : err.code;
}

export class OnboardFleet extends EventEmitter<OnboardFleetEvents> {
  readonly #o: Required<Pick<OnboardFleetOptions, 'concurrency' | 'progressIntervalMs'>> & OnboardFleetOptions;
  readonly #clients: Lwm2mClient[] = [];
  /** One object registry for the fleet: each client would otherwise parse every DDF file again (profiled: 6 % of the pledges' CPU). */
  readonly #registry = new ObjectRegistry();
  readonly #latency: number[] = [];
  readonly #steps = { voucher: [] as number[], enroll: [] as number[], bootstrap: [] as number[], register: [] as number[] };
  readonly #failed = new Map<string, number>();
  #started = 0;
  #onboarded = 0;
  #failures = 0;
  #t0 = 0;
  #tLast = 0;
  #stopping = false;
  #run: Promise<OnboardFleetSummary> | undefined;

  constructor(options: OnboardFleetOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'expected an object');
    let url: URL;
    try {
      url = new URL(options.registrarUrl);
    } catch (err) {
      throw new InvalidArgumentError('registrarUrl', 'expected an https:// or coaps:// URL', { cause: err });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'coaps:') throw new InvalidArgumentError('registrarUrl', 'expected an https:// or coaps:// URL');
    if (!Array.isArray(options.idevidDirs) || options.idevidDirs.length === 0 || !options.idevidDirs.every((d) => typeof d === 'string' && d.length > 0)) throw new InvalidArgumentError('idevidDirs', 'expected at least one IDevID directory');
    const concurrency = options.concurrency ?? 32;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 4096) throw new InvalidArgumentError('concurrency', 'expected an integer 1..4096');
    const progressIntervalMs = options.progressIntervalMs ?? 1000;
    if (!Number.isInteger(progressIntervalMs) || progressIntervalMs < 10) throw new InvalidArgumentError('progressIntervalMs', 'expected an integer >= 10');
    this.#o = { ...options, concurrency, progressIntervalMs };
  }

  /** The registered clients (for the caller to read, observe, or stop). */
  get clients(): readonly Lwm2mClient[] {
    return this.#clients;
  }

  progress(): OnboardProgress {
    const elapsed = this.#t0 === 0 ? 0 : (performance.now() - this.#t0) / 1000;
    return {
      elapsedSeconds: Math.round(elapsed * 10) / 10,
      started: this.#started,
      onboarded: this.#onboarded,
      failed: this.#failures,
      inFlight: this.#started - this.#onboarded - this.#failures,
      perMinute: elapsed > 0 ? Math.round((this.#onboarded / elapsed) * 60) : 0,
    };
  }

  summary(): OnboardFleetSummary {
    const span = this.#tLast > this.#t0 ? (this.#tLast - this.#t0) / 1000 : 0;
    return {
      devices: this.#o.idevidDirs.length,
      onboarded: this.#onboarded,
      failed: this.#failures,
      failedByReason: Object.fromEntries(this.#failed),
      latencyMs: latencyPercentiles(this.#latency),
      stepMs: { voucher: latencyPercentiles(this.#steps.voucher), enroll: latencyPercentiles(this.#steps.enroll), bootstrap: latencyPercentiles(this.#steps.bootstrap), register: latencyPercentiles(this.#steps.register) },
      perMinute: span > 0 ? Math.round((this.#onboarded / span) * 60) : 0,
      elapsedSeconds: Math.round(((this.#tLast > 0 ? this.#tLast : performance.now()) - this.#t0) / 100) / 10,
    };
  }

  /** Onboards every device (bounded concurrency); resolves with the summary once each is registered or failed. */
  start(): Promise<OnboardFleetSummary> {
    this.#run ??= this.#start();
    return this.#run;
  }

  async #start(): Promise<OnboardFleetSummary> {
    // One UDP socket per registered device, plus transient TLS sockets.
    assertFileDescriptors(this.#o.idevidDirs.length + this.#o.concurrency);
    this.#t0 = performance.now();
    const timer = setInterval(() => this.emit('progress', this.progress()), this.#o.progressIntervalMs);
    timer.unref?.();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!this.#stopping && next < this.#o.idevidDirs.length) {
        const dir = this.#o.idevidDirs[next++]!;
        await this.#one(dir);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, this.#o.idevidDirs.length) }, worker));
    } finally {
      clearInterval(timer);
    }
    this.emit('progress', this.progress());
    return this.summary();
  }

  async #one(idevidDir: string): Promise<void> {
    this.#started++;
    const t0 = performance.now();
    let last = t0;
    const marks: Partial<Record<'voucher' | 'enroll' | 'bootstrap' | 'register', number>> = {};
    const mark = (step: OnboardStep): void => {
      const key = step === 'voucher' ? 'voucher' : step === 'enroll' ? 'enroll' : step === 'bootstrapped' ? 'bootstrap' : step === 'registered' ? 'register' : undefined;
      if (key === undefined) return;
      const now = performance.now();
      marks[key] = now - last;
      last = now;
    };
    try {
      const d = await onboardDevice({
        idevidDir,
        registrarUrl: this.#o.registrarUrl,
        onStep: mark,
        ...(this.#o.timeoutMs !== undefined ? { timeoutMs: this.#o.timeoutMs } : {}),
        ...(this.#o.device !== undefined ? { device: this.#o.device } : {}),
        client: { registry: this.#registry, ...this.#o.client },
      });
      const ms = performance.now() - t0;
      if (this.#stopping) {
        await d.client.close();
        return;
      }
      this.#clients.push(d.client);
      this.#onboarded++;
      this.#tLast = performance.now();
      this.#latency.push(ms);
      for (const k of ['voucher', 'enroll', 'bootstrap', 'register'] as const) if (marks[k] !== undefined) this.#steps[k].push(marks[k]);
      // The SDK retries failed Updates itself; a listener keeps an 'error' from being thrown.
      d.client.on('error', () => undefined);
      this.emit('onboarded', { endpoint: d.endpoint, serialNumber: d.pledge.serialNumber, ms });
    } catch (err) {
      this.#failures++;
      const reason = reasonOf(err);
      this.#failed.set(reason, (this.#failed.get(reason) ?? 0) + 1);
      this.emit('failed', { idevidDir, code: reason, message: (err as Error).message.slice(0, 300) });
    }
  }

  /**
   * Stops onboarding further devices and closes every registered client, de-registering first
   * when asked (at most `concurrency` at once); returns how many de-registered.
   */
  async stop(options: { deregister?: boolean } = {}): Promise<number> {
    this.#stopping = true;
    await this.#run?.catch(() => undefined);
    let deregistered = 0;
    const clients = this.#clients.splice(0);
    let i = 0;
    const worker = async (): Promise<void> => {
      while (i < clients.length) {
        const c = clients[i++]!;
        try {
          if (options.deregister === true && c.registered) {
            await c.deregister();
            deregistered++;
          }
        } catch {
          // A device whose De-register got no answer is closed all the same.
        } finally {
          await c.close().catch(() => undefined);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, Math.max(1, clients.length)) }, worker));
    return deregistered;
  }
}
