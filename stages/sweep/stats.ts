/**
 * Means, 95 % intervals and the goal verdict of a sweep's configurations.
 *
 *     interval  mean ± t(0.975, n−1) · s / √n     (Student t; s the sample standard deviation)
 *     verdict   'meets'     lower bound of the speedup ≥ goal and lower bound of ΔAUC ≥ goal
 *               'misses'    upper bound of the speedup < goal, or upper bound of ΔAUC < goal
 *               'not shown' anything else, and every configuration with fewer than 2 runs
 *
 * A verdict is a claim about the configuration, not about one lucky run: with one run, or an
 * interval that straddles the goal, the sweep says "not shown" and the numbers speak alone.
 */

/** Two-sided 95 % Student t quantiles t(0.975, df) for df = 1…30; beyond 30 the normal 1.96 (within 4 %). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Mean and 95 % interval of a sample (interval null with fewer than 2 values). */
export interface Estimate {
  n: number;
  mean: number | null;
  lo: number | null;
  hi: number | null;
}

/** t(0.975, df). */
export function tQuantile975(df: number): number {
  if (df < 1) return Infinity;
  return df <= T975.length ? T975[df - 1]! : 1.96;
}

/** Mean ± the 95 % half-width of the values that are numbers. */
export function estimate(xs: readonly (number | null)[]): Estimate {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  const n = v.length;
  if (n === 0) return { n, mean: null, lo: null, hi: null };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, lo: null, hi: null };
  const s2 = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  const h = tQuantile975(n - 1) * Math.sqrt(s2 / n);
  return { n, mean, lo: mean - h, hi: mean + h };
}

export type Verdict = 'meets' | 'misses' | 'not shown';

/** The goal verdict of one configuration (see the module comment). */
export function verdict(speedup: Estimate, deltaAuc: Estimate, goal: { speedup: number; deltaAuc: number }): Verdict {
  if (speedup.lo === null || speedup.hi === null || deltaAuc.lo === null || deltaAuc.hi === null) return 'not shown';
  if (speedup.lo >= goal.speedup && deltaAuc.lo >= goal.deltaAuc) return 'meets';
  if (speedup.hi < goal.speedup || deltaAuc.hi < goal.deltaAuc) return 'misses';
  return 'not shown';
}

/** `1.42× [1.38, 1.46]` style text of an estimate. */
export function fmtEstimate(e: Estimate, digits: number, unit = ''): string {
  if (e.mean === null) return '–';
  const f = (x: number): string => x.toFixed(digits);
  return e.lo === null || e.hi === null ? `${f(e.mean)}${unit}` : `${f(e.mean)}${unit} [${f(e.lo)}, ${f(e.hi)}]`;
}
