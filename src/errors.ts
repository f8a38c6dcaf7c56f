/**
 * The base of every error rootline throws on purpose. Each failure has a stable string `code`
 * (like Node's `ERR_*` codes and undici's `UND_ERR_*`) that callers and tests match on; messages
 * are for people and may change.
 *
 * Rooms define their own subclasses next to their code (e.g. `crypto/errors.ts`), one per
 * failure, each with a fixed code.
 */
export class RootlineError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A public function was called with a bad argument; `argument` names it. */
export class InvalidArgumentError extends RootlineError {
  readonly argument: string;

  constructor(argument: string, message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARGUMENT', `${argument}: ${message}`, options);
    this.argument = argument;
  }
}

/** True when `err` is a RootlineError, optionally with the given code. */
export function isRootlineError(err: unknown, code?: string): err is RootlineError {
  return err instanceof RootlineError && (code === undefined || err.code === code);
}
