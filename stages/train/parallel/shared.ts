/**
 * The shared memory of a parallel run (one SharedArrayBuffer per array, created by the main
 * thread, handed to every worker once):
 *
 *     ctrl      Int32 control words (command sequence, barrier, abort flag, the step's flags)
 *     inputs    per worker: its slice of the step's batch (labels, dense, cats) and its size
 *     embGrad   per worker: B×26×dim gradient of its gathered rows (of its slice's mean loss; owners scale by B_k/B)
 *     dense     per worker: the dense gradient (bound 0: the worker's model writes it there) or
 *               parameters + optimizer state (averaging, publishing); at bound 0 one shared copy
 *               of the parameters, each worker updating its share
 *     losses    per worker: its loss × B_k/B (the merged batch's mean BCE is their sum)
 *     touched   per worker and table: the rows it updated since the main thread last collected them
 *     stats     per worker: counters (remote updates, bytes, staleness)
 *     slip*     per worker (per-replica Slipstream): its replica's snapshot and Δ
 *
 * The host tables and the hot table themselves are the Device's (EmbeddingTable with `shared`).
 */
import { NUM_DENSE, NUM_TABLES } from '../data/batch.js';

/** Control word indices. */
export const C = {
  /** command sequence number (workers wait on it) */
  SEQ: 0,
  /** the command of SEQ */
  CMD: 1,
  /** 0, or 1 + the index of the worker that failed (peers stop waiting) */
  ABORT: 2,
  BAR_COUNT: 3,
  BAR_GEN: 4,
  /** step: 1 = hot batch (cats hold hot indices) */
  HOT: 5,
  /** step: the global step number (0-based, over the whole run) */
  STEP: 6,
  /** step: global batch size B */
  B: 7,
  /** step: 1 = reconcile the hot replicas after this step */
  RECONCILE: 8,
  /** step: 1 = average the dense parameters after this step */
  AVERAGE: 9,
  /** workers that finished the command of SEQ (the main thread waits on it) */
  DONE: 10,
  /** step: workers past their backward (inputs read, loss written: the next batch may be split in) */
  LOSS: 11,
  SIZE: 16,
} as const;

/** Commands. */
export const CMD = { STEP: 1, SYNC: 2, LOAD: 3, STOP: 4, SNAP: 5, DELTA: 6 } as const;

/** Worker counters (stats, Float64 per worker). */
export const S = {
  /** sparse row updates applied by an owner other than the worker that computed them */
  remoteRows: 0,
  /** sparse row updates (distinct per worker and step) */
  localRows: 1,
  /** bytes of sparse gradients sent to other owners */
  sparseBytes: 2,
  /** bytes of hot-replica deltas pushed and rows pulled at reconciles */
  hotBytes: 3,
  /** hot lookups, and the sum over them of steps since their replica row was last reconciled */
  hotLookups: 4,
  staleSum: 5,
  staleMax: 6,
  /** reconciles, and rows reconciled that more than one worker had changed */
  reconciles: 7,
  conflictRows: 8,
  reconciledRows: 9,
  /** dense bytes sent (gradients every step at bound 0, parameters at each average) */
  denseBytes: 10,
  /** unique rows gathered from the host tables (cold) and from the hot table */
  coldUnique: 11,
  hotUnique: 12,
  SIZE: 16,
} as const;

/** Everything a worker needs to attach to the run's memory (structured-cloned once; SABs are shared). */
export interface SharedLayout {
  K: number;
  /** rows each worker's input slice can hold (= B) */
  cap: number;
  dim: number;
  /** dense parameter count */
  P: number;
  /** hot rows (0 in baseline) */
  H: number;
  ctrl: Int32Array;
  sizes: Int32Array;
  labels: Float32Array;
  dense: Float32Array;
  cats: Int32Array;
  embGrad: Float32Array;
  losses: Float64Array;
  /** K × P: gradients (bound 0) or parameters */
  denseSlot: Float32Array;
  /** K × P: optimizer state (Adagrad) for averaging and publishing */
  stateSlot: Float32Array;
  /**
   * denseBound 0: the dense parameters, one copy every worker's model reads and each worker
   * updates its share of (worker k: [⌊kP/K⌋, ⌊(k+1)P/K⌋)); the gradients are the workers' slots
   */
  params: Float32Array;
  stats: Float64Array;
  /** host tables (weights, accum) and the hot table (index 26), shared with the main thread */
  weights: Float32Array[];
  accum: (Float32Array | null)[];
  rows: number[];
  /** [worker][table 0..26] touched bitsets of the rows that worker updated */
  touched: Uint8Array[][];
  /** fae: per table row → hot index or −1 (shared copy of Device.reverse) */
  reverse: Int32Array[] | null;
  /** row owners per table 0..26 (255 = by hash); null = by hash everywhere (partition random) */
  owners: Uint8Array[] | null;
  /** hotBound > 0: per worker, the ids and deltas (dim + 1 floats) of its dirty replica rows */
  hotIds: Int32Array | null;
  hotDelta: Float32Array | null;
  hotCount: Int32Array | null;
  /**
   * per-replica Slipstream (mode slipstream, hotBound > 0; parallel/slip.ts): per worker, the
   * snapshot of its replica (H × dim, taken at the window's start) and the staleness Δ of its
   * replica's rows over the window (H, ‖replica[h] − snapshot[h]‖∞)
   */
  slipSnap: Float32Array | null;
  slipDelta: Float32Array | null;
  /**
   * per worker, filled before the step's barrier (apply.ts classify): each lookup's target row
   * (a host-table id, or a hot index when its target is the hot table), and the lookups in
   * order of (owner, target table), with the segment starts of each (owner, table) key
   */
  tgtRow: Int32Array;
  ord: Int32Array;
  /** K × (K·27 + 1) segment starts */
  seg: Int32Array;
}

/** Number of target tables: the 26 host tables and the hot table. */
export const TARGETS = NUM_TABLES + 1;

const sab = (bytes: number): SharedArrayBuffer => new SharedArrayBuffer(Math.max(8, bytes));

/** Allocate the per-step areas (the tables come from the Device). */
export function allocShared(o: {
  K: number; cap: number; dim: number; P: number; H: number; hotBound: number; adagrad: boolean;
  /** per-replica Slipstream: allocate the snapshots and Δ */
  slip?: boolean;
  weights: Float32Array[]; accum: (Float32Array | null)[]; rows: number[]; reverse: Int32Array[] | null; owners: Uint8Array[] | null;
}): SharedLayout {
  const { K, cap, dim, P, H } = o;
  const f32 = (n: number): Float32Array => new Float32Array(sab(n * 4));
  const i32 = (n: number): Int32Array => new Int32Array(sab(n * 4));
  const stride = dim + 1;
  return {
    K, cap, dim, P, H,
    ctrl: i32(C.SIZE),
    sizes: i32(K),
    labels: f32(K * cap),
    dense: f32(K * cap * NUM_DENSE),
    cats: i32(K * cap * NUM_TABLES),
    embGrad: f32(K * cap * NUM_TABLES * dim),
    losses: new Float64Array(sab(K * 8)),
    denseSlot: f32(K * P),
    stateSlot: f32(o.adagrad ? K * P : 1),
    params: f32(P),
    stats: new Float64Array(sab(K * S.SIZE * 8)),
    weights: o.weights, accum: o.accum, rows: o.rows,
    touched: Array.from({ length: K }, () => o.rows.map((n) => new Uint8Array(sab((n + 7) >>> 3)))),
    reverse: o.reverse, owners: o.owners,
    hotIds: o.hotBound > 0 && H > 0 ? i32(K * H) : null,
    hotDelta: o.hotBound > 0 && H > 0 ? f32(K * H * stride) : null,
    hotCount: o.hotBound > 0 && H > 0 ? i32(K) : null,
    slipSnap: o.slip && H > 0 ? f32(K * H * dim) : null,
    slipDelta: o.slip && H > 0 ? f32(K * H) : null,
    tgtRow: i32(K * cap * NUM_TABLES),
    ord: i32(K * cap * NUM_TABLES),
    seg: i32(K * (K * (NUM_TABLES + 1) + 1)),
  };
}

/** Index of the hot table in SharedLayout's per-table lists. */
export const HOT_TABLE = NUM_TABLES;

/** Owner of row r of table t (0..25 host, 26 hot) when no partition says otherwise: a hash. */
export function hashOwner(t: number, r: number, K: number): number {
  return ((Math.imul(r ^ Math.imul(t + 1, 0x85ebca6b), 0x9e3779b1) >>> 16) % K);
}

/** The owner of (t, r) under the run's owner map. */
export function ownerOf(owners: Uint8Array[] | null, t: number, r: number, K: number): number {
  if (owners) {
    const o = owners[t]![r]!;
    if (o !== 255) return o;
  }
  return hashOwner(t, r, K);
}

/** Thrown inside a worker when a peer failed while it waited at a barrier. */
export class Aborted extends Error {}

/**
 * The workers' barrier (generation counting on ctrl): waits in slices so that a failed peer
 * (ctrl[ABORT] ≠ 0) ends the wait with {@link Aborted} instead of a hang.
 */
export function barrier(ctrl: Int32Array, K: number): void {
  const gen = Atomics.load(ctrl, C.BAR_GEN);
  if (Atomics.add(ctrl, C.BAR_COUNT, 1) === K - 1) {
    Atomics.store(ctrl, C.BAR_COUNT, 0);
    Atomics.add(ctrl, C.BAR_GEN, 1);
    Atomics.notify(ctrl, C.BAR_GEN);
    return;
  }
  for (;;) {
    if (Atomics.load(ctrl, C.ABORT) !== 0) throw new Aborted('a peer failed');
    Atomics.wait(ctrl, C.BAR_GEN, gen, 50);
    if (Atomics.load(ctrl, C.BAR_GEN) !== gen) return;
  }
}
