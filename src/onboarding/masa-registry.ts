/**
 * What the MASA remembers per device: that it was minted (and with which IDevID), who owns it
 * now, which voucher-request nonces it has answered, and the request audit log the owner may
 * fetch (RFC 8995 §5.8). The MasaRegistry interface is what the MASA depends on; the one
 * implementation here keeps everything in the store's settings table as small JSON documents, so
 * it runs on SQLite and PostgreSQL without a schema change.
 *
 * Consistency: every read-modify-write goes through one in-process queue, which makes "first
 * claim wins" exact for a single MASA process. Several MASA processes on one PostgreSQL would
 * need a compare-and-set in the database (a migration with a claims table); see README.
 */
import { createHash } from 'node:crypto';
import type { SettingsRepository } from '../store/types.js';
import { DeviceExistsError, FactoryStateError } from './errors.js';

export interface MasaOwner {
  /** RFC 8995 §5.8.2 domainID of the pinned domain certificate (base64). */
  domainId: string;
  /** The pinned-domain-cert, base64 DER, as written into the voucher. */
  pinnedDomainCert: string;
  /** ISO 8601. */
  claimedAt: string;
}

export interface MasaDeviceRecord {
  serial: string;
  model: string;
  /** SHA-256 of the IDevID DER, hex: the MASA only vouches for the certificate it minted. */
  idevidFingerprint: string;
  /** The IDevID's authorityKeyIdentifier, hex (RFC 8366 idevid-issuer). */
  idevidIssuerKeyId?: string;
  mintedAt: string;
  owner?: MasaOwner;
}

/** One entry of the RFC 8995 §5.8.1 audit log. */
export interface MasaAuditEvent {
  date: string;
  domainID: string;
  /** The request's nonce (as sent, base64), or null for a nonceless request. */
  nonce: string | null;
  assertion: string;
  truncated: string;
}

export interface MasaRegistry {
  getDevice(serial: string): Promise<MasaDeviceRecord | undefined>;
  /** Throws ERR_ONBOARDING_DEVICE_EXISTS when the serial is taken. */
  addDevice(record: MasaDeviceRecord): Promise<void>;
  /**
   * Sets the owner only if the current owner's domainId equals `expectedDomainId` (undefined =
   * unowned). Returns false, changing nothing, when it does not.
   */
  compareAndSetOwner(serial: string, expectedDomainId: string | undefined, owner: MasaOwner | undefined): Promise<boolean>;
  /** Remembers a nonce for a serial; false if it was seen before (a replay). */
  rememberNonce(serial: string, nonce: Uint8Array): Promise<boolean>;
  appendAuditEvent(serial: string, event: MasaAuditEvent): Promise<void>;
  auditEvents(serial: string): Promise<MasaAuditEvent[]>;
}

/**
 * Serial numbers this factory mints: they go into a PrintableString (RFC 5280 App. A) and into
 * registry keys. A request naming anything else cannot be for one of our devices.
 */
export const SERIAL_NUMBER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.:-]{0,63}$/;

/**
 * Text from a request made fit for the audit log (which refuses control characters and broken
 * Unicode): controls become U+FFFD, lone surrogates too, and the length is bounded.
 */
export function auditText(value: string, max = 255): string {
  let out = '';
  for (const ch of value.slice(0, max)) {
    const c = ch.codePointAt(0)!;
    out += c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xdfff) ? '\ufffd' : ch;
  }
  return out;
}

/** Most audit events kept per device; older ones are dropped (and the truncation counted). */
export const MAX_AUDIT_EVENTS_PER_DEVICE = 1000;

const DEVICE_PREFIX = 'masa.device.';
const NONCE_PREFIX = 'masa.nonce.';
const AUDIT_PREFIX = 'masa.auditlog.';

interface StoredAuditLog {
  events: MasaAuditEvent[];
  dropped: number;
}

/** A MasaRegistry over the store's settings table. */
export function settingsMasaRegistry(settings: SettingsRepository): MasaRegistry {
  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };
  const readJson = async <T>(key: string): Promise<T | undefined> => {
    const text = await settings.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new FactoryStateError(`MASA registry entry ${key} is not JSON`, { cause: err });
    }
  };

  return {
    getDevice: (serial) => readJson<MasaDeviceRecord>(DEVICE_PREFIX + serial),
    addDevice: (record) =>
      serialised(async () => {
        if ((await settings.get(DEVICE_PREFIX + record.serial)) !== undefined) throw new DeviceExistsError(record.serial);
        await settings.set(DEVICE_PREFIX + record.serial, JSON.stringify(record));
      }),
    compareAndSetOwner: (serial, expected, owner) =>
      serialised(async () => {
        const record = await readJson<MasaDeviceRecord>(DEVICE_PREFIX + serial);
        if (record === undefined || record.owner?.domainId !== expected) return false;
        const next: MasaDeviceRecord = { ...record };
        if (owner === undefined) delete next.owner;
        else next.owner = owner;
        await settings.set(DEVICE_PREFIX + serial, JSON.stringify(next));
        return true;
      }),
    rememberNonce: (serial, nonce) =>
      serialised(async () => {
        // Hashed: the key length stays fixed whatever the nonce, and no raw request data lands in keys.
        const key = `${NONCE_PREFIX}${serial}.${createHash('sha256').update(nonce).digest('hex')}`;
        if ((await settings.get(key)) !== undefined) return false;
        await settings.set(key, new Date().toISOString());
        return true;
      }),
    appendAuditEvent: (serial, event) =>
      serialised(async () => {
        const log = (await readJson<StoredAuditLog>(AUDIT_PREFIX + serial)) ?? { events: [], dropped: 0 };
        log.events.push(event);
        while (log.events.length > MAX_AUDIT_EVENTS_PER_DEVICE) {
          log.events.shift();
          log.dropped++;
        }
        await settings.set(AUDIT_PREFIX + serial, JSON.stringify(log));
      }),
    auditEvents: async (serial) => (await readJson<StoredAuditLog>(AUDIT_PREFIX + serial))?.events ?? [],
  };
}
