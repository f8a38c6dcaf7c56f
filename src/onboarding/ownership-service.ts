/**
 * Applies ownership transitions to the device registry, one audit record per decision: the
 * transition ('ownership.transition', success, with from/to/event) or its refusal (deny, with
 * the error code). Callers name who acted (`actor`) as the audit log expects.
 *
 * Transitions on one endpoint are serialised in this process. Given the store's
 * `updateDeviceAudited` (`updateAudited` below; it must write to the same log as `audit`), a
 * transition is one compare-and-set transaction — the new state only if the device is still in
 * the state it was read in, with its audit record — so processes racing on one device are
 * serialised by the database too: the loser re-reads and decides again. Without it the update and
 * the record are two writes and two processes could both act on the same read (see README).
 */
import { InvalidArgumentError, RootlineError } from '../errors.js';
import type { AuditLog, DeviceRecord, DeviceRepository, OwnershipState, Store } from '../store/types.js';
import { OwnershipStateChangedError, UnknownDeviceError } from './errors.js';
import { auditText } from './masa-registry.js';
import { nextOwnershipState, OWNERSHIP_EVENTS, type OwnershipEvent } from './ownership.js';

export interface OwnershipServiceOptions {
  devices: DeviceRepository;
  audit: AuditLog;
  /**
   * The store's `updateDeviceAudited` (bound), when `devices` and `audit` are that store's: each
   * transition then commits its new state and its record in one transaction, compare-and-set on
   * the state read. Omitted: `devices.update` then `audit.append`.
   */
  updateAudited?: NonNullable<Store['updateDeviceAudited']>;
}

/** How often a transition re-reads after losing a compare-and-set to another process. */
const MAX_TRANSITION_ATTEMPTS = 8;

export interface TransitionOptions {
  /** 'operator:<name>', 'device:<endpoint>', 'system', ... */
  actor: string;
  /** Refuse unless the device is in this state now (guards a decision made on a stale read). */
  expectedState?: OwnershipState;
  /** Extra audit details (never secrets). */
  details?: Record<string, unknown>;
}

/** What a registration did to the device's ownership state (`deviceRegistered`). */
export type RegistrationOutcome =
  /** RFPRO → RFNOP now (audited success). */
  | 'provisioned'
  /** Nothing to do: already RFNOP, or a device outside the lifecycle's provisioning (RESET, RFOTM), or unknown. */
  | 'unchanged'
  /** SRESET or DECOMMISSIONED: its credentials were withdrawn; left there, audited deny. */
  | 'refused';

export interface OwnershipService {
  transition(endpoint: string, event: OwnershipEvent, options: TransitionOptions): Promise<DeviceRecord>;
  /**
   * The LwM2M server acknowledged `endpoint`'s registration. OCF "provisioned": a device in RFPRO
   * now runs with what it was given and moves to RFNOP, whatever owner transfer brought it there
   * (BRSKI, random PIN, just-works) or whether it came back from SRESET by `reprovision`; actor
   * `device:<endpoint>`, audited `ownership.transition` with `trigger`. Idempotent: a device
   * already in RFNOP (a re-registration, or a second event racing the first) is left alone with
   * no record. A device in SRESET or DECOMMISSIONED is never moved (the table has no such edge
   * and its credentials were withdrawn): audited deny, `ERR_ONBOARDING_ILLEGAL_TRANSITION`.
   * RESET and RFOTM devices (managed outside onboarding, or mid-transfer) are left alone.
   */
  deviceRegistered(endpoint: string, options?: { trigger?: string }): Promise<RegistrationOutcome>;
}

export function createOwnershipService(options: OwnershipServiceOptions): OwnershipService {
  const { devices, audit, updateAudited } = options;
  const queues = new Map<string, Promise<unknown>>();

  async function apply(endpoint: string, event: OwnershipEvent, opts: TransitionOptions): Promise<DeviceRecord> {
    let device: DeviceRecord | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        device = await devices.get(endpoint);
        if (device === undefined) throw new UnknownDeviceError(endpoint);
        if (opts.expectedState !== undefined && device.ownershipState !== opts.expectedState) {
          throw new OwnershipStateChangedError(`device ${endpoint} is ${device.ownershipState}, not ${opts.expectedState}`);
        }
        const from = device.ownershipState;
        const to = nextOwnershipState(from, event);
        const record = { actor: opts.actor, action: 'ownership.transition', subject: endpoint, outcome: 'success' as const, details: { ...opts.details, event, from, to } };
        if (updateAudited === undefined) {
          const updated = await devices.update(endpoint, { ownershipState: to });
          await audit.append(record);
          return updated;
        }
        const done = await updateAudited(endpoint, { ownershipState: to }, record, { expectedState: from });
        if (done !== undefined) return done.device;
        // Another process moved the device between the read and the write: decide again on what it
        // is now (as if the two had run one after the other), a bounded number of times.
        if (attempt >= MAX_TRANSITION_ATTEMPTS) throw new OwnershipStateChangedError(`device ${endpoint} kept changing state under this transition`);
      }
    } catch (err) {
      if (err instanceof RootlineError) {
        await audit.append({
          actor: auditText(opts.actor),
          action: 'ownership.transition',
          subject: auditText(endpoint),
          outcome: 'deny',
          details: { ...opts.details, event, from: device?.ownershipState ?? null, code: err.code },
        });
      }
      throw err;
    }
  }

  /** Runs `fn` after every earlier operation on `endpoint` in this process has settled. */
  function serialised<T>(endpoint: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(endpoint) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.catch(() => undefined);
    queues.set(endpoint, settled);
    void settled.then(() => {
      if (queues.get(endpoint) === settled) queues.delete(endpoint);
    });
    return run;
  }

  // Read and decide inside the endpoint's queue: two registrations of one device (or one racing a
  // decommission) see each other's result, so the second is a no-op rather than a stale-read deny.
  async function registered(endpoint: string, trigger: string): Promise<RegistrationOutcome> {
    const device = await devices.get(endpoint);
    if (device === undefined) return 'unchanged';
    const actor = `device:${endpoint}`;
    const method = typeof device.attributes.onboarding === 'string' ? { method: device.attributes.onboarding } : {};
    switch (device.ownershipState) {
      case 'RFPRO':
        await apply(endpoint, 'provisioned', { actor, expectedState: 'RFPRO', details: { ...method, trigger } });
        return 'provisioned';
      case 'SRESET':
      case 'DECOMMISSIONED':
        // Refused through the table (no edge), so the refusal is the one audit path: deny + code.
        await apply(endpoint, 'provisioned', { actor, details: { ...method, trigger } }).catch((err: unknown) => {
          if (!(err instanceof RootlineError)) throw err;
        });
        return 'refused';
      default:
        return 'unchanged';
    }
  }

  return {
    transition(endpoint, event, opts) {
      if (typeof endpoint !== 'string' || endpoint.length === 0) throw new InvalidArgumentError('endpoint', 'expected a non-empty string');
      if (!OWNERSHIP_EVENTS.includes(event)) throw new InvalidArgumentError('event', `expected one of ${OWNERSHIP_EVENTS.join(', ')}`);
      if (opts === null || typeof opts !== 'object' || typeof opts.actor !== 'string' || opts.actor.length === 0) throw new InvalidArgumentError('options.actor', 'expected who acts');
      return serialised(endpoint, () => apply(endpoint, event, opts));
    },
    deviceRegistered(endpoint, opts = {}) {
      if (typeof endpoint !== 'string' || endpoint.length === 0) throw new InvalidArgumentError('endpoint', 'expected a non-empty string');
      const trigger = opts.trigger ?? 'lwm2m.registered';
      if (typeof trigger !== 'string' || trigger.length === 0) throw new InvalidArgumentError('options.trigger', 'expected a non-empty string');
      return serialised(endpoint, () => registered(endpoint, trigger));
    },
  };
}
