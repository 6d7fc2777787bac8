import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/rng.js';
import { CountLevels, selectByCount, selectByRows, type HotSet } from '../../stages/segregate/hot-set.js';
import { rowsToCover, skewCurve } from '../../stages/segregate/skew.js';

/** Random counts with many ties, a few zero-heavy tables and some counts ≥ 65536. */
function makeCounts(seed: number): Uint32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: 26 }, (_, t) => {
    const c = new Uint32Array(1 + rng.int(60));
    for (let r = 0; r < c.length; r++) c[r] = t % 5 === 0 ? (rng.float() < 0.7 ? 0 : 1) : rng.int(5);
    if (t === 3) c[0] = 70_000;
    if (t === 9 && c.length > 2) c[2] = 70_000; // tie in the large range, across tables
    if (t === 12) c[c.length - 1] = 1_000_000;
    return c;
  });
}

/** Brute force: sort every (count, table, row), take the first k. */
function bruteHot(counts: Uint32Array[], k: number): [number, number][] {
  const all: [number, number, number][] = [];
  counts.forEach((c, t) => c.forEach((v, r) => all.push([v, t, r])));
  all.sort((x, y) => y[0] - x[0] || x[1] - y[1] || x[2] - y[2]);
  return all.slice(0, k).map(([, t, r]) => [t, r] as [number, number]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
}

function hotPairs(h: HotSet): [number, number][] {
  const out: [number, number][] = [];
  h.index.forEach((idx, t) => idx.forEach((v, r) => v >= 0 && out.push([t, r])));
  return out;
}

describe('hot-set selection', () => {
  it('ranks jointly by count desc, table asc, row asc (brute force, many ties)', () => {
    for (const seed of [1, 2, 3]) {
      const counts = makeCounts(seed);
      const levels = new CountLevels(counts);
      for (const k of [0, 1, 2, 3, 7, 50, 200, levels.nonzeroRows - 1, levels.nonzeroRows]) {
        const h = selectByRows(counts, k, false, levels);
        expect(h.hotRows).toBe(k);
        expect(hotPairs(h)).toEqual(bruteHot(counts, k));
        // hot indices: grouped by table, ascending row, contiguous from 0
        const flat: number[] = [];
        h.index.forEach((idx) => idx.forEach((v) => v >= 0 && flat.push(v)));
        expect(flat).toEqual(Array.from({ length: k }, (_, i) => i));
        expect(h.offsets[26]).toBe(k);
        h.perTable.forEach((n, t) => expect(h.offsets[t + 1]! - h.offsets[t]!).toBe(n));
      }
    }
  });

  it('never picks zero-count rows unless allowed', () => {
    const counts = makeCounts(4);
    const levels = new CountLevels(counts);
    expect(selectByRows(counts, 1e9, false, levels).hotRows).toBe(levels.nonzeroRows);
    const k = levels.nonzeroRows + 5;
    const h = selectByRows(counts, k, true, levels);
    expect(hotPairs(h)).toEqual(bruteHot(counts, k));
    expect(selectByRows(counts, 1e9, true, levels).hotRows).toBe(levels.totalRows);
  });

  it('threshold Λ keeps exactly the rows with count ≥ Λ', () => {
    const counts = makeCounts(5);
    for (const lam of [1, 2, 4, 70_000, 2_000_000]) {
      const h = selectByCount(counts, lam);
      const want: [number, number][] = [];
      counts.forEach((c, t) => c.forEach((v, r) => v >= lam && want.push([t, r])));
      expect(hotPairs(h)).toEqual(want);
    }
  });

  it('skew curve and coverage match brute-force prefix sums', () => {
    const counts = makeCounts(6);
    const levels = new CountLevels(counts);
    const sorted = counts.flatMap((c) => Array.from(c)).sort((a, b) => b - a);
    const prefix = (n: number): number => sorted.slice(0, n).reduce((s, v) => s + v, 0);
    const total = prefix(sorted.length);
    expect(levels.totalCount).toBe(total);
    const pts = skewCurve(levels, [17]);
    expect(pts[0]!.rows).toBe(1);
    expect(pts[pts.length - 1]!.rowShare).toBe(1);
    expect(pts.some((p) => p.rows === 17)).toBe(true);
    for (const p of pts) {
      expect(p.lookups).toBe(prefix(p.rows));
      expect(p.lookupShare).toBeCloseTo(prefix(p.rows) / total, 12);
    }
    for (const share of [0.5, 0.9, 0.99, 1]) {
      const n = rowsToCover(levels, share);
      expect(prefix(n)).toBeGreaterThanOrEqual(share * total);
      expect(prefix(n - 1)).toBeLessThan(share * total);
    }
  });
});
