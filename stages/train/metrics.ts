/**
 * Evaluation metrics for binary click prediction (EvalMetrics in pipeline/run-metrics.ts).
 *
 * - auc: exact ROC AUC = Mann–Whitney U / (P·N); tied scores count ½ (the average-rank rule).
 *   Computed by sorting the positive and negative scores separately (native typed-array sort)
 *   and merging, O(n log n), no comparator callbacks. NaN when a class is absent or a score is NaN.
 * - logloss: mean BCE with probabilities clipped to [1e-7, 1 − 1e-7].
 * - accuracy: prediction = 1 when p > 0.5 (DLRM's np.round: 0.5 rounds to 0).
 * - normalizedEntropy: logloss / H(base rate), H(q) = −q ln q − (1−q) ln(1−q); NaN when the
 *   labels are all one class. He et al. (2014) normalise by the *training* CTR: evalMetrics
 *   takes it as `trainCtr` and reports the split's own normalisation as `neSplitCtr`.
 * - ap: average precision, Σ_k (R_k − R_{k−1}) · P_k over the distinct score thresholds in
 *   decreasing order (sklearn's average_precision_score, which DLRM's --mlperf-logging prints);
 *   tied scores form one threshold. NaN without positives or with a NaN score.
 */
import type { EvalMetrics } from '../../pipeline/run-metrics.js';

/** Probability clip used by {@link logloss}. */
export const LOGLOSS_CLIP = 1e-7;

/**
 * The first `n` scores split by label (`P` positives) and sorted ascending, for the
 * rank-based metrics; null when a score is NaN (the metric is then NaN).
 */
function sortedByLabel(labels: ArrayLike<number>, scores: ArrayLike<number>, n: number, P: number): { pos: Float64Array; neg: Float64Array } | null {
  const pos = new Float64Array(P);
  const neg = new Float64Array(n - P);
  let ip = 0;
  let ineg = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) return null;
    if (labels[i]! > 0.5) pos[ip++] = s;
    else neg[ineg++] = s;
  }
  pos.sort();
  neg.sort();
  return { pos, neg };
}

/** Exact ROC AUC with ties counted ½. labels are 0/1 (anything > 0.5 counts as positive). */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = Math.min(labels.length, scores.length);
  let P = 0;
  for (let i = 0; i < n; i++) if (labels[i]! > 0.5) P++;
  const N = n - P;
  if (P === 0 || N === 0) return NaN;
  const split = sortedByLabel(labels, scores, n, P);
  if (split === null) return NaN;
  const { pos, neg } = split;
  // U = Σ over positives of (#neg below + ½ #neg equal)
  let u = 0;
  let lo = 0; // neg[0..lo) < s
  let hi = 0; // neg[0..hi) <= s
  for (let i = 0; i < P; i++) {
    const s = pos[i]!;
    while (lo < N && neg[lo]! < s) lo++;
    if (hi < lo) hi = lo;
    while (hi < N && neg[hi]! <= s) hi++;
    u += lo + 0.5 * (hi - lo);
  }
  return u / (P * N);
}

/** Mean binary cross-entropy of probabilities, clipped to [1e-7, 1 − 1e-7]. */
export function logloss(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  const n = Math.min(labels.length, probs.length);
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let p = probs[i]!;
    p = p < LOGLOSS_CLIP ? LOGLOSS_CLIP : p > 1 - LOGLOSS_CLIP ? 1 - LOGLOSS_CLIP : p;
    sum -= labels[i]! > 0.5 ? Math.log(p) : Math.log1p(-p);
  }
  return sum / n;
}

/** Fraction of rows where (p > 0.5) equals the label. */
export function accuracy(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  const n = Math.min(labels.length, probs.length);
  if (n === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < n; i++) if ((probs[i]! > 0.5) === (labels[i]! > 0.5)) ok++;
  return ok / n;
}

/** Entropy (nats) of a Bernoulli(q); 0 at q ∈ {0, 1}. */
export function bernoulliEntropy(q: number): number {
  if (q <= 0 || q >= 1) return 0;
  return -q * Math.log(q) - (1 - q) * Math.log1p(-q);
}

/** logloss / entropy of the positive rate; NaN when every label is the same. */
export function normalizedEntropy(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  const n = Math.min(labels.length, probs.length);
  let P = 0;
  for (let i = 0; i < n; i++) if (labels[i]! > 0.5) P++;
  const h = bernoulliEntropy(n === 0 ? 0 : P / n);
  return h === 0 ? NaN : logloss(labels, probs) / h;
}

/** Average precision (area under the precision–recall curve, step-wise, ties grouped). */
export function averagePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = Math.min(labels.length, scores.length);
  let P = 0;
  for (let i = 0; i < n; i++) if (labels[i]! > 0.5) P++;
  if (P === 0) return NaN;
  const split = sortedByLabel(labels, scores, n, P);
  if (split === null) return NaN;
  const { pos, neg } = split;
  // walk thresholds from the highest score down: tp, fp = counts with score ≥ threshold
  let a = P - 1;
  let b = neg.length - 1;
  let tp = 0;
  let fp = 0;
  let ap = 0;
  while (a >= 0) {
    const t = b >= 0 && neg[b]! > pos[a]! ? neg[b]! : pos[a]!;
    const tp0 = tp;
    while (a >= 0 && pos[a]! === t) {
      tp++;
      a--;
    }
    while (b >= 0 && neg[b]! === t) {
      fp++;
      b--;
    }
    if (tp > tp0) ap += ((tp - tp0) / P) * (tp / (tp + fp));
  }
  return ap;
}

/** Positive rate of the first `n` labels (NaN for none). */
export function positiveRate(labels: ArrayLike<number>, n = labels.length): number {
  let P = 0;
  for (let i = 0; i < n; i++) if (labels[i]! > 0.5) P++;
  return n === 0 ? NaN : P / n;
}

/**
 * Every metric plus the row count.
 * @param labels 0/1 per row (Int8Array, Float32Array, …)
 * @param probs predicted click probability per row
 * @param trainCtr the training split's CTR: `ne` is normalised by it (He et al.); without it,
 *   by the evaluated rows' own CTR. `neSplitCtr` is always the latter.
 */
export function evalMetrics(labels: ArrayLike<number>, probs: ArrayLike<number>, trainCtr?: number): EvalMetrics {
  const rows = Math.min(labels.length, probs.length);
  const ll = logloss(labels, probs);
  const neSplit = normalizedEntropy(labels, probs);
  const hTrain = trainCtr === undefined ? 0 : bernoulliEntropy(trainCtr);
  const m: EvalMetrics = {
    auc: auc(labels, probs),
    ap: averagePrecision(labels, probs),
    logloss: ll,
    accuracy: accuracy(labels, probs),
    ne: trainCtr === undefined ? neSplit : hTrain === 0 ? NaN : ll / hTrain,
    neSplitCtr: neSplit,
    ctr: positiveRate(labels, rows),
    rows,
  };
  if (trainCtr !== undefined) m.trainCtr = trainCtr;
  return m;
}

/**
 * The warning for a split whose labels are one class (AUC, AP or NE undefined), or null.
 * A real Terabyte-like sample had val and test at 0 % CTR.
 */
export function oneClassWarning(split: string, m: EvalMetrics): string | null {
  if (m.rows === 0) return `warning: the ${split} split is empty: no metric is defined`;
  const ctr = m.ctr ?? NaN;
  if (ctr === 0) return `warning: the ${split} split has no positives (${m.rows} rows, CTR 0): AUC and AP are undefined (NaN)`;
  if (ctr === 1) return `warning: the ${split} split has no negatives (${m.rows} rows, CTR 1): AUC is undefined (NaN)`;
  return null;
}
