/**
 * Random-PIN owner transfer, after OCF's "Random PIN based owner transfer method" adapted to a
 * device that connects to its owner's server (rather than an onboarding tool connecting to it):
 *
 * 1. The operator starts a transfer for a device in RESET (`start`): a transfer id and a 16-byte
 *    salt. Neither is secret; the device learns them with its PIN prompt (display, local UI).
 * 2. The device draws a random PIN and shows it (`createDevicePin`), and derives
 *    PSK = HKDF-SHA-256(ikm = PIN, salt, info = "rootline pin-transfer v1" | 0x00 | device id).
 * 3. The operator types the PIN (`enterPin`); the server derives the same PSK. The PIN is never
 *    stored, logged or audited; the derived PSK lives in this process's memory only (after a
 *    restart the operator enters the PIN again).
 * 4. The device opens DTLS-PSK with identity `pin:<transfer-id>`; the CoAPs listener asks
 *    `lookupPsk`. A completed handshake (`handshakeSucceeded`) moves RESET → RFOTM; every failed
 *    one (`handshakeFailed`) counts, durably in store.settings; after `maxAttempts` (default 5)
 *    the transfer is locked (audited) and its PSK forgotten, so the right PIN no longer works.
 * 5. Over that session the device asks for its permanent credential (`issueCredential`): a fresh
 *    random 32-byte PSK under identity `<endpoint>`, bound through `bindPsk` (the server seals
 *    it), and RFOTM → RFPRO. The PIN-derived key is only ever a one-time channel: a PIN has too
 *    little entropy to protect a long-lived key against offline guessing.
 */
import { hkdfSync, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { InvalidArgumentError, RootlineError } from '../errors.js';
import type { AuditLog, DeviceRepository, SettingsRepository } from '../store/types.js';
import { OnboardingError, UnknownDeviceError } from './errors.js';
import { auditText } from './masa-registry.js';
import type { OwnershipService } from './ownership-service.js';

export const PIN_IDENTITY_PREFIX = 'pin:';
const SETTINGS_PREFIX = 'onboarding.pin-transfer.';
const INFO = 'rootline pin-transfer v1';
const PSK_BYTES = 32;

/** A PIN transfer that cannot take this step (unknown, locked, expired, not awaiting it). */
export class PinTransferError extends OnboardingError {
  constructor(code: 'ERR_ONBOARDING_PIN_TRANSFER_NOT_FOUND' | 'ERR_ONBOARDING_PIN_TRANSFER_LOCKED' | 'ERR_ONBOARDING_PIN_TRANSFER_STATE', message: string) {
    super(code, message);
  }
}

/** PSK = HKDF-SHA-256(PIN, salt, "rootline pin-transfer v1" 0x00 deviceId), 32 bytes. */
export function derivePinPsk(pin: string, salt: Uint8Array, deviceId: string): Uint8Array {
  if (typeof pin !== 'string' || !/^[0-9]{6,16}$/.test(pin)) throw new InvalidArgumentError('pin', 'expected 6..16 decimal digits');
  if (!(salt instanceof Uint8Array) || salt.length < 16) throw new InvalidArgumentError('salt', 'expected at least 16 bytes');
  if (typeof deviceId !== 'string' || deviceId.length === 0) throw new InvalidArgumentError('deviceId', 'expected a non-empty string');
  return new Uint8Array(hkdfSync('sha256', Buffer.from(pin, 'utf8'), salt, Buffer.concat([Buffer.from(INFO), Buffer.of(0), Buffer.from(deviceId, 'utf8')]), PSK_BYTES));
}

/** Device side: a uniformly random PIN of `digits` digits and the PSK and identity it gives. */
export function createDevicePin(transfer: { id: string; salt: Uint8Array; deviceId: string }, digits = 8): { pin: string; identity: string; psk: Uint8Array } {
  if (!Number.isInteger(digits) || digits < 6 || digits > 16) throw new InvalidArgumentError('digits', 'expected 6..16');
  let pin = '';
  for (let i = 0; i < digits; i++) pin += String(randomInt(10));
  return { pin, identity: `${PIN_IDENTITY_PREFIX}${transfer.id}`, psk: derivePinPsk(pin, transfer.salt, transfer.deviceId) };
}

export type PinTransferStatus = 'awaiting-pin' | 'ready' | 'connected' | 'completed' | 'locked' | 'expired';

export interface PinTransferView {
  id: string;
  endpoint: string;
  /** Hex; the device needs it with the id to derive its PSK. */
  salt: string;
  status: PinTransferStatus;
  failedAttempts: number;
  maxAttempts: number;
  createdAt: string;
  expiresAt: string;
}

interface Stored extends PinTransferView {
  createdBy: string;
}

export interface PinTransferServiceOptions {
  settings: SettingsRepository;
  devices: DeviceRepository;
  audit: AuditLog;
  ownership: OwnershipService;
  /** Binds the permanent PSK to the device (the server seals it). */
  bindPsk(endpoint: string, identity: string, key: Uint8Array): Promise<void>;
  /** Failed handshakes before the transfer locks (default 5). */
  maxAttempts?: number;
  /** How long a transfer may take (default 600 s). */
  ttlSeconds?: number;
  now?: () => Date;
}

export interface PinTransferService {
  start(request: { endpoint?: string; serial?: string; actor: string }): Promise<PinTransferView>;
  enterPin(id: string, pin: string, actor: string): Promise<PinTransferView>;
  get(id: string): Promise<PinTransferView>;
  /** For the CoAPs PSK lookup: the key of a `pin:` identity that may connect now, else undefined. */
  lookupPsk(identity: string): Promise<Uint8Array | undefined>;
  handshakeFailed(identity: string, peer: string): Promise<void>;
  handshakeSucceeded(identity: string, peer: string): Promise<void>;
  /** Over an established `pin:` session: the permanent credential, bound and returned once. */
  issueCredential(identity: string): Promise<{ endpoint: string; identity: string; key: Uint8Array }>;
}

export function isPinIdentity(identity: string): boolean {
  return identity.startsWith(PIN_IDENTITY_PREFIX);
}

export function createPinTransferService(options: PinTransferServiceOptions): PinTransferService {
  const { settings, devices, audit, ownership } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const ttlMs = (options.ttlSeconds ?? 600) * 1000;
  const now = options.now ?? (() => new Date());
  // Derived PSKs by transfer id: memory only (the PIN and its key never reach the store).
  const keys = new Map<string, Uint8Array>();
  const queues = new Map<string, Promise<unknown>>();

  function serialised<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const run = (queues.get(id) ?? Promise.resolve()).then(fn, fn);
    const settled = run.catch(() => undefined);
    queues.set(id, settled);
    void settled.then(() => {
      if (queues.get(id) === settled) queues.delete(id);
    });
    return run;
  }

  function view(s: Stored): PinTransferView {
    const { createdBy: _createdBy, ...v } = s;
    return v;
  }

  async function load(id: string): Promise<Stored> {
    const raw = /^[0-9a-f-]{36}$/.test(id) ? await settings.get(SETTINGS_PREFIX + id) : undefined;
    if (raw === undefined) throw new PinTransferError('ERR_ONBOARDING_PIN_TRANSFER_NOT_FOUND', `no PIN transfer ${JSON.stringify(id)}`);
    const s = JSON.parse(raw) as Stored;
    if ((s.status === 'awaiting-pin' || s.status === 'ready') && Date.parse(s.expiresAt) <= now().getTime()) {
      s.status = 'expired';
      keys.delete(id);
      await save(s);
    }
    return s;
  }

  async function save(s: Stored): Promise<void> {
    await settings.set(SETTINGS_PREFIX + s.id, JSON.stringify(s));
  }

  function idOf(identity: string): string {
    return identity.slice(PIN_IDENTITY_PREFIX.length);
  }

  async function event(actor: string, name: string, s: { id: string; endpoint: string }, outcome: 'allow' | 'deny' | 'success' | 'failure', details: Record<string, unknown> = {}): Promise<void> {
    await audit.append({ actor: auditText(actor), action: `onboarding.pin-transfer.${name}`, subject: s.endpoint, outcome, details: { transferId: s.id, ...details } });
  }

  return {
    async start({ endpoint, serial, actor }) {
      if (typeof actor !== 'string' || actor.length === 0) throw new InvalidArgumentError('actor', 'expected who acts');
      let device = typeof endpoint === 'string' && endpoint.length > 0 ? await devices.get(endpoint) : undefined;
      if (device === undefined && typeof serial === 'string' && serial.length > 0) {
        device = (await devices.list({ ownershipState: 'RESET', limit: 1000 })).find((d) => d.attributes.serialNumber === serial);
      }
      if (device === undefined) throw new UnknownDeviceError(endpoint ?? serial ?? '');
      if (device.ownershipState !== 'RESET') {
        await audit.append({ actor: auditText(actor), action: 'onboarding.pin-transfer.start', subject: device.endpoint, outcome: 'deny', details: { state: device.ownershipState } });
        throw new PinTransferError('ERR_ONBOARDING_PIN_TRANSFER_STATE', `device ${device.endpoint} is ${device.ownershipState}; a PIN transfer starts from RESET`);
      }
      const at = now();
      const s: Stored = { id: randomUUID(), endpoint: device.endpoint, salt: randomBytes(16).toString('hex'), status: 'awaiting-pin', failedAttempts: 0, maxAttempts, createdAt: at.toISOString(), expiresAt: new Date(at.getTime() + ttlMs).toISOString(), createdBy: actor };
      await save(s);
      await event(actor, 'start', s, 'success', { expiresAt: s.expiresAt });
      return view(s);
    },

    enterPin(id, pin, actor) {
      return serialised(id, async () => {
        const s = await load(id);
        if (s.status === 'locked') throw new PinTransferError('ERR_ONBOARDING_PIN_TRANSFER_LOCKED', `PIN transfer ${id} is locked after ${s.failedAttempts} failed attempts`);
        if (s.status !== 'awaiting-pin' && s.status !== 'ready') throw new PinTransferError('ERR_ONBOARDING_PIN_TRANSFER_STATE', `PIN transfer ${id} is ${s.status}`);
        // The PIN is used here and dropped: only its derived key is kept, in memory.
        keys.set(id, derivePinPsk(pin, Buffer.from(s.salt, 'hex'), s.endpoint));
        s.status = 'ready';
        await save(s);
        await event(actor, 'pin', s, 'success');
        return view(s);
      });
    },

    async get(id) {
      return view(await load(id));
    },

    async lookupPsk(identity) {
      if (!isPinIdentity(identity)) return undefined;
      const id = idOf(identity);
      try {
        const s = await load(id);
        return s.status === 'ready' ? keys.get(id) : undefined;
      } catch (err) {
        if (err instanceof RootlineError) return undefined;
        throw err;
      }
    },

    handshakeFailed(identity, peer) {
      const id = idOf(identity);
      return serialised(id, async () => {
        let s: Stored;
        try {
          s = await load(id);
        } catch {
          return;
        }
        if (s.status !== 'ready') return;
        s.failedAttempts++;
        const locked = s.failedAttempts >= s.maxAttempts;
        if (locked) {
          s.status = 'locked';
          keys.delete(id);
        }
        await save(s);
        await event(`peer:${peer}`, 'attempt', s, 'deny', { failedAttempts: s.failedAttempts, maxAttempts: s.maxAttempts });
        if (locked) await event('system', 'lock', s, 'deny', { failedAttempts: s.failedAttempts });
      });
    },

    handshakeSucceeded(identity, peer) {
      const id = idOf(identity);
      return serialised(id, async () => {
        const s = await load(id);
        if (s.status !== 'ready') return;
        s.status = 'connected';
        await save(s);
        await event(`peer:${peer}`, 'connect', s, 'success', { failedAttempts: s.failedAttempts });
        await ownership.transition(s.endpoint, 'begin-transfer', { actor: `device:${s.endpoint}`, expectedState: 'RESET', details: { method: 'random-pin', transferId: id } });
      });
    },

    issueCredential(identity) {
      const id = idOf(identity);
      return serialised(id, async () => {
        const s = await load(id);
        if (s.status !== 'connected') throw new PinTransferError('ERR_ONBOARDING_PIN_TRANSFER_STATE', `PIN transfer ${id} is ${s.status}`);
        const key = new Uint8Array(randomBytes(PSK_BYTES));
        const pskIdentity = s.endpoint;
        await options.bindPsk(s.endpoint, pskIdentity, key);
        s.status = 'completed';
        keys.delete(id);
        await save(s);
        await ownership.transition(s.endpoint, 'owner-established', { actor: `device:${s.endpoint}`, expectedState: 'RFOTM', details: { method: 'random-pin', transferId: id } });
        await event(`device:${s.endpoint}`, 'credential', s, 'success', { pskIdentity });
        return { endpoint: s.endpoint, identity: pskIdentity, key };
      });
    },
  };
}
