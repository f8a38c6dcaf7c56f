/**
 * The devices a MASA vouches for: that each was minted, and with which IDevID. Written once by
 * the factory line (`rootline factory mint`), read by every MASA node. Kept in the store's
 * settings table as small JSON documents, so it runs on SQLite and PostgreSQL alike.
 *
 * Ownership (claims), used nonces and the RFC 8995 §5.8.1 request log are *not* here: they live
 * in the store's MASA tables (store.masa, migration 6), where claiming is one atomic statement so
 * several MASA nodes on one PostgreSQL agree (see masa.ts).
 */
import type { SettingsRepository } from '../store/types.js';
import { DeviceExistsError, FactoryStateError } from './errors.js';

/** A claim as an earlier rootline kept it inside the device record (read only, to carry it over). */
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
  /**
   * The IDevID certificate, base64 DER (recorded by `factory mint` since cBRSKI support): what the
   * MASA verifies a constrained pledge's request with when it carries no certificate (cBRSKI
   * §9.2.2: the signing key "is already identified by the Pledge's unique serial number").
   * Devices minted before have none; their certificate-less requests are refused.
   */
  idevid?: string;
  mintedAt: string;
  /**
   * Legacy: where rootline before migration 6 kept the owner. Never written now; a MASA that
   * finds it and no claim row for the serial carries it into store.masa once.
   */
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

/** The minted devices. */
export interface MasaRegistry {
  getDevice(serial: string): Promise<MasaDeviceRecord | undefined>;
  /** Throws ERR_ONBOARDING_DEVICE_EXISTS when the serial is taken. */
  addDevice(record: MasaDeviceRecord): Promise<void>;
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

/** Most request-log events answered per device: the newest; older ones are counted in `truncation`. */
export const MAX_AUDIT_EVENTS_PER_DEVICE = 1000;

const DEVICE_PREFIX = 'masa.device.';

/**
 * A MasaRegistry over the store's settings table. addDevice is check-then-set, serialised in
 * this process: minting runs on one factory line; two lines minting the same serial into one
 * database at the same instant are not guarded against (serials come from one numbering plan).
 */
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
  };
}
