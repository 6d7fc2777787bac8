/**
 * Typed, located errors. Library code throws a {@link PipelineError}; only the
 * command line (`pipeline/cli.ts`) turns one into a message and an exit code.
 *
 * Messages come from the named factories at the bottom so the same failure is
 * always worded the same way.
 */

/** Closed set of error codes. Tests and callers switch on these, never on text. */
export type ErrorCode =
  | 'bad_input' // malformed data in an input file (file, line, field)
  | 'empty_input' // an input with no data rows
  | 'truncated' // a compressed or binary file that ends early
  | 'not_found' // a file or directory that does not exist
  | 'bad_config' // a config or option that fails validation
  | 'bad_manifest' // a manifest that is missing, uncommitted, of the wrong kind or version
  | 'mismatch' // artifacts made from different data or options
  | 'checksum' // a file whose checksum does not match its manifest
  | 'numeric' // NaN / Inf during training
  | 'unsafe_output' // an output that would overwrite or delete something it must not (inputs, foreign files)
  | 'locked' // an output directory another live hotcold process is writing
  | 'io' // an operating-system I/O failure (disk full, permission denied …), with path and operation
  | 'unavailable' // an external service (the redis cold store) stopped answering
  | 'worker_failed' // a worker thread of a parallel train run failed; the run stopped at a consistent point
  | 'not_implemented'
  | 'internal';

export interface ErrorFields {
  file?: string;
  line?: number;
  byteOffset?: number;
  field?: string;
  expected?: string;
  actual?: string;
  hint?: string;
  cause?: unknown;
}

export class PipelineError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly line?: number;
  readonly byteOffset?: number;
  readonly field?: string;
  readonly expected?: string;
  readonly actual?: string;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, fields: ErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'PipelineError';
    this.code = code;
    this.file = fields.file;
    this.line = fields.line;
    this.byteOffset = fields.byteOffset;
    this.field = fields.field;
    this.expected = fields.expected;
    this.actual = fields.actual;
    this.hint = fields.hint;
  }

  /**
   * One or two lines for a person: `file:line: field X: message` then the hint.
   * Control characters (terminal escapes in echoed input) are shown escaped.
   */
  format(): string {
    const loc = this.file ? `${this.file}${this.line !== undefined ? `:${this.line}` : ''}: ` : '';
    const hint = this.hint ? `\n  hint: ${escapeControl(this.hint)}` : '';
    return `${escapeControl(loc)}${escapeControl(this.message)}${hint}`;
  }
}

/**
 * Show control characters other than newline and tab as `\xNN` (C0, DEL, C1),
 * so that bytes echoed from an input file cannot drive the terminal.
 * @example escapeControl('a\x1b[2Jb') === 'a\\x1b[2Jb'
 */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `file:line: field C7: 'zz12' is not hex` */
export function badField(
  file: string,
  line: number,
  field: string,
  actual: string,
  expected: string,
): PipelineError {
  const cut = actual.length > 40 ? `${actual.slice(0, 37)}...` : actual;
  const shown = escapeControl(cut).replace(/\t/g, '\\t').replace(/\n/g, '\\n');
  return new PipelineError('bad_input', `field ${field}: '${shown}' is not ${expected}`, {
    file,
    line,
    field,
    actual,
    expected,
  });
}

export function badLine(file: string, line: number, message: string): PipelineError {
  return new PipelineError('bad_input', message, { file, line });
}

export function notFound(what: string, path: string, hint?: string): PipelineError {
  return new PipelineError('not_found', `${what} not found: ${path}`, { file: path, hint });
}

export function badConfig(path: string, message: string, hint?: string): PipelineError {
  return new PipelineError('bad_config', `${path ? `${path}: ` : ''}${message}`, { field: path, hint });
}

export function badManifest(dir: string, message: string, hint?: string): PipelineError {
  return new PipelineError('bad_manifest', message, { file: dir, hint });
}

export function mismatch(message: string, hint?: string): PipelineError {
  return new PipelineError('mismatch', message, { hint });
}

export function notImplemented(what: string): PipelineError {
  return new PipelineError('not_implemented', `${what} is not implemented`);
}
