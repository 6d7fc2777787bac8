/**
 * The access-skew curve: the share of sampled lookups covered by the most
 * popular rows, as a function of the share of rows kept (rows ranked jointly
 * across tables by count). Points are log-spaced in the row share, 10 per
 * decade from one row up to all rows, plus the exact points where given.
 */
import type { CountLevels } from './hot-set.js';

export interface SkewPoint {
  /** rows kept (the most popular first) */
  rows: number;
  /** rows / all rows of all tables */
  rowShare: number;
  /** sampled lookups those rows account for */
  lookups: number;
  /** lookups / all sampled lookups */
  lookupShare: number;
}

/** Lookups covered by the top `k` rows (levels are walked in descending count). */
function coveredBy(levels: CountLevels, ks: number[]): number[] {
  const order = ks.map((k, i) => ({ k, i })).sort((a, b) => a.k - b.k);
  const out = new Array<number>(ks.length).fill(0);
  let j = 0;
  let rowsSoFar = 0;
  let lookupsSoFar = 0;
  levels.forEachLevel((count, rows) => {
    while (j < order.length && order[j]!.k <= rowsSoFar + rows) {
      out[order[j]!.i] = lookupsSoFar + (order[j]!.k - rowsSoFar) * count;
      j++;
    }
    rowsSoFar += rows;
    lookupsSoFar += rows * count;
  });
  for (; j < order.length; j++) out[order[j]!.i] = lookupsSoFar;
  return out;
}

/**
 * Skew curve points, ascending in rows.
 * @param extraRows row counts that must appear exactly (e.g. the hot set size)
 * @param perDecade log-spaced points per decade of row share; @default 10
 */
export function skewCurve(levels: CountLevels, extraRows: number[] = [], perDecade = 10): SkewPoint[] {
  const total = levels.totalRows;
  if (total === 0) return [];
  const ks = new Set<number>([1, total]);
  const decades = Math.log10(total);
  const steps = Math.ceil(decades * perDecade);
  for (let s = 0; s <= steps; s++) ks.add(Math.min(total, Math.max(1, Math.round(10 ** ((s * decades) / steps)))));
  for (const k of extraRows) if (k >= 1 && k <= total) ks.add(Math.floor(k));
  const rows = [...ks].sort((a, b) => a - b);
  const covered = coveredBy(levels, rows);
  const all = levels.totalCount;
  return rows.map((k, i) => ({
    rows: k,
    rowShare: k / total,
    lookups: covered[i]!,
    lookupShare: all > 0 ? covered[i]! / all : 0,
  }));
}

/** Fewest rows (most popular first) whose sampled lookups reach `share` of all; 0 when there are none. */
export function rowsToCover(levels: CountLevels, share: number): number {
  const target = share * levels.totalCount;
  if (target <= 0) return 0;
  let rowsSoFar = 0;
  let lookupsSoFar = 0;
  let result = -1;
  levels.forEachLevel((count, rows) => {
    if (result >= 0 || count === 0) return;
    if (lookupsSoFar + rows * count >= target) result = rowsSoFar + Math.ceil((target - lookupsSoFar) / count - 1e-9);
    rowsSoFar += rows;
    lookupsSoFar += rows * count;
  });
  return result >= 0 ? result : rowsSoFar;
}
