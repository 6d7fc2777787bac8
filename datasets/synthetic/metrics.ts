/**
 * Bayes-optimal metrics of the planted model on the generated rows: the true
 * click probability is the score. AUC is exact with ties (tied scores count one
 * half), from one sort of packed (score, label) keys.
 *
 * Key layout: a Float64 holding `mono(float32(logit)) · 2 + label`, where mono maps
 * float32 bits to a uint32 that sorts like the float. 8 bytes per row.
 */

/** { auc, logloss, accuracy } of a set of rows. */
export interface BayesMetrics {
  /** Area under the ROC curve of the true probabilities (ties count 1/2). */
  auc: number;
  /** Mean binary cross-entropy of the true probabilities (nats). */
  logloss: number;
  /** Fraction of rows where (p > 0.5) equals the label. */
  accuracy: number;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Sort key of (logit, label); keys of equal logits differ only in the last bit. */
export function packKey(logit: number, label: number): number {
  f32[0] = logit;
  const b = u32[0]!;
  const mono = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
  return mono * 2 + label;
}

/**
 * Exact AUC with ties over keys sorted in place (ascending).
 * @param keys packed keys from {@link packKey}; sorted by this call
 * @returns NaN when one class is absent
 */
export function aucOfKeys(keys: Float64Array): number {
  keys.sort();
  const n = keys.length;
  let negBelow = 0;
  let good = 0;
  let pos = 0;
  let i = 0;
  while (i < n) {
    const score = Math.floor(keys[i]! / 2);
    let p = 0;
    let q = 0;
    while (i < n && Math.floor(keys[i]! / 2) === score) {
      if (keys[i]! % 2 === 1) p++;
      else q++;
      i++;
    }
    good += p * negBelow + 0.5 * p * q;
    negBelow += q;
    pos += p;
  }
  return pos > 0 && negBelow > 0 ? good / (pos * negBelow) : NaN;
}

/** Streaming sums for logloss and accuracy over one range of rows. */
export class LossSums {
  rows = 0;
  positives = 0;
  loss = 0;
  correct = 0;

  add(logit: number, label: number): void {
    // -log σ(x) = log(1 + e^-x), computed stably
    const z = label === 1 ? logit : -logit;
    this.loss += z > 0 ? Math.log1p(Math.exp(-z)) : -z + Math.log1p(Math.exp(z));
    if ((logit > 0 ? 1 : 0) === label) this.correct++;
    this.positives += label;
    this.rows++;
  }

  /** Metrics of the rows added, with the AUC computed elsewhere. */
  metrics(auc: number): BayesMetrics {
    const n = this.rows || 1;
    return { auc, logloss: this.loss / n, accuracy: this.correct / n };
  }
}
