/**
 * Streams the shards of one split into batches, at most two shards in memory
 * (the current one and the next, whose file is read in the background by libuv's
 * I/O threads while the current batches train).
 *
 * Order of an epoch (deterministic, seeded per epoch so any position can be
 * reached again for a resume):
 *
 *     shard order   Rng.derive(seed, salt, epoch) shuffle of [0, shards)
 *     rows of shard s   Rng.derive(seed, salt, epoch, s + 1) shuffle of [0, rows_s)
 *     stream = rows of the shards in shard order, each shard's rows permuted;
 *     batch k = stream positions [k·B, min((k + 1)·B, N)) — the last batch may be short.
 *
 * With `shuffle: false` both orders are the identity (evaluation).
 */
import { readFile } from 'node:fs/promises';
import { decodeShard, type ShardColumns } from '../../../datasets/shards.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { Rng } from '../../../pipeline/rng.js';
import { NUM_DENSE, NUM_TABLES, type Batch } from './batch.js';

export interface StreamOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** separates the streams of one run (train / hot / cold) */
  salt: number;
}

/** One split's shards as a seekable, shuffled batch stream. */
export class ShardStream {
  readonly totalRows: number;
  readonly batchesPerEpoch: number;
  private order: Int32Array = new Int32Array(0);
  private epoch = 0;
  /** index into `order` of the current shard, and the permuted offset inside it */
  private pos = 0;
  private off = 0;
  private cur: { shard: number; cols: ShardColumns; perm: Uint32Array; rows: RowMajor | null } | null = null;
  private readonly pending = new Map<number, Promise<ShardColumns>>();
  /** the current shard's rows, interleaved (shuffled streams); one buffer reused shard after shard */
  private rowBuf: RowMajor | null = null;

  /**
   * @param paths absolute shard files
   * @param rows rows per shard (from the manifest)
   */
  constructor(
    readonly paths: string[],
    readonly rows: number[],
    readonly opts: StreamOptions,
  ) {
    this.totalRows = rows.reduce((a, r) => a + r, 0);
    this.batchesPerEpoch = Math.ceil(this.totalRows / opts.batchSize);
  }

  /** Shard order of `epoch` (indices into `paths`). */
  shardOrder(epoch: number): Int32Array {
    const o = new Int32Array(this.paths.length);
    for (let i = 0; i < o.length; i++) o[i] = i;
    if (this.opts.shuffle) Rng.derive(this.opts.seed, this.opts.salt, epoch).shuffle(o);
    return o;
  }

  /** Row permutation of shard `shard` in `epoch` (row i of the stream segment = row perm[i] of the shard). */
  rowPerm(epoch: number, shard: number): Uint32Array {
    const p = new Uint32Array(this.rows[shard]!);
    for (let i = 0; i < p.length; i++) p[i] = i;
    if (this.opts.shuffle) Rng.derive(this.opts.seed, this.opts.salt, epoch, shard + 1).shuffle(p);
    return p;
  }

  /** Read one shard (shared with a prefetch in flight; `cache` false reads without keeping it). */
  readShard(shard: number, cache = true): Promise<ShardColumns> {
    let p = this.pending.get(shard);
    if (!p) {
      const path = this.paths[shard]!;
      p = readFile(path).then(
        (buf) => decodeShard(buf, path),
        (e: Error) => {
          throw new PipelineError('not_found', `cannot read shard ${path}: ${e.message}`, { file: path });
        },
      );
      if (cache) this.pending.set(shard, p);
    }
    return p;
  }

  /** Position the stream at batch `batch` of `epoch`. */
  start(epoch: number, batch = 0): void {
    this.epoch = epoch;
    this.order = this.shardOrder(epoch);
    this.cur = null;
    this.pending.clear();
    let skip = Math.min(batch * this.opts.batchSize, this.totalRows);
    this.pos = 0;
    while (this.pos < this.order.length && skip >= this.rows[this.order[this.pos]!]!) {
      skip -= this.rows[this.order[this.pos]!]!;
      this.pos++;
    }
    this.off = skip;
  }

  private async enter(): Promise<boolean> {
    while (this.pos < this.order.length && this.off >= this.rows[this.order[this.pos]!]!) {
      this.off -= this.rows[this.order[this.pos]!]!;
      this.pos++;
      this.cur = null;
    }
    if (this.pos >= this.order.length) return false;
    const shard = this.order[this.pos]!;
    if (this.cur?.shard !== shard) {
      const cols = await this.readShard(shard);
      for (const k of [...this.pending.keys()]) if (k !== shard) this.pending.delete(k);
      if (this.pos + 1 < this.order.length) void this.readShard(this.order[this.pos + 1]!).catch(() => undefined);
      // shuffled: one row-major copy of the shard, so a permuted row is one contiguous read
      // (160 bytes) instead of 40 cache misses, one per column; unshuffled rows are read in order
      this.cur = { shard, cols, perm: this.rowPerm(this.epoch, shard), rows: this.opts.shuffle ? toRowMajor(cols, (this.rowBuf ??= allocRowMajor(Math.max(...this.rows)))) : null };
    }
    return true;
  }

  /**
   * Fill `out` with the next batch of the epoch.
   * @returns false when the epoch is exhausted (out.size = 0)
   */
  async next(out: Batch): Promise<boolean> {
    const B = Math.min(this.opts.batchSize, out.capacity);
    let filled = 0;
    while (filled < B && (await this.enter())) {
      const cur = this.cur!;
      const n = Math.min(B - filled, cur.cols.rows - this.off);
      if (cur.rows) copyRowMajor(out, filled, cur.rows, cur.perm, this.off, n);
      else copyRows(out, filled, cur.cols, cur.perm, this.off, n);
      filled += n;
      this.off += n;
    }
    out.size = filled;
    return filled > 0;
  }
}

/**
 * Copy `n` permuted rows of a shard into batch rows [at, at + n).
 * Column by column: dst row-major B×13 / B×26, src one array per column.
 */
function copyRows(out: Batch, at: number, cols: ShardColumns, perm: Uint32Array, from: number, n: number): void {
  const { labels, dense, cats } = out;
  const label = cols.label;
  for (let i = 0; i < n; i++) labels[at + i] = label[perm[from + i]!]!;
  for (let j = 0; j < NUM_DENSE; j++) {
    const col = cols.dense[j]!;
    for (let i = 0; i < n; i++) dense[(at + i) * NUM_DENSE + j] = col[perm[from + i]!]!;
  }
  for (let j = 0; j < NUM_TABLES; j++) {
    const col = cols.cats[j]!;
    for (let i = 0; i < n; i++) cats[(at + i) * NUM_TABLES + j] = col[perm[from + i]!]!;
  }
}

/** Words per row of a {@link RowMajor} shard: label, 13 dense, 26 categorical. */
const ROW_WORDS = 1 + NUM_DENSE + NUM_TABLES;

/** A shard's rows interleaved: row r at words [40·r, 40·r + 40), the same bits as the columns. */
interface RowMajor {
  f32: Float32Array;
  i32: Int32Array;
}

function allocRowMajor(rows: number): RowMajor {
  const buf = new ArrayBuffer(4 * ROW_WORDS * rows);
  return { f32: new Float32Array(buf), i32: new Int32Array(buf) };
}

/** Interleave a shard's columns row by row into `into` (blocks of rows, so the writes stay in cache). */
function toRowMajor(cols: ShardColumns, into: RowMajor): RowMajor {
  const n = cols.rows;
  const { f32, i32 } = into;
  const BLOCK = 1024;
  for (let r0 = 0; r0 < n; r0 += BLOCK) {
    const r1 = Math.min(n, r0 + BLOCK);
    const label = cols.label;
    for (let r = r0; r < r1; r++) f32[r * ROW_WORDS] = label[r]!;
    for (let j = 0; j < NUM_DENSE; j++) {
      const col = cols.dense[j]!;
      for (let r = r0; r < r1; r++) f32[r * ROW_WORDS + 1 + j] = col[r]!;
    }
    for (let j = 0; j < NUM_TABLES; j++) {
      const col = cols.cats[j]!;
      for (let r = r0; r < r1; r++) i32[r * ROW_WORDS + 1 + NUM_DENSE + j] = col[r]!;
    }
  }
  return into;
}

/** {@link copyRows} from a row-major shard: one contiguous row per batch row. */
function copyRowMajor(out: Batch, at: number, src: RowMajor, perm: Uint32Array, from: number, n: number): void {
  const { labels, dense, cats } = out;
  const { f32, i32 } = src;
  for (let i = 0; i < n; i++) {
    const s = perm[from + i]! * ROW_WORDS;
    const b = at + i;
    labels[b] = f32[s]!;
    const d = b * NUM_DENSE;
    for (let j = 0; j < NUM_DENSE; j++) dense[d + j] = f32[s + 1 + j]!;
    const c = b * NUM_TABLES;
    const sc = s + 1 + NUM_DENSE;
    for (let j = 0; j < NUM_TABLES; j++) cats[c + j] = i32[sc + j]!;
  }
}
