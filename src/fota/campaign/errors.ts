/**
 * Typed failures of the campaign engine. The API maps them to HTTP statuses and the CLI to exit
 * codes by `code`; messages are for people.
 */
import { RootlineError } from '../../errors.js';

/** Base class: `err instanceof CampaignError` catches every campaign failure. */
export class CampaignError extends RootlineError {}

/** A campaign specification field is missing, malformed or contradicts another; `field` names it. */
export class CampaignSpecError extends CampaignError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('ERR_CAMPAIGN_INVALID_SPEC', `${field}: ${message}`);
    this.field = field;
  }
}

/** The requested state change is not allowed from the campaign's current state. */
export class CampaignTransitionError extends CampaignError {
  readonly from: string;
  readonly to: string;

  constructor(from: string, to: string, message?: string) {
    super('ERR_CAMPAIGN_ILLEGAL_TRANSITION', message ?? `a ${from} campaign cannot become ${to}`);
    this.from = from;
    this.to = to;
  }
}

/** The campaign must be approved before it can start (spec.requiresApproval). */
export class CampaignApprovalRequiredError extends CampaignError {
  constructor(id: string) {
    super('ERR_CAMPAIGN_APPROVAL_REQUIRED', `campaign ${JSON.stringify(id)} requires approval before it starts`);
  }
}

export class CampaignNotFoundError extends CampaignError {
  constructor(id: string) {
    super('ERR_CAMPAIGN_NOT_FOUND', `campaign ${JSON.stringify(id)} does not exist`);
  }
}

/** The firmware the campaign names is not in the firmware catalog. */
export class CampaignUnknownFirmwareError extends CampaignError {
  constructor(firmwareId: string) {
    super('ERR_CAMPAIGN_UNKNOWN_FIRMWARE', `firmware ${JSON.stringify(firmwareId)} is not in the firmware catalog`);
  }
}

/** Another node (or call) changed the campaign between our read and our write; retry with fresh data. */
export class CampaignConflictError extends CampaignError {
  constructor(id: string, options?: { cause?: unknown }) {
    super('ERR_CAMPAIGN_CONFLICT', `campaign ${JSON.stringify(id)} was changed concurrently; try again`, options);
  }
}

/** A device report does not describe a valid Object 5 observation (bad state, result code, ...). */
export class CampaignReportError extends CampaignError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('ERR_CAMPAIGN_INVALID_REPORT', `${field}: ${message}`);
    this.field = field;
  }
}

/** The engine was closed. */
export class CampaignEngineClosedError extends CampaignError {
  constructor() {
    super('ERR_CAMPAIGN_ENGINE_CLOSED', 'the campaign engine is closed');
  }
}
