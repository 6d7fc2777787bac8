/**
 * Integer (dense) feature sampler: an inverse-CDF table built from measured
 * quantiles, interpolated in sign·log1p space so the heavy tails stay heavy
 * (I5 goes from 0 to 1.6M) and I2 keeps its negatives.
 */
import type { Rng } from '../../pipeline/rng.js';

/**
 * The inverse-CDF table has two halves of 1,024 cells: the first covers u ∈ [0, 0.98),
 * the second the tail u ∈ [0.98, 1) at 2e-5 resolution. Small enough to stay in
 * cache (13 features × 2,048 entries), fine enough to keep the tail heavy.
 */
const HALF = 1024;
const SPLIT = 0.98;
/** Entries in a DenseSampler table. */
export const DENSE_TABLE_SIZE = 2 * HALF;
const TABLE_SIZE = DENSE_TABLE_SIZE;
const MAIN_SCALE = HALF / SPLIT;
const TAIL_SCALE = HALF / (1 - SPLIT);

/** Probability point at the middle of table cell k. */
function cellMid(k: number): number {
  return k < HALF ? ((k + 0.5) / HALF) * SPLIT : SPLIT + ((k - HALF + 0.5) / HALF) * (1 - SPLIT);
}

/** Weight of cell k in the distribution (cells are not equally likely). */
function cellMass(k: number): number {
  return k < HALF ? SPLIT / HALF : (1 - SPLIT) / HALF;
}

function fwd(x: number): number {
  return x < 0 ? -Math.log1p(-x) : Math.log1p(x);
}
function inv(y: number): number {
  return y < 0 ? -Math.expm1(-y) : Math.expm1(y);
}

/** Samples one integer feature; also gives DLRM's ln(1 + max(x, 0)) of each value. */
export class DenseSampler {
  /** [TABLE_SIZE] raw integer values, sorted ascending. */
  readonly values: Int32Array;
  /** [TABLE_SIZE] ln(1 + max(value, 0)), DLRM's transform of the same values. */
  readonly logs: Float64Array;

  /**
   * @param p probability points, ascending from 0 to 1
   * @param quantiles the feature's quantile at each point
   */
  constructor(p: readonly number[], quantiles: readonly number[]) {
    this.values = new Int32Array(TABLE_SIZE);
    this.logs = new Float64Array(TABLE_SIZE);
    let seg = 0;
    for (let k = 0; k < TABLE_SIZE; k++) {
      const u = cellMid(k);
      while (seg < p.length - 2 && u >= p[seg + 1]!) seg++;
      const p0 = p[seg]!;
      const p1 = p[seg + 1]!;
      const t = (u - p0) / (p1 - p0);
      const y = fwd(quantiles[seg]!) + t * (fwd(quantiles[seg + 1]!) - fwd(quantiles[seg]!));
      const v = Math.round(inv(y));
      this.values[k] = v;
      this.logs[k] = Math.log1p(v > 0 ? v : 0);
    }
  }

  /** Index into {@link values}/{@link logs} of a fresh draw (one Rng draw). */
  sampleIndex(rng: Rng): number {
    return this.indexFrom(rng.float());
  }

  /** Index into {@link values}/{@link logs} for a uniform v ∈ [0, 1). */
  indexFrom(v: number): number {
    if (v < SPLIT) return (v * MAIN_SCALE) | 0;
    const k = HALF + (((v - SPLIT) * TAIL_SCALE) | 0);
    return k < TABLE_SIZE ? k : TABLE_SIZE - 1;
  }

  /** Mean of ln(1 + max(x, 0)) over the distribution. */
  meanLog(): number {
    let s = 0;
    for (let k = 0; k < TABLE_SIZE; k++) s += cellMass(k) * this.logs[k]!;
    return s;
  }

  /** Standard deviation of ln(1 + max(x, 0)) over the distribution. */
  sdLog(): number {
    const m = this.meanLog();
    let s = 0;
    for (let k = 0; k < TABLE_SIZE; k++) s += cellMass(k) * (this.logs[k]! - m) ** 2;
    return Math.sqrt(s);
  }
}
