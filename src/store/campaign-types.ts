/**
 * What the store keeps for firmware campaigns (migration 5): the campaign, one row per targeted
 * device, and an append-only event timeline. The campaign room (src/fota/campaign) owns the
 * meaning of `spec` and `progress`; the store keeps them as JSON objects and enforces only what
 * makes the engine safe on several nodes: compare-and-set updates, so a decision taken on stale
 * data fails instead of being applied twice.
 */

export type CampaignState = 'draft' | 'approved' | 'running' | 'paused' | 'completed' | 'cancelled';
export const CAMPAIGN_STATES: readonly CampaignState[] = ['draft', 'approved', 'running', 'paused', 'completed', 'cancelled'];

/**
 * Where one device stands in a campaign. `in-flight`: an attempt was decided (and recorded)
 * and the device has not reached an outcome; `retry-wait`: the last attempt failed and another
 * one is due at `dueAt`.
 */
export type CampaignDeviceStatus = 'pending' | 'in-flight' | 'retry-wait' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export const CAMPAIGN_DEVICE_STATUSES: readonly CampaignDeviceStatus[] = ['pending', 'in-flight', 'retry-wait', 'succeeded', 'failed', 'skipped', 'cancelled'];

export type CampaignPackageKind = 'delta' | 'full';

export interface CampaignRecord {
  id: string;
  name: string;
  firmwareId: string;
  state: CampaignState;
  /** The validated campaign specification (JSON; shape owned by the campaign room). */
  spec: Record<string, unknown>;
  /** Engine bookkeeping: current wave, wave sizes, overrides (JSON; owned by the campaign room). */
  progress: Record<string, unknown>;
  /** Why the campaign is in its state (e.g. the error rate that paused it), or null. */
  stateReason: string | null;
  /** Incremented by every update; update() refuses a stale expectedRevision. */
  revision: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewCampaign {
  id: string;
  name: string;
  firmwareId: string;
  spec: Record<string, unknown>;
  createdBy: string;
  /** Default 'draft'. */
  state?: CampaignState;
  progress?: Record<string, unknown>;
}

export type CampaignPatch = Partial<Pick<CampaignRecord, 'name' | 'state' | 'spec' | 'progress' | 'stateReason'>>;

export interface CampaignDeviceRecord {
  campaignId: string;
  endpoint: string;
  /** 0-based index of the wave the device belongs to. */
  wave: number;
  /** 1, 2, 3, ... in the order devices joined the campaign (the rollout order). */
  position: number;
  status: CampaignDeviceStatus;
  /** Attempts started so far (0 before the first). */
  attempt: number;
  /** LwM2M Object 5 State (/5/0/3): 0 Idle, 1 Downloading, 2 Downloaded, 3 Updating. */
  fwState: number | null;
  /** LwM2M Object 5 Update Result (/5/0/5): 0..9. */
  updateResult: number | null;
  /** Download progress in percent, 0..100. */
  progress: number | null;
  /** The firmware version the device reported when it joined. */
  fromVersion: string | null;
  /** The firmware version the device reported last (after reboot: the proof of success). */
  reportedVersion: string | null;
  packageKind: CampaignPackageKind | null;
  /** Why the device failed or was skipped (a short code such as 'result-code' or 'timeout'). */
  failure: string | null;
  /** When the engine must look at this device next: retry time or in-flight deadline (ISO). */
  dueAt: string | null;
  joinedAt: string;
  updatedAt: string;
}

export interface NewCampaignDevice {
  endpoint: string;
  wave: number;
  fromVersion: string | null;
  /** Default 'pending'. */
  status?: CampaignDeviceStatus;
  failure?: string | null;
}

export type CampaignDevicePatch = Partial<
  Pick<CampaignDeviceRecord, 'wave' | 'status' | 'attempt' | 'fwState' | 'updateResult' | 'progress' | 'reportedVersion' | 'packageKind' | 'failure' | 'dueAt'>
>;

/** What an updateDevice() caller believes the row holds; the update applies only if it does. */
export interface CampaignDeviceExpectation {
  status: CampaignDeviceStatus;
  attempt: number;
}

export interface CampaignEventRecord {
  /** Increasing across the whole table (ordering of events, keyset pagination). */
  id: number;
  campaignId: string;
  /** The device the event is about, or null for campaign-level events. */
  endpoint: string | null;
  at: string;
  /** Dotted kind: 'campaign.state', 'wave.started', 'device.attempt', 'device.report', ... */
  type: string;
  details: Record<string, unknown>;
}

export interface NewCampaignEvent {
  endpoint?: string | null;
  type: string;
  details?: Record<string, unknown>;
}

export interface CampaignDeviceQuery {
  status?: CampaignDeviceStatus | readonly CampaignDeviceStatus[];
  /** Only devices in waves 0..maxWave. */
  maxWave?: number;
  /** Only devices whose dueAt is set and <= this ISO time. */
  dueBy?: string;
  /** Position to continue after (keyset pagination, ordered by position). */
  after?: number;
  limit?: number;
}

export interface CampaignDeviceCount {
  wave: number;
  status: CampaignDeviceStatus;
  count: number;
}

export interface CampaignRepository {
  /** Throws ERR_STORE_CONFLICT if the id exists. The optional event is appended in the same transaction. */
  create(campaign: NewCampaign, event?: NewCampaignEvent): Promise<CampaignRecord>;
  get(id: string): Promise<CampaignRecord | undefined>;
  /** Ordered by id; `after` is an id (keyset pagination). */
  list(options?: { state?: CampaignState | readonly CampaignState[]; after?: string; limit?: number }): Promise<CampaignRecord[]>;
  /**
   * Applies the patch if the campaign's revision is still `expectedRevision`, appending `event`
   * in the same transaction. ERR_STORE_NOT_FOUND if absent, ERR_STORE_CONFLICT if the revision moved.
   */
  update(id: string, expectedRevision: number, patch: CampaignPatch, event?: NewCampaignEvent): Promise<CampaignRecord>;
  /** Deletes the campaign with its devices and events; false if absent. */
  delete(id: string): Promise<boolean>;

  /**
   * Adds devices that are not in the campaign yet (others are left as they are) and returns the
   * rows added, positions continuing after the campaign's last. ERR_STORE_NOT_FOUND if no campaign.
   */
  addDevices(id: string, devices: readonly NewCampaignDevice[]): Promise<CampaignDeviceRecord[]>;
  getDevice(id: string, endpoint: string): Promise<CampaignDeviceRecord | undefined>;
  /** Ordered by position. */
  listDevices(id: string, query?: CampaignDeviceQuery): Promise<CampaignDeviceRecord[]>;
  countDevices(id: string): Promise<CampaignDeviceCount[]>;
  /**
   * Compare-and-set: applies the patch (and appends `event`, in one transaction) only if the row
   * still has the expected status and attempt; returns undefined when it does not (another node
   * or an earlier call decided first). ERR_STORE_NOT_FOUND if the row does not exist.
   */
  updateDevice(id: string, endpoint: string, expect: CampaignDeviceExpectation, patch: CampaignDevicePatch, event?: NewCampaignEvent): Promise<CampaignDeviceRecord | undefined>;
  /** Every campaign row of one device (any campaign), ordered by campaign id. */
  devicesByEndpoint(endpoint: string): Promise<CampaignDeviceRecord[]>;

  /** ERR_STORE_NOT_FOUND if no campaign. */
  appendEvent(id: string, event: NewCampaignEvent): Promise<CampaignEventRecord>;
  /** Oldest first; `after` is an event id. */
  listEvents(id: string, options?: { endpoint?: string; after?: number; limit?: number }): Promise<CampaignEventRecord[]>;
}
