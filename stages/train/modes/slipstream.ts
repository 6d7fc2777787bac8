/**
 * Slipstream on top of FAE: skip hot inputs whose embedding rows have gone stale.
 *
 * Per epoch, over the epoch's hot batches 0..nHot−1:
 *
 *     [0, start)                 train normally
 *     start                      snapshot the hot table (before training batch `start`)
 *     [start, start + len)       the window: train normally
 *     after batch start+len−1    Δ[h] = ‖hot[h] − snapshot[h]‖∞; sample not-yet-trained hot
 *                                inputs; bisection finds T so the would-drop fraction ≈ D
 *     [start + len, nHot)        drop an input when ≥ α of its lookups have Δ < T
 *
 * start = min(windowStart, ⌊nHot/4⌋), len = max(1, round(windowFraction · nHot)); an
 * epoch too short for a window after which batches remain drops nothing and says so.
 * No batch is trained twice (the window batches are the stream's own), and every epoch
 * starts over (new snapshot, new T).
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { RunWork } from '../../../pipeline/run-metrics.js';
import type { TrainConfig } from '../config.js';
import { compactBatch, NUM_TABLES, type Batch } from '../data/batch.js';
import type { Device } from '../device.js';

/** Result of the threshold search. */
export interface ThresholdSearch {
  threshold: number;
  /** would-drop fraction of the sample at `threshold` */
  dropFraction: number;
  inBand: boolean;
  iters: number;
  /** drop fractions evaluated (each one pass over the keys) */
  evals: number;
}

/** Per-epoch report (RunMetrics.slipstream.epochs). */
export interface SlipEpoch {
  epoch: number;
  threshold: number;
  dropFraction: number;
  inBand: boolean;
  candidates: number;
  dropped: number;
}

/** Stale lookups an input needs to be dropped: ceil(α · 26). */
export function staleNeeded(alpha: number): number {
  return Math.max(1, Math.ceil(alpha * NUM_TABLES - 1e-9));
}

/**
 * Drop key of each input: the c-th smallest Δ over its 26 lookups (c = staleNeeded(α)).
 * An input is dropped at threshold T iff key < T (then ≥ c of its lookups have Δ < T).
 * @param cats n×26 hot indices
 */
export function inputKeys(cats: Int32Array, n: number, delta: Float32Array, alpha: number): Float32Array {
  const c = staleNeeded(alpha);
  const keys = new Float32Array(n);
  const v = new Float32Array(NUM_TABLES);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < NUM_TABLES; f++) v[f] = delta[cats[i * NUM_TABLES + f]!]!;
    v.sort();
    keys[i] = v[c - 1]!;
  }
  return keys;
}

/** Fraction of keys strictly below T. */
function dropAt(keys: Float32Array, T: number): number {
  let n = 0;
  for (let i = 0; i < keys.length; i++) if (keys[i]! < T) n++;
  return keys.length === 0 ? 0 : n / keys.length;
}

/**
 * Bisection over T ∈ [0, 2·max key + tiny] for a would-drop fraction within `tol` of
 * `target`. The fraction is a step function of T, so the band can be missed (many inputs
 * sharing one key); then the closest T tried is returned with inBand false.
 */
export function searchThreshold(keys: Float32Array, target: number, tol: number, maxIters: number): ThresholdSearch {
  let lo = 0;
  let max = 0;
  for (let i = 0; i < keys.length; i++) if (keys[i]! > max) max = keys[i]!;
  let hi = 2 * max + 1e-30;
  let evals = 1;
  let best: ThresholdSearch = { threshold: lo, dropFraction: dropAt(keys, lo), inBand: false, iters: 0, evals };
  const consider = (T: number, f: number, it: number): boolean => {
    const inBand = Math.abs(f - target) <= tol;
    if (inBand || Math.abs(f - target) < Math.abs(best.dropFraction - target)) best = { threshold: T, dropFraction: f, inBand, iters: it, evals };
    best.evals = evals;
    return inBand;
  };
  if (consider(lo, best.dropFraction, 0)) return best;
  evals++;
  if (consider(hi, dropAt(keys, hi), 0)) return best;
  for (let it = 1; it <= maxIters; it++) {
    const mid = 0.5 * (lo + hi);
    evals++;
    const f = dropAt(keys, mid);
    if (consider(mid, f, it)) return best;
    if (f < target) lo = mid;
    else hi = mid;
  }
  return best;
}

/**
 * The filter kernel: keep[r] = 0 when at least `need` of input r's 26 lookups have Δ < T.
 * @param cats n×26 hot indices
 * @returns inputs marked for dropping
 */
export function markStale(keep: Uint8Array, cats: Int32Array, n: number, delta: Float32Array, T: number, need: number): number {
  let dropped = 0;
  for (let r = 0; r < n; r++) {
    let stale = 0;
    const o = r * NUM_TABLES;
    for (let f = 0; f < NUM_TABLES; f++) if (delta[cats[o + f]!]! < T) stale++;
    const drop = stale >= need;
    keep[r] = drop ? 0 : 1;
    if (drop) dropped++;
  }
  return dropped;
}

/** Counted Slipstream overhead (RunWork.slipstream, documented there). */
export type SlipWork = NonNullable<RunWork['slipstream']>;

/** Samples `k` not-yet-trained hot inputs of an epoch from hot batch `fromBatch` on; returns k×26 hot indices. */
export type FutureSampler = (epoch: number, fromBatch: number, k: number) => Promise<Int32Array>;

export type Phase = 'before' | 'window' | 'filter' | 'off';

/** Slipstream state of a run: the current epoch's window, Δ, T and the reports so far. */
export class Slipstream {
  readonly epochs: SlipEpoch[] = [];
  overheadSec = 0;
  /** hot inputs drawn from the stream (trained or dropped), and dropped, over the run */
  hotSeen = 0;
  dropped = 0;
  readonly work: SlipWork = { snapshotBytes: 0, deltaBytes: 0, searchEvals: 0, keyLookups: 0, filterLookups: 0, rechecks: 0 };
  protected phase: Phase = 'off';
  protected start = 0;
  protected len = 0;
  protected snapshot: Float32Array | null = null;
  protected delta: Float32Array | null = null;
  protected cur: SlipEpoch | null = null;
  protected readonly keep: Uint8Array;
  protected readonly need: number;
  /** drop target D of the threshold search: cfg.targetDrop, or what the budget controller set (modes/budget-run.ts) */
  protected target: number;

  constructor(
    protected readonly cfg: TrainConfig['slipstream'],
    batchSize: number,
    protected readonly log: (msg: string, extra?: Record<string, unknown>) => void,
  ) {
    this.keep = new Uint8Array(batchSize);
    this.need = staleNeeded(cfg.alpha);
    this.target = cfg.targetDrop;
  }

  /** The drop target the next threshold search uses. */
  get targetDrop(): number {
    return this.target;
  }

  /** Set the drop target of the next threshold search (accuracy-budgeted runs, before the epoch's window ends). */
  setTarget(d: number): void {
    this.target = d;
  }

  /** First hot batch of the epoch the filter applies to, or null when the epoch drops nothing. */
  get filterFrom(): number | null {
    return this.phase === 'off' ? null : this.start + this.len;
  }

  /** Staleness threshold T in use (0 before the epoch's search). */
  get threshold(): number {
    return this.cur?.threshold ?? 0;
  }

  /**
   * Re-check (accuracy-budgeted runs): search T again for drop target `d` with the epoch's Δ,
   * on a fresh sample of the hot inputs not yet trained (from hot batch `fromBatch` on).
   * Only in the filter phase; @returns the new T, or null when there is no Δ to search.
   */
  async retarget(d: number, epoch: number, fromBatch: number, sample: FutureSampler): Promise<{ threshold: number; sampleDrop: number; inBand: boolean } | null> {
    this.target = d;
    if (this.phase !== 'filter' || !this.delta) return null;
    const t0 = performance.now();
    const cats = await sample(epoch, fromBatch, this.cfg.sampleSize);
    const n = cats.length / NUM_TABLES;
    const keys = inputKeys(cats, n, this.delta, this.cfg.alpha);
    const s = searchThreshold(keys, d, this.cfg.tolerance, this.cfg.maxIters);
    this.work.keyLookups += n * NUM_TABLES;
    this.work.searchEvals += n * s.evals;
    this.work.rechecks++;
    this.cur!.threshold = s.threshold;
    this.cur!.inBand = s.inBand;
    this.overheadSec += (performance.now() - t0) / 1000;
    return { threshold: s.threshold, sampleDrop: s.dropFraction, inBand: s.inBand };
  }

  /** Start an epoch with `nHot` hot batches. */
  beginEpoch(epoch: number, nHot: number): void {
    this.start = Math.min(this.cfg.windowStart, Math.floor(nHot / 4));
    this.len = Math.max(1, Math.round(this.cfg.windowFraction * nHot));
    this.snapshot = null;
    this.delta = null;
    this.cur = { epoch, threshold: 0, dropFraction: 0, inBand: false, candidates: 0, dropped: 0 };
    if (this.start + this.len >= nHot) {
      this.phase = 'off';
      this.log(`slipstream: epoch ${epoch} has ${nHot} hot batches, too few for a window; nothing is dropped this epoch`, { epoch, nHot });
    } else {
      this.phase = 'before';
    }
  }

  /** Call before hot batch `i` of the epoch trains. */
  beforeHot(i: number, device: Device): void {
    if (this.phase !== 'before' || i !== this.start) return;
    const t0 = performance.now();
    device.syncToDevice(); // the snapshot sees every hot row's current value
    this.snapshot = device.hot!.weights.slice();
    this.work.snapshotBytes += this.snapshot.byteLength;
    this.phase = 'window';
    this.overheadSec += (performance.now() - t0) / 1000;
  }

  /** Call after hot batch `i` trained; at the window's end computes Δ and searches T. */
  async afterHot(epoch: number, i: number, device: Device, sample: FutureSampler): Promise<void> {
    if (this.phase !== 'window' || i !== this.start + this.len - 1) return;
    const t0 = performance.now();
    device.syncToDevice();
    const hot = device.hot!;
    const d = hot.dim;
    const H = hot.rows;
    const snap = this.snapshot!;
    const w = hot.weights;
    const delta = new Float32Array(H);
    for (let h = 0; h < H; h++) {
      let m = 0;
      for (let k = h * d; k < h * d + d; k++) {
        const a = Math.abs(w[k]! - snap[k]!);
        if (a > m) m = a;
      }
      delta[h] = m;
    }
    this.work.deltaBytes += 2 * snap.byteLength;
    this.snapshot = null;
    this.delta = delta;
    const cats = await sample(epoch, i + 1, this.cfg.sampleSize);
    const n = cats.length / NUM_TABLES;
    this.searchFor(epoch, inputKeys(cats, n, delta, this.cfg.alpha), `${n} sampled hot inputs`, t0);
  }

  /**
   * The window's end: T for the drop target over the sampled inputs' drop keys (one key per
   * input here; a parallel run pools one per input and replica, parallel/slip.ts); enters the
   * filter phase and logs the result. @param t0 when the window's end began (overhead)
   */
  protected searchFor(epoch: number, keys: Float32Array, what: string, t0: number, extra: Record<string, unknown> = {}): void {
    const n = keys.length;
    const s = searchThreshold(keys, this.target, this.cfg.tolerance, this.cfg.maxIters);
    this.work.keyLookups += n * NUM_TABLES;
    this.work.searchEvals += n * s.evals;
    const cur = this.cur!;
    cur.threshold = s.threshold;
    cur.inBand = s.inBand;
    this.phase = 'filter';
    const sec = (performance.now() - t0) / 1000;
    this.overheadSec += sec;
    const band = s.inBand
      ? `in band (target ${this.target} ± ${this.cfg.tolerance})`
      : `MISSED the band ${this.target} ± ${this.cfg.tolerance}: using the closest threshold found`;
    this.log(
      `slipstream: epoch ${epoch}: T = ${s.threshold.toExponential(3)} drops ${(100 * s.dropFraction).toFixed(1)}% of ${what}, ${band} (${s.iters} steps, ${sec.toFixed(2)}s)`,
      { epoch, threshold: s.threshold, sampleDrop: s.dropFraction, inBand: s.inBand, sample: n, iters: s.iters, ...extra },
    );
  }

  /** Drop stale inputs from a hot batch (after the window). @returns rows dropped */
  filter(batch: Batch): number {
    this.hotSeen += batch.size;
    if (this.phase !== 'filter') return 0;
    const t0 = performance.now();
    const dropped = markStale(this.keep, batch.cats, batch.size, this.delta!, this.cur!.threshold, this.need);
    this.work.filterLookups += batch.size * NUM_TABLES;
    const cur = this.cur!;
    cur.candidates += batch.size;
    cur.dropped += dropped;
    this.dropped += dropped;
    if (dropped > 0) compactBatch(batch, this.keep);
    this.overheadSec += (performance.now() - t0) / 1000;
    return dropped;
  }

  /** Close the epoch's report. */
  endEpoch(): void {
    const cur = this.cur;
    if (!cur) return;
    cur.dropFraction = cur.candidates > 0 ? cur.dropped / cur.candidates : 0;
    if (this.phase === 'before' || this.phase === 'window') {
      // the run stopped (maxBatches, target AUC) before the window ended: say so rather than
      // report a silent T = 0
      this.log(
        `slipstream: epoch ${cur.epoch} ended before the window finished (window = hot batches ${this.start}..${this.start + this.len - 1}); nothing was dropped`,
        { epoch: cur.epoch, windowStart: this.start, windowLen: this.len },
      );
    }
    this.epochs.push(cur);
    this.cur = null;
    this.phase = 'off';
  }

  /** Checkpoint form: JSON position + arrays. */
  save(): { position: Record<string, unknown>; blobs: Record<string, Float32Array> } {
    const blobs = this.saveArrays();
    return {
      position: {
        epochs: this.epochs, overheadSec: this.overheadSec, hotSeen: this.hotSeen, dropped: this.dropped, work: { ...this.work },
        phase: this.phase, start: this.start, len: this.len, cur: this.cur, target: this.target,
      },
      blobs,
    };
  }

  /** Restore from {@link save}'s output. */
  restore(p: Record<string, unknown>, blobs: Record<string, unknown>): void {
    const get = (k: string): unknown => {
      if (!(k in p)) throw new PipelineError('bad_manifest', `checkpoint position lacks slipstream.${k}`);
      return p[k];
    };
    this.epochs.splice(0, this.epochs.length, ...(get('epochs') as SlipEpoch[]));
    this.overheadSec = get('overheadSec') as number;
    this.hotSeen = get('hotSeen') as number;
    this.dropped = get('dropped') as number;
    Object.assign(this.work, get('work') as SlipWork);
    this.phase = get('phase') as Phase;
    this.start = get('start') as number;
    this.len = get('len') as number;
    this.cur = get('cur') as SlipEpoch | null;
    this.target = typeof p['target'] === 'number' ? p['target'] : this.cfg.targetDrop; // absent in checkpoints of older builds
    this.restoreArrays(p, blobs);
  }

  /** The snapshot (window phase) and Δ (filter phase) as checkpoint blobs. */
  protected saveArrays(): Record<string, Float32Array> {
    const blobs: Record<string, Float32Array> = {};
    if (this.snapshot) blobs['slipstream.snapshot'] = this.snapshot;
    if (this.delta) blobs['slipstream.delta'] = this.delta;
    return blobs;
  }

  /** Restore {@link saveArrays}'s blobs (after the position). */
  protected restoreArrays(_p: Record<string, unknown>, blobs: Record<string, unknown>): void {
    const f32 = (k: string): Float32Array | null => (blobs[k] instanceof Float32Array ? (blobs[k] as Float32Array) : null);
    this.snapshot = f32('slipstream.snapshot');
    this.delta = f32('slipstream.delta');
    if (this.phase === 'window' && !this.snapshot) throw new PipelineError('bad_manifest', 'checkpoint lacks the slipstream snapshot blob');
    if (this.phase === 'filter' && !this.delta) throw new PipelineError('bad_manifest', 'checkpoint lacks the slipstream delta blob');
  }
}
