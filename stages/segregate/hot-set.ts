/**
 * Choosing the hot set from sampled access counts.
 *
 * Ranking is joint across all tables: count descending, then table ascending,
 * then row ascending — so the same counts always give the same hot set. Rather
 * than sorting every row (34M on Kaggle), the counts are bucketed into levels
 * ({@link CountLevels}); the rank cut falls inside one level, and the rows of
 * that level are taken in (table, row) order.
 *
 * Hot indices are grouped by table: table t's hot rows take the indices
 * [offsets[t], offsets[t+1]) in ascending row order (datasets/segregated.ts).
 */

/** Counts below this are bucketed exactly; larger ones (rare) are kept and sorted. */
const SMALL = 1 << 16;

/**
 * Rows grouped by count value: `hist[c]` rows have count c (< 65536) and `big`
 * lists, descending, every count ≥ 65536 (one entry per row).
 */
export class CountLevels {
  readonly hist = new Float64Array(SMALL);
  readonly big: Uint32Array;
  /** all rows of all tables */
  readonly totalRows: number;
  /** rows with a nonzero count */
  readonly nonzeroRows: number;
  /** sum of all counts (sampled lookups) */
  readonly totalCount: number;

  constructor(counts: readonly Uint32Array[]) {
    const hist = this.hist;
    let rows = 0;
    let nbig = 0;
    let sum = 0;
    for (const c of counts) {
      rows += c.length;
      for (let i = 0; i < c.length; i++) {
        const v = c[i]!;
        sum += v;
        if (v < SMALL) hist[v] = hist[v]! + 1;
        else nbig++;
      }
    }
    const big = new Uint32Array(nbig);
    let k = 0;
    for (const c of counts) {
      for (let i = 0; i < c.length; i++) if (c[i]! >= SMALL) big[k++] = c[i]!;
    }
    big.sort();
    big.reverse();
    this.big = big;
    this.totalRows = rows;
    this.nonzeroRows = rows - hist[0]!;
    this.totalCount = sum;
  }

  /** Visit the levels in descending count order: (count, rows with that count). Zero last. */
  forEachLevel(fn: (count: number, rows: number) => void): void {
    const big = this.big;
    let i = 0;
    while (i < big.length) {
      const v = big[i]!;
      let j = i + 1;
      while (j < big.length && big[j] === v) j++;
      fn(v, j - i);
      i = j;
    }
    for (let c = SMALL - 1; c >= 0; c--) {
      const n = this.hist[c]!;
      if (n > 0) fn(c, n);
    }
  }

  /**
   * Where the top `k` rows end: every row with count > `count` is in, plus the
   * first `take` rows (in table, row order) with count == `count`.
   * `k` must be ≤ totalRows; k = 0 gives take = 0 at count = +Infinity.
   */
  cut(k: number): { count: number; take: number } {
    if (k <= 0) return { count: Infinity, take: 0 };
    let above = 0;
    let result = { count: 0, take: k };
    let found = false;
    this.forEachLevel((count, rows) => {
      if (found) return;
      if (above + rows >= k) {
        result = { count, take: k - above };
        found = true;
      }
      above += rows;
    });
    return result;
  }
}

/** A chosen hot set. */
export interface HotSet {
  /** per table, row → hot index, or -1 for a cold row */
  index: Int32Array[];
  /** length tables + 1: start of each table's block, then hotRows */
  offsets: number[];
  perTable: number[];
  hotRows: number;
  /** hot index → (table, row) as Int32 pairs [t0, r0, t1, r1, ...], length 2·hotRows */
  map: Int32Array;
  /** sampled lookups the hot rows account for */
  hotCount: number;
}

/**
 * Mark rows hot and number them grouped by table, ascending row.
 * A row is hot when its count > `cutCount`, or == `cutCount` and it is among the
 * first `take` such rows in (table, row) order.
 */
export function assignHot(counts: readonly Uint32Array[], cutCount: number, take: number): HotSet {
  const index: Int32Array[] = [];
  const offsets: number[] = [0];
  const perTable: number[] = [];
  let next = 0;
  let left = take;
  let hotCount = 0;
  let map = new Int32Array(1024);
  for (let t = 0; t < counts.length; t++) {
    const c = counts[t]!;
    const idx = new Int32Array(c.length);
    const start = next;
    for (let r = 0; r < c.length; r++) {
      const v = c[r]!;
      let hot = v > cutCount;
      if (!hot && v === cutCount && left > 0) {
        hot = true;
        left--;
      }
      if (hot) {
        if (2 * next === map.length) {
          const grown = new Int32Array(2 * map.length);
          grown.set(map);
          map = grown;
        }
        map[2 * next] = t;
        map[2 * next + 1] = r;
        idx[r] = next++;
        hotCount += v;
      } else idx[r] = -1;
    }
    index.push(idx);
    perTable.push(next - start);
    offsets.push(next);
  }
  return { index, offsets, perTable, hotRows: next, hotCount, map: map.slice(0, 2 * next) };
}

/**
 * Hot set under a row budget: the top `maxRows` rows by (count desc, table asc,
 * row asc), never a zero-count row unless `allowZeroCount`.
 */
export function selectByRows(counts: readonly Uint32Array[], maxRows: number, allowZeroCount: boolean, levels = new CountLevels(counts)): HotSet {
  const limit = allowZeroCount ? levels.totalRows : levels.nonzeroRows;
  const k = Math.max(0, Math.min(Math.floor(maxRows), limit));
  const { count, take } = levels.cut(k);
  return assignHot(counts, count, take);
}

/** Hot set by threshold Λ: every row whose count ≥ `minCount`. */
export function selectByCount(counts: readonly Uint32Array[], minCount: number): HotSet {
  // count > minCount − 1, with no partial level
  return assignHot(counts, minCount - 1, 0);
}
