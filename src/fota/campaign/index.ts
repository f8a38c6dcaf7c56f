/**
 * The campaign engine (deployment management of firmware updates): campaign specs and their
 * validation, the engine, and the interfaces it drives (DeliveryDriver) and is given
 * (FirmwareCatalog, CampaignClock, LeadershipLock).
 */
export { CampaignEngine, type CampaignEngineOptions, type CampaignView, type TickSummary } from './campaign-engine.js';
export type { CampaignEngineEvent, CampaignProgress, WaveSummary } from './context.js';
export type { FailureReason, ReportOutcome } from './device-tracker.js';
export {
  singleNodeLeadership,
  systemClock,
  type CampaignClock,
  type CampaignFirmware,
  type DeliveryDriver,
  type DeviceReport,
  type FirmwareCatalog,
  type LeadershipLock,
  type UpdateRequest,
} from './driver.js';
export {
  CampaignApprovalRequiredError,
  CampaignConflictError,
  CampaignEngineClosedError,
  CampaignError,
  CampaignNotFoundError,
  CampaignReportError,
  CampaignSpecError,
  CampaignTransitionError,
  CampaignUnknownFirmwareError,
} from './errors.js';
export { DEFAULT_RETRY_ON, FIRMWARE_STATE, FIRMWARE_STATE_NAMES, UPDATE_RESULT, UPDATE_RESULT_NAMES, type FirmwareState, type UpdateResult } from './object5.js';
export { compareSemVer, parseSemVer, parseSemVerRange, satisfies, SemVerRangeSyntaxError, type SemVer, type SemVerRange } from '../semver.js';
export {
  DELIVERY_METHODS,
  isDeliveryMethod,
  type DeliveryMethod,
  isTargetVersion,
  retryDelayMs,
  scheduleAllows,
  validateCampaignSpec,
  waveEnds,
  type CampaignInput,
  type CampaignSpec,
  type CampaignTarget,
  type RetryPolicyInput,
  type WaveSize,
} from './spec.js';
export { assertTransition, canTransition } from './transitions.js';
