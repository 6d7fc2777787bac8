/**
 * Columnar shards: one Arrow IPC file (`.arrow`, file format) per shard with the
 * columns `label: Int8`, `I1..I13: Float32`, `C1..C26: Int32`.
 *
 * In a preprocessed dataset `C*` hold contiguous per-feature ids (see
 * `datasets/preprocessed.ts` for the id convention); in a segregated *hot*
 * shard they hold indices into the one concatenated hot table instead.
 * Rows inside a shard are in source order; shards are numbered in order.
 */
import { readFileSync } from 'node:fs';
import { makeTable, tableFromIPC, tableToIPC, type Table, type Vector } from 'apache-arrow';
import { PipelineError } from '../pipeline/errors.js';
import { writeFileSynced } from '../pipeline/atomic.js';
import { CAT_COLUMNS, CAT_FEATURE_COUNT, INT_COLUMNS, INT_FEATURE_COUNT, LABEL_COLUMN } from './criteo/constants.js';
import { encodeTemplate } from './shard-layout.js';

/** One shard's data, column by column. All arrays have length `rows`. */
export interface ShardColumns {
  rows: number;
  /** 0/1 click labels. */
  label: Int8Array;
  /** 13 dense columns, already log-transformed. */
  dense: Float32Array[];
  /** 26 categorical id columns. */
  cats: Int32Array[];
}

/**
 * Encode a shard as Arrow IPC file bytes: apache-arrow's bytes exactly, through
 * the template of `shard-layout.ts` (an empty shard through apache-arrow).
 * @param target a buffer to reuse when it has exactly the encoded length
 */
export function encodeShard(cols: ShardColumns, target?: Uint8Array): Uint8Array {
  checkShape(cols);
  return cols.rows > 0 ? encodeTemplate(cols, target) : encodeShardArrow(cols);
}

/** {@link encodeShard} through apache-arrow's writer (the reference; used when no template fits). */
export function encodeShardArrow(cols: ShardColumns): Uint8Array {
  checkShape(cols);
  const data: Record<string, Int8Array | Float32Array | Int32Array> = { [LABEL_COLUMN]: cols.label };
  for (let i = 0; i < INT_FEATURE_COUNT; i++) data[INT_COLUMNS[i]!] = cols.dense[i]!;
  for (let i = 0; i < CAT_FEATURE_COUNT; i++) data[CAT_COLUMNS[i]!] = cols.cats[i]!;
  return tableToIPC(makeTable(data), 'file');
}

/** Write a shard file (fsynced, not renamed: a stage commits it through its manifest). */
export function writeShardFile(path: string, cols: ShardColumns): number {
  const bytes = encodeShard(cols);
  writeFileSynced(path, bytes);
  return bytes.byteLength;
}

function column<T extends Int8Array | Float32Array | Int32Array>(
  path: string,
  table: Table,
  name: string,
  ctor: { new (n: number): T },
  typeCheck: (v: Vector) => boolean,
): T {
  const v = table.getChild(name);
  if (!v) throw new PipelineError('bad_input', `shard has no column '${name}'`, { file: path, field: name });
  if (!typeCheck(v)) throw new PipelineError('bad_input', `shard column '${name}' has type ${String(v.type)}`, { file: path, field: name });
  const arr = v.toArray() as unknown;
  if (arr instanceof ctor) return arr;
  const out = new ctor(v.length);
  (out as unknown as { set(a: ArrayLike<number>): void }).set(arr as ArrayLike<number>);
  return out;
}

/** Decode Arrow IPC bytes into shard columns. `path` is only used in error messages. */
export function decodeShard(bytes: Uint8Array, path = '<memory>'): ShardColumns {
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw new PipelineError('bad_input', `not a readable Arrow IPC shard: ${(e as Error).message}`, { file: path });
  }
  const label = column(path, table, LABEL_COLUMN, Int8Array, (v) => String(v.type) === 'Int8');
  const dense = INT_COLUMNS.map((c) => column(path, table, c, Float32Array, (v) => String(v.type) === 'Float32'));
  const cats = CAT_COLUMNS.map((c) => column(path, table, c, Int32Array, (v) => String(v.type) === 'Int32'));
  return { rows: table.numRows, label, dense, cats };
}

/** Read one shard file. */
export function readShardFile(path: string): ShardColumns {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new PipelineError('not_found', `cannot read shard ${path}: ${(e as Error).message}`, { file: path });
  }
  return decodeShard(bytes, path);
}

function checkShape(c: ShardColumns): void {
  if (c.label.length !== c.rows || c.dense.length !== INT_FEATURE_COUNT || c.cats.length !== CAT_FEATURE_COUNT) {
    throw new PipelineError('internal', 'shard columns have the wrong shape');
  }
  for (const a of [...c.dense, ...c.cats]) {
    if (a.length !== c.rows) throw new PipelineError('internal', 'shard column length differs from rows');
  }
}

/**
 * Growable row-by-row builder for one shard (Arrow `BufferBuilder` style:
 * capacity doubles; {@link ShardBuilder.flush} returns trimmed columns and resets).
 */
export class ShardBuilder {
  rows = 0;
  private cap: number;
  private label: Int8Array;
  private dense: Float32Array[];
  private cats: Int32Array[];

  constructor(initialCapacity = 1 << 16) {
    this.cap = Math.max(16, initialCapacity);
    this.label = new Int8Array(this.cap);
    this.dense = INT_COLUMNS.map(() => new Float32Array(this.cap));
    this.cats = CAT_COLUMNS.map(() => new Int32Array(this.cap));
  }

  private grow(): void {
    const cap = this.cap * 2;
    const l = new Int8Array(cap);
    l.set(this.label);
    this.label = l;
    this.dense = this.dense.map((a) => {
      const b = new Float32Array(cap);
      b.set(a);
      return b;
    });
    this.cats = this.cats.map((a) => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    });
    this.cap = cap;
  }

  /**
   * Append one row.
   * @param dense 13 values starting at `denseOff`
   * @param cats 26 ids starting at `catOff`
   */
  append(label: number, dense: ArrayLike<number>, denseOff: number, cats: ArrayLike<number>, catOff: number): void {
    if (this.rows === this.cap) this.grow();
    const r = this.rows++;
    this.label[r] = label;
    for (let i = 0; i < INT_FEATURE_COUNT; i++) this.dense[i]![r] = dense[denseOff + i]!;
    for (let i = 0; i < CAT_FEATURE_COUNT; i++) this.cats[i]![r] = cats[catOff + i]!;
  }

  /** Append row `r` of existing shard columns, with categorical ids optionally replaced. */
  appendFrom(src: ShardColumns, r: number, catsOverride?: ArrayLike<number>): void {
    if (this.rows === this.cap) this.grow();
    const w = this.rows++;
    this.label[w] = src.label[r]!;
    for (let i = 0; i < INT_FEATURE_COUNT; i++) this.dense[i]![w] = src.dense[i]![r]!;
    if (catsOverride) for (let i = 0; i < CAT_FEATURE_COUNT; i++) this.cats[i]![w] = catsOverride[i]!;
    else for (let i = 0; i < CAT_FEATURE_COUNT; i++) this.cats[i]![w] = src.cats[i]![r]!;
  }

  /** Trimmed copy of the columns so far; the builder is reset. */
  flush(): ShardColumns {
    const n = this.rows;
    const out: ShardColumns = {
      rows: n,
      label: this.label.slice(0, n),
      dense: this.dense.map((a) => a.slice(0, n)),
      cats: this.cats.map((a) => a.slice(0, n)),
    };
    this.rows = 0;
    return out;
  }
}
