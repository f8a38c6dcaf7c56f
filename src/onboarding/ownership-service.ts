/**
 * Applies ownership transitions to the device registry, one audit record per decision: the
 * transition ('ownership.transition', success, with from/to/event) or its refusal (deny, with
 * the error code). Callers name who acted (`actor`) as the audit log expects.
 *
 * Transitions on one endpoint are serialised in this process. The store offers no
 * compare-and-set on devices, so two processes racing on the same device could both read the
 * same state; the registrar is the only writer of ownership state, which makes that moot for one
 * registrar node (see README).
 */
import { InvalidArgumentError, RootlineError } from '../errors.js';
import type { AuditLog, DeviceRecord, DeviceRepository, OwnershipState } from '../store/types.js';
import { OwnershipStateChangedError, UnknownDeviceError } from './errors.js';
import { auditText } from './masa-registry.js';
import { nextOwnershipState, OWNERSHIP_EVENTS, type OwnershipEvent } from './ownership.js';

export interface OwnershipServiceOptions {
  devices: DeviceRepository;
  audit: AuditLog;
}

export interface TransitionOptions {
  /** 'operator:<name>', 'device:<endpoint>', 'system', ... */
  actor: string;
  /** Refuse unless the device is in this state now (guards a decision made on a stale read). */
  expectedState?: OwnershipState;
  /** Extra audit details (never secrets). */
  details?: Record<string, unknown>;
}

export interface OwnershipService {
  transition(endpoint: string, event: OwnershipEvent, options: TransitionOptions): Promise<DeviceRecord>;
}

export function createOwnershipService(options: OwnershipServiceOptions): OwnershipService {
  const { devices, audit } = options;
  const queues = new Map<string, Promise<unknown>>();

  async function apply(endpoint: string, event: OwnershipEvent, opts: TransitionOptions): Promise<DeviceRecord> {
    let device: DeviceRecord | undefined;
    try {
      device = await devices.get(endpoint);
      if (device === undefined) throw new UnknownDeviceError(endpoint);
      if (opts.expectedState !== undefined && device.ownershipState !== opts.expectedState) {
        throw new OwnershipStateChangedError(`device ${endpoint} is ${device.ownershipState}, not ${opts.expectedState}`);
      }
      const to = nextOwnershipState(device.ownershipState, event);
      const updated = await devices.update(endpoint, { ownershipState: to });
      await audit.append({ actor: opts.actor, action: 'ownership.transition', subject: endpoint, outcome: 'success', details: { ...opts.details, event, from: device.ownershipState, to } });
      return updated;
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

  return {
    transition(endpoint, event, opts) {
      if (typeof endpoint !== 'string' || endpoint.length === 0) throw new InvalidArgumentError('endpoint', 'expected a non-empty string');
      if (!OWNERSHIP_EVENTS.includes(event)) throw new InvalidArgumentError('event', `expected one of ${OWNERSHIP_EVENTS.join(', ')}`);
      if (opts === null || typeof opts !== 'object' || typeof opts.actor !== 'string' || opts.actor.length === 0) throw new InvalidArgumentError('options.actor', 'expected who acts');
      const prev = queues.get(endpoint) ?? Promise.resolve();
      const run = prev.then(() => apply(endpoint, event, opts), () => apply(endpoint, event, opts));
      const settled = run.catch(() => undefined);
      queues.set(endpoint, settled);
      void settled.then(() => {
        if (queues.get(endpoint) === settled) queues.delete(endpoint);
      });
      return run;
    },
  };
}
