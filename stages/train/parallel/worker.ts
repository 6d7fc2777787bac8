/**
 * Worker-thread entry of a parallel run (pool.ts starts K of them). Each worker holds its own
 * dense model and optimizer (at denseBound 0 the models share one parameter copy, and each
 * optimizer keeps its worker's share of the state) and, at hotBound > 0, its own replica of the
 * hot table; it reads the shared host tables (and, at hotBound 0, the shared hot table) in place.
 * Per step (one global batch, this worker's slice of it):
 *
 *     route (gather its rows, lookups sorted by owner) → forward → backward (its dense gradient
 *     lands in its slot; the embedding and dense gradients are scaled by B_j/B where they are
 *     summed) → count itself on ctrl[LOSS] → barrier
 *     → apply the rows this worker owns (summed over all workers, in worker order)
 *     → dense: its share of the K gradients summed in worker order, one optimizer step of that
 *       share (bound 0) | its own step
 *     → reconcile the hot replicas / average the dense parameters when the step asks
 *
 * It blocks on Atomics between commands and never runs its event loop while training; it reports a
 * finished command on ctrl[DONE] (and by message only after a failure, when the main thread listens).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PipelineError } from '../../../pipeline/errors.js';
import { Rng } from '../../../pipeline/rng.js';
import type { TrainConfig } from '../config.js';
import { NUM_DENSE, NUM_TABLES } from '../data/batch.js';
import { createEngine, type EngineKind } from '../engine/engine.js';
import { Dlrm, parseArch } from '../model/dlrm.js';
import { DenseOptimizer } from '../model/optim.js';
import { Aborted, C, CMD, S, barrier, type SharedLayout } from './shared.js';
import { SparseApplier } from './apply.js';

/** What pool.ts hands each worker. */
export interface WorkerInit {
  index: number;
  layout: SharedLayout;
  cfg: TrainConfig;
  engine: EngineKind;
  threads: number;
  /** fault injection (tests): fail at this global step */
  fault?: { worker: number; step: number; how: 'throw' | 'exit' } | null;
}

/** Messages to the main thread. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'done'; seq: number }
  | { type: 'aborted'; seq: number }
  | { type: 'error'; seq: number; code: string; message: string; hint?: string };

const port = parentPort!;
const init = workerData as WorkerInit;
const L = init.layout;
const k = init.index;
const K = L.K;
const cfg = init.cfg;
const d = L.dim;
const ctrl = L.ctrl;
const hotBound = cfg.parallel.hotBound;
const denseBound = cfg.parallel.denseBound;

const engine = createEngine(init.engine, init.threads);
// bound 0: every worker's model reads the one shared copy of the parameters and writes its gradient into its slot
const shareDense = denseBound === 0;
const model = new Dlrm(parseArch(cfg.model.mlpBot, cfg.model.mlpTop, d, NUM_TABLES), engine, Rng.derive(cfg.seed, 11),
  shareDense ? { params: L.params, grads: L.denseSlot.subarray(k * L.P, (k + 1) * L.P) } : undefined);
const dc = cfg.optim.dense;
const opt = new DenseOptimizer(dc.kind, model.params.length, { lr: dc.lr, eps: dc.eps, initAccum: dc.initAccum });
const P = model.params.length;
if (P !== L.P) throw new PipelineError('internal', `parallel worker ${k}: ${P} dense parameters, the main thread has ${L.P}`);
const stats = L.stats.subarray(k * S.SIZE, (k + 1) * S.SIZE);
const applier = new SparseApplier(L, k, cfg, engine.kernels, hotBound > 0);
const emb = new Float32Array(L.cap * NUM_TABLES * d);
const gsum = new Float32Array(P);
/** bound 0: this worker's share of the dense step */
const lo = Math.floor((k * P) / K);
const hi = Math.floor(((k + 1) * P) / K);

/** Copy the published parameters (slot 0) into this worker's model and optimizer. */
function load(): void {
  model.params.set(L.denseSlot.subarray(0, P));
  if (opt.state) opt.state.set(L.stateSlot.subarray(0, P));
  applier.loadReplica(Atomics.load(ctrl, C.STEP));
}

/** the step's slice sizes, copied at its start: the main thread splits the next batch in once every worker's loss is in */
const sizes = new Int32Array(K);

function step(): void {
  const B = ctrl[C.B]!;
  const hot = ctrl[C.HOT] === 1;
  const gstep = ctrl[C.STEP]!;
  const reconcile = ctrl[C.RECONCILE] === 1;
  const averageNow = ctrl[C.AVERAGE] === 1;
  sizes.set(L.sizes);
  const f = init.fault;
  if (f && f.worker === k && f.step === gstep) {
    if (f.how === 'exit') process.exit(3);
    throw new PipelineError('internal', `injected fault in worker ${k} at step ${gstep}`);
  }
  const Bk = sizes[k]!;
  const scale = Bk / B;
  const off = k * L.cap;
  const eg = L.embGrad.subarray(off * NUM_TABLES * d, (off + Bk) * NUM_TABLES * d);
  const slot = L.denseSlot.subarray(k * P, (k + 1) * P);
  if (Bk > 0) {
    applier.route(hot, Bk, emb, stats); // the owners scale eg by B_k/B as they read it
    model.forward(Bk, L.dense.subarray(off * NUM_DENSE, (off + Bk) * NUM_DENSE), emb);
    const loss = model.backward(L.labels.subarray(off, off + Bk), eg);
    L.losses[k] = loss * scale;
  } else {
    L.losses[k] = 0;
    if (denseBound === 0) slot.fill(0);
    applier.route(hot, 0, emb, stats);
  }
  // this slice's inputs are read and its loss is written: the main thread may split the next batch in
  Atomics.add(ctrl, C.LOSS, 1);
  Atomics.notify(ctrl, C.LOSS);
  barrier(ctrl, K);
  // a NaN/Inf anywhere: nothing is applied anywhere; the main thread reports it
  for (let j = 0; j < K; j++) if (!Number.isFinite(L.losses[j]!)) return;
  applier.apply(gstep, B, sizes, stats);
  if (shareDense) {
    // this worker's share: Σ_j g_j × B_j/B in worker order (as the 1-worker sum of the merged batch), one optimizer step
    const slots = L.denseSlot;
    const s0 = sizes[0]! / B;
    for (let i = lo; i < hi; i++) gsum[i] = slots[i]! * s0;
    for (let j = 1; j < K; j++) {
      const sj = sizes[j]! / B;
      const o = j * P;
      for (let i = lo; i < hi; i++) gsum[i] = gsum[i]! + Math.fround(slots[o + i]! * sj);
    }
    opt.stepRange(model.params, gsum, lo, hi);
    // read: the other workers' gradients of this share; the others' shares of the parameters
    stats[S.denseBytes] = stats[S.denseBytes]! + 2 * (P - (hi - lo)) * 4;
  } else if (Bk > 0) {
    opt.step(model.params, model.grads);
  }
  if (reconcile) applier.reconcile(gstep + 1, stats);
  if (averageNow) average();
}

/** denseBound > 0: every worker's parameters and optimizer state ← their mean (summed in worker order). */
function average(): void {
  L.denseSlot.subarray(k * P, (k + 1) * P).set(model.params);
  if (opt.state) L.stateSlot.subarray(k * P, (k + 1) * P).set(opt.state);
  barrier(ctrl, K);
  meanInto(model.params, L.denseSlot);
  if (opt.state) meanInto(opt.state, L.stateSlot);
  stats[S.denseBytes] = stats[S.denseBytes]! + P * 4 * (opt.state ? 2 : 1);
  barrier(ctrl, K); // nobody writes its slot again before everyone has read
}

function meanInto(out: Float32Array, slots: Float32Array): void {
  out.set(slots.subarray(0, P));
  for (let j = 1; j < K; j++) {
    const s = slots.subarray(j * P, (j + 1) * P);
    for (let i = 0; i < P; i++) out[i] = out[i]! + s[i]!;
  }
  const inv = 1 / K;
  for (let i = 0; i < P; i++) out[i] = out[i]! * inv;
}

/**
 * Evaluation / checkpoint: reconcile and average (bounds > 0), then the dense state is published in
 * slot 0: by worker 0 (at bound 0 the parameters are the shared copy, and each worker publishes
 * its share of the optimizer state, the only part of its state it keeps current).
 */
function sync(): void {
  if (hotBound > 0) applier.reconcile(Atomics.load(ctrl, C.STEP), stats);
  if (denseBound > 0) average();
  barrier(ctrl, K);
  if (shareDense) {
    if (k === 0) L.denseSlot.subarray(0, P).set(model.params);
    if (opt.state) L.stateSlot.subarray(lo, hi).set(opt.state.subarray(lo, hi));
  } else if (k === 0) {
    L.denseSlot.subarray(0, P).set(model.params);
    if (opt.state) L.stateSlot.subarray(0, P).set(opt.state);
  }
}

load(); // the main thread's initial parameters (slot 0) and hot table
port.postMessage({ type: 'ready' } satisfies WorkerMessage);
let seq = 0;
for (;;) {
  Atomics.wait(ctrl, C.SEQ, seq);
  const now = Atomics.load(ctrl, C.SEQ);
  if (now === seq) continue;
  seq = now;
  const cmd = Atomics.load(ctrl, C.CMD);
  if (cmd === CMD.STOP) break;
  try {
    if (cmd === CMD.STEP) step();
    else if (cmd === CMD.SYNC) sync();
    else if (cmd === CMD.LOAD) load();
    else if (cmd === CMD.SNAP) applier.snapshotReplica();
    else if (cmd === CMD.DELTA) applier.replicaDelta();
    Atomics.add(ctrl, C.DONE, 1);
    Atomics.notify(ctrl, C.DONE);
    // after a failure the main thread counts on messages (it is no longer waiting on DONE)
    if (Atomics.load(ctrl, C.ABORT) !== 0) port.postMessage({ type: 'done', seq } satisfies WorkerMessage);
  } catch (e) {
    if (e instanceof Aborted) {
      port.postMessage({ type: 'aborted', seq } satisfies WorkerMessage);
      continue;
    }
    Atomics.compareExchange(ctrl, C.ABORT, 0, k + 1);
    Atomics.notify(ctrl, C.BAR_GEN);
    const pe = e instanceof PipelineError ? e : null;
    port.postMessage({
      type: 'error', seq, code: pe?.code ?? 'internal', message: e instanceof Error ? e.message : String(e), ...(pe?.hint ? { hint: pe.hint } : {}),
    } satisfies WorkerMessage);
    break;
  }
}
port.close();
