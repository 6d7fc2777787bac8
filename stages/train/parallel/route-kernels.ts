/**
 * The two sparse kernels of a parallel worker's step (apply.ts calls them), in TypeScript — the
 * twins of `parRoute` / `parApply` in native/blas/parallel.cc and the test oracle. The native ones
 * compute the same bit for bit (same float32 stores, same first-seen summation order).
 *
 *     parRoute   before the barrier, over this worker's slice: validate every id; each lookup's
 *                target (host table f and its id, or the hot table and the hot index) and owner;
 *                gather its embedding row from that target; the lookups counting-sorted by
 *                (owner, target table) with the segment starts
 *     parApply   after the barrier, for every target table: this owner's rows' gradients from
 *                every worker's segment (workers in index order, each in batch order), scaled by
 *                B_j/B, duplicates summed, one row-wise optimizer step per distinct row
 *
 * Table lists have 27 entries: the 26 host tables, then the hot table (index 26; a 1-element
 * dummy when the run has none). `rows[26]` is H.
 */
import { tsScatterTable } from '../model/sparse-kernels.js';
import { HOT_TABLE as HOT, TARGETS, ownerOf } from './shared.js';

const COL0 = new Int32Array([0]);

/** The kernels, native or TypeScript. */
export interface ParallelKernels {
  readonly name: 'ts' | 'native';
  /**
   * @param cats this slice's ids (n = B_k × F; hot indices when `hot`)
   * @param tables 27 tables (26 host, then the hot table this worker reads: shared or its replica)
   * @param reverse per host table row → hot index or −1, or null (no hot table)
   * @param owners per target table row → owner (255 = by hash), or null (hash everywhere)
   * @param replica hot rows are owned by this worker (private replicas, hotBound > 0)
   * @param tgtRow out: each lookup's row in its target; `ord` out: lookups sorted by (owner, target);
   *   `seg` out: K·27 + 1 segment starts; `keys` scratch of n
   * @returns the number of lookups whose target is the hot table, or −(i + 1) for the first id i out of range
   *   (then nothing is written to `emb`)
   */
  parRoute(
    emb: Float32Array, cats: Int32Array, n: number, F: number, d: number, hot: boolean,
    tables: Float32Array[], rows: Int32Array, reverse: Int32Array[] | null, owners: Uint8Array[] | null,
    K: number, k: number, replica: boolean, tgtRow: Int32Array, ord: Int32Array, seg: Int32Array, keys: Int32Array,
  ): number;
  /**
   * @param eg, ord, tgtRow every worker's (cap × F per worker); `seg` every worker's K·27 + 1 starts
   * @param weights, accum, touched 27 each: the tables this worker updates (the hot one: shared or its
   *   replica), row-wise Adagrad accumulators (null: SGD), this worker's touched bitsets
   * @param hasHot whether the run has a hot table (target 26 is skipped otherwise)
   * @param dirty, dirtyList, nDirty replica rows changed since the last reconcile (null without replicas):
   *   rows this call updates are appended in first-seen order
   * @param out out: [distinct host rows, distinct hot rows, lookups computed by another worker]
   * @returns −1, or the collected index of an id out of range (internal error: parRoute checked them)
   */
  parApply(
    eg: Float32Array, ord: Int32Array, tgtRow: Int32Array, seg: Int32Array, sizes: Int32Array, B: number,
    K: number, k: number, cap: number, F: number, d: number,
    weights: Float32Array[], accum: (Float32Array | null)[], touched: Uint8Array[], rows: Int32Array, hasHot: boolean,
    lr: number, eps: number, dirty: Uint8Array | null, dirtyList: Int32Array | null, nDirty: Int32Array | null, out: Float64Array,
  ): number;
}

/** Reusable lists of tsParApply (one per thread: module state is per worker). */
let listIds = new Int32Array(0);
let listG = new Float32Array(0);

/** Distinct ids among ids[0..n) (open addressing). */
let dKeys = new Int32Array(0);
let dStamp = new Int32Array(0);
let dSt = 0;
function distinct(ids: Int32Array, n: number): number {
  if (dKeys.length < 2 * n) {
    let cap = 16;
    while (cap < 2 * n) cap <<= 1;
    dKeys = new Int32Array(cap);
    dStamp = new Int32Array(cap);
    dSt = 0;
  }
  const st = ++dSt;
  const mask = dKeys.length - 1;
  let u = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i]!;
    let h = (Math.imul(id, 0x9e3779b1) >>> 7) & mask;
    for (;;) {
      if (dStamp[h] !== st) { dStamp[h] = st; dKeys[h] = id; u++; break; }
      if (dKeys[h] === id) break;
      h = (h + 1) & mask;
    }
  }
  return u;
}

export const tsParallelKernels: ParallelKernels = {
  name: 'ts',
  parRoute(emb, cats, n, F, d, hot, tables, rows, reverse, owners, K, k, replica, tgtRow, ord, seg, keys) {
    for (let i = 0; i < n; i++) {
      const id = cats[i]!;
      if (id < 0 || id >= rows[hot ? HOT : i % F]!) return -(i + 1);
    }
    const nk = K * TARGETS;
    const cnt = new Int32Array(nk);
    let hotLookups = 0;
    for (let i = 0; i < n; i++) {
      const id = cats[i]!;
      let t: number;
      let r: number;
      if (hot) { t = HOT; r = id; } else {
        const f = i % F;
        const h = reverse ? reverse[f]![id]! : -1;
        if (h >= 0) { t = HOT; r = h; } else { t = f; r = id; }
      }
      if (t === HOT) hotLookups++;
      const o = replica && t === HOT ? k : ownerOf(owners, t, r, K);
      const key = o * TARGETS + t;
      keys[i] = key;
      tgtRow[i] = r;
      cnt[key]!++;
      const src = tables[t]!;
      const s0 = r * d;
      const o0 = i * d;
      for (let c = 0; c < d; c++) emb[o0 + c] = src[s0 + c]!;
    }
    let acc = 0;
    for (let key = 0; key < nk; key++) {
      seg[key] = acc;
      const c = cnt[key]!;
      cnt[key] = acc;
      acc += c;
    }
    seg[nk] = acc;
    for (let i = 0; i < n; i++) ord[cnt[keys[i]!]!++] = i;
    return hotLookups;
  },
  parApply(eg, ord, tgtRow, seg, sizes, B, K, k, cap, F, d, weights, accum, touched, rows, hasHot, lr, eps, dirty, dirtyList, nDirty, out) {
    const nk = K * TARGETS;
    const need = K * cap * F;
    if (listIds.length < need) { listIds = new Int32Array(need); listG = new Float32Array(need * d); }
    const lid = listIds;
    const lg = listG;
    let unique = 0;
    let hotUnique = 0;
    let remote = 0;
    for (let t = 0; t < TARGETS; t++) {
      if (t === HOT && !hasHot) continue;
      let n = 0;
      for (let j = 0; j < K; j++) {
        const s0 = j * (nk + 1) + k * TARGETS + t;
        const lo = seg[s0]!;
        const hi = seg[s0 + 1]!;
        if (hi === lo) continue;
        const base = j * cap * F;
        const scale = sizes[j]! / B;
        for (let p = lo; p < hi; p++) {
          const i = ord[base + p]!;
          lid[n] = tgtRow[base + i]!;
          const o = n * d;
          const i0 = (base + i) * d;
          for (let c = 0; c < d; c++) lg[o + c] = eg[i0 + c]! * scale;
          n++;
        }
        if (j !== k) remote += hi - lo;
      }
      if (n === 0) continue;
      const u = distinct(lid, n);
      if (t === HOT) hotUnique += u;
      else unique += u;
      const bad = tsScatterTable(weights[t]!, accum[t] ?? null, touched[t]!, rows[t]!, d, COL0, 1, 1, lid, n, lg, lr, eps);
      if (bad >= 0) return bad;
      if (t === HOT && dirty && dirtyList && nDirty) {
        let m = nDirty[0]!;
        for (let i = 0; i < n; i++) {
          const h = lid[i]!;
          if (dirty[h] === 0) { dirty[h] = 1; dirtyList[m++] = h; }
        }
        nDirty[0] = m;
      }
    }
    out[0] = unique;
    out[1] = hotUnique;
    out[2] = remote;
    return -1;
  },
};
