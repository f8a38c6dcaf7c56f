/** Delivery drivers for the campaign engine (see README.md). */
export { Lwm2mPullDriver, createLwm2mPullDriver, createLwm2mPushDriver, DeliveryError, driverErrorChannel, type Lwm2mPullDriverOptions, type DeviceReportSink } from './lwm2m-pull-driver.js';
export { firmwarePackage, encodePackageHeader, PACKAGE_KIND, type FirmwarePackage } from './package.js';
