/**
 * The ownership lifecycle every device carries in the registry, after the OCF device states
 * (OCF Security Specification, "Device Onboarding State Definitions"):
 *
 *   RESET  ──begin-transfer──►  RFOTM  ──owner-established──►  RFPRO  ──provisioned──►  RFNOP
 *     ▲                          │ abort-transfer                 ▲ ▲                    │
 *     └──────────────────────────┘                                │ └──── reprovision ───┘
 *                                              SRESET ──reprovision┘
 *   RFPRO, RFNOP ──soft-reset──► SRESET      (credentials withdrawn, owner kept)
 *   RFOTM, RFPRO, RFNOP, SRESET ──decommission──► DECOMMISSIONED   (owner released)
 *   any but RESET and DECOMMISSIONED ──hard-reset──► RESET
 *   DECOMMISSIONED ──hard-reset──► RESET     (the device may be onboarded to a new owner)
 *
 * `nextOwnershipState` is pure: no I/O, no clock, only the table below. The service that
 * applies it to the store (with audit records) is in ownership-service.ts.
 */
import type { OwnershipState } from '../store/types.js';
import { IllegalTransitionError } from './errors.js';

export type OwnershipEvent = 'begin-transfer' | 'abort-transfer' | 'owner-established' | 'provisioned' | 'reprovision' | 'soft-reset' | 'decommission' | 'hard-reset';

export const OWNERSHIP_EVENTS: readonly OwnershipEvent[] = ['begin-transfer', 'abort-transfer', 'owner-established', 'provisioned', 'reprovision', 'soft-reset', 'decommission', 'hard-reset'];

const TRANSITIONS: Readonly<Record<OwnershipState, Partial<Record<OwnershipEvent, OwnershipState>>>> = {
  RESET: { 'begin-transfer': 'RFOTM' },
  RFOTM: { 'owner-established': 'RFPRO', 'abort-transfer': 'RESET', decommission: 'DECOMMISSIONED', 'hard-reset': 'RESET' },
  RFPRO: { provisioned: 'RFNOP', 'soft-reset': 'SRESET', decommission: 'DECOMMISSIONED', 'hard-reset': 'RESET' },
  RFNOP: { reprovision: 'RFPRO', 'soft-reset': 'SRESET', decommission: 'DECOMMISSIONED', 'hard-reset': 'RESET' },
  SRESET: { reprovision: 'RFPRO', decommission: 'DECOMMISSIONED', 'hard-reset': 'RESET' },
  DECOMMISSIONED: { 'hard-reset': 'RESET' },
};

/** The state after `event`; IllegalTransitionError (ERR_ONBOARDING_ILLEGAL_TRANSITION) when the table has no such edge. */
export function nextOwnershipState(from: OwnershipState, event: OwnershipEvent): OwnershipState {
  const row = Object.hasOwn(TRANSITIONS, from) ? TRANSITIONS[from] : undefined;
  const to = row !== undefined && Object.hasOwn(row, event) ? row[event] : undefined;
  if (to === undefined) throw new IllegalTransitionError(String(from), String(event));
  return to;
}

/** The events allowed in `state`, in OWNERSHIP_EVENTS order. */
export function allowedOwnershipEvents(state: OwnershipState): OwnershipEvent[] {
  const row = TRANSITIONS[state];
  return OWNERSHIP_EVENTS.filter((e) => row[e] !== undefined);
}
