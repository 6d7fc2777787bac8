/**
 * The sweep's charts, drawn with pipeline/plots.ts (Vega-Lite → SVG → PNG):
 *
 * - `auc-vs-d`: Slipstream test AUC against the target drop D, with baseline,
 *   fae and the generator's Bayes-optimal AUC as labelled reference lines;
 * - `speedup-vs-drop`: Slipstream speedup over baseline against the *achieved* drop, one
 *   series per speedup (modelled, work, train CPU, train wall), 95 % error bars over
 *   seeds × repeats (vertical: speedup; horizontal: achieved drop), with fae (on the verdict's
 *   basis), 1× and the goal as reference lines; accuracy-budgeted configurations as own points;
 * - `budget-d`: accuracy-budgeted runs' D per re-check window (budget-report.ts);
 * - `time-to-accuracy`: validation AUC against training seconds, one line per run.
 *
 * Values are means over seeds and repeats. A chart without data is left out.
 */
import { join } from 'node:path';
import { budgetChart } from './budget-report.js';
import { lineChart, writePlot, type Chart, type Datum, type RefLine } from '../../pipeline/plots.js';
import { effectiveBasis } from './headline.js';
import { speedupOn, type ResultRow, type SpeedupBasisName, type SweepResults } from './results.js';
import { estimate } from './stats.js';

/** A rendered chart and its file base name (under <dir>/plots/). */
export interface NamedChart {
  name: 'auc-vs-d' | 'speedup-vs-drop' | 'budget-d' | 'time-to-accuracy';
  title: string;
  chart: Chart;
}

function mean(xs: number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function okRows(r: SweepResults, mode: string): ResultRow[] {
  return r.rows.filter((x) => x.mode === mode && x.status === 'ok');
}

/** Mean of a field over finished rows of a mode (null when none). */
export function modeMean(r: SweepResults, mode: string, f: (x: ResultRow) => number | null): number | null {
  return mean(okRows(r, mode).map(f).filter((v): v is number => v !== null));
}

/**
 * A person's name for a run: `baseline`, `slipstream D=0.3`, plus `α=0.8`
 * when α varies in the sweep and `seed 2` when seeds vary.
 */
export function runLabel(row: ResultRow, rows: ResultRow[]): string {
  const alphas = new Set(rows.filter((x) => x.mode === 'slipstream' && x.alpha !== null).map((x) => x.alpha));
  const seeds = new Set(rows.filter((x) => x.seed !== null).map((x) => x.seed));
  let s: string = row.mode;
  if (row.mode === 'slipstream' && row.targetDrop !== null) s += ` D=${row.targetDrop}`;
  if (row.mode === 'slipstream' && alphas.size > 1 && row.alpha !== null) s += ` α=${row.alpha}`;
  if (seeds.size > 1 && row.seed !== null) s += ` seed ${row.seed}`;
  return s;
}

function seedCount(r: SweepResults): number {
  return new Set(r.rows.filter((x) => x.status === 'ok' && x.seed !== null).map((x) => x.seed)).size;
}

/**
 * Time-to-accuracy points: one curve per configuration (mode, D, α), the k-th
 * evaluation of each seed averaged (train seconds and AUC), so seeds do not
 * multiply the series. Curves hold only the periodic evaluations.
 */
function timeToAccuracy(r: SweepResults): Datum[] {
  const byId = new Map(r.rows.map((x) => [x.runId, x]));
  const groups = new Map<string, { sec: number[]; auc: number[]; n: number[] }>();
  for (const c of r.curves) {
    const row = byId.get(c.runId);
    if (!row) continue;
    const series = runLabel({ ...row, seed: null }, r.rows);
    const g = groups.get(series) ?? { sec: [], auc: [], n: [] };
    c.points.forEach((p, k) => {
      g.sec[k] = (g.sec[k] ?? 0) + p.trainSec;
      g.auc[k] = (g.auc[k] ?? 0) + p.auc;
      g.n[k] = (g.n[k] ?? 0) + 1;
    });
    groups.set(series, g);
  }
  const out: Datum[] = [];
  for (const [series, g] of groups) {
    for (let k = 0; k < g.n.length; k++) out.push({ trainSec: g.sec[k]! / g.n[k]!, auc: g.auc[k]! / g.n[k]!, series });
  }
  return out;
}

/** Slipstream means per (α, D): one series per α. */
function slipstreamByD(r: SweepResults, f: (x: ResultRow) => number | null): Datum[] {
  const rows = okRows(r, 'slipstream').filter((x) => x.targetDrop !== null && !(x.maxAucLoss! > 0)); // budgeted runs choose D themselves
  const alphas = new Set(rows.map((x) => x.alpha));
  const groups = new Map<string, { D: number; series: string; vals: number[] }>();
  for (const x of rows) {
    const v = f(x);
    if (v === null) continue;
    const series = alphas.size > 1 ? `slipstream α=${x.alpha}` : 'slipstream';
    const key = `${series}|${x.targetDrop}`;
    const g = groups.get(key) ?? { D: x.targetDrop!, series, vals: [] };
    g.vals.push(v);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => {
    const e = estimate(g.vals);
    return { D: g.D, value: e.mean, lo: e.lo, hi: e.hi, series: g.series };
  }).sort((a, b) => a.D - b.D);
}

const BASIS_SERIES: [SpeedupBasisName, string][] = [['modelled', 'modelled'], ['work', 'work'], ['cpu', 'train CPU'], ['wall', 'train wall']];

/**
 * Speedup against achieved drop: per Slipstream configuration (D, α) and speedup basis, the
 * mean achieved drop with its 95 % interval (x; the drop a target D achieves varies across
 * repeats) and the mean speedup with its 95 % interval (y). One series per basis that has
 * numbers (and per α when α varies); accuracy-budgeted configurations (ε) are one point each,
 * on the verdict basis only, so their D chosen online is not drawn as a point of the D grid.
 */
function speedupByDrop(r: SweepResults, verdictBasis: SpeedupBasisName): Datum[] {
  const rows = okRows(r, 'slipstream').filter((x) => x.targetDrop !== null);
  const alphas = new Set(rows.map((x) => x.alpha));
  const groups = new Map<string, ResultRow[]>();
  for (const x of rows) {
    const key = JSON.stringify(Object.entries(x.params).filter(([k]) => k !== 'seed'));
    groups.set(key, [...(groups.get(key) ?? []), x]);
  }
  const out: Datum[] = [];
  for (const [basis, name] of BASIS_SERIES) {
    for (const g of groups.values()) {
      const sp = estimate(g.map((x) => speedupOn(x, basis) ?? null));
      const drop = estimate(g.map((x) => x.achievedDrop));
      if (sp.mean === null || drop.mean === null) continue;
      const eps = g[0]!.maxAucLoss;
      if (eps !== null && eps > 0 && basis !== verdictBasis) continue;
      // one series (a point) per budgeted configuration: its D is chosen online, not a grid value to draw a line through
      let series = eps !== null && eps > 0 ? `budgeted ε=${eps}, start D=${g[0]!.targetDrop} (${name})` : basis === verdictBasis ? `${name} (verdict)` : name;
      if (alphas.size > 1) series += ` α=${g[0]!.alpha}`;
      out.push({ drop: drop.mean, value: sp.mean, lo: sp.lo, hi: sp.hi, dropLo: drop.lo, dropHi: drop.hi, series });
    }
  }
  return out.sort((a, b) => (a.series as string).localeCompare(b.series as string) || (a.drop as number) - (b.drop as number));
}

/**
 * Merge horizontal reference lines that would sit on top of each other (closer
 * than 4 % of the plotted range), so their labels stay readable:
 * `baseline 0.7801` + `fae 0.7802` → `baseline 0.7801 · fae 0.7802`.
 */
export function mergeRefLines(refs: RefLine[], values: number[]): RefLine[] {
  const ys = [...values, ...refs.map((r) => r.y ?? NaN)].filter(Number.isFinite);
  const range = Math.max(...ys) - Math.min(...ys);
  const sorted = refs.filter((r) => r.y !== undefined).sort((a, b) => a.y! - b.y!);
  const out: RefLine[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.y! - last.y! <= 0.04 * range) out[out.length - 1] = { y: last.y, label: `${last.label} · ${r.label}` };
    else out.push({ ...r });
  }
  return out;
}

/** Render the charts a results set supports. */
export async function buildCharts(r: SweepResults): Promise<NamedChart[]> {
  const out: NamedChart[] = [];

  const auc = slipstreamByD(r, (x) => x.testAuc);
  if (auc.length > 0) {
    const refs: RefLine[] = [];
    const b = modeMean(r, 'baseline', (x) => x.testAuc);
    const f = modeMean(r, 'fae', (x) => x.testAuc);
    if (b !== null) refs.push({ y: b, label: `baseline ${b.toFixed(4)}` });
    if (f !== null) refs.push({ y: f, label: `fae ${f.toFixed(4)}` });
    if (r.bayes) refs.push({ y: r.bayes.auc, label: `Bayes-optimal ${r.bayes.auc.toFixed(4)}` });
    const title = 'Test AUC vs target drop D';
    const chart = await lineChart({
      title,
      x: { field: 'D', title: 'target drop D', format: '.0%' },
      y: { field: 'value', title: 'test AUC', format: '.4f' },
      series: 'series',
      seriesTitle: 'mode',
      data: auc,
      refLines: mergeRefLines(refs, auc.flatMap((d) => [d.value, d.lo, d.hi]).filter((v): v is number => typeof v === 'number')),
      errorBars: { lo: 'lo', hi: 'hi' },
      mark: 'line+point',
    });
    out.push({ name: 'auc-vs-d', title, chart });
  }

  const { basis } = effectiveBasis(r);
  const sp = speedupByDrop(r, basis);
  if (sp.length > 0) {
    const refs: RefLine[] = [{ y: 1, label: 'baseline 1×' }, { y: r.goal.speedup, label: `goal ${r.goal.speedup}×` }];
    const f = modeMean(r, 'fae', (x) => speedupOn(x, basis) ?? null);
    if (f !== null) refs.push({ y: f, label: `fae ${f.toFixed(2)}× (${basis})` });
    const title = 'Slipstream speedup over baseline vs achieved drop';
    const ys = sp.flatMap((d) => [d.value, d.lo, d.hi]).filter((v): v is number => typeof v === 'number');
    // the axis follows the means and the goal, not the intervals: with few repeats a wall-time
    // interval can span [−1, 3.5] and would flatten every series; wider bars are clipped
    const means = sp.map((d) => d.value).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const top = Math.max(r.goal.speedup, ...means, f ?? 1);
    const bottom = Math.min(1, ...means);
    const domain: [number, number] = [Math.max(0, bottom - 0.25 * (top - bottom + 0.2)), top + 0.25 * (top - bottom + 0.2)];
    // the same for the achieved drop: with 2 repeats its interval (t = 12.7) can span −10 … 70 %
    const drops = sp.map((d) => d.drop).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    const xDomain: [number, number] = [Math.max(0, Math.min(...drops) - 0.1), Math.min(1, Math.max(...drops) + 0.1)];
    const chart = await lineChart({
      title,
      x: { field: 'drop', title: 'achieved drop (share of hot inputs skipped), mean and 95 % interval (clipped)', format: '.0%', domain: xDomain },
      y: { field: 'value', title: 'speedup (baseline / run), mean and 95 % interval (clipped)', format: '.2f', domain },
      series: 'series',
      seriesTitle: 'speedup',
      data: sp,
      errorBars: { lo: 'lo', hi: 'hi' },
      xErrorBars: { lo: 'dropLo', hi: 'dropHi' },
      refLines: mergeRefLines(refs, ys),
      mark: 'line+point',
    });
    out.push({ name: 'speedup-vs-drop', title, chart });
  }

  const budget = await budgetChart(r);
  if (budget) out.push(budget);

  const tta = timeToAccuracy(r);
  if (tta.length > 0) {
    const title = seedCount(r) > 1 ? `Time to accuracy (mean of ${seedCount(r)} seeds)` : 'Time to accuracy';
    const chart = await lineChart({
      title,
      x: { field: 'trainSec', title: 'training time (s, evaluation excluded)' },
      y: { field: 'auc', title: 'validation AUC', format: '.4f' },
      series: 'series',
      seriesTitle: 'configuration',
      data: tta,
      mark: 'line+point',
    });
    out.push({ name: 'time-to-accuracy', title, chart });
  }
  return out;
}

/** Write each chart as `<dir>/plots/<name>.svg` and `.png`; returns the base paths. */
export async function writeCharts(dir: string, charts: NamedChart[]): Promise<string[]> {
  const bases: string[] = [];
  for (const c of charts) {
    const base = join(dir, 'plots', c.name);
    await writePlot(base, c.chart);
    bases.push(base);
  }
  return bases;
}
