/**
 * The no-drop reference of accuracy-budgeted Slipstream: a second model (a shadow Trainer
 * with its own dense model, optimizer state, host tables and hot table) that, at the start
 * of each re-check window, takes a copy of the run's whole training state and then trains
 * every batch of the window as drawn, dropping nothing.
 *
 *     window start   run.device.syncAll(); copy dense params, optimizer state, every host
 *                    table (weights, Adagrad accumulators, touched bits) → shadow; shadow's
 *                    hot table loaded from its host tables
 *     each slot      the batch as drawn (before the filter) → shadow.step
 *
 * What it costs, counted in {@link ReferenceWork} (RunWork.reference): the copied bytes, the
 * shadow's optimizer steps, dense FLOPs and row lookups; memory: a second copy of the model.
 * A checkpoint inside a window carries the shadow's state (blobs `budget.ref.*`).
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { ReferenceWork } from '../../../pipeline/run-metrics.js';
import type { Blob } from '../checkpoint/index.js';
import type { TrainConfig } from '../config.js';
import { NUM_DENSE, NUM_TABLES, type Batch } from '../data/batch.js';
import type { HotMap, LinkBytes, RowCounts } from '../device.js';
import type { Engine } from '../engine/engine.js';
import { Trainer } from '../trainer.js';
import { WorkMeter } from '../work.js';

/** The shadow model and its counters. */
export class Reference {
  readonly shadow: Trainer;
  private readonly meter: WorkMeter;
  /** bytes copied into the shadow (window starts) and hot-row syncs the copies needed */
  copyBytes = 0;
  windows = 0;

  constructor(cfg: TrainConfig, engine: Engine, sizes: number[], hotMap: HotMap | null) {
    this.shadow = new Trainer(cfg, engine, sizes, hotMap);
    this.meter = new WorkMeter(this.shadow.model.shape);
  }

  /** Start a window: the shadow becomes a copy of `run`'s training state. */
  copyFrom(run: Trainer): void {
    const dev = run.device;
    // both copies of every hot row agree before the host tables are copied; the bytes this
    // moves are the reference's cost, not the run's
    const hs = dev.bytes.hotSync;
    dev.syncAll();
    this.copyBytes += dev.bytes.hotSync - hs;
    dev.bytes.hotSync = hs;
    const s = this.shadow;
    s.model.params.set(run.model.params);
    this.copyBytes += run.model.params.byteLength;
    if (run.denseOpt.state && s.denseOpt.state) {
      s.denseOpt.state.set(run.denseOpt.state);
      this.copyBytes += run.denseOpt.state.byteLength;
    }
    for (let i = 0; i < dev.tables.length; i++) {
      const a = dev.tables[i]!;
      const b = s.device.tables[i]!;
      b.weights.set(a.weights);
      b.touched.set(a.touched);
      this.copyBytes += a.weights.byteLength + a.touched.byteLength;
      if (a.accum && b.accum) {
        b.accum.set(a.accum);
        this.copyBytes += a.accum.byteLength;
      }
    }
    s.device.loadHot(false);
    this.windows++;
  }

  /** Train the shadow on `b` as drawn (a hot batch holds hot indices). */
  step(hot: boolean, b: Batch, where: () => string): void {
    const t = this.shadow.batch;
    const n = b.size;
    if (n === 0) return;
    t.labels.set(b.labels.subarray(0, n));
    t.dense.set(b.dense.subarray(0, n * NUM_DENSE));
    t.cats.set(b.cats.subarray(0, n * NUM_TABLES));
    t.size = n;
    this.shadow.step(hot, () => `the no-drop reference at ${where()}`);
    this.meter.onStep(hot, n);
  }

  /** The reference's counted work (recheck counters are the caller's). */
  work(recheckRows: number): ReferenceWork {
    const w = this.meter.build(this.shadow.device, null).work;
    const fwdPerSample = w.denseFlops.perSample.reduce((a, l) => a + l.forward, 0);
    return {
      windows: this.windows,
      samplesTrained: w.samplesTrained,
      optimizerSteps: w.optimizerSteps.total,
      denseFlops: w.denseFlops.total,
      denseParamUpdates: w.denseParamUpdates,
      rowsGathered: w.embedding.rowsGathered,
      rowsUpdated: w.embedding.rowsUpdated,
      hotGathered: w.embedding.hotGathered,
      hotUpdated: w.embedding.hotUpdated,
      deviceBytes: this.shadow.device.bytes.gatherIn + this.shadow.device.bytes.gradOut,
      copyBytes: this.copyBytes,
      recheckRows,
      recheckFlops: recheckRows * fwdPerSample,
    };
  }

  /** Checkpoint form: counters always; the shadow's state only inside a window. */
  save(inWindow: boolean): { position: Record<string, unknown>; blobs: Record<string, Blob> } {
    const s = this.shadow;
    const blobs: Record<string, Blob> = {};
    if (inWindow) {
      s.device.syncAll();
      blobs['budget.ref.params'] = s.model.params;
      if (s.denseOpt.state) blobs['budget.ref.optim'] = s.denseOpt.state;
      s.device.tables.forEach((t, i) => {
        blobs[`budget.ref.C${i + 1}.weights`] = t.weights;
        blobs[`budget.ref.C${i + 1}.touched`] = t.touched;
        if (t.accum) blobs[`budget.ref.C${i + 1}.accum`] = t.accum;
      });
    }
    return {
      position: { meter: this.meter.save(), rows: { ...s.device.rows }, bytes: { ...s.device.bytes }, copyBytes: this.copyBytes, windows: this.windows },
      blobs,
    };
  }

  /** Restore {@link save}'s output. */
  restore(p: Record<string, unknown>, blobs: Record<string, unknown>, inWindow: boolean): void {
    const s = this.shadow;
    this.meter.restore(p['meter']);
    Object.assign(s.device.rows, p['rows'] as RowCounts);
    Object.assign(s.device.bytes, p['bytes'] as LinkBytes);
    this.copyBytes = p['copyBytes'] as number;
    this.windows = p['windows'] as number;
    if (!inWindow) return;
    const put = (name: string, into: Float32Array | Uint8Array): void => {
      const b = blobs[name];
      if (!(b instanceof into.constructor) || (b as Blob).length !== into.length) {
        throw new PipelineError('bad_manifest', `checkpoint lacks the no-drop reference's ${name} (inside a budget window)`);
      }
      into.set(b as Float32Array & Uint8Array);
    };
    put('budget.ref.params', s.model.params);
    if (s.denseOpt.state) put('budget.ref.optim', s.denseOpt.state);
    s.device.tables.forEach((t, i) => {
      put(`budget.ref.C${i + 1}.weights`, t.weights);
      put(`budget.ref.C${i + 1}.touched`, t.touched);
      if (t.accum) put(`budget.ref.C${i + 1}.accum`, t.accum);
    });
    s.device.loadHot(false);
  }
}
