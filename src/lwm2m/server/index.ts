/** The LwM2M server side: registration, device management, information reporting, bootstrap. */
export { createLwm2mServer, Lwm2mServer, type Lwm2mServerOptions, type Lwm2mServerEvents, type Lwm2mListenerEndpoint } from './server.js';
export type { NotificationEvent, Lwm2mObservation, ObservationInfo, ObservationLimits } from './observations.js';
export type { SendEvent } from './send-operation.js';
export type { ReadResult, WriteAttributes, WriteOptions, FormatOptions, PathInput } from './device-management.js';
export type { DeviceRequestOptions, QueueOptions } from './device-channel.js';
export type { DeregistrationReason } from './registration-registry.js';
export type { RegistrationInterfaceLimits } from './registration-interface.js';
export { parseRegisterQuery, parseUpdateQuery, parseBootstrapQuery, SUPPORTED_LWM2M_VERSIONS, DEFAULT_LIFETIME, type RegisterParams, type UpdateParams, type RegistrationLimits } from './registration-params.js';
export { dtlsPeerIdentity, noSecPeerIdentity, storeClientVerifier, identityFromDtls, rpkLookup, certificateLookup, type PeerIdentity, type IdentityResolver, type DtlsSessionIdentity } from './identity.js';
export { NOSEC_ATTRIBUTE, authorizeEndpoint } from './authorize.js';
export * from './errors.js';
export { createBootstrapServer, BootstrapServer, type BootstrapServerOptions, type BootstrapServerEvents, type BootstrapResult } from './bootstrap-server.js';
export { parseBootstrapConfig, SECURITY_MODE_VALUE, type BootstrapConfig, type BootstrapServerAccount, type BootstrapSecurityMode, type BootstrapSecretContext, type BootstrapSecretField, type Unseal } from './bootstrap-config.js';
export { nodeToJson, nodeFromJson, valueToJson, valueFromJson, type JsonNode, type JsonValue } from './json-view.js';
