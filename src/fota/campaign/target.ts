/**
 * Which devices a campaign targets, and in which order they roll out. The order is a hash of
 * campaign id and endpoint: stable across restarts and nodes, yet spread over the fleet, so the
 * canary wave is not always the alphabetically first devices (one site, one production batch).
 */
import { createHash } from 'node:crypto';
import type { DeviceRecord } from '../../store/types.js';
import type { CampaignFirmware } from './driver.js';
import { parseSemVerRange, satisfies } from '../semver.js';
import { isTargetVersion, type CampaignSpec } from './spec.js';

export type TargetMatcher = (device: DeviceRecord) => boolean;

/** The filter of a campaign: model, version range, every tag, explicit endpoints; never devices already on the target. */
export function targetMatcher(spec: CampaignSpec, firmware: CampaignFirmware): TargetMatcher {
  const { model, versionRange, tags, endpoints } = spec.target;
  const range = versionRange === null ? undefined : parseSemVerRange(versionRange);
  const only = endpoints === null ? undefined : new Set(endpoints);
  const wantModel = model ?? firmware.model;
  return (device) => {
    if (only !== undefined && !only.has(device.endpoint)) return false;
    if (wantModel !== null && device.model !== wantModel) return false;
    if (!tags.every((t) => device.tags.includes(t))) return false;
    if (device.firmwareVersion !== null && isTargetVersion(device.firmwareVersion, firmware.version)) return false;
    if (range !== undefined && (device.firmwareVersion === null || !satisfies(device.firmwareVersion, range))) return false;
    return true;
  };
}

export function rolloutKey(campaignId: string, endpoint: string): string {
  return createHash('sha256').update(campaignId).update('\u0000').update(endpoint).digest('hex');
}
