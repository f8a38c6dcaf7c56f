/** Delivery drivers for the campaign engine (see README.md). */
export { Lwm2mDeliveryDriver, createLwm2mPullDriver, createLwm2mPushDriver, createHttpsPullDriver, DeliveryError, driverErrorChannel, type Lwm2mDeliveryDriverOptions, type DeviceReportSink } from './lwm2m-driver.js';
export { firmwarePackage, encodePackageHeader, PACKAGE_KIND, type FirmwarePackage } from './package.js';
export { startHttpsPackageServer, type HttpsPackageServer, type HttpsPackageServerOptions } from './https-package-server.js';
