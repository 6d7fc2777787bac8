/**
 * Streaming Avazu reader (datasets/avazu/constants.ts for the layout): a CSV file (or `.gz`)
 * with Avazu's 24-column header → Criteo-shaped raw {@link RowBatch}es, so preprocess,
 * profile, segregate and train run on it unchanged. Lines are split with string operations
 * (Avazu rows have no quoting); a malformed line is an error `file:line: field …`, or is
 * skipped and counted with `onBadLine: 'skip'`.
 */
import { createXxh64 } from '../../pipeline/xxh64.js';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { constants as zlibConstants, createGunzip, gunzipSync } from 'node:zlib';
import { badLine, PipelineError } from '../../pipeline/errors.js';
import { createRowBatch, DEFAULT_BATCH_ROWS, type RowBatch } from '../criteo/batch.js';
import { BAD_LINE_SAMPLES, type BadLineLog } from '../criteo/parse.js';
import { AVAZU_COLUMNS, AVAZU_HEX_COLUMNS, AVAZU_TEST_COLUMNS, HOUR_OF_DAY_SLOT, WEEKDAY_SLOT, type AvazuLayout } from './constants.js';

/** The file's first line (from its first 64 KiB, decompressed when gzip), or null. */
export function sniffFirstLine(path: string, gzip: boolean): string | null {
  const fd = openSync(path, 'r');
  let head: Buffer;
  try {
    const b = Buffer.alloc(1 << 16);
    head = b.subarray(0, readSync(fd, b, 0, b.length, 0));
  } finally {
    closeSync(fd);
  }
  if (gzip) {
    try {
      head = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      return null; // damaged: the text reader reports it
    }
  }
  const nl = head.indexOf(10);
  return head.toString('latin1', 0, nl < 0 ? head.length : nl);
}

/**
 * Which Avazu header `firstLine` is (names compared case-insensitively): `labelled` (train.csv's
 * 24 columns `id,click,hour,…`), `unlabelled` (test.csv's 23 columns `id,hour,…`, no `click`), or null.
 */
export function avazuHeader(firstLine: string): 'labelled' | 'unlabelled' | null {
  const f = firstLine.replace(/^\ufeff/, '').replace(/\r$/, '').split(',').map((s) => s.trim().replace(/^"|"$/g, '').toLowerCase());
  const is = (cols: readonly string[]): boolean => f.length === cols.length && f.every((n, i) => n === cols[i]!.toLowerCase());
  return is(AVAZU_COLUMNS) ? 'labelled' : is(AVAZU_TEST_COLUMNS) ? 'unlabelled' : null;
}

/** True when `firstLine` is one of Avazu's headers (train.csv's or test.csv's). */
export function isAvazuHeader(firstLine: string): boolean {
  return avazuHeader(firstLine) !== null;
}

/** The fields of {@link ReadStats} the reader fills. */
export interface AvazuReadStats {
  /** `xxh64:<hex>` of the bytes on disk (pipeline/xxh64.ts) */
  hash: string;
  lines: number;
  rows: number;
  badLines: number;
  bytesRead: number;
}

export interface AvazuReadOptions {
  batchRows?: number;
  reuseBatch?: boolean;
  allocBatch?: () => RowBatch | undefined;
  onBadLine?: 'error' | 'skip';
  badLines?: BadLineLog;
  /** which slots the columns fill (constants.ts) @default 'hotcold' */
  layout?: AvazuLayout;
  /** the file has the `click` column (train.csv); false: test.csv's 23 columns, labels stored as 0 @default true */
  labelled?: boolean;
}

/** One header's columns: names, hex flags, and where `click` (−1: none), `hour` and C1 are. */
interface Columns {
  names: readonly string[];
  hex: readonly boolean[];
  click: number;
  hour: number;
  firstCat: number;
}
function columns(names: readonly string[]): Columns {
  const click = names.indexOf('click');
  return { names, hex: names.map((c) => AVAZU_HEX_COLUMNS.has(c)), click, hour: names.indexOf('hour'), firstCat: names.indexOf('C1') };
}
const LABELLED = columns(AVAZU_COLUMNS);
const UNLABELLED = columns(AVAZU_TEST_COLUMNS);

/** 'YYMMDDHH' → [hour of day, weekday (0 = Monday)], or null when malformed. */
export function expandHour(s: string): [number, number] | null {
  if (!/^\d{8}$/.test(s)) return null;
  const y = 2000 + Number(s.slice(0, 2));
  const m = Number(s.slice(2, 4));
  const d = Number(s.slice(4, 6));
  const h = Number(s.slice(6, 8));
  if (m < 1 || m > 12 || d < 1 || d > 31 || h > 23) return null;
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCDate() !== d) return null;
  return [h, (t.getUTCDay() + 6) % 7];
}

/** Parse one data line into row `r` of `b`; returns an error message or null. */
function parseLine(line: string, b: RowBatch, r: number, slipstream: boolean, cols: Columns): { field: string; message: string } | null {
  const f = line.split(',');
  const names = cols.names;
  if (f.length !== names.length) {
    const hint = cols.click < 0 && f.length === AVAZU_COLUMNS.length ? ` (the header has no 'click' column)` : '';
    return { field: '', message: `${f.length} fields, expected ${names.length}${hint}` };
  }
  let label = 0;
  if (cols.click >= 0) {
    const click = f[cols.click]!;
    if (click !== '0' && click !== '1') return { field: 'click', message: `'${click}' is not 0 or 1` };
    label = click === '1' ? 1 : 0;
  }
  const hour = expandHour(f[cols.hour]!);
  if (!hour) return { field: 'hour', message: `'${f[cols.hour]}' is not YYMMDDHH` };
  const cap = b.capacity;
  b.label[r] = label;
  for (let k = 0; k < 13; k++) b.dense[k * cap + r] = NaN;
  b.dense[r] = hour[0];
  if (!slipstream) b.dense[cap + r] = hour[1];
  for (let c = cols.firstCat; c < names.length; c++) {
    const s = f[c]!;
    const slot = (c - cols.firstCat) * cap + r;
    if (s === '') {
      b.catPresent[slot] = 0;
      b.cats[slot] = 0;
      continue;
    }
    let v: number;
    if (cols.hex[c]) {
      if (!/^[0-9a-fA-F]{1,8}$/.test(s)) return { field: names[c]!, message: `'${s}' is not hex` };
      v = parseInt(s, 16);
    } else {
      if (!/^-?\d{1,10}$/.test(s)) return { field: names[c]!, message: `'${s}' is not an integer` };
      v = Number(s);
    }
    b.catPresent[slot] = 1;
    b.cats[slot] = v >>> 0;
  }
  if (!slipstream) {
    b.catPresent[HOUR_OF_DAY_SLOT * cap + r] = 1;
    b.cats[HOUR_OF_DAY_SLOT * cap + r] = hour[0];
    b.catPresent[WEEKDAY_SLOT * cap + r] = 1;
    b.cats[WEEKDAY_SLOT * cap + r] = hour[1];
  }
  for (let slot = slipstream ? HOUR_OF_DAY_SLOT : WEEKDAY_SLOT + 1; slot < 26; slot++) {
    b.catPresent[slot * cap + r] = 0;
    b.cats[slot * cap + r] = 0;
  }
  return null;
}

/**
 * Yield the file's rows (header checked by the caller, skipped here); an unlabelled file
 * (`opts.labelled` false: test.csv) gives label 0 on every row.
 * @param gzip the file is gzip-compressed
 */
export async function* readAvazu(path: string, gzip: boolean, opts: AvazuReadOptions, stats: AvazuReadStats): AsyncGenerator<RowBatch> {
  const hash = createXxh64();
  const raw = createReadStream(path, { highWaterMark: 1 << 22 });
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const c of raw) {
      const b = c as Buffer;
      hash.update(b);
      stats.bytesRead += b.length;
      yield b;
    }
  }
  const text: Readable = gzip ? Readable.from(hashed()).pipe(createGunzip()) : Readable.from(hashed());
  // an error of the byte stream ends the lines; it is rethrown after the loop (and ignored on an early exit)
  let streamErr: Error | null = null;
  text.on('error', (e: Error) => (streamErr ??= e));
  const lines = createInterface({ input: text, crlfDelay: Infinity });
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const reuse = opts.reuseBatch ?? true;
  const alloc = (): RowBatch => {
    const b = opts.allocBatch?.() ?? createRowBatch(batchRows);
    b.rows = 0;
    return b;
  };
  let batch = alloc();
  let lineNo = 0;
  const slipstream = opts.layout === 'slipstream';
  const cols = opts.labelled === false ? UNLABELLED : LABELLED;
  try {
    for await (const l of lines) {
      lineNo++;
      if (lineNo === 1) continue; // the header
      const line = l.endsWith('\r') ? l.slice(0, -1) : l;
      if (line === '') continue;
      stats.lines++;
      const err = parseLine(line, batch, batch.rows, slipstream, cols);
      if (err) {
        if ((opts.onBadLine ?? 'error') === 'error') {
          throw err.field
            ? new PipelineError('bad_input', `field ${err.field}: ${err.message}`, { file: path, line: lineNo, field: err.field })
            : badLine(path, lineNo, err.message);
        }
        stats.badLines++;
        if (opts.badLines) {
          opts.badLines.count++;
          if (opts.badLines.first.length < BAD_LINE_SAMPLES) opts.badLines.first.push({ file: path, line: lineNo, reason: err.message });
        }
        continue;
      }
      batch.rows++;
      if (batch.rows === batch.capacity) {
        stats.rows += batch.rows;
        yield batch;
        batch = reuse ? batch : alloc();
        batch.rows = 0;
      }
    }
    if (streamErr) throw streamErr;
  } catch (e) {
    if (e instanceof PipelineError) throw e;
    throw new PipelineError(gzip ? 'truncated' : 'bad_input', `cannot read: ${(e as Error).message}`, { file: path, cause: e });
  } finally {
    lines.close();
    text.destroy();
    raw.destroy();
  }
  if (batch.rows > 0) {
    stats.rows += batch.rows;
    yield batch;
  }
  stats.hash = hash.digest();
  if (stats.lines === 0) throw new PipelineError('empty_input', 'Avazu file has no data rows', { file: path });
}
