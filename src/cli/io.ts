/**
 * What a command may touch of the outside world, passed in rather than reached for, so tests run
 * the real CLI in-process and capture its output.
 */
export interface CliWriter {
  write(text: string): unknown;
}

export interface CliIo {
  stdout: CliWriter;
  stderr: CliWriter;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** HTTP client for commands that talk to a running server. */
  fetch: typeof fetch;
  /**
   * Stops `serve` when aborted. Without it, serve stops on SIGINT or SIGTERM; tests pass their
   * own signal so they never send signals to the test runner.
   */
  shutdown?: AbortSignal;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), fetch: globalThis.fetch };
}
