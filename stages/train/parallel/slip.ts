/**
 * Slipstream per replica (parallel runs, mode slipstream, hotBound > 0): each worker's hot
 * inputs skip the rows that are stale **in its own replica**.
 *
 * With private hot replicas (hotBound s > 0) the workers' copies of a hot row differ between
 * reconciles, so staleness is a property of a replica. Per epoch, as in the one-worker
 * Slipstream (modes/slipstream.ts) and at the same points of the hot-batch stream:
 *
 *     window start   every worker snapshots its replica (CMD.SNAP, into shared memory)
 *     window end     every worker computes Δ_k[h] = ‖replica_k[h] − snapshot_k[h]‖∞ (CMD.DELTA);
 *                    the main thread searches ONE threshold T for the drop target D (below)
 *     filter phase   each stream batch's inputs are assigned to workers by the run's splitter
 *                    first; input r of worker k is skipped when ≥ ⌈α·26⌉ of its lookups have
 *                    Δ_k < T; the kept inputs keep their worker (tags) through re-batching, so
 *                    every input is judged and trained by the same worker
 *
 * **One T, agreed globally, with D meaning what it means in the one-worker run** — the fraction
 * of the filter phase's hot inputs dropped. The search runs on the main thread over the same
 * seeded sample of not-yet-trained hot inputs as the one-worker run, each sampled input keyed
 * under the Δ of the replica that would judge it:
 *   - `random` split ('pooled' keys): an input lands on any worker with probability 1/K
 *     regardless of its content, so each input is keyed under every replica's Δ (K keys per
 *     input, pooled); the pooled would-drop fraction at T is the mean over workers of what
 *     each would drop, i.e. the expected global drop;
 *   - `graph` split ('assigned' keys): the worker depends on the input's rows, so the sample is
 *     split into batches of B by the same rule as training batches and each input is keyed
 *     under its worker's Δ.
 * A per-worker T (each worker hitting D on its own) would also give D overall, but would make
 * T — "a row is stale when it moved less than T" — mean different things on different workers.
 *
 * The filter runs on the main thread at the split (which already visits every input), reading
 * each worker's Δ from shared memory; the staleness itself is measured by the workers on their
 * replicas. Checkpoints hold the K snapshots (window phase) or the K Δ arrays (filter phase)
 * and the per-worker counters; the replicas themselves are equal at a checkpoint (a reconcile
 * point), so a resumed run continues bit-identically. At hotBound 0 the replicas are one
 * shared copy and the one-worker Slipstream on the main thread is used unchanged.
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { ReplicaSlipReport } from '../../../pipeline/run-metrics.js';
import type { TrainConfig } from '../config.js';
import { compactBatch, NUM_TABLES, type Batch } from '../data/batch.js';
import type { Device } from '../device.js';
import type { RowTags } from '../modes/rebatch.js';
import { Slipstream, staleNeeded, type FutureSampler } from '../modes/slipstream.js';
import type { WorkerPool } from './pool.js';
import { assignInputs, type Splitter } from './split.js';

/** One worker's filter-phase counts. */
export interface WorkerSlipCounts {
  candidates: number;
  dropped: number;
}

/**
 * Drop keys of n inputs, each under the Δ of the worker `tags` gives it (`tags` null: under
 * every worker's Δ, K·n keys, worker-major). A key is the c-th smallest Δ over its 26 lookups
 * (c = ⌈α·26⌉), as modes/slipstream.ts inputKeys.
 * @param deltas K × H
 */
export function replicaKeys(cats: Int32Array, n: number, deltas: Float32Array, H: number, K: number, alpha: number, tags: Int32Array | null): Float32Array {
  const c = staleNeeded(alpha);
  const keys = new Float32Array(tags ? n : K * n);
  const v = new Float32Array(NUM_TABLES);
  let q = 0;
  for (let k = 0; k < (tags ? 1 : K); k++) {
    for (let i = 0; i < n; i++) {
      const o = (tags ? tags[i]! : k) * H;
      for (let f = 0; f < NUM_TABLES; f++) v[f] = deltas[o + cats[i * NUM_TABLES + f]!]!;
      v.sort();
      keys[q++] = v[c - 1]!;
    }
  }
  return keys;
}

/**
 * The filter kernel: keep[r] = 0 when ≥ `need` of input r's lookups have Δ < T in the replica
 * of its worker tags[r]; per-worker candidates and drops are added to `counts`.
 * @returns inputs marked for dropping
 */
export function markStaleReplicas(keep: Uint8Array, cats: Int32Array, n: number, tags: Int32Array, deltas: Float32Array, H: number, T: number, need: number, counts: WorkerSlipCounts[]): number {
  let dropped = 0;
  for (let r = 0; r < n; r++) {
    const k = tags[r]!;
    const o = k * H;
    let stale = 0;
    const c0 = r * NUM_TABLES;
    for (let f = 0; f < NUM_TABLES; f++) if (deltas[o + cats[c0 + f]!]! < T) stale++;
    const drop = stale >= need;
    keep[r] = drop ? 0 : 1;
    const w = counts[k]!;
    w.candidates++;
    if (drop) { w.dropped++; dropped++; }
  }
  return dropped;
}

/** Share of the H hot rows whose Δ is not the same in all K replicas. */
export function rowsDiffering(deltas: Float32Array, H: number, K: number): number {
  if (H === 0) return 0;
  let n = 0;
  for (let h = 0; h < H; h++) {
    const v = deltas[h]!;
    for (let k = 1; k < K; k++) if (deltas[k * H + h] !== v) { n++; break; }
  }
  return n / H;
}

/** The shared-memory side the per-replica Slipstream drives (a WorkerPool; tests pass their own). */
export interface ReplicaOps {
  readonly K: number;
  /** hot rows and embedding dim */
  readonly H: number;
  readonly dim: number;
  /** K × H × dim snapshots and K × H Δ (shared with the workers) */
  readonly snapshots: Float32Array;
  readonly deltas: Float32Array;
  snapshotReplicas(): Promise<void>;
  replicaDeltas(): Promise<void>;
}

/** The ops of a pool whose layout holds per-replica Slipstream areas. */
export function poolOps(pool: WorkerPool): ReplicaOps {
  const L = pool.layout;
  if (!L.slipSnap || !L.slipDelta) throw new PipelineError('internal', 'per-replica Slipstream: the parallel layout has no snapshot areas (no hot rows?)');
  return {
    K: L.K, H: L.H, dim: L.dim, snapshots: L.slipSnap, deltas: L.slipDelta,
    snapshotReplicas: () => pool.snapshotReplicas(), replicaDeltas: () => pool.replicaDeltas(),
  };
}

/** Slipstream whose Δ and filter are per worker replica (see the file's comment). */
export class ReplicaSlipstream extends Slipstream {
  readonly perWorker: WorkerSlipCounts[];
  /** the worker of each row of the training loop's batch (set by filter, carried by the packer, read by the step) */
  readonly tags: RowTags;
  /** share of hot rows whose Δ differed between replicas at the last window's end */
  rowsDiffering = 0;
  private readonly batchSize: number;

  constructor(
    cfg: TrainConfig['slipstream'],
    batchSize: number,
    log: (msg: string, extra?: Record<string, unknown>) => void,
    private readonly ops: ReplicaOps,
    private readonly splitter: Splitter,
  ) {
    super(cfg, batchSize, log);
    this.batchSize = batchSize;
    this.perWorker = Array.from({ length: ops.K }, () => ({ candidates: 0, dropped: 0 }));
    this.tags = { tags: new Int32Array(batchSize), valid: false };
  }

  /** how the search keys its sample: every replica (random split) or the assigned one (graph) */
  get keying(): ReplicaSlipReport['keys'] {
    return this.splitter.kind === 'graph' && this.splitter.owners ? 'assigned' : 'pooled';
  }

  override async beforeHot(i: number, _device: Device): Promise<void> {
    if (this.phase !== 'before' || i !== this.start) return;
    const t0 = performance.now();
    await this.ops.snapshotReplicas();
    this.work.snapshotBytes += this.ops.snapshots.byteLength;
    this.phase = 'window';
    this.overheadSec += (performance.now() - t0) / 1000;
  }

  override async afterHot(epoch: number, i: number, _device: Device, sample: FutureSampler): Promise<void> {
    if (this.phase !== 'window' || i !== this.start + this.len - 1) return;
    const t0 = performance.now();
    const { K, H } = this.ops;
    await this.ops.replicaDeltas();
    this.work.deltaBytes += 2 * this.ops.snapshots.byteLength;
    const cats = await sample(epoch, i + 1, this.cfg.sampleSize);
    const n = cats.length / NUM_TABLES;
    let tags: Int32Array | null = null;
    if (this.keying === 'assigned') {
      tags = new Int32Array(n);
      for (let b = 0; b < n; b += this.batchSize) {
        const m = Math.min(this.batchSize, n - b);
        assignInputs(cats.subarray(b * NUM_TABLES, (b + m) * NUM_TABLES), m, true, K, null, this.splitter, tags.subarray(b, b + m));
      }
    }
    const keys = replicaKeys(cats, n, this.ops.deltas, H, K, this.cfg.alpha, tags);
    this.rowsDiffering = rowsDiffering(this.ops.deltas, H, K);
    const what = tags ? `${n} sampled hot inputs, each under its worker's replica` : `${n} sampled hot inputs × ${K} replicas`;
    this.searchFor(epoch, keys, what, t0, { replicas: K, keys: this.keying, rowsDiffering: this.rowsDiffering });
  }

  /** Assign the batch's inputs to workers (always, so the tags travel with every hot row), then drop each worker's stale ones. */
  override filter(batch: Batch): number {
    this.hotSeen += batch.size;
    const n = batch.size;
    const tags = this.tags.tags;
    assignInputs(batch.cats, n, true, this.ops.K, null, this.splitter, tags);
    this.tags.valid = true;
    if (this.phase !== 'filter') return 0;
    const t0 = performance.now();
    const cur = this.cur!;
    const dropped = markStaleReplicas(this.keep, batch.cats, n, tags, this.ops.deltas, this.ops.H, cur.threshold, this.need, this.perWorker);
    this.work.filterLookups += n * NUM_TABLES;
    cur.candidates += n;
    cur.dropped += dropped;
    this.dropped += dropped;
    if (dropped > 0) {
      let w = 0;
      for (let r = 0; r < n; r++) if (this.keep[r] !== 0) tags[w++] = tags[r]!;
      compactBatch(batch, this.keep);
    }
    this.overheadSec += (performance.now() - t0) / 1000;
    return dropped;
  }

  /** metrics.json parallel.slipstream */
  report(): ReplicaSlipReport {
    let c = 0;
    let d = 0;
    for (const w of this.perWorker) { c += w.candidates; d += w.dropped; }
    return {
      keys: this.keying, targetDrop: this.targetDrop,
      perWorker: this.perWorker.map((w) => ({ ...w, dropFraction: w.candidates > 0 ? w.dropped / w.candidates : 0 })),
      dropFraction: c > 0 ? d / c : 0,
      rowsDiffering: this.rowsDiffering,
    };
  }

  override save(): { position: Record<string, unknown>; blobs: Record<string, Float32Array> } {
    const s = super.save();
    s.position['perWorker'] = this.perWorker.map((w) => ({ ...w }));
    s.position['rowsDiffering'] = this.rowsDiffering;
    return s;
  }

  override restore(p: Record<string, unknown>, blobs: Record<string, unknown>): void {
    super.restore(p, blobs);
    const pw = p['perWorker'];
    if (!Array.isArray(pw) || pw.length !== this.ops.K) throw new PipelineError('bad_manifest', `checkpoint position lacks slipstream.perWorker for ${this.ops.K} workers: it was written by a build whose Slipstream did not filter per replica at hotBound > 0`, {
        hint: 'resume with the build that wrote the checkpoint, or start the run again without --resume',
      });
    pw.forEach((w: WorkerSlipCounts, k) => { this.perWorker[k] = { candidates: w.candidates, dropped: w.dropped }; });
    this.rowsDiffering = typeof p['rowsDiffering'] === 'number' ? p['rowsDiffering'] : 0;
  }

  /** Window phase: the K replica snapshots; filter phase: the K Δ arrays (copies: the shared areas are rewritten next epoch). */
  protected override saveArrays(): Record<string, Float32Array> {
    if (this.phase === 'window') return { 'slipstream.snapshots': this.ops.snapshots.slice() };
    if (this.phase === 'filter') return { 'slipstream.deltas': this.ops.deltas.slice() };
    return {};
  }

  protected override restoreArrays(_p: Record<string, unknown>, blobs: Record<string, unknown>): void {
    const need = (key: string, into: Float32Array): void => {
      const b = blobs[key];
      if (!(b instanceof Float32Array) || b.length !== into.length) {
        throw new PipelineError('bad_manifest', `checkpoint lacks the ${key} blob of ${this.ops.K} replicas (${into.length} floats)`);
      }
      into.set(b);
    };
    if (this.phase === 'window') need('slipstream.snapshots', this.ops.snapshots);
    if (this.phase === 'filter') need('slipstream.deltas', this.ops.deltas);
  }
}
