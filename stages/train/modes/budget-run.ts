/**
 * Accuracy-budgeted Slipstream in the trainer (`slipstream.maxAucLoss = ε > 0`): re-check
 * windows, the no-drop reference, and the D controller (modes/budget.ts) wired together.
 *
 * Per epoch, the hot batches the filter applies to, [F, nHot) with F the end of Slipstream's
 * snapshot window, are cut into R = min(rechecks, nHot − F) windows of (nearly) equal length:
 *
 *     window start (hot batch a_k)   the reference (modes/reference.ts) copies the run's state
 *     every slot of the window       the reference trains the batch as drawn, no drop; the run
 *                                    filters with T and trains what it keeps
 *     window end (hot batch a_{k+1}−1 — or, with slipstream.referenceFraction f < 1, the last of
 *                 the window's first ⌈f·length⌉ hot batches, the rest of the window then trains
 *                 at the new D without a reference — after it trained; re-batching flushes its pending rows)
 *                                    AUC of both on the validation slice (modes/val-slice.ts),
 *                                    controller.observe(run, ref) → D for the next window;
 *                                    T searched again for the new D (Slipstream.retarget) on a
 *                                    fresh sample of the inputs not yet trained
 *
 * The epoch's first T is searched for the controller's current D at the end of the snapshot
 * window (the first epoch starts at slipstream.targetDrop). A window whose T is 0 drops
 * nothing, so the run is its own reference there (nothing copied or trained twice, one
 * evaluation). Cold batches between two hot
 * batches of a window are trained by both models; cold batches outside windows only by the run.
 * Everything is deterministic (no timing enters a decision), and the state (controller,
 * window bounds, the open window, the reference's counters and, inside a window, its model)
 * is part of a checkpoint.
 */
import { badConfig, PipelineError } from '../../../pipeline/errors.js';
import type { BudgetReport, BudgetWindow, ReferenceWork } from '../../../pipeline/run-metrics.js';
import type { Blob } from '../checkpoint/index.js';
import type { TrainConfig } from '../config.js';
import { NUM_TABLES, type Batch } from '../data/batch.js';
import type { Engine } from '../engine/engine.js';
import { Evaluator } from '../evaluate.js';
import type { TrainInputs } from '../setup.js';
import type { Trainer } from '../trainer.js';
import { DropController, type BudgetStep } from './budget.js';
import { Reference } from './reference.js';
import type { FutureSampler, Slipstream } from './slipstream.js';
import { ValSlice } from './val-slice.js';

/** The window being trained. */
interface OpenWindow {
  epoch: number;
  k: number;
  from: number;
  to: number;
  drop: number;
  threshold: number;
  seen0: number;
  dropped0: number;
  /** T = 0 drops nothing: the run is its own no-drop reference (no copy, no second model trained) */
  trivial: boolean;
}

/**
 * Check the budget keys of a config that asks for a budgeted run.
 * @throws PipelineError naming the field: a start D outside [0, budgetMaxDrop], a redis cold
 *   store (not_implemented), no validation split
 */
export function checkBudgetConfig(cfg: TrainConfig, o: { coldStore?: string; valRows?: number }): void {
  const s = cfg.slipstream;
  if (!(s.maxAucLoss > 0) || cfg.mode !== 'slipstream') return;
  if (s.targetDrop > s.budgetMaxDrop) {
    throw badConfig('slipstream.targetDrop', `${s.targetDrop} is the budgeted run's starting D and must not exceed slipstream.budgetMaxDrop ${s.budgetMaxDrop}`,
      'with maxAucLoss > 0 the controller chooses D; set targetDrop (the start) ≤ budgetMaxDrop, or maxAucLoss 0 for a fixed D');
  }
  if (o.coldStore !== undefined && o.coldStore !== 'memory') {
    throw new PipelineError('not_implemented', 'slipstream.maxAucLoss > 0 with a redis cold store: the no-drop reference copies the cold rows from host memory', {
      field: 'slipstream.maxAucLoss', hint: 'use the memory cold store for budgeted runs',
    });
  }
  if (o.valRows !== undefined && o.valRows === 0) {
    throw badConfig('slipstream.maxAucLoss', 'a budgeted run measures AUC on the validation split, and this dataset has none', 'preprocess with a validation split');
  }
}

/** Accuracy-budgeted Slipstream's state over a run (see the module comment). */
export class BudgetRun {
  readonly ctl: DropController;
  readonly windows: BudgetWindow[] = [];
  /** wall seconds of the reference's copies and steps and of the re-check evaluations */
  sec = 0;
  private bounds: number[] = [];
  private open: OpenWindow | null = null;
  private recheckRows = 0;
  private readonly ref: Reference;
  private readonly evaluator: Evaluator;

  private constructor(
    private readonly cfg: TrainConfig,
    private readonly run: Trainer,
    engine: Engine,
    inputs: TrainInputs,
    private readonly slice: ValSlice,
    private readonly log: (msg: string, extra?: Record<string, unknown>) => void,
  ) {
    const s = cfg.slipstream;
    this.ctl = new DropController({ maxAucLoss: s.maxAucLoss, start: s.targetDrop, step: s.budgetStep, dMin: 0, dMax: s.budgetMaxDrop });
    this.ref = new Reference(cfg, engine, inputs.tableSizes, inputs.hotMap);
    const split = inputs.data.splits.train;
    this.evaluator = new Evaluator(cfg.train.evalBatchSize, cfg.model.dim, NUM_TABLES, Number.isFinite(split.positives) ? split.positives / split.rows : undefined);
  }

  /** Build it for a run (loads the validation slice). */
  static async create(cfg: TrainConfig, run: Trainer, engine: Engine, inputs: TrainInputs, log: (msg: string, extra?: Record<string, unknown>) => void): Promise<BudgetRun> {
    if (!inputs.val) throw badConfig('slipstream.maxAucLoss', 'a budgeted run measures AUC on the validation split, and this dataset has none');
    const slice = await ValSlice.load(inputs.val, cfg.slipstream.recheckRows, cfg.seed);
    return new BudgetRun(cfg, run, engine, inputs, slice, log);
  }

  /** After slip.beginEpoch: the epoch's windows, and the controller's D for its first search. */
  beginEpoch(epoch: number, nHot: number, slip: Slipstream): void {
    slip.setTarget(this.ctl.drop);
    this.open = null;
    const F = slip.filterFrom;
    this.bounds = [];
    if (F === null || F >= nHot) return;
    const L = nHot - F;
    const R = Math.min(this.cfg.slipstream.rechecks, L);
    for (let k = 0; k <= R; k++) this.bounds.push(F + Math.floor((k * L) / R));
    if (R < this.cfg.slipstream.rechecks) this.log(`slipstream budget: epoch ${epoch} has ${L} hot batches after the snapshot window, so ${R} re-check windows instead of ${this.cfg.slipstream.rechecks}`, { epoch, windows: R });
  }

  /** Before hot batch `i` is filtered: open a window at its first batch; the reference trains the batch as drawn. */
  beforeHot(epoch: number, i: number, b: Batch, slip: Slipstream, where: () => string): void {
    const t0 = performance.now();
    if (!this.open) {
      const k = this.bounds.indexOf(i);
      if (k >= 0 && k + 1 < this.bounds.length) {
        const trivial = slip.threshold === 0;
        // the reference covers the window's first ⌈referenceFraction · length⌉ hot batches; the re-check follows them
        const len = this.bounds[k + 1]! - i;
        const span = Math.max(1, Math.min(len, Math.ceil(this.cfg.slipstream.referenceFraction * len - 1e-9)));
        this.open = { epoch, k, from: i, to: i + span - 1, drop: this.ctl.drop, threshold: slip.threshold, seen0: slip.hotSeen, dropped0: slip.dropped, trivial };
        if (!trivial) this.ref.copyFrom(this.run);
      }
    }
    if (this.open && !this.open.trivial) this.ref.step(true, b, where);
    this.sec += (performance.now() - t0) / 1000;
  }

  /** Before a cold batch trains: inside a window, the reference trains it too. */
  beforeCold(b: Batch, where: () => string): void {
    if (!this.open || this.open.trivial) return;
    const t0 = performance.now();
    this.ref.step(false, b, where);
    this.sec += (performance.now() - t0) / 1000;
  }

  /** True when hot batch `i` ends a window (re-batching trains its pending rows then). */
  endsWindow(i: number): boolean {
    return this.open !== null && i === this.open.to;
  }

  /** After hot batch `i` trained: at a window's end, measure both models, move D, search T again. */
  async afterHot(epoch: number, i: number, nHot: number, slip: Slipstream, sample: FutureSampler): Promise<void> {
    const w = this.open;
    if (!w || i !== w.to) return;
    const t0 = performance.now();
    const dev = this.run.device;
    const hs = dev.bytes.hotSync;
    dev.syncToHost(); // as before any evaluation; the bytes are the re-check's
    this.ref.copyBytes += dev.bytes.hotSync - hs;
    dev.bytes.hotSync = hs;
    const aucRun = (await this.evaluator.run(this.run.model, this.run.cold.evalSource(), this.slice)).auc;
    let aucRef = aucRun;
    if (!w.trivial) {
      this.ref.shadow.device.syncToHost();
      aucRef = (await this.evaluator.run(this.ref.shadow.model, this.ref.shadow.cold.evalSource(), this.slice)).auc;
    }
    this.recheckRows += (w.trivial ? 1 : 2) * this.slice.totalRows;
    const s: BudgetStep = this.ctl.observe(aucRun, aucRef);
    this.sec += (performance.now() - t0) / 1000;
    const seen = slip.hotSeen - w.seen0;
    const later = i + 1 < nHot; // hot batches left this epoch: the rest of this window (referenceFraction < 1) or the next one
    // T for the next window from the new D (Slipstream's own overhead); after the epoch's last window the next epoch's search uses it
    const r = later ? await slip.retarget(s.next, epoch, i + 1, sample) : (slip.setTarget(s.next), null);
    const rec: BudgetWindow = {
      epoch, window: w.k, hotFrom: w.from, hotTo: w.to, drop: w.drop, threshold: w.threshold,
      achievedDrop: seen > 0 ? (slip.dropped - w.dropped0) / seen : 0, aucRun, aucRef, deltaAuc: aucRun - aucRef,
      decision: s.decision, next: s.next, nextThreshold: r ? r.threshold : null,
    };
    this.windows.push(rec);
    this.open = null;
    this.log(
      `slipstream budget: epoch ${epoch} window ${w.k} (hot batches ${w.from}..${w.to}): D ${w.drop} (T ${w.threshold.toExponential(3)}, dropped ${(100 * rec.achievedDrop).toFixed(1)}%), `
        + `AUC ${aucRun.toFixed(5)} vs no-drop ${aucRef.toFixed(5)} (Δ ${rec.deltaAuc >= 0 ? '+' : ''}${rec.deltaAuc.toFixed(5)}, ε ${this.cfg.slipstream.maxAucLoss}) → ${s.decision}, next D ${s.next}`,
      { budget: rec },
    );
  }

  /** The D trajectory for metrics.json. */
  report(): BudgetReport {
    const s = this.cfg.slipstream;
    return { maxAucLoss: s.maxAucLoss, rechecks: s.rechecks, sliceRows: this.slice.totalRows, startDrop: s.targetDrop, finalDrop: this.ctl.drop, windows: this.windows.map((w) => ({ ...w })) };
  }

  /** The reference's and re-checks' counted work (RunWork.reference). */
  work(): ReferenceWork {
    return this.ref.work(this.recheckRows);
  }

  /** Checkpoint form. */
  save(): { position: Record<string, unknown>; blobs: Record<string, Blob> } {
    const r = this.ref.save(this.open !== null && !this.open.trivial);
    return {
      position: { ctl: this.ctl.save(), windows: this.windows, bounds: this.bounds, open: this.open, recheckRows: this.recheckRows, sec: this.sec, ref: r.position },
      blobs: r.blobs,
    };
  }

  /** Restore {@link save}'s output. */
  restore(p: Record<string, unknown>, blobs: Record<string, unknown>): void {
    for (const k of ['ctl', 'windows', 'bounds', 'open', 'recheckRows', 'sec', 'ref']) {
      if (!(k in p)) throw new PipelineError('bad_manifest', `checkpoint position lacks budget.${k}`);
    }
    this.ctl.restore(p['ctl'] as ReturnType<DropController['save']>);
    this.windows.splice(0, this.windows.length, ...(p['windows'] as BudgetWindow[]));
    this.bounds = [...(p['bounds'] as number[])];
    this.open = p['open'] as OpenWindow | null;
    this.recheckRows = p['recheckRows'] as number;
    this.sec = p['sec'] as number;
    this.ref.restore(p['ref'] as Record<string, unknown>, blobs, this.open !== null && !this.open.trivial);
  }
}
