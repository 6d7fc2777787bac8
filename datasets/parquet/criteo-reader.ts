/**
 * Criteo-shaped Parquet (NVTabular / HugeCTR layouts) → raw {@link RowBatch}es, so
 * `preprocess --input *.parquet` runs the same transform, vocabulary and split as on text.
 * Read with hyparquet (+ hyparquet-compressors for gzip / zstd / brotli / lz4), one row group
 * at a time, only the 40 columns it needs.
 *
 * Columns (names case-insensitive; others are ignored):
 *
 *     label           int or float, 0 / 1 (also bool)
 *     I1..I13         int or float; null = missing
 *     C1..C26         int (32 or 64 bit: the low 32 bits, as uint32 — a negative int32 is its
 *                     two's complement, the raw hex value) or a hex string; null = missing
 *
 * Dictionary-encoded columns decode like plain ones. A file whose columns do not fit is a
 * `bad_input` error naming the column; a bad value names the row and column.
 */
import { statSync } from 'node:fs';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { PipelineError } from '../../pipeline/errors.js';
import { xxh64File } from '../../pipeline/xxh64.js';
import { createRowBatch, DEFAULT_BATCH_ROWS, type RowBatch } from '../criteo/batch.js';
import { CAT_COLUMNS, CAT_FEATURE_COUNT, INT_COLUMNS, INT_FEATURE_COUNT, LABEL_COLUMN } from '../criteo/constants.js';

/** What {@link readCriteoParquet} reports (the fields of the text reader's ReadStats it fills). */
export interface ParquetReadStats {
  bytes: number;
  /** `xxh64:<hex>` of the file (pipeline/xxh64.ts) */
  hash: string;
  lines: number;
  rows: number;
  bytesRead: number;
}

export interface ParquetReadOptions {
  /** @default DEFAULT_BATCH_ROWS */
  batchRows?: number;
  /** reuse one batch between yields @default true */
  reuseBatch?: boolean;
  allocBatch?: () => RowBatch | undefined;
}

/** Top-level column names of the file, lowercased → as written. */
function columnNames(meta: FileMetaData): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of meta.schema.slice(1)) if (e.num_children === undefined) out.set(e.name.toLowerCase(), e.name);
  return out;
}

/** The file's names for label, I1..I13, C1..C26, in that order. */
function requiredColumns(path: string, meta: FileMetaData): string[] {
  const names = columnNames(meta);
  const want = [LABEL_COLUMN, ...INT_COLUMNS, ...CAT_COLUMNS];
  const missing = want.filter((w) => !names.has(w.toLowerCase()));
  if (missing.length > 0) {
    throw new PipelineError('bad_input', `Parquet file is not Criteo-shaped: no column ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''}`, {
      file: path, field: missing[0], expected: 'columns label, I1..I13, C1..C26', actual: [...names.values()].slice(0, 12).join(','),
    });
  }
  return want.map((w) => names.get(w.toLowerCase())!);
}

type Values = ArrayLike<unknown>;

function bad(path: string, row: number, col: string, v: unknown, expected: string): PipelineError {
  return new PipelineError('bad_input', `row ${row}: column ${col}: ${String(v)} is not ${expected}`, { file: path, field: col, expected, actual: String(v) });
}

/** A categorical cell → uint32, or -1 for missing. */
function catValue(v: unknown, path: string, row: number, col: string): number {
  if (v === null || v === undefined) return -1;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw bad(path, row, col, v, 'an integer');
    return v >>> 0;
  }
  if (typeof v === 'bigint') return Number(BigInt.asUintN(32, v));
  if (typeof v === 'string') {
    if (v === '') return -1;
    if (!/^[0-9a-fA-F]{1,8}$/.test(v)) throw bad(path, row, col, v, 'a hex value of 1–8 digits');
    return parseInt(v, 16) >>> 0;
  }
  throw bad(path, row, col, v, 'an integer or a hex string');
}

function numValue(v: unknown, path: string, row: number, col: string): number {
  if (v === null || v === undefined) return NaN;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw bad(path, row, col, v, 'a number');
}

/**
 * Yield the file's rows as raw batches (values as the text parser gives them).
 * @throws bad_input for a file that is not Criteo-shaped or a bad value
 */
export async function* readCriteoParquet(path: string, opts: ParquetReadOptions, stats: ParquetReadStats): AsyncGenerator<RowBatch> {
  stats.bytes = statSync(path).size;
  const file = await asyncBufferFromFile(path);
  let meta: FileMetaData;
  try {
    meta = await parquetMetadataAsync(file);
  } catch (e) {
    throw new PipelineError('bad_input', `not a readable Parquet file (${(e as Error).message})`, { file: path, cause: e });
  }
  const cols = requiredColumns(path, meta);
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const reuse = opts.reuseBatch ?? true;
  const alloc = (): RowBatch => {
    const b = opts.allocBatch?.() ?? createRowBatch(batchRows);
    b.rows = 0;
    return b;
  };
  let batch = alloc();
  let rowStart = 0;
  for (const g of meta.row_groups) {
    const n = Number(g.num_rows);
    const rowEnd = rowStart + n;
    // columns of this row group, each sliced to [rowStart, rowEnd)
    const data = new Map<string, Values>();
    const parts = new Map<string, { start: number; values: Values }[]>();
    await parquetRead({
      file, metadata: meta, columns: cols, rowStart, rowEnd, compressors,
      onChunk: (c) => {
        const list = parts.get(c.columnName) ?? [];
        list.push({ start: c.rowStart, values: c.columnData as Values });
        parts.set(c.columnName, list);
      },
    });
    for (const name of cols) {
      const list = parts.get(name) ?? [];
      const out: unknown[] = new Array<unknown>(n);
      for (const p of list) {
        for (let i = 0; i < p.values.length; i++) {
          const r = p.start + i - rowStart;
          if (r >= 0 && r < n) out[r] = p.values[i];
        }
      }
      data.set(name, out);
    }
    const label = data.get(cols[0]!)!;
    const dense = cols.slice(1, 1 + INT_FEATURE_COUNT).map((c) => data.get(c)!);
    const cats = cols.slice(1 + INT_FEATURE_COUNT).map((c) => data.get(c)!);
    for (let i = 0; i < n; i++) {
      const row = rowStart + i + 1; // 1-based, as text line numbers
      const r = batch.rows;
      const cap = batch.capacity;
      const l = numValue(label[i], path, row, cols[0]!);
      if (l !== 0 && l !== 1) throw bad(path, row, cols[0]!, label[i], '0 or 1');
      batch.label[r] = l;
      for (let f = 0; f < INT_FEATURE_COUNT; f++) batch.dense[f * cap + r] = numValue(dense[f]![i], path, row, cols[1 + f]!);
      for (let f = 0; f < CAT_FEATURE_COUNT; f++) {
        const v = catValue(cats[f]![i], path, row, cols[1 + INT_FEATURE_COUNT + f]!);
        batch.catPresent[f * cap + r] = v < 0 ? 0 : 1;
        batch.cats[f * cap + r] = v < 0 ? 0 : v;
      }
      batch.rows++;
      if (batch.rows === cap) {
        stats.rows += batch.rows;
        yield batch;
        batch = reuse ? batch : alloc();
        batch.rows = 0;
      }
    }
    stats.lines += n;
    stats.bytesRead = Math.round((stats.bytes * rowEnd) / Math.max(1, Number(meta.num_rows)));
    rowStart = rowEnd;
  }
  if (batch.rows > 0) {
    stats.rows += batch.rows;
    yield batch;
  }
  stats.hash = await xxh64File(path);
  if (stats.lines === 0) throw new PipelineError('empty_input', 'Parquet file has no rows', { file: path });
}
