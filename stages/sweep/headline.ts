/**
 * The headline of a sweep: every configuration (mode and swept values, seeds and repeats
 * pooled) with the mean and 95 % interval of each speedup and of ΔAUC, and the goal verdict
 * on the speedup the goal names (stats.ts):
 *
 *     modelled  counted work × the unit costs calibrated inside this sweep (the default)
 *     work      counted work × frozen reference costs: identical on every repeat
 *     cpu       training CPU seconds of the process; wall: training wall seconds
 *
 * Speedups are paired: each run against the baseline with the same seed, then pooled.
 */
import { estimate, fmtEstimate, verdict, type Estimate, type Verdict } from './stats.js';
import { speedupOn, type ResultRow, type SpeedupBasisName, type SweepResults } from './results.js';

/** One line of the headline: a configuration over its seeds and repeats. */
export interface HeadlineRow {
  label: string;
  mode: string;
  targetDrop: number | null;
  alpha: number | null;
  runs: number;
  achievedDrop: Estimate;
  speedup: Estimate;
  speedupCpu: Estimate;
  speedupTotal: Estimate;
  speedupWork: Estimate;
  speedupModelled: Estimate;
  deltaAuc: Estimate;
  /** on the headline basis */
  verdict: Verdict;
  /** verdict 'meets' → true, 'misses' → false, 'not shown' → null */
  meetsGoal: boolean | null;
}

export interface Headline {
  rows: HeadlineRow[];
  /** one sentence on where Slipstream stands against the goal */
  verdict: string;
  /** the speedup the verdict uses (after falling back when its numbers are missing) */
  basis: SpeedupBasisName;
  /** why the basis differs from the one asked for, or '' */
  basisNote: string;
}

/** A person's name for a speedup basis. */
export const BASIS_TEXT: Record<SpeedupBasisName, string> = {
  modelled: 'modelled speedup (counted work × unit costs calibrated in this sweep)',
  work: 'work speedup (counted work × frozen reference unit costs; identical on every repeat)',
  cpu: 'training CPU-time speedup',
  wall: 'training wall-time speedup',
};

const SHORT: Record<string, string> = { 'slipstream.targetDrop': 'D', 'slipstream.alpha': 'α', 'slipstream.maxAucLoss': 'ε', 'slipstream.dropMode': '' };

/** Configuration key of a row: mode + swept values except the seed. */
function configKey(x: ResultRow): string {
  const p = Object.entries(x.params).filter(([k]) => k !== 'seed' && k !== 'mode');
  return JSON.stringify([x.mode, p]);
}

/** `slipstream D=0.3`, `slipstream ε=0.001 rechecks=4`, `fae`, … */
function configLabel(x: ResultRow): string {
  const budget = x.maxAucLoss !== null && x.maxAucLoss > 0;
  const parts = Object.entries(x.params)
    .filter(([k, v]) => k !== 'seed' && k !== 'mode' && !(k === 'slipstream.maxAucLoss' && v === 0))
    .map(([k, v]) => {
      const s = budget && k === 'slipstream.targetDrop' ? 'start D' : SHORT[k] ?? k.split('.').pop()!;
      return s === '' ? String(v) : `${s}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
    });
  return [x.mode, ...parts].join(' ');
}

/** The basis the verdict can use: the asked one, or the next one that has numbers. */
export function effectiveBasis(r: SweepResults): { basis: SpeedupBasisName; note: string } {
  const asked: SpeedupBasisName = r.goal.basis ?? 'wall';
  const has = (b: SpeedupBasisName): boolean => r.rows.some((x) => x.mode !== 'baseline' && (speedupOn(x, b) ?? null) !== null);
  if (has(asked)) return { basis: asked, note: '' };
  for (const b of ['work', 'cpu', 'wall'] as const) {
    if (has(b)) return { basis: b, note: `the ${asked} speedup is not available${asked === 'modelled' ? ' (no calibration in this sweep)' : ''}; the verdict uses the ${b} speedup` };
  }
  return { basis: asked, note: '' };
}

const n = (v: number | null | undefined): number | null => (v === undefined ? null : v);

/** Pool each configuration's runs and judge it against the goal on the headline basis. */
export function summarize(r: SweepResults): Headline {
  const { basis, note } = effectiveBasis(r);
  const groups = new Map<string, ResultRow[]>();
  for (const x of r.rows) {
    if (x.status !== 'ok' || x.mode === 'baseline') continue;
    const k = configKey(x);
    groups.set(k, [...(groups.get(k) ?? []), x]);
  }
  const rows: HeadlineRow[] = [...groups.values()].map((g) => {
    const first = g[0]!;
    const e = (f: (x: ResultRow) => number | null | undefined): Estimate => estimate(g.map((x) => n(f(x))));
    const sp = e((x) => speedupOn(x, basis));
    const dAuc = e((x) => x.deltaAuc);
    const v = verdict(sp, dAuc, r.goal);
    return {
      label: configLabel(first), mode: first.mode, targetDrop: first.targetDrop, alpha: first.alpha, runs: g.length,
      achievedDrop: e((x) => x.achievedDrop), speedup: e((x) => x.speedup), speedupCpu: e((x) => x.speedupCpu),
      speedupTotal: e((x) => x.speedupTotal), speedupWork: e((x) => x.speedupWork), speedupModelled: e((x) => x.speedupModelled),
      deltaAuc: dAuc, verdict: v, meetsGoal: v === 'meets' ? true : v === 'misses' ? false : null,
    };
  });
  rows.sort((a, b) => (a.mode === b.mode ? (a.targetDrop ?? 0) - (b.targetDrop ?? 0) || (a.alpha ?? 0) - (b.alpha ?? 0) || (a.label < b.label ? -1 : 1) : a.mode < b.mode ? -1 : 1));
  return { rows, verdict: verdictSentence(r, rows, basis), basis, basisNote: note };
}

function basisOf(h: HeadlineRow, basis: SpeedupBasisName): Estimate {
  return basis === 'modelled' ? h.speedupModelled : basis === 'work' ? h.speedupWork : basis === 'cpu' ? h.speedupCpu : h.speedup;
}

function signedText(e: Estimate): string {
  return fmtEstimate(e, 4).replace(/(^|\[|, )(\d)/g, '$1+$2').replace(/-/g, '−');
}

function verdictSentence(r: SweepResults, rows: HeadlineRow[], basis: SpeedupBasisName): string {
  const goal = `≥ ${r.goal.speedup}× at ΔAUC ≥ ${r.goal.deltaAuc.toFixed(3).replace('-', '−')}`;
  const on = `${basis} speedup, 95 % intervals`;
  const slip = rows.filter((x) => x.mode === 'slipstream' && basisOf(x, basis).mean !== null);
  if (slip.length === 0) return `Slipstream vs goal (${goal}): no Slipstream run with a baseline to compare yet.`;
  const name = (x: HeadlineRow): string => x.label.replace('slipstream ', '');
  const at = (x: HeadlineRow): string => `${fmtEstimate(basisOf(x, basis), 2, '×')} at ${name(x)} (ΔAUC ${signedText(x.deltaAuc)}, ${x.runs} run${x.runs > 1 ? 's' : ''})`;
  const best = (xs: HeadlineRow[]): HeadlineRow => xs.reduce((a, b) => ((basisOf(b, basis).mean ?? 0) > (basisOf(a, basis).mean ?? 0) ? b : a));
  const met = slip.filter((x) => x.verdict === 'meets');
  if (met.length > 0) return `Slipstream meets the goal (${goal}; ${on}) at ${met.map(name).join(', ')}; best ${at(best(met))}.`;
  const open = slip.filter((x) => x.verdict === 'not shown');
  if (open.length > 0) {
    const few = open.every((x) => x.runs < 2);
    return `Slipstream vs goal (${goal}; ${on}): not shown — ` +
      (few ? 'one run per configuration gives no interval (use --repeats 3 or more)' : `the intervals do not clear the goal at ${open.map(name).join(', ')}`) +
      `; best mean ${at(best(open))}.`;
  }
  return `Slipstream does not meet the goal (${goal}; ${on}) at any setting; best ${at(best(slip))}.`;
}
