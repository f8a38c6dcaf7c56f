/**
 * The campaign state machine: draft → (approved) → running ⇄ paused → completed | cancelled.
 * completed and cancelled are final. Every other move is a CampaignTransitionError.
 */
import type { CampaignState } from '../../store/campaign-types.js';
import { CampaignTransitionError } from './errors.js';

const ALLOWED: Readonly<Record<CampaignState, readonly CampaignState[]>> = {
  draft: ['approved', 'running', 'cancelled'],
  approved: ['running', 'cancelled'],
  running: ['paused', 'completed', 'cancelled'],
  paused: ['running', 'cancelled'],
  completed: [],
  cancelled: [],
};

export function canTransition(from: CampaignState, to: CampaignState): boolean {
  return ALLOWED[from].includes(to);
}

export function assertTransition(from: CampaignState, to: CampaignState): void {
  if (!canTransition(from, to)) throw new CampaignTransitionError(from, to);
}

/** States in which devices may still report and the engine still tracks attempts. */
export const TRACKED_STATES: readonly CampaignState[] = ['running', 'paused', 'cancelled'];
