/** rootline sim: the fleet simulator. */
export { Fleet, type FleetOptions, type FleetProgress, type FleetEvents } from './fleet.js';
export { SimulatedDevice, failureReason, type SimDeviceOptions } from './device.js';
export { generateCredentials, loadCredentialsFile, provisionCredentials, isValidEndpointName, type SimCredential, type ProvisionOptions } from './credentials.js';
export { percentiles, FleetCounters, type FleetSummary, type Percentiles } from './stats.js';
export { openFileLimit, openFileCount, assertFileDescriptors, type OpenFileLimit } from './fd-limit.js';
export * from './errors.js';
export { FleetFirmware, ImagePool, SharedSlot, parseFaultSpec, assignFaults, faultsOf, FAULT_KINDS, FAULT_RESULT, type FaultKind, type FaultShare, type FaultSpec, type SimFirmwareOptions, type DeviceFirmwareRecord, type FleetFirmwareSummary, type FirmwareHost } from './firmware.js';
export { OnboardFleet, listIdevidDirs, latencyPercentiles, type OnboardFleetOptions, type OnboardFleetSummary, type OnboardFleetEvents, type OnboardProgress, type LatencyPercentiles } from './onboard.js';
