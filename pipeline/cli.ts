/**
 * The only place that exits: wraps a command's action, prints a
 * {@link PipelineError} as a located message (no stack trace), and sets the
 * exit code. Unexpected errors print their stack, since they are bugs.
 */
import { InvalidArgumentError } from 'commander';
import { PipelineError, type ErrorCode } from './errors.js';
import { fromSystemError, isSystemError } from './io-error.js';

export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

/** Error codes that mean "the command line asked for something it may not": exit 2. */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['bad_config', 'unsafe_output']);

/** Wrap an async command action so errors become messages and exit codes. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}

/** Print an error for a person and return the exit code to use. */
export function reportError(e: unknown): number {
  // an OS failure (disk full, permission denied) is the user's to fix, not a bug: no stack trace
  if (isSystemError(e)) e = fromSystemError(e);
  if (e instanceof PipelineError) {
    process.stderr.write(`hotcold: error: ${e.format()}\n`);
    return USAGE_CODES.has(e.code) ? EXIT_USAGE : EXIT_FAILURE;
  }
  const err = e as Error;
  process.stderr.write(`hotcold: internal error (please report): ${err?.stack ?? String(e)}\n`);
  return EXIT_FAILURE;
}

/** commander argument parser for integers with a range check. */
export function intArg(name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got '${v}'`);
    }
    return n;
  };
}

/** commander argument parser for floats with a range check (inclusive unless noted). */
export function floatArg(name: string, min = -Infinity, max = Infinity, minExclusive = false) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (minExclusive && n === min)) {
      throw new InvalidArgumentError(`${name} must be a number in ${minExclusive ? '(' : '['}${min}, ${max}], got '${v}'`);
    }
    return n;
  };
}

/** Collect a repeatable option into a list. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
