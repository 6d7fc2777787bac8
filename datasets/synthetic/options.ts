/** Options of the synthetic generator, their defaults and their validation. */
import { badConfig } from '../../pipeline/errors.js';
import { DEFAULT_AUC, DEFAULT_CTR, DEFAULT_DAYS, DEFAULT_SCALE } from './constants.js';

/** What a caller may set; everything but `rows` has a default. */
export interface GenerateOptions {
  /** Rows to write (1 ≤ rows ≤ 2^31 - 1). */
  rows: number;
  /** Seed of everything random. @default 1 */
  seed?: number;
  /** Cardinality factor on Kaggle's table sizes, in (0, 4]. @default 0.01 */
  scale?: number;
  /** Number of days the rows are split into (in file order, sizes as DLRM's divmod). @default 7 */
  days?: number;
  /** Fraction of popular values whose weight is re-drawn at each day boundary, in [0, 1]. @default 0 */
  drift?: number;
  /** Target CTR, in [0.01, 0.99]. @default 0.25 */
  ctr?: number;
  /** Target Bayes-optimal AUC of the planted model, in [0.55, 0.95]. @default 0.8 */
  auc?: number;
}

export type ResolvedGenerateOptions = Required<GenerateOptions>;

function check(name: string, v: number, ok: boolean, range: string): void {
  if (!ok || !Number.isFinite(v)) throw badConfig(name, `must be ${range}, got ${v}`);
}

/** Fill defaults and validate; throws a `bad_config` PipelineError naming the option. */
export function resolveOptions(o: GenerateOptions): ResolvedGenerateOptions {
  const r: ResolvedGenerateOptions = {
    rows: o.rows,
    seed: o.seed ?? 1,
    scale: o.scale ?? DEFAULT_SCALE,
    days: o.days ?? DEFAULT_DAYS,
    drift: o.drift ?? 0,
    ctr: o.ctr ?? DEFAULT_CTR,
    auc: o.auc ?? DEFAULT_AUC,
  };
  check('rows', r.rows, Number.isInteger(r.rows) && r.rows >= 1 && r.rows <= 2 ** 31 - 1, 'an integer in [1, 2^31-1]');
  check('seed', r.seed, Number.isInteger(r.seed) && r.seed >= 0 && r.seed <= 2 ** 32 - 1, 'an integer in [0, 2^32-1]');
  check('scale', r.scale, r.scale > 0 && r.scale <= 4, 'a number in (0, 4]');
  check('days', r.days, Number.isInteger(r.days) && r.days >= 1 && r.days <= 1000, 'an integer in [1, 1000]');
  check('drift', r.drift, r.drift >= 0 && r.drift <= 1, 'a number in [0, 1]');
  check('ctr', r.ctr, r.ctr >= 0.01 && r.ctr <= 0.99, 'a number in [0.01, 0.99]');
  check('auc', r.auc, r.auc >= 0.55 && r.auc <= 0.95, 'a number in [0.55, 0.95]');
  return r;
}

/**
 * First row of each day, plus the total at the end (length days + 1). Sizes follow
 * DLRM's Kaggle split: divmod(rows, days) with the remainder going to the first days
 * (10,000 rows in 7 days → 1429 × 4 then 1428 × 3).
 */
export function dayStarts(rows: number, days: number): number[] {
  const base = Math.floor(rows / days);
  const extra = rows % days;
  const starts = [0];
  for (let d = 0; d < days; d++) starts.push(starts[d]! + base + (d < extra ? 1 : 0));
  return starts;
}

/**
 * Row ranges [start, end) of the Kaggle split's test and validation halves: the last
 * of 7 pseudo-days, first half (rounded up, as numpy's array_split) test, rest val.
 */
export function kaggleTestVal(rows: number): { test: [number, number]; val: [number, number] } {
  const s = dayStarts(rows, 7);
  const start = s[6]!;
  const mid = start + Math.ceil((rows - start) / 2);
  return { test: [start, mid], val: [mid, rows] };
}
