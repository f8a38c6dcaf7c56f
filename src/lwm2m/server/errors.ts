/**
 * Typed errors of the LwM2M server side (registration, device management, bootstrap). Each has a
 * fixed `code`; the API maps them to HTTP statuses, tests match on them.
 */
import { RootlineError } from '../../errors.js';

export class Lwm2mServerError extends RootlineError {}

/** A Register/Update/De-register request the spec says to refuse; `coapCode` is the answer (4.00, 4.12, 4.13, ...). */
export class Lwm2mBadRegistrationError extends Lwm2mServerError {
  readonly coapCode: number;
  constructor(coapCode: number, message: string) {
    super('ERR_LWM2M_BAD_REGISTRATION', message);
    this.coapCode = coapCode;
  }
}

/** No current registration for this endpoint name (never registered, de-registered or expired). */
export class Lwm2mNotRegisteredError extends Lwm2mServerError {
  readonly endpoint: string;
  constructor(endpoint: string) {
    super('ERR_LWM2M_NOT_REGISTERED', `${JSON.stringify(endpoint)} is not registered`);
    this.endpoint = endpoint;
  }
}

/**
 * The device cannot be reached now: no session at the address it last spoke from, or the session
 * there is authenticated as another credential (another device took the address after a NAT
 * rebinding, a reconnect or a server restart). It is reachable again after its next Update.
 */
export class Lwm2mDeviceUnreachableError extends Lwm2mServerError {
  readonly endpoint: string;
  constructor(endpoint: string, message: string) {
    super('ERR_LWM2M_DEVICE_UNREACHABLE', message);
    this.endpoint = endpoint;
  }
}

/** The device answered a request with an error code (4.xx / 5.xx). */
export class Lwm2mDeviceResponseError extends Lwm2mServerError {
  readonly coapCode: number;
  readonly codeText: string;
  constructor(coapCode: number, codeText: string, message: string) {
    super('ERR_LWM2M_DEVICE_ERROR', message);
    this.coapCode = coapCode;
    this.codeText = codeText;
  }
}

/** The device's payload could not be understood (bad content format or malformed data). */
export class Lwm2mBadDeviceResponseError extends Lwm2mServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LWM2M_BAD_DEVICE_RESPONSE', message, options);
  }
}

/** Too many requests are already held for a queue-mode device. */
export class Lwm2mQueueFullError extends Lwm2mServerError {
  constructor(endpoint: string, max: number) {
    super('ERR_LWM2M_QUEUE_FULL', `${max} requests are already queued for ${JSON.stringify(endpoint)}`);
  }
}

/** A queued request was not delivered: the device de-registered, expired, or the wait ran out. */
export class Lwm2mRequestExpiredError extends Lwm2mServerError {
  constructor(message: string) {
    super('ERR_LWM2M_REQUEST_EXPIRED', message);
  }
}

/** The bootstrap configuration in the store does not have the expected shape. */
export class Lwm2mBadBootstrapConfigError extends Lwm2mServerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LWM2M_BAD_BOOTSTRAP_CONFIG', message, options);
  }
}

/** The server was closed. */
export class Lwm2mServerClosedError extends Lwm2mServerError {
  constructor() {
    super('ERR_LWM2M_SERVER_CLOSED', 'the LwM2M server is closed');
  }
}
