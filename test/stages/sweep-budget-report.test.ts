import { describe, expect, it } from 'vitest';
import { lineChartSpec } from '../../pipeline/plots.js';
import type { BudgetReport, RunMetrics } from '../../pipeline/run-metrics.js';
import { budgetLines, budgetTables } from '../../stages/sweep/budget-report.js';
import { buildCharts } from '../../stages/sweep/charts.js';
import type { RunSpec } from '../../stages/sweep/grid.js';
import { reportMarkdown, summarize } from '../../stages/sweep/report.js';
import { addReferences, rowFromMetrics, RESULTS_MAGIC, type SweepResults } from '../../stages/sweep/results.js';
import { fakeMetrics } from '../fixtures/sweep-results/fake.js';

/** A budgeted run's metrics: a fixed-D fake plus a trajectory and the reference's counted work. */
function budgeted(seed: number): RunMetrics {
  const m = fakeMetrics('slipstream', seed, 0.3);
  const windows: BudgetReport['windows'] = [0.3, 0.4, 0.35].map((drop, i) => ({
    epoch: 0, window: i, hotFrom: 10 * i, hotTo: 10 * i + 9, drop, threshold: 1e-3 * (i + 1), achievedDrop: drop - 0.01,
    aucRun: 0.78 - 0.0002 * i, aucRef: 0.7803, deltaAuc: -0.0003 - 0.0002 * i, decision: i === 1 ? 'lower' : 'raise', next: [0.4, 0.35, 0.4][i]!, nextThreshold: i < 2 ? 1e-3 * (i + 2) : null,
  }));
  m.slipstream!.budget = { maxAucLoss: 0.001, rechecks: 3, sliceRows: 1000, startDrop: 0.3, finalDrop: 0.4, windows };
  m.time.referenceSec = 1;
  m.work!.reference = {
    windows: 3, samplesTrained: 20000, optimizerSteps: 80, denseFlops: 20000 * 3000, denseParamUpdates: 0, rowsGathered: 20000 * 26, rowsUpdated: 20000 * 10,
    hotGathered: 10000 * 26, hotUpdated: 10000 * 5, deviceBytes: 0, copyBytes: 1e6, recheckRows: 6000, recheckFlops: 6000 * 1000,
  };
  return m;
}

function results(): SweepResults {
  const runs: RunSpec[] = [];
  const metrics: RunMetrics[] = [];
  for (const seed of [1, 2]) {
    runs.push({ id: `baseline-s${seed}`, mode: 'baseline', params: { mode: 'baseline', seed } });
    metrics.push(fakeMetrics('baseline', seed));
    runs.push({ id: `slipstream-D0.3-eps0-s${seed}`, mode: 'slipstream', params: { mode: 'slipstream', 'slipstream.targetDrop': 0.3, 'slipstream.maxAucLoss': 0, seed } });
    metrics.push(fakeMetrics('slipstream', seed, 0.3));
    runs.push({ id: `slipstream-D0.3-eps0.001-s${seed}`, mode: 'slipstream', params: { mode: 'slipstream', 'slipstream.targetDrop': 0.3, 'slipstream.maxAucLoss': 0.001, seed } });
    metrics.push(budgeted(seed));
  }
  const rows = runs.map((r, i) => rowFromMetrics(r, metrics[i]!));
  addReferences(rows, runs);
  return { magic: RESULTS_MAGIC, formatVersion: 1, name: 'budget', createdAt: '2026-12-01T00:00:00Z', goal: { speedup: 1.3, deltaAuc: -0.001, basis: 'work' }, bayes: null, rows, curves: [] };
}

describe('accuracy-budgeted runs in the sweep report', () => {
  it('rows carry ε, the final D and speedups with and without the reference', () => {
    const r = results();
    const b = r.rows.find((x) => x.runId === 'slipstream-D0.3-eps0.001-s1')!;
    const f = r.rows.find((x) => x.runId === 'slipstream-D0.3-eps0-s1')!;
    expect([b.maxAucLoss, b.finalDrop, b.referenceSec]).toEqual([0.001, 0.4, 1]);
    expect([f.maxAucLoss, f.finalDrop, f.budget]).toEqual([null, null, null]);
    // the same counted work as the fixed-D run plus the reference: slower with it, as fast without it
    expect(b.speedupWork!).toBeLessThan(f.speedupWork!);
    expect(b.speedupWorkNoRef).toBeCloseTo(f.speedupWork!, 12);
    expect(f.speedupWorkNoRef).toBeCloseTo(f.speedupWork!, 12);
    expect(b.budget).toHaveLength(3);
  });

  it('summary and trajectory tables, labels, and the budget chart', async () => {
    const r = results();
    const t = budgetTables(r);
    expect(t.map((x) => x.title)).toEqual(['Accuracy-budgeted Slipstream', 'D trajectory: slipstream-D0.3-eps0.001-s1', 'D trajectory: slipstream-D0.3-eps0.001-s2']);
    expect(t[0]!.rows).toHaveLength(1);
    expect(t[0]!.rows[0]![0]).toBe('ε=0.001 (start D=0.3)');
    expect(t[1]!.rows.map((x) => [x[3], x[9], x[10]])).toEqual([['0.3', 'raise', '0.4'], ['0.4', 'lower', '0.35'], ['0.35', 'raise', '0.4']]);
    expect(summarize(r).rows.map((x) => x.label)).toEqual(['slipstream D=0.3', 'slipstream start D=0.3 ε=0.001']);
    const md = reportMarkdown(r, []);
    expect(md).toContain('## D trajectory: slipstream-D0.3-eps0.001-s1');
    expect(md).toContain('reference free');
    const charts = await buildCharts(r);
    expect(charts.map((c) => c.name)).toEqual(['auc-vs-d', 'speedup-vs-drop', 'budget-d']); // no curves in these results: no time-to-accuracy
    const sp = charts.find((c) => c.name === 'speedup-vs-drop')!.chart.svg;
    expect(sp).toContain('budgeted ε=0.001, start D=0.3 (work)');
    expect(budgetTables({ ...r, rows: r.rows.filter((x) => x.maxAucLoss === null) })).toEqual([]);
    expect(budgetLines(r)[1]).toMatch(/^ {2}ε=0\.001 \(start D=0\.3\): final D 0\.400 \[0\.400, 0\.400\], drop 29\.4 % .*work 1\.19× .*\(free 1\.48× /);
  }, 60_000);

  it('line charts draw horizontal error bars from the x interval fields', () => {
    const spec = lineChartSpec({
      title: 't', x: { field: 'drop' }, y: { field: 'value' }, data: [{ drop: 0.3, value: 1.2, dlo: 0.28, dhi: 0.32 }], xErrorBars: { lo: 'dlo', hi: 'dhi' },
    }) as unknown as { layer: { mark: unknown; encoding: Record<string, { field?: string }> }[] };
    const rule = spec.layer.find((l) => l.encoding['x2'] !== undefined)!;
    expect([rule.encoding['x']!.field, rule.encoding['x2']!.field, rule.encoding['y']!.field]).toEqual(['dlo', 'dhi', 'value']);
  });
});
