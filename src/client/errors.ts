/** Typed errors of the device SDK. Operation refusals carry the CoAP code the client answers with. */
import { RootlineError } from '../errors.js';

export class Lwm2mClientError extends RootlineError {}

/** A server operation the client refuses; `coapCode` is the answer (4.00, 4.01, 4.04, 4.05, ...). */
export class Lwm2mOperationError extends Lwm2mClientError {
  readonly coapCode: number;
  constructor(coapCode: number, message: string) {
    super('ERR_LWM2M_OPERATION_REFUSED', message);
    this.coapCode = coapCode;
  }
}

/** Registration (or bootstrap) was refused or failed; `coapCode` is the server's answer, if any. */
export class Lwm2mRegistrationFailedError extends Lwm2mClientError {
  readonly coapCode: number | undefined;
  constructor(message: string, coapCode?: number, options?: { cause?: unknown }) {
    super('ERR_LWM2M_REGISTRATION_FAILED', message, options);
    this.coapCode = coapCode;
  }
}

export class Lwm2mBootstrapFailedError extends Lwm2mClientError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LWM2M_BOOTSTRAP_FAILED', message, options);
  }
}

/** The client is not registered (yet, or any more). */
export class Lwm2mClientNotRegisteredError extends Lwm2mClientError {
  constructor() {
    super('ERR_LWM2M_CLIENT_NOT_REGISTERED', 'the client is not registered');
  }
}
