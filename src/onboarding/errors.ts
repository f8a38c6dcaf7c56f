/**
 * Typed failures of the onboarding room. Every refusal a MASA, registrar or pledge makes has its
 * own code, so callers (HTTP handlers, the audit log, tests) decide on the code, never the text.
 * ERR_VOUCHER_* are about voucher artifacts (RFC 8366) and their signatures; ERR_ONBOARDING_* are
 * about the protocol and the ownership policy around them.
 */
import { RootlineError } from '../errors.js';

export class OnboardingError extends RootlineError {}

/** The factory directory already holds a factory (init refuses to overwrite CA keys). */
export class FactoryExistsError extends OnboardingError {
  constructor(message: string) {
    super('ERR_ONBOARDING_FACTORY_EXISTS', message);
  }
}

/** No factory in the directory, or its state file is unreadable. */
export class FactoryStateError extends OnboardingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ONBOARDING_FACTORY_STATE', message, options);
  }
}

/** A device with this serial number was minted already. */
export class DeviceExistsError extends OnboardingError {
  constructor(serial: string) {
    super('ERR_ONBOARDING_DEVICE_EXISTS', `a device with serial ${JSON.stringify(serial)} exists already`);
  }
}

/** The MASA has no record of the serial number (not minted by this manufacturer). */
export class UnknownDeviceError extends OnboardingError {
  constructor(serial: string) {
    super('ERR_ONBOARDING_UNKNOWN_DEVICE', `no device with serial ${JSON.stringify(serial)}`);
  }
}

/** The pledge's certificate does not chain to a manufacturer CA this MASA trusts. */
export class UntrustedPledgeError extends OnboardingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ONBOARDING_UNTRUSTED_PLEDGE', message, options);
  }
}

/** The registrar's voucher request is inconsistent (serials, nonces, idevid-issuer disagree). */
export class BadVoucherRequestError extends OnboardingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ONBOARDING_BAD_REQUEST', message, options);
  }
}

/** The pledge saw a different registrar than the one asking (RFC 8995 §5.5.4 proximity). */
export class ProximityMismatchError extends OnboardingError {
  constructor(message: string) {
    super('ERR_ONBOARDING_PROXIMITY_MISMATCH', message);
  }
}

/** A voucher request (serial + nonce) was seen before. */
export class ReplayError extends OnboardingError {
  constructor(message: string) {
    super('ERR_ONBOARDING_REPLAY', message);
  }
}

/** The device is owned by another domain; it must be released first. */
export class AlreadyOwnedError extends OnboardingError {
  constructor(serial: string) {
    super('ERR_ONBOARDING_ALREADY_OWNED', `device ${JSON.stringify(serial)} is owned by another domain`);
  }
}

/** A release or audit-log request from a domain that does not own the device. */
export class NotOwnerError extends OnboardingError {
  constructor(serial: string) {
    super('ERR_ONBOARDING_NOT_OWNER', `the requesting domain does not own device ${JSON.stringify(serial)}`);
  }
}

/** An ownership-state change the lifecycle does not allow. */
export class IllegalTransitionError extends OnboardingError {
  readonly from: string;
  readonly event: string;

  constructor(from: string, event: string) {
    super('ERR_ONBOARDING_ILLEGAL_TRANSITION', `ownership event ${JSON.stringify(event)} is not allowed in state ${from}`);
    this.from = from;
    this.event = event;
  }
}

/** A voucher or voucher request whose content is not a valid RFC 8366 / RFC 8995 artifact. */
export class MalformedVoucherError extends OnboardingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_VOUCHER_MALFORMED', message, options);
  }
}

/** The signed envelope (CMS SignedData or COSE_Sign1) cannot be parsed or is not what we accept. */
export class MalformedSignedVoucherError extends OnboardingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE', message, options);
  }
}

/** The signature does not verify with the signer's certificate. */
export class VoucherSignatureError extends OnboardingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_VOUCHER_BAD_SIGNATURE', message, options);
  }
}

/** The signer's certificate does not chain to a trusted anchor. */
export class UntrustedVoucherSignerError extends OnboardingError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_VOUCHER_UNTRUSTED_SIGNER', message, options);
  }
}

/** The voucher's expires-on has passed. */
export class VoucherExpiredError extends OnboardingError {
  constructor(message: string) {
    super('ERR_VOUCHER_EXPIRED', message);
  }
}

/** The voucher names another device. */
export class VoucherSerialMismatchError extends OnboardingError {
  constructor(message: string) {
    super('ERR_VOUCHER_WRONG_SERIAL', message);
  }
}

/** The voucher's nonce is not the one the pledge sent (or is missing when one was sent). */
export class VoucherNonceMismatchError extends OnboardingError {
  constructor(message: string) {
    super('ERR_VOUCHER_NONCE_MISMATCH', message);
  }
}

/** The device is no longer in the state the caller decided on (a concurrent change). */
export class OwnershipStateChangedError extends OnboardingError {
  constructor(message: string) {
    super('ERR_ONBOARDING_STATE_CHANGED', message);
  }
}
