/**
 * Where each split's rows lie. For `kaggle` and `days` the splits are
 * contiguous ranges of the rows in input order (global row indices, half-open):
 *
 *     [0, trainEnd) train   [trainEnd, testEnd) test   [testEnd, total) val
 *
 * `random` assigns each row on its own (see {@link RandomSplitter}).
 */
import { KAGGLE_DAYS } from '../../datasets/criteo/constants.js';
import type { SplitName } from '../../datasets/preprocessed.js';
import { Rng } from '../../pipeline/rng.js';

export interface SplitRange {
  split: SplitName;
  start: number;
  end: number;
}

/**
 * Rows per pseudo-day (DLRM `divmod`): the remainder goes to the first days.
 * @example kaggleDaySizes(10_000) → [1429, 1429, 1429, 1429, 1428, 1428, 1428]
 */
export function kaggleDaySizes(total: number, days = KAGGLE_DAYS): number[] {
  const base = Math.floor(total / days);
  const extra = total % days;
  return Array.from({ length: days }, (_, d) => base + (d < extra ? 1 : 0));
}

/** Split the last day's rows: the first half (rounded up, as `np.array_split`) tests, the rest validates. */
function lastDayRanges(trainEnd: number, total: number): SplitRange[] {
  const last = total - trainEnd;
  const testEnd = trainEnd + Math.ceil(last / 2);
  return [
    { split: 'train', start: 0, end: trainEnd },
    { split: 'test', start: trainEnd, end: testEnd },
    { split: 'val', start: testEnd, end: total },
  ];
}

/** Kaggle split: days 0–5 train, day 6 halved into test then val. */
export function kaggleRanges(total: number): SplitRange[] {
  const sizes = kaggleDaySizes(total);
  const trainEnd = sizes.slice(0, KAGGLE_DAYS - 1).reduce((a, b) => a + b, 0);
  return lastDayRanges(trainEnd, total);
}

/** Day-file split: every file but the last trains; the last file's rows are halved into test then val. */
export function dayFileRanges(rowsPerFile: number[]): SplitRange[] {
  const total = rowsPerFile.reduce((a, b) => a + b, 0);
  return lastDayRanges(total - (rowsPerFile[rowsPerFile.length - 1] ?? 0), total);
}

/** Split index per row for the random split: 0 train, 1 val, 2 test. */
export const RANDOM_SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

/** Seeded per-row assignment with fixed [train, val, test] ratios. */
export class RandomSplitter {
  private readonly rng: Rng;
  private readonly c0: number;
  private readonly c1: number;

  constructor(ratios: [number, number, number], seed: number) {
    this.rng = Rng.derive(seed, 0x5e1177);
    this.c0 = ratios[0];
    this.c1 = ratios[0] + ratios[1];
  }

  /** 0 = train, 1 = val, 2 = test. */
  next(): number {
    const u = this.rng.float();
    return u < this.c0 ? 0 : u < this.c1 ? 1 : 2;
  }
}
