import { describe, expect, it } from 'vitest';
import { DRIFT_POPULAR_RANKS } from '../../datasets/synthetic/constants.js';
import { generateRows, SyntheticGenerator } from '../../datasets/synthetic/generator.js';

describe('synthetic generator: planted model and drift', () => {
  it('without drift, every weight is the same on every day', () => {
    const m = new SyntheticGenerator({ rows: 10, seed: 4 }, false).model;
    for (let f = 0; f < 26; f++) {
      const k = Math.min(m.cardinalities[f]!, DRIFT_POPULAR_RANKS + 50);
      for (let r = 0; r < k; r++) expect(m.catWeight(f, r, 6)).toBe(m.catWeight(f, r, 0));
    }
  });

  it('with drift x, about a fraction x of popular values change weight per day, and no rare value', () => {
    const m = new SyntheticGenerator({ rows: 10, seed: 4, drift: 0.3 }, false).model;
    let popular = 0;
    let changed = 0;
    for (let f = 0; f < 26; f++) {
      const k = m.cardinalities[f]!;
      for (let r = 0; r < Math.min(k, DRIFT_POPULAR_RANKS); r++) {
        popular++;
        if (m.catWeight(f, r, 1) !== m.catWeight(f, r, 0)) changed++;
      }
      for (let r = DRIFT_POPULAR_RANKS; r < Math.min(k, DRIFT_POPULAR_RANKS + 200); r++) {
        expect(m.catWeight(f, r, 3)).toBe(m.catWeight(f, r, 0));
      }
    }
    expect(changed / popular).toBeGreaterThan(0.25);
    expect(changed / popular).toBeLessThan(0.35);
  });

  it("the generator's logits equal the naive planted model's on every day (with drift)", () => {
    const g = new SyntheticGenerator({ rows: 14_000, seed: 21, drift: 0.5, days: 4 }, false);
    const m = g.model;
    let checked = 0;
    const days = new Set<number>();
    for (let b = g.nextBlock(); b; b = g.nextBlock()) {
      days.add(b.day);
      for (let i = 0; i < b.n; i += 7) {
        const raw = m.rawLogitOf(b.cats, b.ints, i * 26, i * 13, b.day);
        expect(Math.abs(m.logit(raw) - b.logit[i]!)).toBeLessThan(1e-4);
        checked++;
      }
    }
    expect(days.size).toBe(4);
    expect(checked).toBeGreaterThan(1900);
  });

  it('drift changes labels only, never the features, and only when asked', () => {
    const strip = (b: Buffer) =>
      b
        .toString()
        .split('\n')
        .map((l) => l.slice(2));
    const still = Buffer.concat([...generateRows({ rows: 4000, seed: 2, days: 4 })]);
    const again = Buffer.concat([...generateRows({ rows: 4000, seed: 2, days: 4, drift: 0 })]);
    const moving = Buffer.concat([...generateRows({ rows: 4000, seed: 2, days: 4, drift: 0.5 })]);
    expect(again.equals(still)).toBe(true);
    expect(moving.equals(still)).toBe(false);
    expect(strip(moving)).toEqual(strip(still));
    // day 0 uses the same weights either way, so its labels agree
    const day0 = (b: Buffer) => b.toString().split('\n').slice(0, 1000).join('\n');
    expect(day0(moving)).toBe(day0(still));
  });
});
