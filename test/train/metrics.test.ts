import { describe, expect, it } from 'vitest';
import { accuracy, auc, evalMetrics, logloss, normalizedEntropy } from '../../stages/train/metrics.js';
import { Rng } from '../../pipeline/rng.js';

/** O(P·N) pairwise count: a positive above a negative counts 1, a tie ½. */
function bruteAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  let u = 0, P = 0, N = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) P++; else N++;
  for (let i = 0; i < labels.length; i++) {
    if (!labels[i]) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j]) continue;
      u += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return u / (P * N);
}

describe('auc', () => {
  it('equals the brute-force pairwise count, with many ties', () => {
    const rng = new Rng(5);
    for (const levels of [3, 10, 1000]) {
      const n = 700;
      const labels = new Int8Array(n), scores = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        scores[i] = rng.int(levels) / levels;
        labels[i] = rng.float() < 0.2 + 0.6 * scores[i]! ? 1 : 0;
      }
      expect(auc(labels, scores)).toBeCloseTo(bruteAuc(labels, scores), 12);
    }
  });
  it('hand cases: perfect, reversed, all tied, no positives', () => {
    expect(auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])).toBe(1);
    expect(auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])).toBe(0);
    expect(auc([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    // pos {0.4, 0.6}, neg {0.4, 0.2}: pairs (0.4>0.2)=1, (0.4=0.4)=½, (0.6>both)=2 → 3.5/4
    expect(auc([1, 0, 1, 0], [0.4, 0.4, 0.6, 0.2])).toBe(0.875);
    expect(auc([0, 0], [0.1, 0.2])).toBeNaN();
    expect(auc([1, 0], [NaN, 0.2])).toBeNaN();
  });
});

describe('logloss, accuracy, normalized entropy', () => {
  it('logloss is the clipped mean BCE', () => {
    expect(logloss([1, 0], [0.8, 0.25])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.75)) / 2, 12);
    expect(logloss([1], [0])).toBeCloseTo(-Math.log(1e-7), 9);
    expect(Number.isFinite(logloss([0], [1]))).toBe(true);
  });
  it('accuracy thresholds at 0.5 (0.5 itself predicts 0, as DLRM rounds)', () => {
    expect(accuracy([1, 0, 1, 0], [0.9, 0.1, 0.4, 0.5])).toBe(0.75);
  });
  it('NE is 1 for the base-rate predictor and below 1 for a better one', () => {
    const labels = [1, 0, 0, 0];
    expect(normalizedEntropy(labels, [0.25, 0.25, 0.25, 0.25])).toBeCloseTo(1, 12);
    expect(normalizedEntropy(labels, [0.7, 0.1, 0.2, 0.1])).toBeLessThan(1);
    expect(normalizedEntropy([1, 1], [0.5, 0.5])).toBeNaN();
    const m = evalMetrics(new Int8Array(labels), new Float32Array([0.7, 0.1, 0.2, 0.1]));
    expect(m.rows).toBe(4);
    expect(m.auc).toBe(1);
    expect(m.accuracy).toBe(1);
  });
});
