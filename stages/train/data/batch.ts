/**
 * A training batch in the layout the model reads: row-major, one allocation per
 * field, sized for `capacity` rows and reused batch after batch.
 *
 *     labels  Float32Array(capacity)        0/1
 *     dense   Float32Array(capacity × 13)   row i at [13·i, 13·i + 13)
 *     cats    Int32Array(capacity × 26)     row i at [26·i, 26·i + 26): table ids (or hot indices)
 *
 * Only the first `size` rows are valid.
 */
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../../../datasets/criteo/constants.js';

export const NUM_DENSE = INT_FEATURE_COUNT;
export const NUM_TABLES = CAT_FEATURE_COUNT;

export interface Batch {
  /** valid rows */
  size: number;
  readonly capacity: number;
  readonly labels: Float32Array;
  readonly dense: Float32Array;
  readonly cats: Int32Array;
}

/** Allocate a batch buffer for up to `capacity` rows. */
export function allocBatch(capacity: number): Batch {
  return {
    size: 0,
    capacity,
    labels: new Float32Array(capacity),
    dense: new Float32Array(capacity * NUM_DENSE),
    cats: new Int32Array(capacity * NUM_TABLES),
  };
}

/**
 * Keep only the rows with `keep[i] !== 0`, compacting in place (order preserved).
 * @returns the new size
 */
export function compactBatch(b: Batch, keep: Uint8Array): number {
  let w = 0;
  for (let r = 0; r < b.size; r++) {
    if (keep[r] === 0) continue;
    if (w !== r) {
      b.labels[w] = b.labels[r]!;
      b.dense.copyWithin(w * NUM_DENSE, r * NUM_DENSE, (r + 1) * NUM_DENSE);
      b.cats.copyWithin(w * NUM_TABLES, r * NUM_TABLES, (r + 1) * NUM_TABLES);
    }
    w++;
  }
  b.size = w;
  return w;
}
