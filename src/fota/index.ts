/**
 * `rootline/fota`: the delta engine, SUIT manifests, the firmware repository and the campaign
 * engine.
 */
export * from './delta/index.js';
export * from './suit/index.js';
export * from './firmware/index.js';
export * from './campaign/index.js';
export * from './semver.js';
