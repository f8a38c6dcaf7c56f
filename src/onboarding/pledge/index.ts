/** The BRSKI pledge (RFC 8995 device side): `runPledge` for the SDK and `rootline pledge`; `onboardDevice` chains LwM2M bootstrap and registration. */
export { pledgeResultJson, runPledge, type PledgeResult, type RunPledgeOptions } from './pledge.js';
export { coapsProtocolError, fetchCoapsBootstrapServer, openCoapsRegistrar, parseCoapsRegistrarUrl, runCoapsPledge, type CoapsBootstrapServer, type CoapsExchange, type CoapsRegistrarConnection, type CoapsRegistrarTarget } from './coaps-transport.js';
export { fetchBootstrapServer, onboardDevice, type BootstrapServerTarget, type OnboardDeviceOptions, type OnboardedDevice, type OnboardStep } from './onboard-device.js';
export { PledgeBootstrapServerError, PledgeLwm2mError } from './errors.js';
