/**
 * Hand-written byte-level parser for Criteo lines (TSV or CSV) into a
 * {@link RowBatch}. No strings are built for good rows: integers and hex values
 * are accumulated straight from the bytes.
 *
 * Line grammar (delimiter `\t` or `,`):
 *
 *     label D I1 D ... D I13 D C1 D ... D C26 [\r] \n
 *
 * - label: a number equal to 0 or 1 (`0`, `1`, `1.0`)
 * - I*: empty (missing) or `-?digits[.digits]` (`260.0` in the CSV variant)
 * - C*: empty (missing) or 1–8 hex digits (either case) → uint32
 * - fewer than 40 fields: the missing trailing fields are empty;
 *   more than 40: a bad line. An empty line is ignored.
 */
import { badField, badLine, type PipelineError } from '../../pipeline/errors.js';
import type { BadLineSample } from '../preprocessed.js';
import type { RowBatch } from './batch.js';
import { CAT_COLUMNS, FIELD_COUNT, INT_COLUMNS, INT_FEATURE_COUNT } from './constants.js';
import type { ParseAddon } from './native.js';

export const TAB = 9;
export const COMMA = 44;
const LF = 10;
const CR = 13;
const MINUS = 45;
const DOT = 46;

/** Samples of bad lines kept for the manifest. */
export const BAD_LINE_SAMPLES = 10;

/** hex digit value per byte, -1 for non-hex */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** What to do with a malformed line: throw (default) or skip and count it. */
export type OnBadLine = 'error' | 'skip';

/** Bad lines skipped so far (shared across the files of one run). */
export interface BadLineLog {
  count: number;
  first: BadLineSample[];
}

export function createBadLineLog(): BadLineLog {
  return { count: 0, first: [] };
}

// failure kinds (parser-internal)
const OK = 0;
const BAD_LABEL = 1;
const BAD_INT = 2;
const BAD_HEX = 3;
const TOO_MANY = 4;

/**
 * Stateful line parser for one input file. Feed it complete lines with
 * {@link CriteoLineParser.parse}; it tracks the 1-based line number.
 */
export class CriteoLineParser {
  /** number of the last line consumed (1-based; header lines included) */
  line = 0;
  /** data lines seen, bad ones included (blank lines and the header excluded) */
  dataLines = 0;
  /** lines skipped as bad in this file */
  badLines = 0;
  /** leading fields to skip on every line (1 for Kaggle's CSV with an `Id` column) */
  skipFields = 0;
  /** lines have no label field (Kaggle's unlabelled test.txt: I1..I13, C1..C26); label 0 is stored */
  noLabel = false;
  /** the native loop's in/out state: [rows, lines, data lines, stopped at a bad line] */
  private readonly nativeState = new Int32Array(4);

  /**
   * @param file path used in error messages
   * @param delimiter TAB or COMMA
   * @param onBadLine throw a located PipelineError, or skip the line into `log`
   * @param log where skipped lines are counted and sampled
   * @param native the parse addon (`native.ts`): its C++ loop parses the good lines, this
   *   class the malformed ones (same batches, counts and messages); null = TypeScript only
   */
  constructor(
    readonly file: string,
    readonly delimiter: number,
    readonly onBadLine: OnBadLine,
    readonly log: BadLineLog = createBadLineLog(),
    readonly native: ParseAddon | null = null,
  ) {}

  /**
   * Parse complete lines from `buf[pos, end)` into `batch` until the range is used
   * up or the batch is full. `buf[end - 1]` must be `\n` (the reader appends one
   * to a last line that lacks it): that byte stops every scan, so the inner loops
   * need no bounds checks.
   * @returns the position after the last line consumed
   */
  parse(buf: Uint8Array, pos: number, end: number, batch: RowBatch): number {
    const nat = this.native;
    // a version-1 addon knows no leading fields to skip (Kaggle's CSV with an Id column) and no
    // unlabelled lines (Kaggle's test.txt): TS takes those files; version 2 parses them natively
    const plain = this.skipFields === 0 && !this.noLabel;
    if (!nat || (!plain && nat.version < 2)) return this.parseTs(buf, pos, end, batch);
    const st = this.nativeState;
    let p = pos;
    while (p < end && batch.rows < batch.capacity) {
      st[0] = batch.rows;
      p = plain
        ? nat.parseLines(buf, p, end, this.delimiter, batch.label, batch.dense, batch.cats, batch.catPresent, batch.capacity, st)
        : nat.parseLines(buf, p, end, this.delimiter, batch.label, batch.dense, batch.cats, batch.catPresent, batch.capacity, st, this.skipFields, this.noLabel);
      batch.rows = st[0]!;
      this.line += st[1]!;
      this.dataLines += st[2]!;
      if (st[3] === 1) {
        // a malformed line starts at p: the TypeScript loop takes it (throws, or skips and logs it)
        let eol = p;
        while (buf[eol] !== LF) eol++;
        p = this.parseTs(buf, p, eol + 1, batch);
      }
    }
    return p;
  }

  /** {@link CriteoLineParser.parse} in TypeScript (the reference the native loop matches). */
  private parseTs(buf: Uint8Array, pos: number, end: number, batch: RowBatch): number {
    const cap = batch.capacity;
    const label = batch.label;
    const dense = batch.dense;
    const cats = batch.cats;
    const present = batch.catPresent;
    const delim = this.delimiter;
    let p = pos;
    while (p < end && batch.rows < cap) {
      const lineStart = p;
      this.line++;
      // blank line (only a newline, maybe after \r)
      let c = buf[p]!;
      if (c === LF || (c === CR && buf[p + 1] === LF)) {
        p = c === CR ? p + 2 : p + 1;
        continue;
      }
      this.dataLines++;
      for (let k = this.skipFields; k > 0; k--) {
        while (buf[p] !== delim && buf[p] !== LF) p++;
        if (buf[p] === delim) p++;
      }
      const r = batch.rows;
      let field = 0;
      if (this.noLabel) {
        label[r] = 0;
        field = 1;
      }
      let fail = OK;
      let failStart = p;
      for (;;) {
        const fstart = p;
        if (field <= INT_FEATURE_COUNT) {
          // label or integer: -?digits[.digits]
          let neg = false;
          if (buf[p] === MINUS) {
            neg = true;
            p++;
          }
          let v = 0;
          let nd = 0;
          for (;;) {
            const d = buf[p]! - 48;
            if (d < 0 || d > 9) break;
            v = v * 10 + d;
            nd++;
            p++;
          }
          if (buf[p] === DOT) {
            p++;
            let scale = 0.1;
            for (;;) {
              const d = buf[p]! - 48;
              if (d < 0 || d > 9) break;
              v += d * scale;
              scale *= 0.1;
              nd++;
              p++;
            }
          }
          c = buf[p]!;
          const terminated = c === delim || c === LF || (c === CR && buf[p + 1] === LF);
          if (field === 0) {
            if (!terminated || nd === 0 || neg || (v !== 0 && v !== 1)) {
              fail = BAD_LABEL;
              failStart = fstart;
              break;
            }
            label[r] = v;
          } else {
            if (!terminated || (nd === 0 && p !== fstart)) {
              fail = BAD_INT;
              failStart = fstart;
              break;
            }
            dense[(field - 1) * cap + r] = nd === 0 ? NaN : neg ? -v : v;
          }
        } else if (field < FIELD_COUNT) {
          // categorical: 1–8 hex digits; fast path for exactly 8 (the usual case)
          let v = 0;
          let nd = 0;
          const t8 = buf[p + 8];
          if (t8 === delim || t8 === LF || t8 === CR) {
            const d0 = HEX[buf[p]!]!;
            const d1 = HEX[buf[p + 1]!]!;
            const d2 = HEX[buf[p + 2]!]!;
            const d3 = HEX[buf[p + 3]!]!;
            const d4 = HEX[buf[p + 4]!]!;
            const d5 = HEX[buf[p + 5]!]!;
            const d6 = HEX[buf[p + 6]!]!;
            const d7 = HEX[buf[p + 7]!]!;
            if ((d0 | d1 | d2 | d3 | d4 | d5 | d6 | d7) >= 0) {
              v = (d0 << 28) | (d1 << 24) | (d2 << 20) | (d3 << 16) | (d4 << 12) | (d5 << 8) | (d6 << 4) | d7;
              nd = 8;
              p += 8;
            }
          }
          if (nd === 0) for (;;) {
            const d = HEX[buf[p]!]!;
            if (d < 0) break;
            v = (v << 4) | d;
            nd++;
            p++;
          }
          c = buf[p]!;
          const terminated = c === delim || c === LF || (c === CR && buf[p + 1] === LF);
          if (!terminated || nd > 8) {
            fail = BAD_HEX;
            failStart = fstart;
            break;
          }
          const k = (field - 1 - INT_FEATURE_COUNT) * cap + r;
          cats[k] = v >>> 0;
          present[k] = nd === 0 ? 0 : 1;
        } else {
          fail = TOO_MANY;
          break;
        }
        // c is the terminator of this field
        if (c === delim) {
          p++;
          field++;
          continue;
        }
        break;
      }
      if (fail === OK) {
        // pad missing trailing fields
        for (let f = field + 1; f < FIELD_COUNT; f++) {
          if (f <= INT_FEATURE_COUNT) dense[(f - 1) * cap + r] = NaN;
          else present[(f - 1 - INT_FEATURE_COUNT) * cap + r] = 0;
        }
        // consume the line end
        if (c === CR) p++;
        p++; // the \n
        batch.rows = r + 1;
      } else {
        let eol = p;
        while (eol < end && buf[eol] !== LF) eol++;
        this.reject(buf, lineStart, eol, failStart, field, fail);
        p = eol < end ? eol + 1 : end;
      }
    }
    return p;
  }

  /** Throw or log a bad line. */
  private reject(buf: Uint8Array, lineStart: number, eol: number, failStart: number, field: number, fail: number): void {
    const err = this.describe(buf, lineStart, eol, failStart, field, fail);
    if (this.onBadLine === 'error') throw err;
    this.badLines++;
    this.log.count++;
    if (this.log.first.length < BAD_LINE_SAMPLES) this.log.first.push({ file: this.file, line: this.line, reason: err.message });
  }

  private describe(buf: Uint8Array, lineStart: number, eol: number, failStart: number, field: number, fail: number): PipelineError {
    const lineEnd = eol > lineStart && buf[eol - 1] === CR ? eol - 1 : eol;
    if (fail === TOO_MANY) {
      let n = 1;
      for (let i = lineStart; i < lineEnd; i++) if (buf[i] === this.delimiter) n++;
      return this.noLabel
        ? badLine(this.file, this.line, `too many fields: ${n} (an unlabelled Criteo line has at most ${FIELD_COUNT - 1}; this file's first lines had no label)`)
        : badLine(this.file, this.line, `too many fields: ${n} (a Criteo line has at most ${FIELD_COUNT})`);
    }
    let fe = failStart;
    while (fe < lineEnd && buf[fe] !== this.delimiter) fe++;
    const text = Buffer.from(buf.buffer, buf.byteOffset + failStart, fe - failStart).toString('latin1');
    if (fail === BAD_LABEL) return badField(this.file, this.line, 'label', text, '0 or 1');
    if (fail === BAD_INT) return badField(this.file, this.line, INT_COLUMNS[field - 1]!, text, 'a number');
    let allHex = text.length > 0;
    for (let i = 0; i < text.length; i++) if (HEX[text.charCodeAt(i) & 255]! < 0) allHex = false;
    return badField(this.file, this.line, CAT_COLUMNS[field - 1 - INT_FEATURE_COUNT]!, text, allHex ? '1-8 hex digits' : 'hex');
  }
}
