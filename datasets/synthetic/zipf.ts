/**
 * Zipf–Mandelbrot popularity: value rank r (0 = most popular) of a table with K
 * values has probability ∝ (r + 1 + q)^-s. The q offset fits a measured top share;
 * s is the tail exponent. Sampling is O(1): an alias table over the first
 * {@link ZIPF_HEAD_MAX} ranks plus one "tail" bucket, whose ranks come from the
 * analytic inverse CDF of the continuous power law, so no table ever holds more
 * than 2,049 entries whatever K is.
 */
import type { Rng } from '../../pipeline/rng.js';
import { PipelineError } from '../../pipeline/errors.js';

/**
 * Ranks below this are sampled exactly through the alias table; the rest from the
 * continuous law (whose mass on [r - 1/2, r + 1/2) differs from the discrete one by
 * a factor 1 + O(r^-2), under 1e-6 here). A small head keeps the tables in L1/L2.
 */
export const ZIPF_HEAD_MAX = 2048;
/** Cells of the tabulated tail inverse CDF. */
const TAIL_CELLS = 4096;
/** Terms summed exactly before the Euler–Maclaurin tail takes over in {@link zipfMass}. */
const EXACT_TERMS = 256;

/**
 * Σ_{r=from}^{to-1} (r + c)^-s with c = 1 + q: exact for the first terms, then
 * Euler–Maclaurin (integral + endpoint + first derivative correction).
 */
export function zipfMass(from: number, to: number, s: number, q: number): number {
  const c = 1 + q;
  let sum = 0;
  const exactEnd = Math.min(to, from + EXACT_TERMS);
  for (let r = from; r < exactEnd; r++) sum += Math.pow(r + c, -s);
  if (exactEnd >= to) return sum;
  const m = exactEnd + c;
  const n = to - 1 + c;
  const integral = s === 1 ? Math.log(n / m) : (Math.pow(n, 1 - s) - Math.pow(m, 1 - s)) / (1 - s);
  const ends = (Math.pow(m, -s) + Math.pow(n, -s)) / 2;
  const deriv = (-s * Math.pow(n, -s - 1) + s * Math.pow(m, -s - 1)) / 12;
  return sum + integral + ends + deriv;
}

/**
 * The offset q ∈ (-1, 1e8] for which the most popular of K values has share `topShare`.
 * @param cardinality K ≥ 1
 * @param s Zipf exponent
 * @param topShare target share of rank 0, clamped to [1/K, 1)
 */
export function fitZipfOffset(cardinality: number, s: number, topShare: number): number {
  if (cardinality <= 1) return 0;
  const share = (t: number): number => {
    const q = Math.exp(t) - 1;
    return Math.pow(1 + q, -s) / zipfMass(0, cardinality, s, q);
  };
  // share decreases in t = ln(1 + q); bisect on t.
  let lo = -30;
  let hi = Math.log(1e8);
  if (topShare >= share(lo)) return Math.exp(lo) - 1;
  if (topShare <= share(hi)) return Math.exp(hi) - 1;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (share(mid) > topShare) lo = mid;
    else hi = mid;
  }
  return Math.exp((lo + hi) / 2) - 1;
}

/** O(1) sampler of ranks 0..K-1 with p(r) ∝ (r + 1 + q)^-s. */
export class ZipfSampler {
  /** Ranks sampled through the alias table: min(K, ZIPF_HEAD_MAX). */
  readonly headSize: number;
  /** Total probability of ranks ≥ headSize. */
  readonly tailMass: number;
  private readonly norm: number;
  private readonly buckets: number;
  private readonly accept: Float64Array; // [buckets] probability of keeping bucket i
  private readonly alias: Int32Array; // [buckets] the other outcome of bucket i
  private readonly tailInv: Float64Array; // [TAIL_CELLS + 1] continuous rank at tail quantile k / TAIL_CELLS
  private readonly tailLo: number; // (headSize - 0.5 + c)^(1-s), or ln(...) when s = 1
  private readonly tailHi: number;

  /**
   * @param cardinality K, number of values (1 ≤ K ≤ 2^32)
   * @param s exponent (> 0)
   * @param q offset (> -1), e.g. from {@link fitZipfOffset}
   */
  constructor(
    readonly cardinality: number,
    readonly s: number,
    readonly q: number,
  ) {
    if (!Number.isInteger(cardinality) || cardinality < 1 || cardinality > 2 ** 32) {
      throw new PipelineError('bad_config', `zipf cardinality must be an integer in [1, 2^32], got ${cardinality}`);
    }
    if (!(s > 0) || !(q > -1)) throw new PipelineError('bad_config', `zipf needs s > 0 and q > -1, got s=${s} q=${q}`);
    const T = Math.min(cardinality, ZIPF_HEAD_MAX);
    this.headSize = T;
    this.norm = zipfMass(0, cardinality, s, q);
    const head = new Float64Array(T);
    let headSum = 0;
    for (let r = 0; r < T; r++) {
      head[r] = Math.pow(r + 1 + q, -s) / this.norm;
      headSum += head[r]!;
    }
    this.tailMass = cardinality > T ? Math.max(0, 1 - headSum) : 0;
    const n = cardinality > T ? T + 1 : T;
    this.buckets = n;
    // Vose's alias method over the head ranks plus (when K > T) one tail bucket at index T.
    const scaled = new Float64Array(n);
    const total = headSum + this.tailMass;
    for (let r = 0; r < T; r++) scaled[r] = (head[r]! / total) * n;
    if (n > T) scaled[T] = (this.tailMass / total) * n;
    const accept = (this.accept = new Float64Array(n));
    const alias = (this.alias = new Int32Array(n));
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      if (scaled[i]! < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const a = small[--ns]!;
      const b = large[--nl]!;
      accept[a] = scaled[a]!;
      alias[a] = b;
      scaled[b] = scaled[b]! + scaled[a]! - 1;
      if (scaled[b]! < 1) small[ns++] = b;
      else large[nl++] = b;
    }
    while (nl > 0) {
      const b = large[--nl]!;
      accept[b] = 1;
      alias[b] = b;
    }
    while (ns > 0) {
      const a = small[--ns]!;
      accept[a] = 1;
      alias[a] = a;
    }
    const c = 1 + q;
    const lo = T - 0.5 + c;
    const hi = cardinality - 0.5 + c;
    this.tailLo = s === 1 ? Math.log(lo) : Math.pow(lo, 1 - s);
    this.tailHi = s === 1 ? Math.log(hi) : Math.pow(hi, 1 - s);
    // Inverse CDF of the tail at TAIL_CELLS + 1 points; between them it is linear in
    // rank, which misstates the density by < 0.1 % (each cell spans ≤ 0.1 % of its rank).
    this.tailInv = new Float64Array(cardinality > T ? TAIL_CELLS + 1 : 0);
    for (let k = 0; k < this.tailInv.length; k++) this.tailInv[k] = this.tailQuantile(k / TAIL_CELLS);
  }

  /** Continuous rank (before rounding) at tail quantile u ∈ [0, 1]. */
  private tailQuantile(u: number): number {
    const y = this.tailLo + u * (this.tailHi - this.tailLo);
    return (this.s === 1 ? Math.exp(y) : Math.pow(y, 1 / (1 - this.s))) - (1 + this.q);
  }

  /** Draw one rank in [0, K): one Rng draw, a second for tail ranks; no allocation. */
  sample(rng: Rng): number {
    return this.sampleFrom(rng.float(), rng);
  }

  /**
   * Rank for a uniform u ∈ [0, 1): its integer part × buckets picks the bucket, the
   * fraction (≥ 20 bits of it) tosses the bucket's coin; a tail rank takes one more draw.
   */
  sampleFrom(u: number, rng: Rng): number {
    const x = u * this.buckets;
    let i = Math.floor(x);
    if (i >= this.buckets) i = this.buckets - 1;
    const a = this.alias[i]!;
    const j = a + (i - a) * +(x - i < this.accept[i]!); // branch-free coin: keep i or take its alias
    if (j < this.headSize) return j;
    return this.sampleTail(rng.float());
  }

  /** Rank ≥ headSize from the continuous power law's (tabulated) inverse CDF at u ∈ [0, 1). */
  sampleTail(u: number): number {
    const t = u * TAIL_CELLS;
    const k = t | 0;
    const inv = this.tailInv;
    const x = inv[k]! + (t - k) * (inv[k + 1]! - inv[k]!);
    const r = Math.round(x);
    return r < this.headSize ? this.headSize : r >= this.cardinality ? this.cardinality - 1 : r;
  }

  /** Probability of rank r (exact in the head, the density's value in the tail). */
  probability(r: number): number {
    if (r < 0 || r >= this.cardinality) return 0;
    return Math.pow(r + 1 + this.q, -this.s) / this.norm;
  }
}
