/**
 * Typed errors of the CLI. The exit code follows from the class: usage mistakes exit 2 (like
 * getopt tools), every other failure 1.
 */
import { RootlineError } from '../errors.js';

/** Bad command line: unknown flag, missing argument, malformed value. Exit code 2. */
export class UsageError extends RootlineError {
  /** The command whose usage to point at, e.g. 'device add'. */
  readonly command: string;

  constructor(command: string, message: string, options?: { cause?: unknown }) {
    super('ERR_CLI_USAGE', message, options);
    this.command = command;
  }
}

/** The API answered with an error body; `apiCode` is its code (see src/api/errors.ts). */
export class ApiResponseError extends RootlineError {
  readonly status: number;
  readonly apiCode: string;

  constructor(status: number, apiCode: string, message: string) {
    super('ERR_CLI_API_ERROR', `${message} (${apiCode}, HTTP ${status})`);
    this.status = status;
    this.apiCode = apiCode;
  }
}

/** No answer from the API (connection refused, DNS failure, not an HTTP server). */
export class ApiUnreachableError extends RootlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CLI_API_UNREACHABLE', message, options);
  }
}

/** A file named on the command line (--rpk, --cert) cannot be read. */
export class InputFileError extends RootlineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CLI_INPUT_FILE', message, options);
  }
}
