/**
 * Repository interfaces: what the platform keeps. Domain services depend on these, never on
 * SQLite or PostgreSQL; `server/` picks the implementation. Every method is async so that one
 * contract holds for the embedded SQLite store and the PostgreSQL one.
 */

import type { CampaignRepository } from './campaign-types.js';
import type { FirmwareRepository } from './firmware-types.js';
import type { MasaRepository, MasaRequestLogEntry } from './masa-types.js';

/** OCF-style ownership lifecycle state of a device (the onboarding room drives transitions). */
export type OwnershipState = 'RESET' | 'RFOTM' | 'RFPRO' | 'RFNOP' | 'SRESET' | 'DECOMMISSIONED';
export const OWNERSHIP_STATES: readonly OwnershipState[] = ['RESET', 'RFOTM', 'RFPRO', 'RFNOP', 'SRESET', 'DECOMMISSIONED'];

export interface DeviceRecord {
  /** LwM2M endpoint client name; the device's primary key. */
  endpoint: string;
  model: string | null;
  firmwareVersion: string | null;
  tags: string[];
  ownershipState: OwnershipState;
  /** Free-form JSON attributes (serial number, manufacturer, ...). */
  attributes: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface NewDevice {
  endpoint: string;
  model?: string | null;
  firmwareVersion?: string | null;
  tags?: string[];
  ownershipState?: OwnershipState;
  attributes?: Record<string, unknown>;
}

export type DevicePatch = Partial<Omit<NewDevice, 'endpoint'>>;

export type CredentialKind = 'psk' | 'rpk' | 'x509';

/**
 * A security credential bound to one device. The binding is what the LwM2M server checks: a
 * device may register only under the endpoint its credential is bound to.
 */
export interface DeviceCredential {
  endpoint: string;
  kind: CredentialKind;
  /**
   * The public half used to look the device up, unique per kind:
   * psk: the PSK identity (UTF-8); rpk: hex SHA-256 of the SubjectPublicKeyInfo;
   * x509: the certificate subject's common name (or the full subject DN).
   */
  lookup: string;
  /**
   * psk: the key, sealed by the caller (the store never sees a cleartext secret);
   * rpk: SubjectPublicKeyInfo DER; x509: the certificate DER (may be empty when only the
   * subject binding matters).
   */
  material: Uint8Array;
  createdAt: string;
}

export interface DeviceQuery {
  /** Substring match on the endpoint name. */
  search?: string;
  model?: string;
  tag?: string;
  ownershipState?: OwnershipState;
  limit?: number;
  /** Endpoint to continue after (keyset pagination, ordered by endpoint). */
  after?: string;
}

export interface DeviceRepository {
  /** Throws ERR_STORE_CONFLICT if the endpoint exists. */
  create(device: NewDevice): Promise<DeviceRecord>;
  get(endpoint: string): Promise<DeviceRecord | undefined>;
  list(query?: DeviceQuery): Promise<DeviceRecord[]>;
  count(query?: Omit<DeviceQuery, 'limit' | 'after'>): Promise<number>;
  /** Throws ERR_STORE_NOT_FOUND if absent. */
  update(endpoint: string, patch: DevicePatch): Promise<DeviceRecord>;
  /** Deletes the device and its credentials; returns false if absent. */
  delete(endpoint: string): Promise<boolean>;

  /**
   * Creates a device and binds its credentials in one transaction: either all of it is stored or
   * nothing is (ERR_STORE_CONFLICT if the endpoint exists or any (kind, lookup) is taken).
   */
  createWithCredentials(device: NewDevice, credentials: Array<Omit<DeviceCredential, 'createdAt' | 'endpoint'>>): Promise<{ device: DeviceRecord; credentials: DeviceCredential[] }>;

  /** Throws ERR_STORE_CONFLICT if (kind, lookup) is bound to a device already. */
  addCredential(credential: Omit<DeviceCredential, 'createdAt'>): Promise<DeviceCredential>;
  credentials(endpoint: string): Promise<DeviceCredential[]>;
  findCredential(kind: CredentialKind, lookup: string): Promise<DeviceCredential | undefined>;
  removeCredential(kind: CredentialKind, lookup: string): Promise<boolean>;
}

export type AuditOutcome = 'allow' | 'deny' | 'success' | 'failure';

export interface AuditEntry {
  /** Who acted: 'operator:<name>', 'device:<endpoint>', 'system'. */
  actor: string;
  /** What was decided or done, dotted: 'device.create', 'dtls.handshake', 'lwm2m.register'. */
  action: string;
  /** What it was done to (an endpoint, a key label, a campaign id). */
  subject: string;
  outcome: AuditOutcome;
  /** Extra JSON details. Never secrets. */
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<AuditEntry> {
  /** 1, 2, 3, ... with no gaps. */
  seq: number;
  /** ISO 8601 time of the append. */
  at: string;
  /** Hex SHA-256 of the previous record (64 zeros for the first). */
  prevHash: string;
  /** Hex SHA-256 over this record's canonical form including prevHash. */
  hash: string;
}

/**
 * Why a chain failed to verify: a record is unreadable, a seq is missing or out of order, a
 * record does not link to its predecessor, a record's content does not match its hash, or the
 * chain ends before the head the store recorded (newest records deleted).
 */
export type AuditChainProblem = 'malformed' | 'seq-gap' | 'prev-hash-mismatch' | 'hash-mismatch' | 'head-mismatch';

export type AuditVerification =
  | { ok: true; count: number; lastHash: string }
  /** count: records that verified before the break; brokenAt: seq of the first broken link. */
  | { ok: false; count: number; brokenAt: number; reason: string; problem?: AuditChainProblem };

export interface AuditLog {
  append(entry: AuditEntry): Promise<AuditRecord>;
  /**
   * Appends the entries in order, in one transaction: all of them are recorded or none (the
   * error is thrown). Lets a busy caller (the LwM2M Register path) pay for one commit per batch
   * rather than per record. Optional so that other AuditLog implementations stay valid; callers
   * fall back to append().
   */
  appendMany?(entries: readonly AuditEntry[]): Promise<AuditRecord[]>;
  /** Records with seq > after, oldest first. */
  list(options?: { after?: number; limit?: number; subject?: string; action?: string }): Promise<AuditRecord[]>;
  /** Walks the whole chain and reports the first broken link, if any. */
  verify(): Promise<AuditVerification>;
}

/** A small key-value table for rooms that need a few durable settings. */
export interface SettingsRepository {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<boolean>;
}

/** How a device authenticated when it registered (the DTLS mode of its session, or none). */
export type RegistrationSecurity = CredentialKind | 'nosec';

/**
 * An LwM2M registration (OMA LwM2M Core §6.2.1) as the registry keeps it: persisted so that a
 * server restart does not forget registered devices — a device that sends Update afterwards is
 * recognised by its registration id.
 */
export interface RegistrationRecord {
  /** The id the server handed out in Location-Path rd/<id>. */
  id: string;
  endpoint: string;
  /** Seconds (Core §6.2.1 `lt`). */
  lifetime: number;
  lwm2mVersion: string;
  /** Binding mode as given (`U`, `UQ`, `T`, ...). */
  binding: string;
  queueMode: boolean;
  smsNumber: string | null;
  /** The Register/Update payload (CoRE link format) as last received. */
  objectLinks: string;
  security: RegistrationSecurity;
  /** Transport peer key of the device's last message (where requests go). */
  peer: string | null;
  registeredAt: string;
  updatedAt: string;
  /** updatedAt + lifetime: after this instant the registration is gone (Core §6.2.1). */
  expiresAt: string;
}

export type RegistrationPatch = Partial<Pick<RegistrationRecord, 'lifetime' | 'binding' | 'queueMode' | 'smsNumber' | 'objectLinks' | 'peer' | 'updatedAt' | 'expiresAt'>>;

/** The outcome of one item of RegistrationRepository.putMany. */
export type RegistrationPutResult = { ok: true; replaced: RegistrationRecord | undefined } | { ok: false; error: Error };

export interface RegistrationRepository {
  /**
   * Stores a registration, replacing any earlier registration of the same endpoint in the same
   * transaction (a Register from a registered endpoint starts over); returns the replaced one.
   * Throws ERR_STORE_NOT_FOUND if the endpoint is not a known device, ERR_STORE_CONFLICT if the id is taken.
   */
  put(registration: RegistrationRecord): Promise<RegistrationRecord | undefined>;
  /**
   * put() for several registrations in one transaction, in order (a later one of the same
   * endpoint replaces an earlier one). Each item succeeds or fails on its own — an unknown
   * device (ERR_STORE_NOT_FOUND) or a taken id (ERR_STORE_CONFLICT) fails only that item — and
   * the result says which, in the input's order. Throws only when the batch as a whole cannot
   * be written (closed store, I/O). Optional, like AuditLog.appendMany.
   */
  putMany?(registrations: readonly RegistrationRecord[]): Promise<RegistrationPutResult[]>;
  get(id: string): Promise<RegistrationRecord | undefined>;
  getByEndpoint(endpoint: string): Promise<RegistrationRecord | undefined>;
  /** Returns the updated record, or undefined if the id is unknown. */
  update(id: string, patch: RegistrationPatch): Promise<RegistrationRecord | undefined>;
  delete(id: string): Promise<boolean>;
  /** Ordered by endpoint; `after` is an endpoint (keyset pagination). */
  list(options?: { after?: string; limit?: number }): Promise<RegistrationRecord[]>;
  count(): Promise<number>;
  /** Removes every registration with expiresAt <= `now` (ISO time) and returns them. */
  deleteExpired(now: string): Promise<RegistrationRecord[]>;
}

/**
 * A device's LwM2M bootstrap configuration (what the bootstrap server writes into its Security
 * and Server objects). The store keeps the JSON as given: the lwm2m room defines and checks its
 * shape, and secrets in it are sealed by the caller, as for credentials.
 */
export interface BootstrapConfigRecord {
  endpoint: string;
  config: Record<string, unknown>;
  updatedAt: string;
}

export interface BootstrapConfigRepository {
  get(endpoint: string): Promise<BootstrapConfigRecord | undefined>;
  /** Creates or replaces; throws ERR_STORE_NOT_FOUND if the device does not exist. */
  set(endpoint: string, config: Record<string, unknown>): Promise<BootstrapConfigRecord>;
  delete(endpoint: string): Promise<boolean>;
}

/** What Store.appendAuditAndPutRegistrations wrote: the audit records, then one result per registration. */
export interface AuditedRegistrationBatch {
  audit: AuditRecord[];
  registrations: RegistrationPutResult[];
}

/** What Store.updateDeviceAudited wrote: the device as updated and its audit record. */
export interface AuditedDeviceUpdate {
  device: DeviceRecord;
  audit: AuditRecord;
}

/** Conditions of Store.updateDeviceAudited. */
export interface AuditedDeviceUpdateOptions {
  /** Update only while the device is in this ownership state (compare-and-set). */
  expectedState?: OwnershipState;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly devices: DeviceRepository;
  readonly audit: AuditLog;
  readonly settings: SettingsRepository;
  readonly registrations: RegistrationRepository;
  readonly bootstrapConfigs: BootstrapConfigRepository;
  readonly campaigns: CampaignRepository;
  readonly firmware: FirmwareRepository;
  /** MASA claims, used nonces, request log; the registrar's pending remote releases (masa-types.ts). */
  readonly masa: MasaRepository;
  /**
   * AuditLog.appendMany(audit) and RegistrationRepository.putMany(registrations) in ONE
   * transaction, in that order: one commit for a batch of Registers instead of two. The audit
   * records are written first (fail closed); if anything fails as a whole — an audit append the
   * database refuses, a registration batch that cannot be written (I/O, closed store) — the
   * transaction rolls back and neither the records nor any registration is stored (the error is
   * thrown). Items of `registrations` still fail alone as in putMany (unknown device, taken id),
   * and their audit records stay: the decision was taken and is on record. Arguments are checked
   * first (ERR_INVALID_ARGUMENT, nothing written). Optional, like appendMany and putMany; callers
   * fall back to those.
   */
  appendAuditAndPutRegistrations?(audit: readonly AuditEntry[], registrations: readonly RegistrationRecord[]): Promise<AuditedRegistrationBatch>;
  /**
   * DeviceRepository.update(endpoint, patch) and AuditLog.append(audit) in ONE transaction, the
   * device first: one commit for a decision and its record instead of two. With
   * `options.expectedState` it is a compare-and-set: when the device is in another ownership
   * state nothing is written and the result is `undefined` (the caller re-reads and decides
   * again). ERR_STORE_NOT_FOUND (nothing written) if the device does not exist. If the audit
   * record cannot be written (ERR_STORE_CORRUPT, I/O) the update is rolled back too: a device is
   * never changed without its record. Arguments are checked first (ERR_INVALID_ARGUMENT).
   * Optional, like appendAuditAndPutRegistrations; callers fall back to update() then append().
   */
  /**
   * MasaRepository.appendRequestLog(entry) and AuditLog.append(audit) in ONE transaction, the log
   * entry first: the MASA's voucher issuance writes both with one commit. Neither is stored
   * without the other (an audit record the database refuses rolls the entry back). Arguments are
   * checked first. Optional; callers fall back to the two calls.
   */
  appendRequestLogAndAudit?(entry: MasaRequestLogEntry, audit: AuditEntry): Promise<AuditRecord>;
  updateDeviceAudited?(endpoint: string, patch: DevicePatch, audit: AuditEntry, options?: AuditedDeviceUpdateOptions): Promise<AuditedDeviceUpdate | undefined>;
  /** Applies pending versioned migrations; idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}
