import { describe, expect, it } from 'vitest';
import { expandGrid } from '../../stages/sweep/grid.js';
import { summarize } from '../../stages/sweep/headline.js';
import { addReferences, rowFromMetrics, type SweepResults } from '../../stages/sweep/results.js';
import { repeatSeed, scheduleRuns, tableOrder } from '../../stages/sweep/schedule.js';
import { estimate, tQuantile975, verdict } from '../../stages/sweep/stats.js';
import { fakeMetrics } from '../fixtures/sweep-results/fake.js';

const GOAL = { speedup: 1.3, deltaAuc: -0.001 };

describe('intervals and verdicts', () => {
  it('mean ± t · s/√n, no interval from one value', () => {
    const e = estimate([1.2, 1.4, 1.3]);
    expect(e.mean).toBeCloseTo(1.3, 12);
    // s = 0.1, t(0.975, 2) = 4.303
    expect(e.hi! - e.mean!).toBeCloseTo((4.303 * 0.1) / Math.sqrt(3), 12);
    expect(estimate([1.5])).toEqual({ n: 1, mean: 1.5, lo: null, hi: null });
    expect(estimate([null, 2, null, 2])).toEqual({ n: 2, mean: 2, lo: 2, hi: 2 });
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(100)).toBe(1.96);
  });

  it('meets only when both intervals clear the goal; misses only when one is wholly short; else not shown', () => {
    const sp = (lo: number, hi: number) => ({ n: 3, mean: (lo + hi) / 2, lo, hi });
    expect(verdict(sp(1.32, 1.4), sp(-0.0008, 0.0002), GOAL)).toBe('meets');
    expect(verdict(sp(1.25, 1.4), sp(-0.0008, 0.0002), GOAL)).toBe('not shown'); // straddles 1.3
    expect(verdict(sp(1.32, 1.4), sp(-0.0015, 0.0002), GOAL)).toBe('not shown'); // ΔAUC straddles −0.001
    expect(verdict(sp(1.1, 1.29), sp(-0.0008, 0.0002), GOAL)).toBe('misses');
    expect(verdict(sp(1.5, 1.6), sp(-0.003, -0.0012), GOAL)).toBe('misses');
    expect(verdict({ n: 1, mean: 2, lo: null, hi: null }, sp(0, 0), GOAL)).toBe('not shown');
  });
});

/** Results of a fake sweep: every config `repeats` times; slipstream speedups jittered per repeat. */
function fixture(repeats: number, jitter: number, basis: 'modelled' | 'work' | 'wall' = 'work'): SweepResults {
  const grid = expandGrid({ mode: ['baseline', 'fae', 'slipstream'], 'slipstream.targetDrop': [0.3, 0.5], seed: [1] });
  const runs = tableOrder(scheduleRuns(grid, repeats, 1), grid);
  const rows = runs.map((run) => {
    const D = (run.params['slipstream.targetDrop'] as number | undefined) ?? 0;
    const m = fakeMetrics(run.mode, run.params['seed'] as number, D);
    if (run.mode === 'slipstream') {
      const k = 1 + jitter * (run.repeat - (repeats - 1) / 2);
      m.work!.denseFlops.total *= k;
      m.work!.embedding.rowsGathered *= k;
      m.time.trainSec *= k;
    }
    return rowFromMetrics(run, m);
  });
  addReferences(rows, runs);
  return { magic: 'hotcold.sweep.results', formatVersion: 1, name: 'f', createdAt: '', goal: { ...GOAL, basis }, bayes: null, rows, curves: [], repeats };
}

describe('headline', () => {
  it('pools repeats per configuration and gives the verdict on the named basis', () => {
    const h = summarize(fixture(3, 0.02));
    expect(h.basis).toBe('work');
    const d5 = h.rows.find((x) => x.label === 'slipstream D=0.5')!;
    expect(d5.runs).toBe(3);
    expect(d5.speedupWork.lo).not.toBeNull();
    // D=0.5: fake work halves → ≈2× but ΔAUC = −0.002 → misses; D=0.3: ≈1.4× at ΔAUC −0.0012 → misses too
    expect(d5.verdict).toBe('misses');
    expect(h.rows.find((x) => x.mode === 'fae')!.verdict).toBeDefined();
    expect(h.verdict).toMatch(/does not meet the goal .*work speedup, 95 % intervals/);
  });

  it('says "not shown" with one run per configuration, and falls back when the asked basis is missing', () => {
    const h = summarize(fixture(1, 0, 'modelled'));
    expect(h.basis).toBe('work'); // no calibration → no modelled speedups
    expect(h.basisNote).toMatch(/modelled speedup is not available \(no calibration/);
    expect(h.rows.filter((x) => x.mode === 'slipstream').every((x) => x.verdict === 'not shown')).toBe(true);
    expect(h.verdict).toMatch(/not shown — one run per configuration gives no interval/);
  });

  it('meets where the interval clears the goal', () => {
    const r = fixture(3, 0.01);
    for (const x of r.rows) if (x.mode === 'slipstream' && x.deltaAuc !== null) x.deltaAuc = -0.0002 + 0.0001 * x.repeat;
    const h = summarize(r);
    expect(h.rows.find((x) => x.label === 'slipstream D=0.3')!.verdict).toBe('meets');
    expect(h.verdict).toMatch(/^Slipstream meets the goal .* at D=0\.3, D=0\.5; best 1\.\d\d× \[[\d.]+, [\d.]+\] at D=0\.5 \(ΔAUC /);
  });
});

describe('schedule', () => {
  const grid = expandGrid({ mode: ['baseline', 'fae', 'slipstream'], 'slipstream.targetDrop': [0.1, 0.3, 0.5], seed: [1, 2] });

  it('is reproducible for a seed, differs between seeds, and interleaves configurations block by block', () => {
    const a = scheduleRuns(grid, 3, 7).map((r) => r.id);
    expect(scheduleRuns(grid, 3, 7).map((r) => r.id)).toEqual(a);
    expect(scheduleRuns(grid, 3, 8).map((r) => r.id)).not.toEqual(a);
    expect(a).toHaveLength(3 * grid.length);
    expect(new Set(a).size).toBe(a.length);
    // block r holds exactly one run of every configuration
    for (let r = 0; r < 3; r++) {
      const block = scheduleRuns(grid, 3, 7).slice(r * grid.length, (r + 1) * grid.length);
      expect(block.every((x) => x.repeat === r)).toBe(true);
    }
    // shuffled: baseline is not always first
    expect(a.slice(0, grid.length)).not.toEqual(grid.map((g) => g.id));
    expect(scheduleRuns(grid, 1, 7, 'grid').map((r) => r.id)).toEqual(grid.map((g) => g.id));
  });

  it('derives repeat seeds, pairing each repeat with its own baseline', () => {
    const s = scheduleRuns(grid, 2, 1);
    expect(repeatSeed(5, 0)).toBe(5);
    expect(repeatSeed(5, 1)).toBe(repeatSeed(5, 1));
    expect(repeatSeed(5, 1)).not.toBe(repeatSeed(5, 2));
    const slip = s.find((x) => x.id === 'slipstream-D0.3-s2-r1')!;
    const base = s.find((x) => x.id === 'baseline-s2-r1')!;
    expect(slip.params['seed']).toBe(repeatSeed(2, 1));
    expect(base.params['seed']).toBe(slip.params['seed']);
    expect(tableOrder(s, grid).slice(0, 2).map((x) => x.id)).toEqual(['baseline-s1', 'baseline-s1-r1']);
  });
});
