/**
 * Row selection for incremental checkpoints: one pass over a table's touched
 * bitset (bit r of the bitset = byte r>>3, mask 1<<(r&7)), skipping zero bytes,
 * never a diff of the whole table. Kernels allocate nothing except when the
 * caller's id buffer must grow.
 */

/** A growable Int32 buffer reused across saves. */
export class IdBuffer {
  data: Int32Array;
  constructor(capacity = 1024) {
    this.data = new Int32Array(capacity);
  }
  grow(): Int32Array {
    const next = new Int32Array(this.data.length * 2);
    next.set(this.data);
    this.data = next;
    return next;
  }
}

/**
 * Ids (ascending) of rows to store: touched rows whose ‖weights[r] − shadow[r]‖∞ > threshold.
 * With `shadow` null every touched row is selected (threshold 0: exact).
 *
 * @param out    receives the ids in out.data[0..n)
 * @param touched bitset, ceil(rows/8) bytes
 * @param weights rows×dim
 * @param shadow  rows×dim last stored values, or null
 * @returns n, the number of ids selected
 */
export function selectRows(
  out: IdBuffer,
  touched: Uint8Array,
  rows: number,
  weights: Float32Array,
  shadow: Float32Array | null,
  dim: number,
  threshold: number,
): number {
  let ids = out.data;
  let n = 0;
  const nbytes = Math.min(touched.length, (rows + 7) >>> 3);
  for (let byte = 0; byte < nbytes; byte++) {
    const bits = touched[byte]!;
    if (bits === 0) continue;
    for (let k = 0; k < 8; k++) {
      if ((bits & (1 << k)) === 0) continue;
      const r = (byte << 3) + k;
      if (r >= rows) break;
      if (shadow !== null) {
        const o = r * dim;
        let changed = false;
        for (let j = 0; j < dim; j++) {
          // `!(d <= t)` so a NaN counts as a change
          if (!(Math.abs(weights[o + j]! - shadow[o + j]!) <= threshold)) {
            changed = true;
            break;
          }
        }
        if (!changed) continue;
      }
      if (n === ids.length) ids = out.grow();
      ids[n++] = r;
    }
  }
  return n;
}

/**
 * Copy rows `ids[0..n)` of src (rows×width) into dst (n×width), in order.
 * @param dst n×width
 */
export function gatherRows(dst: Float32Array, src: Float32Array, ids: Int32Array, n: number, width: number): void {
  for (let i = 0; i < n; i++) {
    const s = ids[i]! * width;
    const d = i * width;
    for (let j = 0; j < width; j++) dst[d + j] = src[s + j]!;
  }
}

/** Clear the touched bits of rows ids[0..n). */
export function clearBits(touched: Uint8Array, ids: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = ids[i]!;
    touched[r >>> 3] = touched[r >>> 3]! & ~(1 << (r & 7));
  }
}

/** dst[ids[i]] = src[ids[i]] for i < n (both rows×width): refresh the shadow copy of stored rows. */
export function copyRows(dst: Float32Array, src: Float32Array, ids: Int32Array, n: number, width: number): void {
  for (let i = 0; i < n; i++) {
    const o = ids[i]! * width;
    for (let j = 0; j < width; j++) dst[o + j] = src[o + j]!;
  }
}
