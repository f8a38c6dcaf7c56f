/** rootline/client: the LwM2M device SDK. */
export { createLwm2mClient, Lwm2mClient, type Lwm2mClientOptions, type Lwm2mClientEvents } from './client.js';
export { ObjectTree, type ResourceHandler, type ResourceValue, type Requester, type TreeChange } from './object-tree.js';
export { addServerAccount, addBootstrapAccount, type ClientSecurity, type ServerAccountInit } from './accounts.js';
export {
  addSecurityInstance,
  addServerInstance,
  addDeviceInstance,
  addConnectivityInstance,
  FirmwareUpdateObject,
  FirmwareState,
  FirmwareResult,
  SecurityMode,
  type SecurityInstanceInit,
  type ServerInstanceInit,
  type ServerActions,
  type DeviceInit,
  type DeviceActions,
  type FirmwareUpdateActions,
} from './standard-objects.js';
export { bootstrap, serverAccount, bootstrapSecurityInstance, type BootstrapOptions } from './bootstrap-client.js';
export { parseAttributeQuery } from './notification-scheduler.js';
export * from './errors.js';
export { FirmwareUpdater, attachFirmwareUpdater, connectWithAccount, pskOfAccount, type FirmwareFaults, type FirmwareUpdaterOptions, type AttachFirmwareUpdaterOptions } from './firmware-update.js';
export { PackageReader, FirmwareUpdateError, updateResultFor, PackageKind, PACKAGE_MAGIC, PACKAGE_HEADER_SIZE, PACKAGE_FORMAT_VERSION, type PackageHeader } from './firmware-update-package.js';
export { SlotBank, MemorySlot, FileSlot, type FirmwareSlot, type SlotImage } from './firmware-update-slots.js';
