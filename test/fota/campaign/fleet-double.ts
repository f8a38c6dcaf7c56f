/**
 * Test doubles for the campaign engine's unit tests — the device side, not a delivery driver:
 * an in-process fleet that implements the DeliveryDriver interface and walks each started
 * update through the LwM2M Object 5 states one step per step() call (deterministic, no timers),
 * with per-device injected faults; a manual clock; an in-memory firmware catalog.
 */
import type { CampaignClock, CampaignFirmware, DeliveryDriver, DeviceReport, FirmwareCatalog, UpdateRequest } from '../../../src/fota/campaign/index.js';
import type { UpdateResult } from '../../../src/fota/campaign/object5.js';
import type { CampaignPackageKind } from '../../../src/store/campaign-types.js';

export class ManualClock implements CampaignClock {
  #now: number;

  constructor(iso: string) {
    this.#now = Date.parse(iso);
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }

  set(iso: string): void {
    this.#now = Date.parse(iso);
  }
}

export class InMemoryCatalog implements FirmwareCatalog {
  readonly firmware = new Map<string, CampaignFirmware>();
  /** firmwareId → versions a delta exists from. */
  readonly deltas = new Map<string, Set<string>>();

  add(firmware: CampaignFirmware, deltaFrom: string[] = []): this {
    this.firmware.set(firmware.id, firmware);
    this.deltas.set(firmware.id, new Set(deltaFrom));
    return this;
  }

  async describe(firmwareId: string): Promise<CampaignFirmware | undefined> {
    return this.firmware.get(firmwareId);
  }

  async packageKindFor(firmwareId: string, fromVersion: string | null): Promise<CampaignPackageKind> {
    return fromVersion !== null && this.deltas.get(firmwareId)?.has(fromVersion) === true ? 'delta' : 'full';
  }
}

/** What goes wrong on one simulated device. */
export interface DeviceFault {
  /** The device reports this Update Result (2..9) instead of finishing, on every attempt. */
  result?: UpdateResult;
  /** Fails only the first n attempts (then behaves), with `result` (default 4, connection lost). */
  failAttempts?: number;
  /** Never reports anything (the engine's deadline must catch it). */
  silent?: boolean;
  /** Reports success, then boots back into the old image (rollback) and reports the old version. */
  rollback?: boolean;
  /** startUpdate itself is refused (device unreachable). */
  rejectStart?: boolean;
}

interface Session {
  request: UpdateRequest;
  step: number;
  fault: DeviceFault | undefined;
}

export interface SimulatedDevice {
  endpoint: string;
  version: string;
}

export class FleetDouble implements DeliveryDriver {
  /** Every startUpdate call, in order. */
  readonly calls: UpdateRequest[] = [];
  readonly faults = new Map<string, DeviceFault>();
  readonly versions = new Map<string, string>();
  /** The most sessions that were active at once (checks max-in-flight). */
  maxActive = 0;
  /** Where reports go: the current engine's onDeviceReport (swapped after a restart). */
  report: (r: DeviceReport) => Promise<unknown> = async () => undefined;
  /** Called when a device boots a new version (tests mirror it into the device registry). */
  onVersion: (endpoint: string, version: string) => Promise<void> = async () => undefined;
  /** Optional reachability check (DeliveryDriver.canDeliver); absent: every device is reachable. */
  canDeliver?: (endpoint: string) => Promise<boolean>;
  readonly #sessions = new Map<string, Session>();

  get active(): number {
    return this.#sessions.size;
  }

  async startUpdate(request: UpdateRequest): Promise<void> {
    this.calls.push(structuredClone(request));
    const fault = this.faults.get(request.endpoint);
    if (fault?.rejectStart === true) throw new Error(`${request.endpoint} is unreachable`);
    this.#sessions.set(request.endpoint, { request, step: 0, fault });
    this.maxActive = Math.max(this.maxActive, this.#sessions.size);
  }

  async cancelUpdate(request: Pick<UpdateRequest, 'endpoint' | 'campaignId' | 'attempt'>): Promise<void> {
    const s = this.#sessions.get(request.endpoint);
    if (s !== undefined && s.request.attempt === request.attempt) this.#sessions.delete(request.endpoint);
  }

  /** Advances every active update by one Object 5 step, sending the device's reports. */
  async step(): Promise<void> {
    for (const [endpoint, s] of [...this.#sessions]) {
      const { campaignId, attempt } = s.request;
      const send = (r: Record<string, unknown>): Promise<unknown> => this.report({ endpoint, campaignId, attempt, ...r } as DeviceReport);
      const f = s.fault;
      if (f?.silent === true) continue;
      const failing = f?.result !== undefined || f?.failAttempts !== undefined ? (f.failAttempts === undefined || attempt <= f.failAttempts) : false;
      const step = s.step++;
      if (failing) {
        if (step === 0) await send({ kind: 'state', state: 1 });
        else {
          // Object 5: a failed download or update returns to Idle with the Update Result set.
          await send({ kind: 'state', state: 0 });
          await send({ kind: 'result', result: f?.result ?? 4 });
          this.#sessions.delete(endpoint);
        }
        continue;
      }
      switch (step) {
        case 0:
          await send({ kind: 'state', state: 1 });
          await send({ kind: 'result', result: 0 });
          break;
        case 1:
          await send({ kind: 'progress', percent: 50 });
          break;
        case 2:
          await send({ kind: 'progress', percent: 100 });
          await send({ kind: 'state', state: 2 });
          break;
        case 3:
          await send({ kind: 'state', state: 3 });
          break;
        case 4:
          await send({ kind: 'state', state: 0 });
          await send({ kind: 'result', result: 1 });
          break;
        default: {
          this.#sessions.delete(endpoint);
          const version = f?.rollback === true ? (this.versions.get(endpoint) ?? '0.0.0') : s.request.firmware.version;
          this.versions.set(endpoint, version);
          await this.onVersion(endpoint, version);
          await send({ kind: 'version', version });
        }
      }
    }
  }

  /** Attempts started per device: every (endpoint, attempt) must appear once. */
  duplicateAttempts(): string[] {
    const seen = new Set<string>();
    const dups: string[] = [];
    for (const c of this.calls) {
      const key = `${c.campaignId}/${c.endpoint}#${c.attempt}`;
      if (seen.has(key)) dups.push(key);
      seen.add(key);
    }
    return dups;
  }
}
