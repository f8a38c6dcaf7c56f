/**
 * The onboarding room's public surface (factory, vouchers, MASA, ownership lifecycle, registrar,
 * pledge, the registrar's CoAPs resources). EST lives in ./est and is imported from there. The registrar and pledge indexes are
 * re-exported whole: their names do not overlap ours (test/onboarding/public-surface.test.ts
 * checks that none is dropped, which is what `export *` silently does on a clash).
 */
export * from './errors.js';
export { FACTORY_KEY_LABELS, FACTORY_STATE_FILE, MANUFACTURER_CA_FILE, MASA_CA_FILE, MASA_CERT_FILE, initFactory, openFactory, type Factory, type InitFactoryOptions, type MintDeviceOptions, type MintedDevice, type OpenFactoryOptions } from './factory.js';
export { MAX_AUDIT_EVENTS_PER_DEVICE, settingsMasaRegistry, type MasaAuditEvent, type MasaDeviceRecord, type MasaOwner, type MasaRegistry } from './masa-registry.js';
export {
  BINARY_MEMBERS,
  VOUCHER_ASSERTIONS,
  VOUCHER_LIMITS,
  VOUCHER_MEMBER,
  VOUCHER_REQUEST_MEMBER,
  encodeVoucher,
  encodeVoucherRequest,
  formatDateAndTime,
  parseVoucher,
  parseVoucherRequest,
  type Voucher,
  type VoucherAssertion,
  type VoucherParseOptions,
  type VoucherRequest,
} from './voucher.js';
export { ID_CT_ANIMA_JSON_VOUCHER, ID_DATA, signCms, verifyCms, type SignCmsOptions, type VerifiedCms, type VerifyCmsOptions } from './cms.js';
export {
  checkVoucherFor,
  openSignedVoucherRequest,
  signVoucher,
  signVoucherRequest,
  verifyVoucher,
  type OpenedVoucherRequest,
  type SigningIdentity,
  type VerifiedVoucher,
  type VerifyVoucherOptions,
} from './signed-voucher.js';
export {
  VOUCHER_COSE_MEDIA_TYPE,
  VOUCHER_REQUEST_SID,
  VOUCHER_SID,
  X5BAG,
  X5CHAIN,
  decodeConstrainedVoucher,
  decodeConstrainedVoucherRequest,
  encodeConstrainedVoucher,
  encodeConstrainedVoucherRequest,
  openConstrainedVoucherRequest,
  signConstrainedVoucher,
  signConstrainedVoucherRequest,
  verifyConstrainedVoucher,
  type ConstrainedVoucher,
  type ConstrainedVoucherRequest,
  type VerifyConstrainedVoucherOptions,
} from './constrained-voucher.js';
export { createPledgeVoucherRequest, createRegistrarVoucherRequest, createReleaseRequest, type ReleaseRequestOptions, type PledgeVoucherRequestOptions, type RegistrarVoucherRequest, type RegistrarVoucherRequestOptions } from './voucher-requests.js';
export { VOUCHER_CMS_MEDIA_TYPE, createMasa, domainIdOf, ownerKeyOf, type Masa, type MasaOptions, type RequestAuditLog, type VoucherFormat, type VoucherResponse } from './masa.js';
export { OWNERSHIP_EVENTS, allowedOwnershipEvents, nextOwnershipState, type OwnershipEvent } from './ownership.js';
export { createOwnershipService, type OwnershipService, type OwnershipServiceOptions, type RegistrationOutcome, type TransitionOptions } from './ownership-service.js';
export { createDecommissioner, type DecommissionResult, type Decommissioner, type DecommissionerOptions, type MasaClaimOutcome } from './decommission.js';
export {
  PIN_IDENTITY_PREFIX,
  PinTransferError,
  createDevicePin,
  createPinTransferService,
  derivePinPsk,
  isPinIdentity,
  type PinTransferService,
  type PinTransferServiceOptions,
  type PinTransferStatus,
  type PinTransferView,
} from './pin-transfer.js';
export { JustWorksError, createJustWorksService, type JustWorksOptions, type JustWorksService, type SeenKey } from './just-works.js';
export { MASA_ERROR_STATUS, VOUCHER_REQUEST_MEDIA_TYPE, masaRoutes, type MasaRoutesOptions } from './http/masa-routes.js';
// The registrar and pledge protocol flows, so `rootline/onboarding` carries the whole room.
export * from './registrar/index.js';
export * from './pledge/index.js';
// The registrar's CoAPs face (EST-coaps, RFC 9148, and constrained BRSKI); the pledge side
// (runCoapsPledge, openCoapsRegistrar, fetchCoapsBootstrapServer) comes with ./pledge above.
// Named, not `export *`: coapErrorResponse and statusBodyAsJson are the resources' own helpers.
export {
  BRSKI_ROOT,
  BRSKI_SHORT_NAMES,
  BrskiCoapsFormat,
  CoapsNotAcceptableError,
  CoapsUnsupportedContentFormatError,
  EST_SHORT_NAMES,
  EstCoapsFormat,
  LWM2M_BOOTSTRAP_COAP_PATH,
  inProcessConstrainedMasaClient,
  mountBrskiCoaps,
  mountEstCoaps,
  startRegistrarCoaps,
  stripUnprotectedCertificates,
  type BrskiCoapsOptions,
  type CoapsPeerContext,
  type CoapsPeerLookup,
  type EstCoapsOptions,
  type RegistrarCoapsOptions,
  type RegistrarCoapsServer,
  type RegistrarHandshakeEvent,
} from './coaps/index.js';
