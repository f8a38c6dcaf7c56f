/**
 * What the campaign engine drives and what it is given: the delivery driver (the device side,
 * implemented on the LwM2M server: Package URI write to /5/0/1 or Block1 push to /5/0/0,
 * observation of /5/0/3 and /5/0/5, /3/0/3 after reboot), the firmware catalog, the clock and
 * the leadership lock. The engine imports none of their implementations; server/ injects them.
 */
import type { CampaignPackageKind } from '../../store/campaign-types.js';
import type { FirmwareState, UpdateResult } from './object5.js';
import type { DeliveryMethod } from './spec.js';

/** The campaign's target firmware as the catalog describes it. */
export interface CampaignFirmware {
  id: string;
  /** The SemVer the device must report after reboot. */
  version: string;
  /** The device model/class the image is built for; null when it fits any. */
  model: string | null;
}

export interface FirmwareCatalog {
  /** The firmware with this id, or undefined if there is none. */
  describe(firmwareId: string): Promise<CampaignFirmware | undefined>;
  /**
   * 'delta' when a delta from `fromVersion` to this firmware exists (or is being built and will
   * be served), 'full' otherwise. Called once per attempt, just before startUpdate.
   */
  packageKindFor(firmwareId: string, fromVersion: string | null): Promise<CampaignPackageKind>;
}

/** One attempt of one device, exactly as recorded in the store before the driver is called. */
export interface UpdateRequest {
  endpoint: string;
  campaignId: string;
  /** 1-based; the engine never asks for the same (campaignId, endpoint, attempt) twice. */
  attempt: number;
  firmware: CampaignFirmware;
  packageKind: CampaignPackageKind;
  /** The version the registry says the device runs now (the delta's base). */
  fromVersion: string | null;
  /** The campaign's delivery method; null (or absent, from older callers): the driver's default. */
  delivery?: DeliveryMethod | null;
}

export interface DeliveryDriver {
  /**
   * Begins delivery (e.g. writes the Package URI, or starts the Block1 push) and resolves once
   * the device accepted it; it must not wait for the update itself. Progress arrives later as
   * DeviceReports through engine.onDeviceReport(). A rejection fails the attempt ('delivery-error').
   */
  startUpdate(request: UpdateRequest): Promise<void>;
  /**
   * Optional: whether the device can be reached now (e.g. it has a live DTLS session with this
   * server). Asked before an attempt is recorded; false leaves the device waiting without using
   * up an attempt, so a device that has not reconnected since a server restart, or a server that
   * is shutting down, never burns retries. Errors count as false.
   */
  canDeliver?(endpoint: string): Promise<boolean>;
  /**
   * Optional: stop an attempt the engine gave up on (timeout, cancelled campaign), e.g. by writing
   * an empty Package URI, which resets Object 5 to Idle. Errors are recorded, not retried.
   */
  cancelUpdate?(request: Pick<UpdateRequest, 'endpoint' | 'campaignId' | 'attempt'>): Promise<void>;
}

interface ReportBase {
  endpoint: string;
  campaignId: string;
  /** The attempt the driver's update belongs to (from its UpdateRequest). */
  attempt: number;
}

/** What the driver observed on a device, passed to engine.onDeviceReport(). */
export type DeviceReport =
  | (ReportBase & { kind: 'state'; state: FirmwareState })
  | (ReportBase & { kind: 'progress'; percent: number })
  | (ReportBase & { kind: 'result'; result: UpdateResult })
  /** The firmware version the device runs (/3/0/3), read after it re-registers. */
  | (ReportBase & { kind: 'version'; version: string })
  /** The driver lost the device for this attempt (write refused, registration gone, transfer aborted). */
  | (ReportBase & { kind: 'error'; message: string });

/** Milliseconds since the epoch; tests inject a manual clock, so waves and timeouts need no waiting. */
export interface CampaignClock {
  now(): number;
}

export const systemClock: CampaignClock = { now: () => Date.now() };

/**
 * Multi-node hook: only the leader starts attempts, advances waves and handles timeouts (reports
 * and operator commands are safe on every node: each store write is compare-and-set). A
 * PostgreSQL advisory-lock implementation comes with scale-out.
 */
export interface LeadershipLock {
  /** Called at every tick; true while this node leads. */
  isLeader(): Promise<boolean>;
  release?(): Promise<void>;
}

/** One node: always the leader. */
export const singleNodeLeadership: LeadershipLock = { isLeader: async () => true };
