/**
 * Typed errors of the server room (configuration and start-up). One subclass per failure, each
 * with a fixed `code`; messages name the setting and where its value came from.
 */
import { RootlineError } from '../errors.js';

/** Where a configuration value came from, in increasing precedence. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

/** A configuration value is malformed, out of range, unknown, or conflicts with another. */
export class ConfigError extends RootlineError {
  /** The setting's name as it appears in the config file (e.g. `httpPort`). */
  readonly setting: string;
  readonly source: ConfigSource;

  constructor(setting: string, source: ConfigSource, message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG_INVALID', message, options);
    this.setting = setting;
    this.source = source;
  }
}

/** A listener could not bind its port (in use, not permitted, bad address). */
export class ListenError extends RootlineError {
  readonly listener: string;

  constructor(listener: string, message: string, options?: { cause?: unknown }) {
    super('ERR_SERVER_LISTEN', message, options);
    this.listener = listener;
  }
}

/** The data directory cannot be created or is not a writable directory. */
export class DataDirectoryError extends RootlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_SERVER_DATA_DIR', message, options);
  }
}

/** A listener name was registered twice. */
export class DuplicateListenerError extends RootlineError {
  constructor(name: string) {
    super('ERR_SERVER_DUPLICATE_LISTENER', `a listener named ${JSON.stringify(name)} is already registered`);
  }
}

/** A sealed credential blob is not in the format this code writes (truncated, unknown version). */
export class SealedCredentialError extends RootlineError {
  constructor(message: string) {
    super('ERR_SERVER_SEALED_CREDENTIAL', message);
  }
}
