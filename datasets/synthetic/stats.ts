/**
 * What the generator measures on the rows it writes: CTR, missing rates, distinct
 * values seen, top-value shares, and the planted model's Bayes metrics overall,
 * per day and on the Kaggle split's test and validation halves. Memory: 6 bytes
 * per row (score key and payload), 12 while the AUC sort runs.
 */
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../criteo/constants.js';
import { PipelineError } from '../../pipeline/errors.js';
import {
  logLoss,
  packPayload,
  radixSort,
  scoreKey,
  subsetAucs,
  SPLIT_NONE,
  SPLIT_TEST,
  SPLIT_VAL,
  type BayesMetrics,
} from './metrics.js';
import { kaggleTestVal } from './options.js';

// Local copies: module bindings read in hot loops can cost a getter call each.
const NC = CAT_FEATURE_COUNT;
const NI = INT_FEATURE_COUNT;

/** A block of generated rows in column-friendly form (row-major, explicit strides). */
export interface RowBlock {
  /** Rows filled. */
  n: number;
  /** Global index of the block's first row. */
  firstRow: number;
  /** Day of every row in the block (blocks never cross a day boundary). */
  day: number;
  /** [n] 0/1 */
  label: Uint8Array;
  /** [n × 26] value rank per categorical feature, -1 = missing */
  cats: Int32Array;
  /** [n × 13] index into the feature's DenseSampler tables, -1 = missing */
  ints: Int32Array;
  /** [n] planted logit (bias + τ·raw) */
  logit: Float64Array;
}

/** Per-day summary in the sidecar. */
export interface DaySummary {
  day: number;
  rows: number;
  ctr: number;
  bayes: BayesMetrics;
}

/** Everything {@link GenerateStats.finish} reports. */
export interface StatsReport {
  rows: number;
  ctr: number;
  /** Fraction of empty cells per feature and over all 39. */
  missing: { int: number[]; cat: number[]; overall: number };
  /** Distinct values of C1..C26 that occur in the rows. */
  distinct: number[];
  /** Share of the most popular value (rank 0) among the non-missing cells of C1..C26. */
  topShare: number[];
  bayes: BayesMetrics;
  /** Kaggle split (7 pseudo-days, last halved): test half and validation half. */
  bayesTest: BayesMetrics;
  bayesVal: BayesMetrics;
  perDay: DaySummary[];
}

/** Per-subset sums: [rows, positives, loss, correct] × (overall, test, val, day 0, …). */
const SUMS = 4;

export class GenerateStats {
  private readonly keys: Uint32Array; // [rows] score keys for the exact AUC
  private readonly payload: Uint16Array; // [rows] label | split << 1 | day << 3
  private readonly seen: Uint8Array[]; // [26][ceil(K/8)] bitsets of values seen
  private readonly catMissing = new Float64Array(NC);
  private readonly intMissing = new Float64Array(NI);
  private readonly topCount = new Float64Array(NC);
  private readonly sums: Float64Array; // [(3 + days) × SUMS]
  private readonly days: number;
  private readonly split: { test: [number, number]; val: [number, number] };

  /**
   * @param rows total rows that will be added
   * @param dayStarts first row of each day plus the total (length days + 1)
   * @param cardinalities table sizes of C1..C26
   */
  constructor(
    readonly rows: number,
    dayStarts: number[],
    cardinalities: readonly number[],
  ) {
    this.days = dayStarts.length - 1;
    if (this.days > 8191) throw new PipelineError('internal', `at most 8191 days can be measured, got ${this.days}`);
    this.keys = new Uint32Array(rows);
    this.payload = new Uint16Array(rows);
    this.seen = cardinalities.map((k) => new Uint8Array(Math.ceil(k / 8)));
    this.sums = new Float64Array((3 + this.days) * SUMS);
    this.split = kaggleTestVal(rows);
  }

  /** Account for one block of rows. */
  add(b: RowBlock): void {
    const [t0, t1] = this.split.test;
    const [v0, v1] = this.split.val;
    const sums = this.sums;
    const dayOff = (3 + b.day) * SUMS;
    for (let i = 0; i < b.n; i++) {
      const g = b.firstRow + i;
      const y = b.label[i]!;
      const z = b.logit[i]!;
      const split = g >= t0 && g < t1 ? SPLIT_TEST : g >= v0 && g < v1 ? SPLIT_VAL : SPLIT_NONE;
      this.keys[g] = scoreKey(z);
      this.payload[g] = packPayload(y, split, b.day);
      const loss = logLoss(z, y);
      const correct = +((z > 0 ? 1 : 0) === y);
      sums[0]!++;
      sums[1] = sums[1]! + y;
      sums[2] = sums[2]! + loss;
      sums[3] = sums[3]! + correct;
      sums[dayOff]!++;
      sums[dayOff + 1] = sums[dayOff + 1]! + y;
      sums[dayOff + 2] = sums[dayOff + 2]! + loss;
      sums[dayOff + 3] = sums[dayOff + 3]! + correct;
      if (split) {
        const o = split * SUMS;
        sums[o]!++;
        sums[o + 1] = sums[o + 1]! + y;
        sums[o + 2] = sums[o + 2]! + loss;
        sums[o + 3] = sums[o + 3]! + correct;
      }
      const co = i * NC;
      for (let f = 0; f < NC; f++) {
        const r = b.cats[co + f]!;
        if (r < 0) {
          this.catMissing[f]!++;
          continue;
        }
        if (r === 0) this.topCount[f]!++;
        const s = this.seen[f]!;
        s[r >>> 3] = s[r >>> 3]! | (1 << (r & 7));
      }
      const io = i * NI;
      for (let j = 0; j < NI; j++) if (b.ints[io + j]! < 0) this.intMissing[j]!++;
    }
  }

  private metrics(subset: number, auc: number): BayesMetrics {
    const o = subset * SUMS;
    const n = this.sums[o]! || 1;
    return { auc, logloss: this.sums[o + 2]! / n, accuracy: this.sums[o + 3]! / n };
  }

  /** Compute the report (sorts the AUC keys in place, so call once, after the last block). */
  finish(): StatsReport {
    const n = this.rows;
    radixSort(this.keys, this.payload);
    const aucs = subsetAucs(this.keys, this.payload, this.days);
    const perDay: DaySummary[] = [];
    for (let d = 0; d < this.days; d++) {
      const o = (3 + d) * SUMS;
      const rows = this.sums[o]!;
      perDay.push({ day: d, rows, ctr: rows ? this.sums[o + 1]! / rows : 0, bayes: this.metrics(3 + d, aucs[3 + d]!) });
    }
    let missCells = 0;
    for (let f = 0; f < NC; f++) missCells += this.catMissing[f]!;
    for (let j = 0; j < NI; j++) missCells += this.intMissing[j]!;
    return {
      rows: n,
      ctr: this.sums[1]! / n,
      missing: {
        int: Array.from(this.intMissing, (c) => c / n),
        cat: Array.from(this.catMissing, (c) => c / n),
        overall: missCells / (n * (NC + NI)),
      },
      distinct: this.seen.map(popcount),
      topShare: Array.from(this.topCount, (c, f) => c / Math.max(1, n - this.catMissing[f]!)),
      bayes: this.metrics(0, aucs[0]!),
      bayesTest: this.metrics(SPLIT_TEST, aucs[SPLIT_TEST]!),
      bayesVal: this.metrics(SPLIT_VAL, aucs[SPLIT_VAL]!),
      perDay,
    };
  }
}

function popcount(bits: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < bits.length; i++) {
    let v = bits[i]!;
    while (v) {
      v &= v - 1;
      c++;
    }
  }
  return c;
}
