/**
 * The segregation pass: classify every training input as hot (all 26 lookups
 * hit hot rows) or cold, and stream each class into its own shards. Hot inputs'
 * ids are rewritten to hot indices; cold inputs keep their original ids.
 *
 * Work is column-wise per source shard: one pass per table builds the hot mask,
 * then each output column is gathered over the row list of its class.
 */
import { CAT_COLUMNS, CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../../datasets/criteo/constants.js';
import type { ShardRef, SplitInfo } from '../../datasets/preprocessed.js';
import { encodeShard, type ShardColumns } from '../../datasets/shards.js';
import { writeDataFile, type FileEntry } from '../../pipeline/manifest.js';
import { PipelineError } from '../../pipeline/errors.js';

/**
 * Fixed-capacity column buffers that fill up and write themselves out as
 * `shards/<prefix>-NNNNN.arrow` (Arrow `BufferBuilder` style, no growth).
 */
export class ShardSink {
  private n = 0;
  private readonly label: Int8Array;
  private readonly dense: Float32Array[];
  private readonly cats: Int32Array[];
  readonly shards: ShardRef[] = [];
  /** manifest entries of the shards written (checksummed from memory, not re-read) */
  readonly files: FileEntry[] = [];
  rows = 0;
  positives = 0;
  bytes = 0;

  /**
   * @param dir output dataset directory
   * @param prefix shard name prefix (`hot` or `cold`)
   * @param capacity rows per output shard
   */
  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly capacity: number,
  ) {
    this.label = new Int8Array(capacity);
    this.dense = Array.from({ length: INT_FEATURE_COUNT }, () => new Float32Array(capacity));
    this.cats = Array.from({ length: CAT_FEATURE_COUNT }, () => new Int32Array(capacity));
  }

  /**
   * Append rows `rows[0..count)` of `src`, column by column.
   * @param remap per table, id → new id (hot index); null keeps the ids
   */
  append(src: ShardColumns, rows: Int32Array, count: number, remap: Int32Array[] | null): void {
    let from = 0;
    while (from < count) {
      const k = Math.min(count - from, this.capacity - this.n);
      const w = this.n;
      const lab = this.label;
      const sl = src.label;
      let pos = 0;
      for (let i = 0; i < k; i++) {
        const v = sl[rows[from + i]!]!;
        lab[w + i] = v;
        pos += v;
      }
      this.positives += pos;
      for (let f = 0; f < INT_FEATURE_COUNT; f++) {
        const d = this.dense[f]!;
        const s = src.dense[f]!;
        for (let i = 0; i < k; i++) d[w + i] = s[rows[from + i]!]!;
      }
      for (let t = 0; t < CAT_FEATURE_COUNT; t++) {
        const d = this.cats[t]!;
        const s = src.cats[t]!;
        if (remap) {
          const m = remap[t]!;
          for (let i = 0; i < k; i++) d[w + i] = m[s[rows[from + i]!]!]!;
        } else {
          for (let i = 0; i < k; i++) d[w + i] = s[rows[from + i]!]!;
        }
      }
      this.n += k;
      from += k;
      if (this.n === this.capacity) this.flush();
    }
  }

  /** Write the buffered rows (if any) as the next shard. */
  flush(): void {
    const n = this.n;
    if (n === 0) return;
    const file = `shards/${this.prefix}-${String(this.shards.length).padStart(5, '0')}.arrow`;
    const cols: ShardColumns = {
      rows: n,
      label: this.label.subarray(0, n),
      dense: this.dense.map((a) => a.subarray(0, n)),
      cats: this.cats.map((a) => a.subarray(0, n)),
    };
    const entry = writeDataFile(this.dir, file, encodeShard(cols));
    this.files.push(entry);
    this.bytes += entry.bytes;
    this.shards.push({ file, rows: n });
    this.rows += n;
    this.n = 0;
  }

  info(): SplitInfo {
    return { rows: this.rows, positives: this.positives, shards: [...this.shards] };
  }
}

/** Running totals of the pass. */
export interface SplitTotals {
  inputs: number;
  hotInputs: number;
  /** lookups (input, table) whose row is hot, over every training input */
  hotLookups: number;
}

/** Reusable per-shard scratch (grown on demand, never per row). */
export class SplitScratch {
  mask = new Uint8Array(0);
  hotRows = new Int32Array(0);
  coldRows = new Int32Array(0);

  ensure(n: number): void {
    if (this.mask.length >= n) return;
    this.mask = new Uint8Array(n);
    this.hotRows = new Int32Array(n);
    this.coldRows = new Int32Array(n);
  }
}

/**
 * Classify one source shard and append its rows to the hot and cold sinks.
 * @param index per table, row → hot index or -1 (HotSet.index)
 * @throws PipelineError `bad_input` for an id outside its table
 */
export function splitShard(
  src: ShardColumns,
  path: string,
  index: Int32Array[],
  hot: ShardSink,
  cold: ShardSink,
  scratch: SplitScratch,
  totals: SplitTotals,
): void {
  const n = src.rows;
  scratch.ensure(n);
  const mask = scratch.mask;
  mask.fill(1, 0, n);
  let hits = 0;
  for (let t = 0; t < CAT_FEATURE_COUNT; t++) {
    const col = src.cats[t]!;
    const idx = index[t]!;
    const size = idx.length;
    for (let r = 0; r < n; r++) {
      const id = col[r]!;
      if (id < 0 || id >= size) {
        throw new PipelineError('bad_input', `row ${r}: ${CAT_COLUMNS[t]!} id ${id} is outside its table of ${size} rows`, {
          file: path,
          field: CAT_COLUMNS[t],
          hint: 'the shard does not match its manifest; run `hotcold preprocess` again',
        });
      }
      if (idx[id]! < 0) mask[r] = 0;
      else hits++;
    }
  }
  const hr = scratch.hotRows;
  const cr = scratch.coldRows;
  let nh = 0;
  let nc = 0;
  for (let r = 0; r < n; r++) {
    if (mask[r] === 1) hr[nh++] = r;
    else cr[nc++] = r;
  }
  hot.append(src, hr, nh, index);
  cold.append(src, cr, nc, null);
  totals.inputs += n;
  totals.hotInputs += nh;
  totals.hotLookups += hits;
}
