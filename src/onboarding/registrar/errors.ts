/**
 * Typed failures of the BRSKI registrar and pledge flows. Each has a stable code and (for the
 * registrar) the HTTP status it is answered with, so the routes decide on codes, never on text.
 */
import { RootlineError } from '../../errors.js';

export class RegistrarError extends RootlineError {}

/** The pledge presented no TLS client certificate, or one that does not parse. */
export class PledgeUnauthenticatedError extends RegistrarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRAR_UNAUTHENTICATED', message, options);
  }
}

/** Policy refused the pledge (unknown manufacturer, serial or model not accepted, operator rejected). */
export class PledgeRefusedError extends RegistrarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRAR_REFUSED', message, options);
  }
}

/** The voucher request is not the pledge's own (signed by another key than the TLS IDevID). */
export class PledgeIdentityMismatchError extends RegistrarError {
  constructor(message: string) {
    super('ERR_REGISTRAR_IDENTITY_MISMATCH', message);
  }
}

/** This pledge voucher request (serial + nonce) was relayed before. */
export class VoucherRequestReplayError extends RegistrarError {
  constructor(message: string) {
    super('ERR_REGISTRAR_REPLAY', message);
  }
}

/** The MASA refused, could not be reached, or answered something that is not a voucher for this request. */
export class MasaFailedError extends RegistrarError {
  /** The MASA's own error code, when it said one. */
  readonly masaCode: string | undefined;
  /** The MASA's HTTP status, when it answered over HTTP. */
  readonly masaStatus: number | undefined;

  constructor(message: string, details: { masaCode?: string; masaStatus?: number } = {}, options?: { cause?: unknown }) {
    super('ERR_REGISTRAR_MASA_FAILED', message, options);
    this.masaCode = details.masaCode;
    this.masaStatus = details.masaStatus;
  }
}

/** The MASA's voucher does not verify, names another device, or pins another domain than ours. */
export class BadMasaVoucherError extends RegistrarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRAR_BAD_VOUCHER', message, options);
  }
}

/** A status telemetry body (RFC 8995 §5.7, §5.9.4) is not the JSON the RFC describes. */
export class BadStatusTelemetryError extends RegistrarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRAR_BAD_STATUS', message, options);
  }
}

/** The pledge posted a body with a media type the endpoint does not take. */
export class RegistrarUnsupportedMediaTypeError extends RegistrarError {
  constructor(message: string) {
    super('ERR_REGISTRAR_UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** Provisioning the enrolled device into the registry failed; everything it created was undone. */
export class ProvisioningFailedError extends RegistrarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRAR_PROVISIONING_FAILED', message, options);
  }
}

/** No pending request for that serial (approve / reject). */
export class NoPendingRequestError extends RegistrarError {
  constructor(serial: string) {
    super('ERR_REGISTRAR_NOT_PENDING', `no pending voucher request for serial ${JSON.stringify(serial)}`);
  }
}

/** Pledge side: the registrar answered with an error or something unusable. */
export class PledgeProtocolError extends RegistrarError {
  readonly status: number | undefined;
  readonly serverCode: string | undefined;

  constructor(message: string, details: { status?: number; serverCode?: string } = {}, options?: { cause?: unknown }) {
    super('ERR_PLEDGE_PROTOCOL', message, options);
    this.status = details.status;
    this.serverCode = details.serverCode;
  }
}

/** Pledge side: the registrar keeps answering 202 (operator approval pending). */
export class PledgePendingError extends RegistrarError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('ERR_PLEDGE_PENDING', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Pledge side: the registrar's TLS certificate does not chain to the domain the voucher pinned. */
export class RegistrarNotPinnedError extends RegistrarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PLEDGE_REGISTRAR_NOT_PINNED', message, options);
  }
}

/** HTTP status of each registrar code (RFC 8995 §5.3 / §5.6 semantics). */
/** No LwM2M bootstrap server is configured for onboarded devices (the registrar was given a configuration builder only). */
export class NoBootstrapServerError extends RegistrarError {
  constructor() {
    super('ERR_REGISTRAR_NO_BOOTSTRAP_SERVER', 'this registrar names no LwM2M bootstrap server');
  }
}

export const REGISTRAR_HTTP_STATUS: Readonly<Record<string, number>> = {
  ERR_REGISTRAR_UNAUTHENTICATED: 403,
  ERR_REGISTRAR_REFUSED: 403,
  ERR_REGISTRAR_IDENTITY_MISMATCH: 403,
  ERR_REGISTRAR_REPLAY: 403,
  // The MASA's refusal is relayed as a failure of the upstream (RFC 8995 §5.3: "the registrar
  // ... MAY pass on the MASA's error"); 502 keeps it apart from the registrar's own 403s.
  ERR_REGISTRAR_MASA_FAILED: 502,
  ERR_REGISTRAR_BAD_VOUCHER: 502,
  ERR_REGISTRAR_BAD_STATUS: 400,
  ERR_REGISTRAR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_REGISTRAR_PROVISIONING_FAILED: 500,
  ERR_REGISTRAR_NO_BOOTSTRAP_SERVER: 404,
  ERR_VOUCHER_MALFORMED: 400,
  ERR_VOUCHER_MALFORMED_SIGNATURE_ENVELOPE: 400,
  ERR_VOUCHER_BAD_SIGNATURE: 403,
  ERR_VOUCHER_UNTRUSTED_SIGNER: 403,
  ERR_ONBOARDING_BAD_REQUEST: 400,
  ERR_ONBOARDING_UNTRUSTED_PLEDGE: 403,
  ERR_ONBOARDING_PROXIMITY_MISMATCH: 403,
};
