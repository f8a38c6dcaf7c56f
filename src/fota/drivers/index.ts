/** Delivery drivers for the campaign engine (see README.md). */
export {
  Lwm2mDeliveryDriver,
  createLwm2mPullDriver,
  createLwm2mPushDriver,
  createHttpsPullDriver,
  deliveryMethodOf,
  driverDeliveryOf,
  DeliveryError,
  driverErrorChannel,
  type DeviceReportSink,
  type DriverDelivery,
  type HttpsPskGrants,
  type Lwm2mDeliveryDriverOptions,
} from './lwm2m-driver.js';
export { firmwarePackage, encodePackageHeader, PACKAGE_KIND, type FirmwarePackage } from './package.js';
export { startHttpsPackageServer, type HttpsPackageServer, type HttpsPackageServerOptions } from './https-package-server.js';
export { HttpsPskCache, type HttpsPskCacheOptions } from './https-psk-cache.js';
