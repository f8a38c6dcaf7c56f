/**
 * rootline/store: the repository interfaces domain services depend on, and the SQLite and
 * PostgreSQL implementations `server/` chooses between (usually through openStore(url)).
 */
export type {
  AuditChainProblem,
  AuditEntry,
  AuditLog,
  AuditOutcome,
  AuditRecord,
  AuditVerification,
  AuditedDeviceUpdate,
  AuditedDeviceUpdateOptions,
  AuditedRegistrationBatch,
  BootstrapConfigRecord,
  BootstrapConfigRepository,
  CredentialKind,
  DeviceCredential,
  DevicePatch,
  DeviceQuery,
  DeviceRecord,
  DeviceRepository,
  NewDevice,
  OwnershipState,
  RegistrationPatch,
  RegistrationRecord,
  RegistrationPutResult,
  RegistrationRepository,
  RegistrationSecurity,
  SettingsRepository,
  Store,
} from './types.js';
export { OWNERSHIP_STATES } from './types.js';
export type {
  CampaignDeviceCount,
  CampaignDeviceExpectation,
  CampaignDevicePatch,
  CampaignDeviceQuery,
  CampaignDeviceRecord,
  CampaignDeviceStatus,
  CampaignEventRecord,
  CampaignPackageKind,
  CampaignPatch,
  CampaignRecord,
  CampaignRepository,
  CampaignState,
  NewCampaign,
  NewCampaignDevice,
  NewCampaignEvent,
} from './campaign-types.js';
export { CAMPAIGN_DEVICE_STATUSES, CAMPAIGN_STATES } from './campaign-types.js';
export type { MasaClaimRecord, MasaClaimResult, MasaNoncePurpose, MasaRepository, MasaRequestLogEntry, NewMasaClaim, PendingMasaRelease } from './masa-types.js';
export { MASA_NONCE_PURPOSES } from './masa-types.js';
export type { FirmwareImageQuery, FirmwareImageRecord, FirmwareRepository, NewFirmwareImage } from './firmware-types.js';
export { StoreClosedError, StoreConflictError, StoreCorruptError, StoreError, StoreMigrationError, StoreNotFoundError } from './errors.js';
export { AUDIT_VERIFY_BATCH, AuditChainVerifier, GENESIS_HASH, canonicalAuditRecord, canonicalJson, hashAuditRecord, verifyAuditChain, type AuditChainFailure } from './audit-chain.js';
export { CREDENTIAL_KINDS, STORE_LIMITS, assertEndpoint } from './validate.js';
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from './migrations.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/store.js';
export { openPostgresStore, poolErrorChannel, type PostgresStoreOptions } from './postgres/store.js';
export { openStore, parseStoreUrl, type OpenStoreOptions, type StoreLocation } from './open-store.js';
