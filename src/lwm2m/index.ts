/**
 * `rootline/lwm2m`: the object model (DDF registry, paths, node tree), the content-format codecs
 * and the server (registration, device management, information reporting, bootstrap).
 */
export * from './model/index.js';
export * from './codec/index.js';
export * from './server/index.js';
