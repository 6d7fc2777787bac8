/**
 * The accuracy-budgeted Slipstream part of a sweep report (runs with slipstream.maxAucLoss > 0):
 *
 *     summary     per budgeted configuration (ε, start D): D it ended at, drop achieved, work and
 *                 modelled speedups with and without the no-drop reference and re-checks, the
 *                 share of training time they took, test ΔAUC vs baseline
 *     trajectory  per budgeted run (first repeat): one line per re-check window (D, T, AUC of
 *                 the run and of its reference on the validation slice, ΔAUC, drop, decision)
 *     chart       D per re-check window, one line per budgeted run
 */
import { lineChart, type Chart, type Datum } from '../../pipeline/plots.js';
import type { ResultRow, SweepResults } from './results.js';
import { estimate, fmtEstimate } from './stats.js';

/** A table of the report: title, header, rows, and a line under it. */
export interface ReportTable {
  title: string;
  head: string[];
  rows: string[][];
  note?: string;
}

const budgeted = (r: SweepResults): ResultRow[] => r.rows.filter((x) => x.status === 'ok' && x.maxAucLoss !== null && x.maxAucLoss > 0);

const signed = (v: number, d: number): string => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(d)}`;

/** The summary and trajectory tables; none when the sweep has no budgeted run. */
export function budgetTables(r: SweepResults): ReportTable[] {
  const rows = budgeted(r);
  if (rows.length === 0) return [];
  const groups = new Map<string, ResultRow[]>();
  for (const x of rows) {
    const k = JSON.stringify(Object.entries(x.params).filter(([k]) => k !== 'seed'));
    groups.set(k, [...(groups.get(k) ?? []), x]);
  }
  const e = (g: ResultRow[], f: (x: ResultRow) => number | null, d: number, unit = ''): string => fmtEstimate(estimate(g.map(f)), d, unit);
  const summary: ReportTable = {
    title: 'Accuracy-budgeted Slipstream',
    head: ['configuration', 'runs', 'final D', 'achieved drop', 'work speedup', 'work, reference free', 'modelled', 'modelled, reference free', 'reference share of train wall', 'test ΔAUC'],
    rows: [...groups.values()].map((g) => {
      const x = g[0]!;
      return [
        `ε=${x.maxAucLoss} (start D=${x.targetDrop})`, String(g.length), e(g, (y) => y.finalDrop, 3), e(g, (y) => (y.achievedDrop === null ? null : 100 * y.achievedDrop), 1, ' %'),
        e(g, (y) => y.speedupWork, 2, '×'), e(g, (y) => y.speedupWorkNoRef, 2, '×'), e(g, (y) => y.speedupModelled, 2, '×'), e(g, (y) => y.speedupModelledNoRef, 2, '×'),
        e(g, (y) => (y.referenceSec !== null && y.trainSec ? (100 * y.referenceSec) / y.trainSec : null), 1, ' %'),
        fmtEstimate(estimate(g.map((y) => y.deltaAuc)), 4).replace(/-/g, '−'),
      ];
    }),
    note: 'A budgeted run moves D online: in each re-check window a no-drop reference (a copy of the run\'s model at the window start, trained on the same batches without dropping) is compared with the run on a fixed validation slice, and D goes up while the AUC loss is ≤ ε/2, down (finer steps) when it exceeds ε. '
      + 'Its work and modelled speedups include the reference\'s training, the state copies and the re-check evaluations; "reference free" prices the run without them (what the drop alone saves). Its wall and CPU speedups include them too.',
  };
  const tables: ReportTable[] = [summary];
  for (const x of rows.filter((y) => y.repeat === 0)) {
    const ws = x.budget ?? [];
    tables.push({
      title: `D trajectory: ${x.runId}`,
      head: ['epoch', 'window', 'hot batches', 'D', 'T', 'dropped', 'AUC run', 'AUC no-drop', 'ΔAUC', 'decision', 'next D'],
      rows: ws.map((w) => [
        String(w.epoch), String(w.window), `${w.hotFrom}–${w.hotTo}`, String(w.drop), w.threshold === 0 ? '0' : w.threshold.toExponential(2), `${(100 * w.achievedDrop).toFixed(1)} %`,
        w.aucRun.toFixed(5), w.aucRef.toFixed(5), signed(w.deltaAuc, 5), w.decision, String(w.next),
      ]),
      note: `ε = ${x.maxAucLoss}; AUCs on the run's validation slice. Test ΔAUC vs baseline at the end: ${x.deltaAuc === null ? '–' : signed(x.deltaAuc, 4)}.`,
    });
  }
  return tables;
}

/** D per re-check window, one line per budgeted run (first repeat); null without budgeted runs. */
export async function budgetChart(r: SweepResults): Promise<{ name: 'budget-d'; title: string; chart: Chart } | null> {
  const data: Datum[] = [];
  for (const x of budgeted(r).filter((y) => y.repeat === 0)) {
    (x.budget ?? []).forEach((w, i) => data.push({ recheck: i + 1, D: w.drop, series: x.runId }));
  }
  if (data.length === 0) return null;
  const title = 'Accuracy-budgeted Slipstream: D per re-check window';
  const chart = await lineChart({
    title,
    x: { field: 'recheck', title: 're-check window (over the run)', format: 'd' },
    y: { field: 'D', title: 'drop target D used in the window', format: '.0%' },
    series: 'series',
    seriesTitle: 'run',
    data,
    mark: 'line+point',
  });
  return { name: 'budget-d', title, chart };
}

/** Terminal lines for the budgeted configurations (none without budgeted runs). */
export function budgetLines(r: SweepResults): string[] {
  const t = budgetTables(r)[0];
  if (!t) return [];
  return [
    '  accuracy-budgeted (work / modelled speedups include the no-drop reference; "free" = without it):',
    ...t.rows.map((c) => `  ${c[0]}: final D ${c[2]}, drop ${c[3]}, work ${c[4]} (free ${c[5]}), modelled ${c[6]} (free ${c[7]}), reference ${c[8]} of train wall, ΔAUC ${c[9]}`),
  ];
}
