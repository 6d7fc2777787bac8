/**
 * Seeded Bernoulli sampling of a row stream by geometric skips: instead of one
 * coin per row, draw how many rows to skip before the next sampled one,
 * `floor(ln(1 − U) / ln(1 − p))`, which has exactly the distribution of the gap
 * between successes of independent Bernoulli(p) coins. Unsampled rows are never
 * touched, and the sample depends only on (seed, p, global row order), not on
 * how the rows are split into shards.
 */
import { Rng } from '../../pipeline/rng.js';

export class SkipSampler {
  private readonly rng: Rng;
  private readonly logQ: number;
  /** global index of the next sampled row */
  private nextRow: number;

  /**
   * @param rate sampling probability in (0, 1]; 1 samples every row
   * @param seed seed of the sample
   */
  constructor(
    readonly rate: number,
    seed: number,
  ) {
    this.rng = Rng.derive(seed, 0x70726f66); // 'prof'
    this.logQ = rate >= 1 ? 0 : Math.log1p(-rate);
    this.nextRow = this.skip();
  }

  private skip(): number {
    if (this.logQ === 0) return 0;
    const u = this.rng.float(); // [0, 1) → 1 − u in (0, 1]
    return Math.floor(Math.log1p(-u) / this.logQ);
  }

  /**
   * Sampled rows in the global range [base, base + rows), written shard-local
   * (0-based) into `out` from index 0.
   * @returns how many were written
   */
  take(base: number, rows: number, out: Int32Array): number {
    const end = base + rows;
    let n = 0;
    let next = this.nextRow;
    while (next < end) {
      out[n++] = next - base;
      next += 1 + this.skip();
    }
    this.nextRow = next;
    return n;
  }
}

/**
 * Add the sampled rows of one id column to a table's counts.
 * @param counts table counts, length = table rows
 * @param col shard column of ids (length = shard rows)
 * @param rows shard-local sampled row indices, first `n` used
 * @returns -1 when every id was in range, else the index into `rows` of the first bad one
 */
export function addCounts(counts: Uint32Array, col: Int32Array, rows: Int32Array, n: number): number {
  const size = counts.length;
  for (let i = 0; i < n; i++) {
    const id = col[rows[i]!]!;
    if (id < 0 || id >= size) return i;
    counts[id] = counts[id]! + 1;
  }
  return -1;
}
