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
  private cur: { shard: number; cols: ShardColumns; perm: Uint32Array } | null = null;
  private readonly pending = new Map<number, Promise<ShardColumns>>();

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
      this.cur = { shard, cols, perm: this.rowPerm(this.epoch, shard) };
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
      copyRows(out, filled, cur.cols, cur.perm, this.off, n);
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
