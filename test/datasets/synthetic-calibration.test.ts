import { describe, expect, it } from 'vitest';
import { CAT_MISSING_RATE, INT_MISSING_RATE } from '../../datasets/synthetic/constants.js';
import { SyntheticGenerator } from '../../datasets/synthetic/generator.js';
import { packPayload, radixSort, scoreKey, subsetAucs } from '../../datasets/synthetic/metrics.js';
import type { StatsReport } from '../../datasets/synthetic/stats.js';

const ROWS = 60_000;

/** Generate rows, keep per-(feature, rank) lookup counts, return them with the report. */
function run(opts: { rows: number; seed: number; ctr?: number; scale?: number }): {
  gen: SyntheticGenerator;
  report: StatsReport;
  counts: Map<number, number>[];
} {
  const gen = new SyntheticGenerator(opts);
  const counts = Array.from({ length: 26 }, () => new Map<number, number>());
  for (let b = gen.nextBlock(); b; b = gen.nextBlock()) {
    for (let i = 0; i < b.n * 26; i++) {
      const r = b.cats[i]!;
      if (r >= 0) counts[i % 26]!.set(r, (counts[i % 26]!.get(r) ?? 0) + 1);
    }
  }
  return { gen, report: gen.stats!.finish(), counts };
}

describe('synthetic generator: calibration to Criteo Kaggle', () => {
  const base = run({ rows: ROWS, seed: 7 });

  it('hits the target CTR within 3 points (default 25 %, and a custom 10 %)', () => {
    expect(Math.abs(base.report.ctr - 0.25)).toBeLessThan(0.03);
    const low = run({ rows: 20_000, seed: 9, ctr: 0.1 });
    expect(Math.abs(low.report.ctr - 0.1)).toBeLessThan(0.03);
  });

  it('leaves about as many cells empty as the real sample, per feature', () => {
    const m = base.report.missing;
    expect(m.overall).toBeGreaterThan(0.13);
    expect(m.overall).toBeLessThan(0.16);
    m.cat.forEach((x, f) => expect(Math.abs(x - CAT_MISSING_RATE[f]!)).toBeLessThan(0.015));
    m.int.forEach((x, j) => expect(Math.abs(x - INT_MISSING_RATE[j]!)).toBeLessThan(0.015));
  });

  it('is skewed: one value dominates C9 and C1, and the top 1 % of rows take most lookups', () => {
    const top = base.report.topShare;
    expect(top[8]).toBeGreaterThan(0.8); // C9: 89 % in the real sample
    expect(top[0]).toBeGreaterThan(0.4); // C1: 50 % in the real sample
    // top 1 % of all embedding rows (by lookups) vs all lookups
    const all: number[] = [];
    for (const c of base.counts) for (const v of c.values()) all.push(v);
    const tableRows = base.gen.model.cardinalities.reduce((a, b) => a + b, 0);
    all.sort((a, b) => b - a);
    const total = all.reduce((a, b) => a + b, 0);
    const head = all.slice(0, Math.ceil(tableRows / 100)).reduce((a, b) => a + b, 0);
    expect(head / total).toBeGreaterThan(0.6);
  });

  it('makes the most popular rows thousands of times more likely than typical ones', () => {
    for (const f of [2, 3, 11, 15, 20]) {
      const s = base.gen.model.samplers[f]!;
      const median = s.probability(Math.floor(s.cardinality / 2));
      expect(s.probability(0) / median).toBeGreaterThan(1000);
    }
    // and the sampler agrees with its own probabilities on the head
    const c3 = base.counts[2]!;
    const seen = ROWS * (1 - CAT_MISSING_RATE[2]!);
    const p0 = base.gen.model.samplers[2]!.probability(0);
    expect(Math.abs((c3.get(0) ?? 0) / seen - p0)).toBeLessThan(4 * Math.sqrt((p0 * (1 - p0)) / seen));
  });

  it('has a realistic Bayes-optimal AUC, overall, per day and on the Kaggle test half', () => {
    const r = base.report;
    for (const m of [r.bayes, r.bayesTest, r.bayesVal, ...r.perDay.map((d) => d.bayes)]) {
      expect(m.auc).toBeGreaterThan(0.75);
      expect(m.auc).toBeLessThan(0.82);
    }
    // the planted model beats predicting the CTR for everyone
    const p = r.ctr;
    const constantLoss = -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
    expect(r.bayes.logloss).toBeLessThan(constantLoss - 0.05);
    expect(r.bayes.accuracy).toBeGreaterThan(Math.max(p, 1 - p));
    expect(r.perDay).toHaveLength(7);
    expect(r.perDay.reduce((a, d) => a + d.rows, 0)).toBe(ROWS);
  });

  it('keeps the CTR and the Bayes AUC at full Kaggle scale (scale 1)', () => {
    const big = run({ rows: 20_000, seed: 3, scale: 1 });
    expect(big.gen.model.cardinalities[2]).toBe(10_131_227);
    expect(Math.abs(big.report.ctr - 0.25)).toBeLessThan(0.03);
    expect(big.report.bayes.auc).toBeGreaterThan(0.75);
    expect(big.report.bayes.auc).toBeLessThan(0.82);
    // at full size the top shares are the real sample's (fitted there): C1 ≈ 0.50
    expect(Math.abs(big.report.topShare[0]! - 0.499)).toBeLessThan(0.03);
  });
});

describe('exact AUC with ties', () => {
  it('matches the brute-force pair count, overall and per subset (split, day)', () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const n = 600;
    const days = 3;
    // many ties, negative and positive scores; scores need float32-exact values for the comparison
    const score = Array.from({ length: n }, () => Math.round(next() * 40) / 8 - 2.5);
    const label = score.map((x) => (next() < 1 / (1 + Math.exp(-x)) ? 1 : 0));
    const split = score.map(() => Math.floor(next() * 3));
    const day = score.map(() => Math.floor(next() * days));
    const brute = (inSubset: (i: number) => boolean): number => {
      let good = 0;
      let pairs = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++)
          if (inSubset(i) && inSubset(j) && label[i] === 1 && label[j] === 0) {
            pairs++;
            good += score[i]! > score[j]! ? 1 : score[i] === score[j] ? 0.5 : 0;
          }
      return good / pairs;
    };
    const keys = Uint32Array.from(score, scoreKey);
    const payload = Uint16Array.from(score, (_, i) => packPayload(label[i]!, split[i]!, day[i]!));
    radixSort(keys, payload);
    for (let i = 1; i < n; i++) expect(keys[i]!).toBeGreaterThanOrEqual(keys[i - 1]!);
    const aucs = subsetAucs(keys, payload, days);
    expect(aucs[0]).toBeCloseTo(brute(() => true), 12);
    expect(aucs[1]).toBeCloseTo(brute((i) => split[i] === 1), 12);
    expect(aucs[2]).toBeCloseTo(brute((i) => split[i] === 2), 12);
    for (let d = 0; d < days; d++) expect(aucs[3 + d]).toBeCloseTo(brute((i) => day[i] === d), 12);
  });
});
