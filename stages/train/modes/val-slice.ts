/**
 * The validation slice of accuracy-budgeted Slipstream's re-checks: a fixed, seeded sample
 * of the validation split held in memory, so each re-check scores the same rows cheaply.
 *
 *     rows per shard  k_s = ⌊(c_s + n_s)·N/total⌋ − ⌊c_s·N/total⌋   (c_s rows before shard s)
 *     which rows      the first k_s of shard s's seeded row permutation (seed, salt 4)
 *
 * So the slice is spread over every validation shard in proportion to its rows, and is the
 * same for a given config seed (a resumed run reads the same slice).
 */
import { allocBatch, NUM_DENSE, NUM_TABLES, type Batch } from '../data/batch.js';
import { ShardStream } from '../data/shard-stream.js';
import type { EvalStream } from '../evaluate.js';

/** Stream salt of the slice's row permutation (the training streams use 1–3). */
const SLICE_SALT = 4;

/** Rows held in memory, read like a stream by the Evaluator. */
export class ValSlice implements EvalStream {
  private pos = 0;

  private constructor(private readonly rows: Batch) {}

  get totalRows(): number {
    return this.rows.size;
  }

  /** Load `n` rows (at most the split's) of the validation stream `val`, seeded by `seed`. */
  static async load(val: ShardStream, n: number, seed: number): Promise<ValSlice> {
    const total = val.totalRows;
    const N = Math.min(n, total);
    const s = new ShardStream(val.paths, val.rows, { ...val.opts, shuffle: true, seed, salt: SLICE_SALT });
    const out = allocBatch(N);
    let cum = 0;
    for (let shard = 0; shard < val.rows.length; shard++) {
      const rows = val.rows[shard]!;
      const k = Math.floor(((cum + rows) * N) / total) - Math.floor((cum * N) / total);
      cum += rows;
      if (k === 0) continue;
      const cols = await s.readShard(shard, false);
      const perm = s.rowPerm(0, shard);
      const at = out.size;
      for (let i = 0; i < k; i++) {
        const r = perm[i]!;
        out.labels[at + i] = cols.label[r]!;
        for (let j = 0; j < NUM_DENSE; j++) out.dense[(at + i) * NUM_DENSE + j] = cols.dense[j]![r]!;
        for (let j = 0; j < NUM_TABLES; j++) out.cats[(at + i) * NUM_TABLES + j] = cols.cats[j]![r]!;
      }
      out.size += k;
    }
    return new ValSlice(out);
  }

  start(): void {
    this.pos = 0;
  }

  /** The next rows (up to `out.capacity`); false at the end. */
  next(out: Batch): Promise<boolean> {
    const n = Math.min(out.capacity, this.rows.size - this.pos);
    const p = this.pos;
    out.labels.set(this.rows.labels.subarray(p, p + n));
    out.dense.set(this.rows.dense.subarray(p * NUM_DENSE, (p + n) * NUM_DENSE));
    out.cats.set(this.rows.cats.subarray(p * NUM_TABLES, (p + n) * NUM_TABLES));
    out.size = n;
    this.pos += n;
    return Promise.resolve(n > 0);
  }
}
