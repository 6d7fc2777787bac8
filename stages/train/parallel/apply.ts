/**
 * A worker's sparse side: gathering its slice's rows, applying the sparse updates of the rows
 * it owns, and its hot replica (hotBound > 0).
 *
 * Cold rows (and, at hotBound 0, hot rows) live once, in shared memory. Every row has exactly
 * one owner (shared.ts ownerOf: the graph partition's, else a hash). Before the step's barrier
 * each worker sorts its lookups by (owner, target table) ({@link SparseApplier.classify}); after
 * it the owner collects the gradient of each of its rows from every worker's segment (workers
 * in index order, each in its batch order), and applies the row-wise optimizer once to the sum —
 * with the same kernel (scatterTable) as the one-worker trainer. No two threads ever write the
 * same row, and reads (the gathers) are separated from writes by the barriers, so no lock is
 * needed and no update can be lost; the result is the one-worker update of the merged batch up
 * to float summation order (exact, not Hogwild). Touched bits go to per-worker bitsets (two
 * owners may share a bitset byte), which the main thread ORs into the tables' own.
 *
 * hotBound s > 0: each worker applies its own hot gradients to a private replica (local,
 * stale for others); every s steps the replicas reconcile: each worker posts its dirty rows'
 * deltas against the shared copy S, each row's owner adds the deltas to S in worker order,
 * and every worker refreshes those rows from S (HET-GMP's bounded staleness).
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { TrainConfig } from '../config.js';
import { NUM_TABLES } from '../data/batch.js';
import type { Kernels } from '../engine/kernels.js';
import { HOT_TABLE, S, TARGETS, barrier, ownerOf, type SharedLayout } from './shared.js';

const COL0 = new Int32Array([0]);

/** Distinct values among ids[0..n) (open addressing, reusable). */
class DistinctCounter {
  private keys = new Int32Array(0);
  private stamp = new Int32Array(0);
  private mask = 0;
  private st = 0;
  count(ids: Int32Array, n: number): number {
    if (this.keys.length < 2 * n) {
      let cap = 16;
      while (cap < 2 * n) cap <<= 1;
      this.keys = new Int32Array(cap);
      this.stamp = new Int32Array(cap);
      this.mask = cap - 1;
      this.st = 0;
    }
    const st = ++this.st;
    const { keys, stamp, mask } = this;
    let u = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      let h = (Math.imul(id, 0x9e3779b1) >>> 7) & mask;
      for (;;) {
        if (stamp[h] !== st) { stamp[h] = st; keys[h] = id; u++; break; }
        if (keys[h] === id) break;
        h = (h + 1) & mask;
      }
    }
    return u;
  }
}

export class SparseApplier {
  private readonly K: number;
  private readonly d: number;
  private readonly lr: number;
  private readonly eps: number;
  /** the hot table this worker reads: the shared one (bound 0) or its replica */
  private readonly hotW: Float32Array | null;
  private readonly hotA: Float32Array | null;
  private readonly hotCols: Float32Array[];
  private readonly hotRows: Int32Array;
  private readonly hostRows: Int32Array;
  private readonly hostW: Float32Array[];
  /** replica rows changed since the last reconcile */
  private readonly dirty: Uint8Array;
  private readonly dirtyList: Int32Array;
  private nDirty = 0;
  private lastReconcile = 0;
  private readonly listIds: Int32Array;
  private readonly listG: Float32Array;
  private readonly hotIds: Int32Array;
  private readonly hotG: Float32Array;
  private readonly seen: Int32Array;
  private readonly distinct = new DistinctCounter();
  private readonly keyScratch: Int32Array;
  private readonly countScratch: Int32Array;
  private readonly hotBound: number;
  private hotLookupsStep = 0;

  constructor(private readonly L: SharedLayout, private readonly k: number, cfg: TrainConfig, private readonly kernels: Kernels, private readonly replica: boolean) {
    this.K = L.K;
    this.d = L.dim;
    this.lr = cfg.optim.sparse.lr;
    this.eps = cfg.optim.sparse.eps;
    const H = L.H;
    const d = this.d;
    this.hotW = H > 0 ? (replica ? new Float32Array(H * d) : L.weights[HOT_TABLE]!) : null;
    const sa = L.accum[HOT_TABLE] ?? null;
    this.hotA = H > 0 && sa ? (replica ? new Float32Array(H) : sa) : null;
    this.hotCols = this.hotW ? new Array<Float32Array>(NUM_TABLES).fill(this.hotW) : [];
    this.hotRows = new Int32Array(NUM_TABLES).fill(Math.max(1, H));
    this.hostW = L.weights.slice(0, NUM_TABLES);
    this.hostRows = Int32Array.from(L.rows.slice(0, NUM_TABLES));
    this.dirty = new Uint8Array(replica ? H : 0);
    this.dirtyList = new Int32Array(replica ? H : 0);
    const n = L.K * L.cap;
    this.listIds = new Int32Array(n);
    this.listG = new Float32Array(n * d);
    this.hotIds = new Int32Array(H > 0 ? n * NUM_TABLES : 0);
    this.hotG = new Float32Array(H > 0 ? n * NUM_TABLES * d : 0);
    this.seen = new Int32Array(replica ? H : 0).fill(-1);
    this.keyScratch = new Int32Array(L.cap * NUM_TABLES);
    this.countScratch = new Int32Array(L.K * TARGETS);
    this.hotBound = Math.max(1, cfg.parallel.hotBound);
  }

  /** replica ← the shared hot table (start, after a restore). */
  loadReplica(step: number): void {
    if (!this.replica || !this.hotW) return;
    this.hotW.set(this.L.weights[HOT_TABLE]!.subarray(0, this.hotW.length));
    if (this.hotA) this.hotA.set(this.L.accum[HOT_TABLE]!.subarray(0, this.hotA.length));
    for (let i = 0; i < this.nDirty; i++) this.dirty[this.dirtyList[i]!] = 0;
    this.nDirty = 0;
    this.lastReconcile = step;
  }

  /** Per-replica Slipstream, the window's start: this worker's snapshot slot ← its replica. */
  snapshotReplica(): void {
    const snap = this.L.slipSnap;
    if (!snap || !this.hotW) throw new PipelineError('internal', `parallel worker ${this.k}: a Slipstream snapshot without replicas`);
    const n = this.hotW.length;
    snap.subarray(this.k * n, (this.k + 1) * n).set(this.hotW);
  }

  /** Per-replica Slipstream, the window's end: Δ[h] = ‖replica[h] − snapshot[h]‖∞ into this worker's Δ slot. */
  replicaDelta(): void {
    const snap = this.L.slipSnap;
    const delta = this.L.slipDelta;
    const w = this.hotW;
    if (!snap || !delta || !w) throw new PipelineError('internal', `parallel worker ${this.k}: a Slipstream Δ without replicas`);
    const d = this.d;
    const H = w.length / d;
    const s0 = this.k * H * d;
    const o = this.k * H;
    for (let h = 0; h < H; h++) {
      let m = 0;
      const r = h * d;
      for (let c = 0; c < d; c++) {
        const a = Math.abs(w[r + c]! - snap[s0 + r + c]!);
        if (a > m) m = a;
      }
      delta[o + h] = m;
    }
  }

  /** emb[B×26×d] ← this slice's rows: the hot table (hot batch), else the host tables with hot rows from the hot table. */
  gather(hot: boolean, cats: Int32Array, B: number, emb: Float32Array): void {
    const d = this.d;
    const bad = hot
      ? this.kernels.gather(emb, this.hotCols, this.hotRows, cats, B, NUM_TABLES, d)
      : this.kernels.gather(emb, this.hostW, this.hostRows, cats, B, NUM_TABLES, d);
    if (bad >= 0) {
      const f = bad % NUM_TABLES;
      throw new PipelineError('bad_input', `embedding id ${cats[bad]} of column ${f} in batch row ${Math.floor(bad / NUM_TABLES)} is outside table rows`, {
        field: `C${f + 1}`, hint: 'the data and the table sizes come from different preprocess runs, or the hot remap is stale',
      });
    }
    const rev = this.L.reverse;
    if (hot || !rev || !this.hotW) return;
    const w = this.hotW;
    for (let f = 0; f < NUM_TABLES; f++) {
      const rv = rev[f]!;
      for (let b = 0; b < B; b++) {
        const i = b * NUM_TABLES + f;
        const h = rv[cats[i]!]!;
        if (h < 0) continue;
        const o = i * d;
        const s0 = h * d;
        for (let c = 0; c < d; c++) emb[o + c] = w[s0 + c]!;
      }
    }
  }

  /**
   * Before the step's barrier, over this worker's own slice: each lookup's target (host table f
   * and its id, or the hot table and the hot index) and owner (itself for its replica), then the
   * lookups sorted by (owner, target table) — a counting sort into L.ord with segment starts in
   * L.seg — so each owner later reads only its own rows.
   */
  classify(hot: boolean, Bk: number, stats: Float64Array): void {
    const { L, K, k } = this;
    const owners = L.owners;
    const rev = L.reverse;
    const n = Bk * NUM_TABLES;
    const base = k * L.cap * NUM_TABLES;
    const cats = L.cats;
    const tgtRow = L.tgtRow;
    const keys = this.keyScratch;
    const cnt = this.countScratch;
    cnt.fill(0);
    let hotLookups = 0;
    for (let i = 0; i < n; i++) {
      const id = cats[base + i]!;
      let t: number;
      let r: number;
      if (hot) { t = HOT_TABLE; r = id; } else {
        const f = i % NUM_TABLES;
        const h = rev ? rev[f]![id]! : -1;
        if (h >= 0) { t = HOT_TABLE; r = h; } else { t = f; r = id; }
      }
      if (t === HOT_TABLE) hotLookups++;
      const o = this.replica && t === HOT_TABLE ? k : ownerOf(owners, t, r, K);
      const key = o * TARGETS + t;
      keys[i] = key;
      tgtRow[base + i] = r;
      cnt[key]!++;
    }
    const nk = K * TARGETS;
    const seg = L.seg;
    const s0 = k * (nk + 1);
    let acc = 0;
    for (let key = 0; key < nk; key++) {
      seg[s0 + key] = acc;
      const c = cnt[key]!;
      cnt[key] = acc;
      acc += c;
    }
    seg[s0 + nk] = acc;
    const ord = L.ord;
    for (let i = 0; i < n; i++) ord[base + cnt[keys[i]!]!++] = i;
    stats[S.hotLookups] = stats[S.hotLookups]! + hotLookups;
    this.hotLookupsStep = hotLookups;
  }

  /**
   * After the step's barrier: for each target table, gather the gradients of this worker's rows
   * from every worker's segment (workers in index order, each in its batch order), scaled by
   * B_j/B, and apply the row-wise optimizer once per distinct row (with a replica: its own hot
   * gradients to its replica).
   */
  apply(step: number, B: number, stats: Float64Array): void {
    const { L, K, k, d } = this;
    const nk = K * TARGETS;
    const eg = L.embGrad;
    const ids = this.listIds;
    const g = this.listG;
    const hotIds = this.hotIds;
    const hotG = this.hotG;
    let remote = 0;
    let unique = 0;
    let hotUnique = 0;
    for (let t = 0; t < TARGETS; t++) {
      const isHot = t === HOT_TABLE;
      if (isHot && !this.hotW) continue;
      const lid = isHot ? hotIds : ids;
      const lg = isHot ? hotG : g;
      let n = 0;
      for (let j = 0; j < K; j++) {
        const s0 = j * (nk + 1) + k * TARGETS + t;
        const lo = L.seg[s0]!;
        const hi = L.seg[s0 + 1]!;
        if (hi === lo) continue;
        const base = j * L.cap * NUM_TABLES;
        const scale = L.sizes[j]! / B;
        for (let p = lo; p < hi; p++) {
          const i = L.ord[base + p]!;
          lid[n] = L.tgtRow[base + i]!;
          const o = n * d;
          const i0 = (base + i) * d;
          for (let c = 0; c < d; c++) lg[o + c] = eg[i0 + c]! * scale;
          n++;
        }
        if (j !== k) remote += hi - lo;
      }
      if (n === 0) continue;
      const u = this.distinct.count(lid, n);
      if (isHot) {
        hotUnique += u;
        this.scatter(this.hotW!, this.hotA, L.touched[k]![HOT_TABLE]!, Math.max(1, L.H), lid, n, lg);
        if (this.replica) {
          for (let i = 0; i < n; i++) {
            const h = lid[i]!;
            if (this.dirty[h] === 0) { this.dirty[h] = 1; this.dirtyList[this.nDirty++] = h; }
          }
        }
      } else {
        unique += u;
        this.scatter(L.weights[t]!, L.accum[t] ?? null, L.touched[k]![t]!, L.rows[t]!, lid, n, lg);
      }
    }
    stats[S.coldUnique] = stats[S.coldUnique]! + unique;
    stats[S.hotUnique] = stats[S.hotUnique]! + hotUnique;
    stats[S.remoteRows] = stats[S.remoteRows]! + remote;
    stats[S.sparseBytes] = stats[S.sparseBytes]! + remote * (d * 4 + 8);
    if (this.replica) {
      const stale = Math.min(step - this.lastReconcile, step % this.hotBound);
      stats[S.staleSum] = stats[S.staleSum]! + this.hotLookupsStep * stale;
      if (this.hotLookupsStep > 0 && stale > stats[S.staleMax]!) stats[S.staleMax] = stale;
    }
  }

  private scatter(w: Float32Array, accum: Float32Array | null, touched: Uint8Array, rows: number, ids: Int32Array, n: number, g: Float32Array): void {
    const bad = this.kernels.scatterTable(w, accum, touched, rows, this.d, COL0, 1, 1, ids, n, g, this.lr, this.eps);
    if (bad >= 0) throw new PipelineError('internal', `parallel apply: row id ${ids[bad]} outside [0, ${rows})`);
  }

  /**
   * hotBound > 0 (a no-op otherwise): post this replica's dirty rows (deltas against S), barrier,
   * owners add the deltas to S in worker order, barrier, every worker refreshes the union of the
   * posted rows from S. @param step the step count now (staleness restarts from it)
   */
  reconcile(step: number, stats: Float64Array): void {
    const { L, K, k, d } = this;
    if (!this.replica || !this.hotW || !L.hotIds || !L.hotDelta || !L.hotCount) return;
    const H = L.H;
    const stride = d + 1;
    const S0 = L.weights[HOT_TABLE]!;
    const SA = L.accum[HOT_TABLE] ?? null;
    const w = this.hotW;
    const a = this.hotA;
    let n = 0;
    for (let i = 0; i < this.nDirty; i++) {
      const h = this.dirtyList[i]!;
      this.dirty[h] = 0;
      L.hotIds[k * H + n] = h;
      const o = (k * H + n) * stride;
      for (let c = 0; c < d; c++) L.hotDelta[o + c] = w[h * d + c]! - S0[h * d + c]!;
      L.hotDelta[o + d] = a && SA ? a[h]! - SA[h]! : 0;
      n++;
    }
    this.nDirty = 0;
    L.hotCount[k] = n;
    barrier(L.ctrl, K);
    const owners = L.owners;
    const touched = L.touched[k]![HOT_TABLE]!;
    let rows = 0;
    let conflicts = 0;
    const seen = this.seen;
    for (let j = 0; j < K; j++) {
      const c = L.hotCount[j]!;
      for (let i = 0; i < c; i++) {
        const h = L.hotIds[j * H + i]!;
        if (ownerOf(owners, HOT_TABLE, h, K) !== k) continue;
        const o = (j * H + i) * stride;
        for (let q = 0; q < d; q++) S0[h * d + q] = S0[h * d + q]! + L.hotDelta[o + q]!;
        if (SA) SA[h] = SA[h]! + L.hotDelta[o + d]!;
        touched[h >>> 3] = touched[h >>> 3]! | (1 << (h & 7));
        if (seen[h] === -1) { seen[h] = j; rows++; } else if (seen[h]! >= 0) { seen[h] = -2; conflicts++; }
      }
    }
    for (let j = 0; j < K; j++) {
      const c = L.hotCount[j]!;
      for (let i = 0; i < c; i++) seen[L.hotIds[j * H + i]!] = -1;
    }
    barrier(L.ctrl, K);
    let pulled = 0;
    for (let j = 0; j < K; j++) {
      const c = L.hotCount[j]!;
      for (let i = 0; i < c; i++) {
        const h = L.hotIds[j * H + i]!;
        for (let q = 0; q < d; q++) w[h * d + q] = S0[h * d + q]!;
        if (a && SA) a[h] = SA[h]!;
        pulled++;
      }
    }
    barrier(L.ctrl, K); // the posted lists are read by everyone before the next reconcile overwrites them
    stats[S.hotBytes] = stats[S.hotBytes]! + (n + pulled) * stride * 4;
    stats[S.reconciles] = stats[S.reconciles]! + (k === 0 ? 1 : 0);
    stats[S.conflictRows] = stats[S.conflictRows]! + conflicts;
    stats[S.reconciledRows] = stats[S.reconciledRows]! + rows;
    this.lastReconcile = step;
  }
}
