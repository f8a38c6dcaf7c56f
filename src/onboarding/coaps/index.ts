/** BRSKI and EST over CoAPs (constrained voucher draft, RFC 9148): the registrar's CoAP face. */
export { BRSKI_SHORT_NAMES, BrskiCoapsFormat, EST_SHORT_NAMES, EstCoapsFormat } from './content-formats.js';
export { CoapsNotAcceptableError, CoapsUnsupportedContentFormatError } from './errors.js';
export { coapErrorResponse } from './coap-errors.js';
export { statusBodyAsJson } from './status-body.js';
export { mountEstCoaps, type EstCoapsOptions } from './est-resources.js';
export { BRSKI_ROOT, LWM2M_BOOTSTRAP_COAP_PATH, mountBrskiCoaps, type BrskiCoapsOptions } from './brski-resources.js';
export { startRegistrarCoaps, type RegistrarCoapsOptions, type RegistrarCoapsServer, type RegistrarHandshakeEvent } from './registrar-server.js';
export { inProcessConstrainedMasaClient } from './constrained-masa-client.js';
export { stripUnprotectedCertificates } from './voucher-relay.js';
export type { CoapsPeerContext, CoapsPeerLookup } from './peer.js';
