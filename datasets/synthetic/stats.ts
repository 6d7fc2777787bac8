/**
 * What the generator measures on the rows it writes: CTR, missing rates, distinct
 * values seen, top-value shares, and the planted model's Bayes metrics overall,
 * per day and on the Kaggle split's test and validation halves.
 */
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../criteo/constants.js';
import { aucOfKeys, LossSums, packKey, type BayesMetrics } from './metrics.js';
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

export class GenerateStats {
  private readonly keys: Float64Array; // [rows] packed (logit, label) for the exact AUC
  private readonly seen: Uint8Array[]; // [26][ceil(K/8)] bitsets of values seen
  private readonly catMissing = new Float64Array(NC);
  private readonly intMissing = new Float64Array(NI);
  private readonly topCount = new Float64Array(NC);
  private readonly all = new LossSums();
  private readonly test = new LossSums();
  private readonly val = new LossSums();
  private readonly days: LossSums[];
  private readonly split: { test: [number, number]; val: [number, number] };

  /**
   * @param rows total rows that will be added
   * @param dayStarts first row of each day plus the total (length days + 1)
   * @param cardinalities table sizes of C1..C26
   */
  constructor(
    readonly rows: number,
    private readonly dayStarts: number[],
    cardinalities: readonly number[],
  ) {
    this.keys = new Float64Array(rows);
    this.seen = cardinalities.map((k) => new Uint8Array(Math.ceil(k / 8)));
    this.days = dayStarts.slice(1).map(() => new LossSums());
    this.split = kaggleTestVal(rows);
  }

  /** Account for one block of rows. */
  add(b: RowBlock): void {
    const day = this.days[b.day]!;
    const [t0, t1] = this.split.test;
    const [v0, v1] = this.split.val;
    for (let i = 0; i < b.n; i++) {
      const g = b.firstRow + i;
      const y = b.label[i]!;
      const z = b.logit[i]!;
      this.keys[g] = packKey(z, y);
      this.all.add(z, y);
      day.add(z, y);
      if (g >= t0 && g < t1) this.test.add(z, y);
      else if (g >= v0 && g < v1) this.val.add(z, y);
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

  /** Compute the report (sorts the AUC keys, so call once, after the last block). */
  finish(): StatsReport {
    const n = this.rows;
    const auc = (a: number, b: number): number => aucOfKeys(this.keys.slice(a, b));
    const [t0, t1] = this.split.test;
    const [v0, v1] = this.split.val;
    const bayesTest = this.test.metrics(auc(t0, t1));
    const bayesVal = this.val.metrics(auc(v0, v1));
    const perDay = this.days.map((s, d) => ({
      day: d,
      rows: s.rows,
      ctr: s.rows ? s.positives / s.rows : 0,
      bayes: s.metrics(auc(this.dayStarts[d]!, this.dayStarts[d + 1]!)),
    }));
    const bayes = this.all.metrics(aucOfKeys(this.keys));
    let missCells = 0;
    for (let f = 0; f < NC; f++) missCells += this.catMissing[f]!;
    for (let j = 0; j < NI; j++) missCells += this.intMissing[j]!;
    return {
      rows: n,
      ctr: this.all.positives / n,
      missing: {
        int: Array.from(this.intMissing, (c) => c / n),
        cat: Array.from(this.catMissing, (c) => c / n),
        overall: missCells / (n * (NC + NI)),
      },
      distinct: this.seen.map(popcount),
      topShare: Array.from(this.topCount, (c, f) => c / Math.max(1, n - this.catMissing[f]!)),
      bayes,
      bayesTest,
      bayesVal,
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
