/**
 * DLRM's `--max-ind-range` hashing: each categorical value becomes
 * `value % range` before it is mapped to an id, capping a table at `range`
 * distinct values (+ the reserved missing / OOV ids).
 *
 *     raw   : 0x05db9164 (98275684)   0x00000007
 *     % 1000: 684                     7
 */

/**
 * Reduce `vals[off, off + n)` modulo `range`, in place.
 * @param vals uint32 values
 * @param range > 0
 */
export function modulo(vals: Uint32Array, off: number, n: number, range: number): void {
  for (let i = off; i < off + n; i++) vals[i] = vals[i]! % range;
}
