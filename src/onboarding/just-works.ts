/**
 * Just-works owner transfer, off unless the operator turns it on (`onboarding.justWorks: true`)
 * and then only with an explicit approval per device. OCF's just-works runs an anonymous ECDH:
 * nothing authenticates the device. Here the device makes its own P-256 key and connects over
 * CoAPs with it as a raw public key (ECDHE_ECDSA, so the session is at least safe from passive
 * listeners). The server refuses the unknown key but remembers its fingerprint (`keySeen`); the
 * operator, who has checked the fingerprint against the device (label, display), approves it for
 * a device in RESET (`approve`): the key is bound as the device's rpk credential and ownership
 * moves RESET → RFOTM → RFPRO. The device's next handshake is accepted as that device.
 *
 * The list of keys seen is bounded (oldest dropped) and kept in store.settings: anyone can
 * present a key, so neither its size nor the audit log may grow with what strangers send (the
 * refusals themselves go through the CoAPs listener's rate-limited handshake audit).
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { AuditLog, DeviceRepository, SettingsRepository } from '../store/types.js';
import { OnboardingError, UnknownDeviceError } from './errors.js';
import { auditText } from './masa-registry.js';
import type { OwnershipService } from './ownership-service.js';

const SETTINGS_KEY = 'onboarding.just-works.seen';

/** A just-works approval that cannot be made (key never seen, device not in RESET). */
export class JustWorksError extends OnboardingError {
  constructor(code: 'ERR_ONBOARDING_JUST_WORKS_UNKNOWN_KEY' | 'ERR_ONBOARDING_JUST_WORKS_STATE', message: string) {
    super(code, message);
  }
}

export interface SeenKey {
  /** Hex SHA-256 of the SubjectPublicKeyInfo (the rpk credential lookup). */
  fingerprint: string;
  firstSeen: string;
  lastSeen: string;
}

export interface JustWorksOptions {
  settings: SettingsRepository;
  devices: DeviceRepository;
  audit: AuditLog;
  ownership: OwnershipService;
  /** How many unknown keys are remembered (default 100). */
  maxSeen?: number;
  now?: () => Date;
}

export interface JustWorksService {
  /** From the CoAPs listener: an unknown raw public key was presented. */
  keySeen(spki: Uint8Array): Promise<void>;
  pending(): Promise<SeenKey[]>;
  approve(request: { fingerprint: string; endpoint: string; actor: string }): Promise<{ endpoint: string; fingerprint: string; ownershipState: string }>;
}

export function createJustWorksService(options: JustWorksOptions): JustWorksService {
  const { settings, devices, audit, ownership } = options;
  const maxSeen = options.maxSeen ?? 100;
  const now = options.now ?? (() => new Date());
  // The raw keys of the remembered fingerprints, in memory: approval binds the very key seen.
  const keys = new Map<string, Uint8Array>();
  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  async function load(): Promise<SeenKey[]> {
    const raw = await settings.get(SETTINGS_KEY);
    return raw === undefined ? [] : (JSON.parse(raw) as SeenKey[]);
  }

  return {
    keySeen(spki) {
      return serialised(async () => {
        const fingerprint = createHash('sha256').update(spki).digest('hex');
        const at = now().toISOString();
        const list = await load();
        const known = list.find((k) => k.fingerprint === fingerprint);
        if (known !== undefined) {
          known.lastSeen = at;
        } else {
          list.push({ fingerprint, firstSeen: at, lastSeen: at });
          while (list.length > maxSeen) keys.delete(list.shift()!.fingerprint);
        }
        keys.set(fingerprint, new Uint8Array(spki));
        await settings.set(SETTINGS_KEY, JSON.stringify(list));
      });
    },

    async pending() {
      return (await load()).filter((k) => keys.has(k.fingerprint));
    },

    approve({ fingerprint, endpoint, actor }) {
      if (typeof actor !== 'string' || actor.length === 0) throw new InvalidArgumentError('actor', 'expected who acts');
      if (typeof fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(fingerprint)) throw new InvalidArgumentError('fingerprint', 'expected 64 lowercase hex digits');
      return serialised(async () => {
        const deny = async (err: OnboardingError): Promise<never> => {
          await audit.append({ actor: auditText(actor), action: 'onboarding.just-works.approve', subject: auditText(endpoint), outcome: 'deny', details: { fingerprint, code: err.code } });
          throw err;
        };
        const spki = keys.get(fingerprint);
        if (spki === undefined) return deny(new JustWorksError('ERR_ONBOARDING_JUST_WORKS_UNKNOWN_KEY', `no device presented key ${fingerprint} since this server started`));
        const device = await devices.get(endpoint);
        if (device === undefined) return deny(new UnknownDeviceError(endpoint));
        if (device.ownershipState !== 'RESET') return deny(new JustWorksError('ERR_ONBOARDING_JUST_WORKS_STATE', `device ${endpoint} is ${device.ownershipState}; just-works starts from RESET`));
        await devices.addCredential({ endpoint, kind: 'rpk', lookup: fingerprint, material: spki });
        try {
          await ownership.transition(endpoint, 'begin-transfer', { actor, expectedState: 'RESET', details: { method: 'just-works', fingerprint } });
          await ownership.transition(endpoint, 'owner-established', { actor, expectedState: 'RFOTM', details: { method: 'just-works', fingerprint } });
        } catch (err) {
          // Nothing half-done: the key is unbound again and the device put back where it was.
          await devices.removeCredential('rpk', fingerprint);
          const d = await devices.get(endpoint);
          if (d !== undefined && d.ownershipState === 'RFOTM') await ownership.transition(endpoint, 'abort-transfer', { actor, details: { method: 'just-works' } });
          throw err;
        }
        keys.delete(fingerprint);
        await settings.set(SETTINGS_KEY, JSON.stringify((await load()).filter((k) => k.fingerprint !== fingerprint)));
        await audit.append({ actor, action: 'onboarding.just-works.approve', subject: endpoint, outcome: 'success', details: { fingerprint } });
        return { endpoint, fingerprint, ownershipState: 'RFPRO' };
      });
    },
  };
}
