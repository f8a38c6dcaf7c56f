/**
 * The shape every CLI command shares, and argument parsing on node:util parseArgs with
 * strict: true, so an unknown flag or a missing value is a UsageError (exit 2) naming it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

export interface Command {
  /** Full name as typed after `rootline`, e.g. 'device add'. */
  name: string;
  summary: string;
  /** The complete --help text. */
  help: string;
  run(args: string[], io: CliIo): Promise<number>;
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function wantsHelp(args: readonly string[]): boolean {
  // Everything after `--` is data, never a request for help.
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** Parses `args`; `positionals` names the required positional arguments in order. */
export function parseCommandArgs(command: string, args: string[], options: OptionSpec, positionals: readonly string[] = []): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: positionals.length > 0 }) as Parsed;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(command, (err as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, ''), { cause: err });
    }
    throw err;
  }
  if (parsed.positionals.length < positionals.length) {
    throw new UsageError(command, `missing argument <${positionals[parsed.positionals.length]}>`);
  }
  if (parsed.positionals.length > positionals.length) {
    throw new UsageError(command, `unexpected argument ${JSON.stringify(parsed.positionals[positionals.length])}`);
  }
  return parsed;
}

/** A flag value as a string, or undefined when absent (parseArgs types are wide). */
export function str(parsed: Parsed, name: string): string | undefined {
  const v = parsed.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** An integer flag within [min, max]. */
export function intFlag(command: string, parsed: Parsed, name: string, min: number, max: number): number | undefined {
  const v = str(parsed, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,16}$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(command, `--${name}: expected an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
