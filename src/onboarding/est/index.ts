/**
 * EST (RFC 7030) for rootline's registrar and pledges: codecs, the transport-free service, the
 * fastify HTTPS routes and the client.
 */
export * from './errors.js';
export { decodeBase64Body, encodeBase64Body, type DecodeBase64BodyOptions } from './base64-body.js';
export { CERTS_ONLY_MEDIA_TYPE, decodeCertsOnly, encodeCertsOnly, OID_DATA, OID_SIGNED_DATA, type DecodeCertsOnlyOptions } from './certs-only.js';
export { CSR_ATTR_OID, CSR_ATTRS_MEDIA_TYPE, decodeCsrAttrs, encodeCsrAttrs, oidValue, type CsrAttr, type DecodeCsrAttrsOptions } from './csr-attrs.js';
export { decodePkcs10Body, PKCS10_MEDIA_TYPE, type DecodePkcs10BodyOptions } from './pkcs10-body.js';
export {
  challengePasswordFor,
  checkChannelBinding,
  clientChannelBinding,
  serverChannelBinding,
  type ChannelBinding,
  type ChannelBindingPolicy,
} from './channel-binding.js';
export {
  createEstService,
  type EnrollOutcome,
  type EstAuditEntry,
  type EstAuditSink,
  type EstAuthorization,
  type EstAuthorize,
  type EstAuthorizeContext,
  type EstOperation,
  type EstPolicy,
  type EstRequestContext,
  type EstService,
  type EstServiceOptions,
} from './service.js';
export { authorizeByManufacturer, type AuthorizeByManufacturerOptions, type EstDecide } from './authorize-manufacturer.js';
export { estRoutes, peerCertificateChain, type EstRoutesOptions } from './routes.js';
export { estClient, type EnrollRequest, type EnrollResult, type EstClient, type EstClientOptions } from './client.js';
