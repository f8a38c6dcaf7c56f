/**
 * `rootline/fota`: the delta engine, SUIT manifests, the firmware repository and the campaign
 * engine.
 */
export * from './delta/index.js';
export * from './suit/index.js';
export * from './firmware/index.js';
export * from './campaign/index.js';
// Both firmware/ and campaign/ name a SemVer type; they describe the same thing (campaign's is the
// range-aware one), and an explicit export settles which one the room's surface carries.
export type { SemVer } from './campaign/semver.js';
