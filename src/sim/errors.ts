/** Typed errors of the fleet simulator; the CLI maps them to exit code 1. */
import { RootlineError } from '../errors.js';

/** The API refused or never answered a device creation (the message names the device, never the key). */
export class SimProvisioningError extends RootlineError {
  readonly status: number | undefined;

  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('ERR_SIM_PROVISIONING', message, options);
    this.status = status;
  }
}

/** A credentials file that cannot be read or does not hold a list of PSK credentials. */
export class SimCredentialsFileError extends RootlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SIM_CREDENTIALS_FILE', message, options);
  }
}

/** The process cannot open a socket per device (RLIMIT_NOFILE below what the fleet needs). */
export class SimResourceLimitError extends RootlineError {
  constructor(message: string) {
    super('ERR_SIM_RESOURCE_LIMIT', message);
  }
}

/** A `--faults` specification that cannot be used (syntax, unknown kind, more faults than devices). */
export class SimFaultSpecError extends RootlineError {
  constructor(message: string) {
    super('ERR_SIM_FAULT_SPEC', `faults: ${message}`);
  }
}

/** The simulator's firmware cannot be set up: the image file, the signing key, or the catalog lookup. */
export class SimFirmwareError extends RootlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SIM_FIRMWARE', message, options);
  }
}
