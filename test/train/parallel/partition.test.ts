import { describe, expect, it } from 'vitest';
import { Rng } from '../../../pipeline/rng.js';
import { cutOf, ldgPartition } from '../../../stages/train/parallel/partition.js';

/** Inputs drawn from `C` planted communities with disjoint row pools, `noise` of lookups from a shared pool; shuffled. */
function planted(C: number, perCommunity: number, rowsPer: number, pool: number, noise: number, seed: number): { rows: Int32Array; truth: Uint8Array; R: number } {
  const rng = new Rng(seed);
  const N = C * perCommunity;
  const shared = 50;
  const R = C * pool + shared;
  const order = Array.from({ length: N }, (_, i) => i);
  for (let i = N - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j]!, order[i]!]; }
  const rows = new Int32Array(N * rowsPer);
  const truth = new Uint8Array(N);
  order.forEach((src, i) => {
    const c = src % C;
    truth[i] = c;
    for (let j = 0; j < rowsPer; j++) rows[i * rowsPer + j] = rng.float() < noise ? C * pool + rng.int(shared) : c * pool + rng.int(pool);
  });
  return { rows, truth, R };
}

describe('graph partition (LDG)', () => {
  for (const C of [2, 4]) {
    it(`recovers ${C} planted communities and cuts far less than random`, () => {
      const { rows, truth, R } = planted(C, 1500, 26, 400, 0.05, 3);
      const p = ldgPartition(rows, 26, R, C, 1);
      // purity: each worker's inputs come mostly from one community, and the communities map one-to-one
      const major: number[] = [];
      for (let k = 0; k < C; k++) {
        const n = new Array<number>(C).fill(0);
        truth.forEach((c, i) => { if (p.labels[i] === k) n[c]!++; });
        const tot = n.reduce((a, b) => a + b, 0);
        const best = n.indexOf(Math.max(...n));
        expect(n[best]! / tot).toBeGreaterThan(0.95);
        major.push(best);
      }
      expect(new Set(major).size).toBe(C);
      // balance: no worker above its capacity ⌈N/K⌉
      for (const s of p.sizes) expect(s).toBeLessThanOrEqual(Math.ceil(truth.length / C));
      // only the shared noise rows are cut; a random assignment cuts nearly everything
      expect(p.cut.graph).toBeLessThan(0.1);
      expect(p.cut.random).toBeGreaterThan(0.9);
      expect(cutOf(rows, 26, R, truth)).toBeLessThanOrEqual(p.cut.graph + 1e-9);
      // row owners: a community's rows are owned by the worker that holds the community
      for (let c = 0; c < C; c++) {
        let agree = 0;
        for (let r = c * 400; r < (c + 1) * 400; r++) if (p.owners[r] === major.indexOf(c)) agree++;
        expect(agree / 400).toBeGreaterThan(0.95);
      }
    });
  }

  it('on data without communities the cut is no better than random by much, and the partition stays balanced', () => {
    const { rows, R } = planted(1, 3000, 26, 2000, 0, 5);
    const p = ldgPartition(rows, 26, R, 2, 1);
    expect(Math.abs(p.sizes[0]! - p.sizes[1]!)).toBeLessThanOrEqual(1);
    expect(p.cut.graph).toBeGreaterThan(0.5);
  });
});
