/**
 * Dense transform (DLRM): missing → 0, negative → 0, then ln(1 + x), as float32.
 *
 *     raw   :  NaN   -3    0    1      260
 *     out   :  0     0     0    0.693  5.565
 */
import type { RowBatch } from '../../../datasets/criteo/batch.js';
import { INT_FEATURE_COUNT } from '../../../datasets/criteo/constants.js';
import type { ParseAddon } from '../../../datasets/criteo/native.js';

/** ln(1 + i) for small integers, as float32: most Criteo counts are below this. */
const LUT_SIZE = 1 << 14;
const LOG_LUT = new Float32Array(LUT_SIZE);
for (let i = 0; i < LUT_SIZE; i++) LOG_LUT[i] = Math.log1p(i);

/** The transform of one value: `x > 0 ? ln(1 + x) : 0` (NaN = missing → 0). */
export function logDense(x: number): number {
  return x > 0 ? Math.log1p(x) : 0;
}

/** rows the native loop leaves to Math.log1p (reused; grown to the batch size) */
let miss = new Int32Array(0);

/**
 * Transform rows [0, batch.rows) of every dense column.
 * @param out 13 columns; row r of feature f goes to `out[f][outOff + r]`
 * @param native the parse addon: its `logDense` does the table lookups (same bits:
 *   the table is this module's, and every other positive value still goes through Math.log1p)
 */
export function logDenseBatch(out: Float32Array[], outOff: number, batch: RowBatch, native?: ParseAddon | null): void {
  const n = batch.rows;
  const cap = batch.capacity;
  const src = batch.dense;
  if (native?.logDense) {
    if (miss.length < n) miss = new Int32Array(n);
    for (let f = 0; f < INT_FEATURE_COUNT; f++) {
      const col = out[f]!;
      const base = f * cap;
      const k = native.logDense(src, base, n, LOG_LUT, col, outOff, miss);
      for (let j = 0; j < k; j++) {
        const r = miss[j]!;
        col[outOff + r] = Math.log1p(src[base + r]!);
      }
    }
    return;
  }
  for (let f = 0; f < INT_FEATURE_COUNT; f++) {
    const col = out[f]!;
    const base = f * cap;
    for (let r = 0; r < n; r++) {
      const x = src[base + r]!;
      const i = x | 0;
      col[outOff + r] = i === x && i >= 0 && i < LUT_SIZE ? LOG_LUT[i]! : x > 0 ? Math.log1p(x) : 0;
    }
  }
}
