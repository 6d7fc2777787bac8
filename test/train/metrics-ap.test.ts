import { describe, expect, it } from 'vitest';
import { averagePrecision, bernoulliEntropy, evalMetrics, logloss, oneClassWarning } from '../../stages/train/metrics.js';
import { Rng } from '../../pipeline/rng.js';

/** O(n²) AP: for each distinct score t (descending), precision and recall of "score ≥ t". */
function bruteAp(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  let P = 0;
  for (let i = 0; i < n; i++) P += labels[i]!;
  const ts = [...new Set(Array.from(scores))].sort((a, b) => b - a);
  let ap = 0;
  let prevRecall = 0;
  for (const t of ts) {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < n; i++) if (scores[i]! >= t) (labels[i] ? tp++ : fp++);
    const recall = tp / P;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return ap;
}

describe('average precision', () => {
  it("sklearn's documented example: 0.8333…", () => {
    expect(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.8333333333, 9);
  });
  it('equals the brute-force step sum, with many ties', () => {
    const rng = new Rng(9);
    for (const levels of [2, 7, 50, 100000]) {
      const n = 600;
      const labels = new Int8Array(n);
      const scores = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        scores[i] = rng.int(levels) / levels;
        labels[i] = rng.float() < 0.1 + 0.7 * scores[i]! ? 1 : 0;
      }
      expect(averagePrecision(labels, scores)).toBeCloseTo(bruteAp(labels, scores), 12);
    }
  });
  it('hand cases: perfect ranking 1, all tied = CTR, no positives NaN, NaN score NaN', () => {
    expect(averagePrecision([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8])).toBe(1);
    expect(averagePrecision([0, 1, 0, 0], [0.5, 0.5, 0.5, 0.5])).toBe(0.25);
    expect(averagePrecision([0, 0], [0.1, 0.2])).toBeNaN();
    expect(averagePrecision([1, 0], [NaN, 0.2])).toBeNaN();
  });
});

describe('normalised entropy by the training CTR', () => {
  it('ne = logloss / H(train CTR); neSplitCtr = logloss / H(split CTR); both reported', () => {
    const labels = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0];
    const probs = [0.7, 0.2, 0.1, 0.3, 0.6, 0.2, 0.1, 0.1, 0.4, 0.2];
    const ll = logloss(labels, probs);
    const m = evalMetrics(labels, probs, 0.25);
    expect(m.ne).toBeCloseTo(ll / bernoulliEntropy(0.25), 12);
    expect(m.neSplitCtr).toBeCloseTo(ll / bernoulliEntropy(0.2), 12);
    expect(m.ctr).toBe(0.2);
    expect(m.trainCtr).toBe(0.25);
    expect(m.ne).not.toBeCloseTo(m.neSplitCtr!, 3);
    // without a training CTR, ne falls back to the split's own
    expect(evalMetrics(labels, probs).ne).toBe(m.neSplitCtr);
  });
  it('a split with no positives: NE by training CTR still defined, AUC/AP NaN, and a warning', () => {
    const m = evalMetrics([0, 0, 0], [0.1, 0.2, 0.3], 0.25);
    expect(m.auc).toBeNaN();
    expect(m.ap).toBeNaN();
    expect(Number.isFinite(m.ne)).toBe(true);
    expect(m.neSplitCtr).toBeNaN();
    expect(oneClassWarning('test', m)).toMatch(/test split has no positives .*AUC and AP are undefined/);
    expect(oneClassWarning('val', evalMetrics([1, 1], [0.5, 0.6]))).toMatch(/no negatives/);
    expect(oneClassWarning('val', evalMetrics([1, 0], [0.5, 0.6]))).toBeNull();
  });
});
