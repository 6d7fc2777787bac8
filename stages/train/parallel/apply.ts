/**
 * A worker's sparse side: gathering its slice's rows, applying the sparse updates of the rows
 * it owns, and its hot replica (hotBound > 0).
 *
 * Cold rows (and, at hotBound 0, hot rows) live once, in shared memory. Every row has exactly
 * one owner (shared.ts ownerOf: the graph partition's, else a hash). Before the step's barrier
 * each worker routes its lookups (gathers each row from its target table and sorts the lookups by
 * (owner, target table)); after it the owner collects the gradient of each of its rows from every
 * worker's segment (workers in index order, each in its batch order) and applies the row-wise
 * optimizer once to the sum, with the row loops of the one-worker trainer's scatterTable. Each is
 * one kernel call (route-kernels.ts parRoute / parApply; native in native/blas/parallel.cc). No two
 * threads ever write the same row, and reads (the gathers) are separated from writes by the barriers, so no lock is
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
import type { ParallelKernels } from './route-kernels.js';
import { HOT_TABLE, S, TARGETS, barrier, ownerOf, type SharedLayout } from './shared.js';

/** out[h] = ‖w[h] − snap[h]‖∞ over H rows of dim d: a replica row's staleness over a Slipstream window. */
export function replicaDelta(out: Float32Array, w: Float32Array, snap: Float32Array, H: number, d: number): void {
  for (let h = 0; h < H; h++) {
    let m = 0;
    const r = h * d;
    for (let c = 0; c < d; c++) {
      const a = Math.abs(w[r + c]! - snap[r + c]!);
      if (a > m) m = a;
    }
    out[h] = m;
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
  /** replica rows changed since the last reconcile */
  private readonly dirty: Uint8Array;
  private readonly dirtyList: Int32Array;
  private nDirty = 0;
  private lastReconcile = 0;
  private readonly seen: Int32Array;
  private readonly keyScratch: Int32Array;
  private readonly hotBound: number;
  private readonly par: ParallelKernels;
  /** the 27 target tables as the kernels take them (26 host, the hot one this worker reads) and their rows (hot: H) */
  private readonly tgtW: Float32Array[];
  private readonly tgtA: (Float32Array | null)[];
  private readonly tgtRows: Int32Array;
  private readonly tgtTouched: Uint8Array[];
  private readonly nDirtyBox = new Int32Array(1);
  private readonly applyOut = new Float64Array(3);
  private hotLookupsStep = 0;

  constructor(private readonly L: SharedLayout, private readonly k: number, cfg: TrainConfig, kernels: Kernels, private readonly replica: boolean) {
    this.K = L.K;
    this.d = L.dim;
    this.lr = cfg.optim.sparse.lr;
    this.eps = cfg.optim.sparse.eps;
    const H = L.H;
    const d = this.d;
    this.hotW = H > 0 ? (replica ? new Float32Array(H * d) : L.weights[HOT_TABLE]!) : null;
    const sa = L.accum[HOT_TABLE] ?? null;
    this.hotA = H > 0 && sa ? (replica ? new Float32Array(H) : sa) : null;
    this.dirty = new Uint8Array(replica ? H : 0);
    this.dirtyList = new Int32Array(replica ? H : 0);
    this.seen = new Int32Array(replica ? H : 0).fill(-1);
    this.keyScratch = new Int32Array(L.cap * NUM_TABLES);
    this.hotBound = Math.max(1, cfg.parallel.hotBound);
    this.par = kernels.parallel;
    this.tgtW = [...L.weights.slice(0, NUM_TABLES), this.hotW ?? new Float32Array(1)];
    this.tgtA = [...L.accum.slice(0, NUM_TABLES).map((x) => x ?? null), this.hotA];
    this.tgtRows = Int32Array.from([...L.rows.slice(0, NUM_TABLES), H]);
    const touched = L.touched[k]!;
    this.tgtTouched = touched.length >= TARGETS ? touched : [...touched, new Uint8Array(1)]; // baseline: no hot table
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
    replicaDelta(delta.subarray(this.k * H, (this.k + 1) * H), w, snap.subarray(this.k * H * d, (this.k + 1) * H * d), H, d);
  }

  /**
   * Before the step's barrier, over this worker's slice (parRoute): every id checked; each lookup's
   * target (host table f and its id, or the hot table and the hot index — a cold batch's hot rows
   * come from the hot table) and owner (itself for its replica); emb[B×26×d] ← the target rows;
   * the lookups sorted by (owner, target table) — a counting sort into L.ord with segment starts in
   * L.seg — so each owner later reads only its own rows.
   * @throws PipelineError('bad_input') naming the id and its column
   */
  route(hot: boolean, Bk: number, emb: Float32Array, stats: Float64Array): void {
    const { L, K, k } = this;
    const n = Bk * NUM_TABLES;
    const base = k * L.cap * NUM_TABLES;
    const cats = L.cats.subarray(base, base + n);
    const nk1 = K * TARGETS + 1;
    const r = this.par.parRoute(
      emb, cats, n, NUM_TABLES, this.d, hot, this.tgtW, this.tgtRows, this.hotW ? L.reverse : null, L.owners, K, k, this.replica,
      L.tgtRow.subarray(base, base + n), L.ord.subarray(base, base + n), L.seg.subarray(k * nk1, (k + 1) * nk1), this.keyScratch,
    );
    if (r < 0) {
      const bad = -r - 1;
      const f = bad % NUM_TABLES;
      throw new PipelineError('bad_input', `embedding id ${cats[bad]} of column ${f} in batch row ${Math.floor(bad / NUM_TABLES)} is outside table rows`, {
        field: `C${f + 1}`, hint: 'the data and the table sizes come from different preprocess runs, or the hot remap is stale',
      });
    }
    stats[S.hotLookups] = stats[S.hotLookups]! + r;
    this.hotLookupsStep = r;
  }

  /**
   * After the step's barrier: for each target table, gather the gradients of this worker's rows
   * from every worker's segment (workers in index order, each in its batch order), scaled by
   * B_j/B, and apply the row-wise optimizer once per distinct row (with a replica: its own hot
   * gradients to its replica).
   */
  apply(step: number, B: number, sizes: Int32Array, stats: Float64Array): void {
    const { L, K, k, d } = this;
    const out = this.applyOut;
    const box = this.nDirtyBox;
    box[0] = this.nDirty;
    const bad = this.par.parApply(
      L.embGrad, L.ord, L.tgtRow, L.seg, sizes, B, K, k, L.cap, NUM_TABLES, d, this.tgtW, this.tgtA, this.tgtTouched, this.tgtRows,
      this.hotW !== null, this.lr, this.eps, this.replica ? this.dirty : null, this.replica ? this.dirtyList : null, this.replica ? box : null, out,
    );
    if (bad >= 0) throw new PipelineError('internal', `parallel apply: a routed row id is outside its table (entry ${bad})`);
    this.nDirty = box[0]!;
    const remote = out[2]!;
    stats[S.coldUnique] = stats[S.coldUnique]! + out[0]!;
    stats[S.hotUnique] = stats[S.hotUnique]! + out[1]!;
    stats[S.remoteRows] = stats[S.remoteRows]! + remote;
    stats[S.sparseBytes] = stats[S.sparseBytes]! + remote * (d * 4 + 8);
    if (this.replica) {
      const stale = Math.min(step - this.lastReconcile, step % this.hotBound);
      stats[S.staleSum] = stats[S.staleSum]! + this.hotLookupsStep * stale;
      if (this.hotLookupsStep > 0 && stale > stats[S.staleMax]!) stats[S.staleMax] = stale;
    }
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
