/** The CoAP room's public surface (RFC 7252, 7959, 7641, 6690). */
export * from './errors.js';
export * from './codec.js';
export * from './options.js';
export * from './block.js';
export * from './content-format.js';
export * from './link-format.js';
export * from './transport.js';
export * from './reliability.js';
export { Router, COAP_METHODS, methodName, methodCode } from './router.js';
export type { CoapMethod, CoapRequest, CoapResponseInit, CoapHandler, ResourceAttributes, ResourceDefinition, Resource, RouteMatch, ResourceResolver } from './router.js';
export { isFresherNotification, OBSERVE_SEQ_MODULUS } from './observe.js';
export { CoapEndpoint } from './endpoint.js';
export type { CoapEndpointOptions, ResourceHandle, CoapDropEvent } from './endpoint.js';
export type { ClientRequest, CoapResponse, Observation, RequestParts, ExchangeContext, BlockSink } from './client.js';
export { requestOptions } from './client.js';
export { coapRequest, coapObserve, parseCoapUri } from './coap-request.js';
export type { CoapRequestOptions, CoapUri } from './coap-request.js';
