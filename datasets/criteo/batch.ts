/**
 * A block of parsed raw Criteo rows, column-major over flat typed arrays so the
 * parser writes and the preprocess ops read without any per-row allocation.
 *
 * Index convention: row `r` of feature `f` lives at `f * capacity + r`
 * (0 ≤ r < rows ≤ capacity). Values are *raw*: no log transform, no ids.
 *
 *     label      Int8Array(capacity)         0 / 1
 *     dense      Float64Array(13·capacity)   I1..I13 as read; NaN = missing
 *     cats       Uint32Array(26·capacity)    C1..C26 hex value as uint32
 *     catPresent Uint8Array(26·capacity)     1 = present, 0 = missing (empty field)
 */
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from './constants.js';

/**
 * Default rows per batch: large enough to amortise calls, small enough for L2-ish locality; not a
 * power of two, so the 66 columns the parser writes row by row do not all map to the same L1 sets
 * (16,384 rows: every column start ≡ 0 mod 4 KiB).
 */
export const DEFAULT_BATCH_ROWS = 16_400;

export interface RowBatch {
  capacity: number;
  rows: number;
  label: Int8Array;
  dense: Float64Array;
  cats: Uint32Array;
  catPresent: Uint8Array;
}

/** Allocate an empty batch of `capacity` rows. */
export function createRowBatch(capacity = DEFAULT_BATCH_ROWS): RowBatch {
  return {
    capacity,
    rows: 0,
    label: new Int8Array(capacity),
    dense: new Float64Array(INT_FEATURE_COUNT * capacity),
    cats: new Uint32Array(CAT_FEATURE_COUNT * capacity),
    catPresent: new Uint8Array(CAT_FEATURE_COUNT * capacity),
  };
}
