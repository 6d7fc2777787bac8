/**
 * Bayes-optimal metrics of the planted model on the generated rows: the true
 * click probability is the score. AUC is exact with ties (tied scores count one
 * half) for several row subsets at once (overall, each day, the Kaggle test and
 * validation halves), from one LSD radix sort of the scores.
 *
 * Score key: float32(logit) bits mapped to a uint32 that sorts like the float
 * ({@link scoreKey}). Payload per row (uint16): label | split << 1 | day << 3.
 */

/** { auc, logloss, accuracy } of a set of rows. */
export interface BayesMetrics {
  /** Area under the ROC curve of the true probabilities (ties count 1/2); NaN (null in JSON) with one class. */
  auc: number;
  /** Mean binary cross-entropy of the true probabilities (nats). */
  logloss: number;
  /** Fraction of rows where (p > 0.5) equals the label. */
  accuracy: number;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** uint32 that orders like float32(x). */
export function scoreKey(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  return b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}

/** Split codes in the payload. */
export const SPLIT_NONE = 0;
export const SPLIT_TEST = 1;
export const SPLIT_VAL = 2;

/** Pack a row's label, Kaggle split code and day into a uint16 payload. */
export function packPayload(label: number, split: number, day: number): number {
  return label | (split << 1) | (day << 3);
}

/**
 * Sort `keys` ascending, carrying `payload` along (two 16-bit LSD passes).
 * @param keys [n] uint32 scores; sorted in place
 * @param payload [n] carried with its key
 */
export function radixSort(keys: Uint32Array, payload: Uint16Array): void {
  const n = keys.length;
  let k0: Uint32Array = keys;
  let p0: Uint16Array = payload;
  let k1: Uint32Array = new Uint32Array(n);
  let p1: Uint16Array = new Uint16Array(n);
  const count = new Uint32Array(65537);
  for (let shift = 0; shift < 32; shift += 16) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[((k0[i]! >>> shift) & 0xffff) + 1]!++;
    for (let d = 1; d <= 65536; d++) count[d] = count[d]! + count[d - 1]!;
    for (let i = 0; i < n; i++) {
      const dst = count[(k0[i]! >>> shift) & 0xffff]!++;
      k1[dst] = k0[i]!;
      p1[dst] = p0[i]!;
    }
    [k0, k1] = [k1, k0];
    [p0, p1] = [p1, p0];
  }
  // after an even number of passes the sorted data is back in the caller's arrays
}

/**
 * Exact AUC with ties of several row subsets at once.
 * @param keys [n] score keys, sorted ascending by {@link radixSort}
 * @param payload [n] packed label / split / day, in the same order
 * @param days number of days
 * @returns AUC per subset: [overall, test, val, day 0, day 1, …]; NaN with one class
 */
export function subsetAucs(keys: Uint32Array, payload: Uint16Array, days: number): number[] {
  const S = 3 + days;
  const negBelow = new Float64Array(S);
  const good = new Float64Array(S);
  const pos = new Float64Array(S);
  const gp = new Float64Array(S); // positives / negatives of the current tie group
  const gq = new Float64Array(S);
  const n = keys.length;
  let i = 0;
  while (i < n) {
    const k = keys[i]!;
    let j = i;
    for (; j < n && keys[j] === k; j++) {
      const pl = payload[j]!;
      const y = pl & 1;
      const split = (pl >>> 1) & 3;
      const day = pl >>> 3;
      const g = y ? gp : gq;
      g[0]!++;
      g[3 + day]!++;
      if (split) g[split]!++;
    }
    for (let t = i; t < j; t++) {
      const pl = payload[t]!;
      const split = (pl >>> 1) & 3;
      const s2 = 3 + (pl >>> 3);
      fold(0, good, negBelow, pos, gp, gq);
      if (split) fold(split, good, negBelow, pos, gp, gq);
      fold(s2, good, negBelow, pos, gp, gq);
    }
    i = j;
  }
  return Array.from(good, (g, s) => (pos[s]! > 0 && negBelow[s]! > 0 ? g / (pos[s]! * negBelow[s]!) : NaN));
}

/** Fold subset s's current tie group into its running AUC sums (no-op when already folded). */
function fold(s: number, good: Float64Array, negBelow: Float64Array, pos: Float64Array, gp: Float64Array, gq: Float64Array): void {
  const p = gp[s]!;
  const q = gq[s]!;
  if (p + q === 0) return;
  good[s] = good[s]! + p * negBelow[s]! + 0.5 * p * q;
  negBelow[s] = negBelow[s]! + q;
  pos[s] = pos[s]! + p;
  gp[s] = 0;
  gq[s] = 0;
}

/**
 * Binary cross-entropy of logit z for label y (stable softplus form).
 */
export function logLoss(z: number, y: number): number {
  const m = y === 1 ? z : -z; // loss = log(1 + e^-m)
  return m > 0 ? Math.log1p(Math.exp(-m)) : -m + Math.log1p(Math.exp(m));
}
