/**
 * Named assertion helpers for public entry points (the habit of noble's `abytes` and jose's
 * `assertUint8Array`): each throws an InvalidArgumentError naming the bad argument.
 */
import { InvalidArgumentError } from '../errors.js';

export interface LengthRule {
  /** Exact length required. */
  len?: number | readonly number[];
  min?: number;
  max?: number;
}

function describeLength(rule: LengthRule): string {
  if (rule.len !== undefined) return Array.isArray(rule.len) ? `one of ${rule.len.join(', ')}` : `${rule.len}`;
  if (rule.min !== undefined && rule.max !== undefined) return `${rule.min}..${rule.max}`;
  if (rule.min !== undefined) return `at least ${rule.min}`;
  return `at most ${rule.max}`;
}

/** Asserts that `value` is a Uint8Array (Buffer included) whose length follows `rule`. */
export function assertBytes(value: unknown, name: string, rule: LengthRule = {}): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(name, `expected a Uint8Array, got ${describeType(value)}`);
  }
  const n = value.length;
  const lens = rule.len === undefined ? undefined : Array.isArray(rule.len) ? rule.len : [rule.len];
  if (
    (lens !== undefined && !lens.includes(n)) ||
    (rule.min !== undefined && n < rule.min) ||
    (rule.max !== undefined && n > rule.max)
  ) {
    throw new InvalidArgumentError(name, `expected ${describeLength(rule)} bytes, got ${n}`);
  }
}

/** Asserts a safe integer within [min, max]. */
export function assertInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(name, `expected an integer, got ${describeType(value)}`);
  }
  if (value < min || value > max) {
    throw new InvalidArgumentError(name, `expected an integer in ${min}..${max}, got ${value}`);
  }
}

/** Asserts a non-empty string of at most `max` characters. */
export function assertString(value: unknown, name: string, opts: { min?: number; max?: number; pattern?: RegExp } = {}): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(name, `expected a string, got ${describeType(value)}`);
  const min = opts.min ?? 1;
  if (value.length < min) throw new InvalidArgumentError(name, `expected at least ${min} characters`);
  if (opts.max !== undefined && value.length > opts.max) throw new InvalidArgumentError(name, `expected at most ${opts.max} characters`);
  if (opts.pattern !== undefined && !opts.pattern.test(value)) throw new InvalidArgumentError(name, `does not match ${opts.pattern}`);
}

/** Asserts that `value` is one of `allowed`. */
export function assertOneOf<T extends string | number>(value: unknown, name: string, allowed: readonly T[]): asserts value is T {
  if (!allowed.includes(value as T)) {
    throw new InvalidArgumentError(name, `expected one of ${allowed.join(', ')}, got ${describeType(value)}`);
  }
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length})`;
  if (typeof value === 'string') return value.length > 40 ? `string(${value.length})` : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
}
