/** The BRSKI pledge (RFC 8995 device side): `runPledge` for the SDK and `rootline pledge`. */
export { pledgeResultJson, runPledge, type PledgeResult, type RunPledgeOptions } from './pledge.js';
