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
} from './standard-objects.js';
export { bootstrap, serverAccount, bootstrapSecurityInstance, type BootstrapOptions } from './bootstrap-client.js';
export { parseAttributeQuery } from './notification-scheduler.js';
export * from './errors.js';
