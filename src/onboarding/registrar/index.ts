/** The BRSKI domain registrar (RFC 8995): service, HTTPS routes, MASA transports, policy. */
export * from './errors.js';
export { createRegistrar, type ManufacturerTrust, type PledgeContext, type BootstrapServerInfo, type Registrar, type RegistrarOptions, type VoucherOutcome } from './registrar.js';
export { LWM2M_BOOTSTRAP_PATH, registrarRoutes, type RegistrarRoutesOptions } from './routes.js';
export { httpsMasaClient, inProcessMasaClient, masaUrlBook, recordingMasaClient, type HttpsMasaClientOptions, type MasaClient, type MasaReleaseCall, type MasaUrlBook, type MasaVoucherCall } from './masa-client.js';
export { approvalBook, defaultEndpointFor, defaultModelOf, type ApprovalBook, type PendingRequest, type PledgeIdentity, type PolicyDecision, type RegistrarPolicy } from './policy.js';
export { createCredentialRotator, createProvisioner, x509BootstrapConfig, type BootstrapConfigBuilder, type CredentialRotator, type RotateContext, type Lwm2mServerTarget, type ProvisionContext, type Provisioner } from './provisioning.js';
export { STATUS_TELEMETRY_LIMITS, encodeStatusTelemetry, parseStatusTelemetry, type StatusTelemetry } from './status-telemetry.js';
