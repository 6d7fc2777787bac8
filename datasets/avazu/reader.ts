/**
 * Streaming Avazu reader (datasets/avazu/constants.ts for the layout): a CSV file (or `.gz`)
 * with Avazu's 24-column header → Criteo-shaped raw {@link RowBatch}es, so preprocess,
 * profile, segregate and train run on it unchanged. Lines are split with string operations
 * (Avazu rows have no quoting); a malformed line is an error `file:line: field …`, or is
 * skipped and counted with `onBadLine: 'skip'`.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { constants as zlibConstants, createGunzip, gunzipSync } from 'node:zlib';
import { badLine, PipelineError } from '../../pipeline/errors.js';
import { createRowBatch, DEFAULT_BATCH_ROWS, type RowBatch } from '../criteo/batch.js';
import { BAD_LINE_SAMPLES, type BadLineLog } from '../criteo/parse.js';
import { AVAZU_COLUMNS, AVAZU_FIRST_CAT, AVAZU_HEX_COLUMNS, HOUR_OF_DAY_SLOT, WEEKDAY_SLOT, type AvazuLayout } from './constants.js';

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

/** True when `firstLine` is Avazu's header (names compared case-insensitively). */
export function isAvazuHeader(firstLine: string): boolean {
  const f = firstLine.replace(/\r$/, '').split(',').map((s) => s.trim().replace(/^"|"$/g, '').toLowerCase());
  return f.length === AVAZU_COLUMNS.length && f.every((n, i) => n === AVAZU_COLUMNS[i]!.toLowerCase());
}

/** The fields of {@link ReadStats} the reader fills. */
export interface AvazuReadStats {
  sha256: string;
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
}

const IS_HEX = AVAZU_COLUMNS.map((c) => AVAZU_HEX_COLUMNS.has(c));

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
function parseLine(line: string, b: RowBatch, r: number, slipstream: boolean): { field: string; message: string } | null {
  const f = line.split(',');
  if (f.length !== AVAZU_COLUMNS.length) return { field: '', message: `${f.length} fields, expected ${AVAZU_COLUMNS.length}` };
  const click = f[1]!;
  if (click !== '0' && click !== '1') return { field: 'click', message: `'${click}' is not 0 or 1` };
  const hour = expandHour(f[2]!);
  if (!hour) return { field: 'hour', message: `'${f[2]}' is not YYMMDDHH` };
  const cap = b.capacity;
  b.label[r] = click === '1' ? 1 : 0;
  for (let k = 0; k < 13; k++) b.dense[k * cap + r] = NaN;
  b.dense[r] = hour[0];
  if (!slipstream) b.dense[cap + r] = hour[1];
  for (let c = AVAZU_FIRST_CAT; c < AVAZU_COLUMNS.length; c++) {
    const s = f[c]!;
    const slot = (c - AVAZU_FIRST_CAT) * cap + r;
    if (s === '') {
      b.catPresent[slot] = 0;
      b.cats[slot] = 0;
      continue;
    }
    let v: number;
    if (IS_HEX[c]) {
      if (!/^[0-9a-fA-F]{1,8}$/.test(s)) return { field: AVAZU_COLUMNS[c]!, message: `'${s}' is not hex` };
      v = parseInt(s, 16);
    } else {
      if (!/^-?\d{1,10}$/.test(s)) return { field: AVAZU_COLUMNS[c]!, message: `'${s}' is not an integer` };
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
 * Yield the file's rows (header checked by the caller, skipped here).
 * @param gzip the file is gzip-compressed
 */
export async function* readAvazu(path: string, gzip: boolean, opts: AvazuReadOptions, stats: AvazuReadStats): AsyncGenerator<RowBatch> {
  const hash = createHash('sha256');
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
  try {
    for await (const l of lines) {
      lineNo++;
      if (lineNo === 1) continue; // the header
      const line = l.endsWith('\r') ? l.slice(0, -1) : l;
      if (line === '') continue;
      stats.lines++;
      const err = parseLine(line, batch, batch.rows, slipstream);
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
  stats.sha256 = hash.digest('hex');
  if (stats.lines === 0) throw new PipelineError('empty_input', 'Avazu file has no data rows', { file: path });
}
