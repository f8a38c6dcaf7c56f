/** Errors of the pledge's steps after BRSKI (issue 6: LDevID → LwM2M bootstrap → register). */
import { RootlineError } from '../../errors.js';

/** The registrar's answer naming the LwM2M bootstrap server is missing, refused or malformed. */
export class PledgeBootstrapServerError extends RootlineError {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super('ERR_PLEDGE_BOOTSTRAP_SERVER', message, options);
    this.status = status;
  }
}

/** LwM2M bootstrap or registration with the LDevID failed; `cause` is the client's typed error. */
export class PledgeLwm2mError extends RootlineError {
  /** 'bootstrap' | 'register': where it stopped. */
  readonly step: 'bootstrap' | 'register';
  /** The underlying error's code (e.g. ERR_LWM2M_BOOTSTRAP_FAILED, ERR_DTLS_HANDSHAKE_TIMEOUT). */
  readonly causeCode: string | undefined;
  constructor(step: 'bootstrap' | 'register', message: string, causeCode: string | undefined, options?: ErrorOptions) {
    super('ERR_PLEDGE_LWM2M', message, options);
    this.step = step;
    this.causeCode = causeCode;
  }
}
