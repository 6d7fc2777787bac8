/**
 * Integer (dense) feature sampler: an inverse-CDF table built from measured
 * quantiles, interpolated in sign·log1p space so the heavy tails stay heavy
 * (I5 goes from 0 to 1.6M) and I2 keeps its negatives.
 */
import type { FastRng } from './fast-rng.js';

/** log2 of the inverse-CDF table size (16,384 entries: tail resolution 6e-5). */
const TABLE_BITS = 14;
/** Entries in a DenseSampler table. */
export const DENSE_TABLE_SIZE = 1 << TABLE_BITS;
const TABLE_SIZE = DENSE_TABLE_SIZE;

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
      const u = (k + 0.5) / TABLE_SIZE;
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
  sampleIndex(rng: FastRng): number {
    return rng.nextU32() >>> (32 - TABLE_BITS);
  }

  /** Index into {@link values}/{@link logs} for a uniform v ∈ [0, 1). */
  indexFrom(v: number): number {
    const k = (v * TABLE_SIZE) | 0;
    return k < TABLE_SIZE ? k : TABLE_SIZE - 1;
  }

  /** Mean of ln(1 + max(x, 0)) over the distribution. */
  meanLog(): number {
    let s = 0;
    for (let k = 0; k < TABLE_SIZE; k++) s += this.logs[k]!;
    return s / TABLE_SIZE;
  }

  /** Standard deviation of ln(1 + max(x, 0)) over the distribution. */
  sdLog(): number {
    const m = this.meanLog();
    let s = 0;
    for (let k = 0; k < TABLE_SIZE; k++) s += (this.logs[k]! - m) ** 2;
    return Math.sqrt(s / TABLE_SIZE);
  }
}
