/**
 * The main thread's side of a parallel run: K worker threads (worker.ts) over shared memory
 * (shared.ts), driven one command at a time:
 *
 *     step   write each worker's slice of the batch, bump SEQ, wait until ctrl[DONE] = K
 *     sync   reconcile / average, worker 0 publishes its dense state; the main thread copies it
 *            into its own model (evaluations, checkpoints and the saved model read that one),
 *            ORs the workers' touched bits into the tables and copies changed hot rows to the host
 *     load   after a restore: the main thread's dense state and hot table → every worker
 *
 * A worker that fails (throws, exits) stops the run: its peers end their step at the next
 * barrier (nothing of that step is applied by a worker that had not yet reached it), the
 * others are stopped, and step() rejects with PipelineError('worker_failed') saying how to
 * resume. Nothing is checkpointed after the failure.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PipelineError } from '../../../pipeline/errors.js';
import type { TrainConfig } from '../config.js';
import { NUM_TABLES, type Batch } from '../data/batch.js';
import type { EngineKind } from '../engine/engine.js';
import type { Trainer } from '../trainer.js';
import { C, CMD, HOT_TABLE, S, allocShared, type SharedLayout } from './shared.js';
import { splitBatch, type Splitter } from './split.js';
import type { WorkerInit, WorkerMessage } from './worker.js';

/** Tests: force pipelined steps on (true) or off (false) whatever the mode (null: the mode decides). */
export const poolTestHooks: { pipeline: boolean | null } = { pipeline: null };

/** How long the main thread blocks on a command before it lets its event loop run (ms). */
const YIELD_MS = 50;

/** Whether a run filters Slipstream per replica: mode slipstream with private replicas (hotBound > 0) on K > 1 workers. */
export function replicaSlipstream(cfg: TrainConfig): boolean {
  return cfg.mode === 'slipstream' && cfg.parallel.workers > 1 && cfg.parallel.hotBound > 0;
}

/** Options of {@link WorkerPool}. */
export interface PoolOptions {
  cfg: TrainConfig;
  engine: EngineKind;
  threads: number;
  /** row owners per table 0..26 from the graph partition, or null (hash) */
  owners: Uint8Array[] | null;
  /** how a batch is split (random: contiguous slices; graph: by owner votes) */
  splitter: Splitter;
  /** tests: make a worker fail at a global step */
  fault?: WorkerInit['fault'];
  /** named in the failure message: where the run's checkpoints are */
  checkpointDir?: string;
  /**
   * return from a step when its losses are known, before its updates are applied (see
   * {@link WorkerPool.step}); only where nothing on the main thread reads the tables between
   * steps (not with the one-worker Slipstream over the shared hot table)
   */
  pipeline?: boolean;
  /** a step's updates are applied (its counters are final): called in step order */
  onStep?: (hot: boolean, B: number) => void;
}

function startWorker(init: WorkerInit): Worker {
  const self = import.meta.url;
  const entry = new URL(`./worker.${self.endsWith('.ts') ? 'ts' : 'js'}`, self).href;
  // the bundle (dist/bundle) keeps the entry beside the chunk as parallel-worker.js
  if (!self.endsWith('.ts')) {
    const bundled = new URL('./parallel-worker.js', self);
    return new Worker(self.includes('/bundle/') ? bundled : new URL(entry), { workerData: init });
  }
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

/** K workers training one run. */
export class WorkerPool {
  readonly K: number;
  readonly layout: SharedLayout;
  private workers: Worker[] = [];
  private seq = 0;
  private waiting: { seq: number; aborted: number; failed: number; resolve: () => void; reject: (e: Error) => void } | null = null;
  private failure: PipelineError | null = null;
  private stopped = false;
  private readonly exited = new Set<number>();
  /** steps trained in parallel by this process */
  steps = 0;
  /** when the main thread last let its event loop run (signals, worker exits) */
  private lastYield = performance.now();
  /** the command posted last, until its DONE */
  private posted: Promise<void> | null = null;
  /** a pipelined step whose losses are in but whose updates may still be being applied */
  private inflight: { hot: boolean; B: number } | null = null;

  constructor(private readonly trainer: Trainer, private readonly o: PoolOptions) {
    const cfg = o.cfg;
    this.K = cfg.parallel.workers;
    const dev = trainer.device;
    const tables = [...dev.tables, ...(dev.hot ? [dev.hot] : [])];
    const H = dev.hot && trainer.device.reverse ? dev.hot.rows : 0;
    const reverse = dev.reverse ? dev.reverse.map((r) => { const s = new Int32Array(new SharedArrayBuffer(r.byteLength)); s.set(r); return s; }) : null;
    this.layout = allocShared({
      K: this.K, cap: cfg.train.batchSize, dim: cfg.model.dim, P: trainer.model.params.length, H,
      hotBound: cfg.parallel.hotBound, adagrad: trainer.denseOpt.state !== null, slip: replicaSlipstream(cfg),
      weights: tables.map((t) => t.weights), accum: tables.map((t) => t.accum), rows: tables.map((t) => t.rows), reverse, owners: o.owners,
    });
    for (const t of tables) {
      if (!(t.weights.buffer instanceof SharedArrayBuffer)) throw new PipelineError('internal', 'parallel: the tables are not in shared memory');
    }
  }

  /** Publish the main thread's dense state and start the workers (they load it, and the hot table). */
  async start(): Promise<void> {
    this.publish();
    const ready: Promise<void>[] = [];
    for (let k = 0; k < this.K; k++) {
      const w = startWorker({ index: k, layout: this.layout, cfg: this.o.cfg, engine: this.o.engine, threads: this.o.threads, fault: this.o.fault ?? null });
      this.workers.push(w);
      ready.push(new Promise<void>((resolve, reject) => {
        const onMsg = (m: WorkerMessage): void => {
          if (m.type === 'ready') { w.off('message', onMsg); resolve(); }
        };
        w.on('message', onMsg);
        w.once('error', reject);
        w.once('exit', (code) => reject(new PipelineError('worker_failed', `parallel worker ${k} exited (code ${code}) while starting`)));
      }));
      w.on('message', (m: WorkerMessage) => this.onMessage(k, m));
      w.on('error', (e) => this.fail(k, e.message));
      w.on('exit', (code) => {
        this.exited.add(k);
        if (!this.stopped) this.fail(k, `exited with code ${code}`);
      });
    }
    await Promise.all(ready);
  }

  private onMessage(k: number, m: WorkerMessage): void {
    if (m.type === 'error') this.fail(k, m.message);
    else if (m.type === 'done' || m.type === 'aborted') {
      const w = this.waiting;
      if (!w || m.seq !== w.seq) return;
      if (m.type === 'aborted') w.aborted++;
      this.check();
    }
  }

  /** Settle the command when every worker has finished it, been aborted at a barrier, or failed. */
  private check(): void {
    const w = this.waiting;
    if (w && Atomics.load(this.layout.ctrl, C.DONE) + w.aborted + w.failed >= this.K) this.settle();
  }

  private fail(k: number, why: string): void {
    if (this.failure || this.stopped) return;
    Atomics.compareExchange(this.layout.ctrl, C.ABORT, 0, k + 1);
    Atomics.notify(this.layout.ctrl, C.BAR_GEN);
    const where = this.o.checkpointDir ? ` (checkpoints in ${this.o.checkpointDir})` : '';
    this.failure = new PipelineError('worker_failed', `train: parallel worker ${k} of ${this.K} failed at step ${this.layout.ctrl[C.STEP]}: ${why}; the run stopped, nothing after the last checkpoint was kept${where}`, {
      hint: `continue from the last consistent checkpoint with the same command, --resume and the same --workers ${this.K}`,
    });
    const w = this.waiting;
    if (w) {
      // the failed worker will not answer; the others end their step (or abort at a barrier)
      w.failed++;
      this.check();
      // a worker that died without a word: do not wait for it forever
      setTimeout(() => { if (this.waiting === w) this.settle(); }, 10_000).unref();
    }
  }

  private settle(): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = null;
    if (this.failure) w.reject(this.failure);
    else w.resolve();
  }

  /**
   * Post a command to every worker (the previous one must have settled: see {@link drain}).
   * @throws the run's failure (worker_failed) when a worker has failed already
   */
  private post(cmd: number): Promise<void> {
    if (this.failure) throw this.failure;
    const ctrl = this.layout.ctrl;
    const p = new Promise<void>((resolve, reject) => {
      this.waiting = { seq: this.seq + 1, aborted: 0, failed: 0, resolve, reject };
    });
    p.catch(() => undefined); // awaited by waitFor or drain; a failure with nobody waiting must not be unhandled
    Atomics.store(ctrl, C.DONE, 0);
    Atomics.store(ctrl, C.LOSS, 0);
    ctrl[C.CMD] = cmd;
    Atomics.store(ctrl, C.SEQ, ++this.seq);
    Atomics.notify(ctrl, C.SEQ);
    this.posted = p;
    return p;
  }

  /**
   * Wait until K workers have counted themselves on ctrl[word] (DONE: the command finished; LOSS: a
   * step's inputs are consumed and its losses written). The main thread blocks on the word (a
   * step is milliseconds; a message round trip through the event loop per step cost ≈ 0.5 ms of
   * every worker's time), yielding to its event loop at least every {@link YIELD_MS} so that
   * Ctrl-C and a worker that exits without a word are seen; after a failure it settles on messages.
   * @throws the run's failure (worker_failed)
   */
  private async waitFor(word: number): Promise<void> {
    const ctrl = this.layout.ctrl;
    const p = this.posted;
    if (!p) throw this.failure ?? new PipelineError('internal', 'parallel: waiting for workers with no command posted');
    for (;;) {
      const until = performance.now() + YIELD_MS;
      for (;;) {
        const n = Atomics.load(ctrl, word);
        if (n >= this.K) {
          if (word === C.DONE) {
            this.settle();
            this.posted = null;
          }
          // the training loop's own awaits may all be microtasks: let the event loop in this often
          if (performance.now() - this.lastYield >= YIELD_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            this.lastYield = performance.now();
          }
          if (word === C.DONE) await p; // rejects when a worker failed meanwhile
          return;
        }
        if (Atomics.load(ctrl, C.ABORT) !== 0) break;
        const left = until - performance.now();
        if (left <= 0) break;
        Atomics.wait(ctrl, word, n, Math.min(left, 10));
      }
      if (Atomics.load(ctrl, C.ABORT) !== 0 || this.failure) {
        this.check();
        this.posted = null;
        await p; // settled by the failure's messages (or the 10 s guard in fail): rejects
        return;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.lastYield = performance.now();
      if (this.waiting === null) {
        this.posted = null;
        await p;
        return;
      }
    }
  }

  /** Run one command on every worker, after the step in flight (if any) has finished. */
  private async command(cmd: number): Promise<void> {
    await this.drain();
    this.post(cmd);
    await this.waitFor(C.DONE);
  }

  /**
   * Wait for the step in flight (pipelined steps return when their losses are known, while the
   * workers still apply their updates) and account it. Every command, and anything on the main
   * thread that reads the tables or the counters, comes after this.
   */
  async drain(): Promise<void> {
    const f = this.inflight;
    if (!f) return;
    this.inflight = null;
    await this.waitFor(C.DONE);
    this.o.onStep?.(f.hot, f.B);
  }

  /**
   * One global step on `batch`: split, run, and return the merged batch's mean loss (NaN when
   * any worker's loss was not finite: then nothing is applied).
   *
   * Pipelined ({@link PoolOptions.pipeline}): the batch is split into the input slices while the
   * previous step's workers still apply its updates (they are past reading their inputs), and this
   * call returns once every worker has its loss, so the training loop reads the next batch while
   * the workers apply this one. Otherwise it returns when the step is applied.
   * @param step optimizer steps trained so far in the run (schedules reconciles and averages)
   * @param tags the worker of each row (assigned before a per-replica Slipstream filter), or null: the splitter's
   */
  async step(batch: Batch, hot: boolean, step: number, tags: Int32Array | null = null): Promise<number> {
    const L = this.layout;
    const B = batch.size;
    splitBatch(batch, hot, L, this.o.splitter, tags); // pipelined: the step in flight is past its inputs, and its workers copied the sizes
    await this.drain();
    const ctrl = L.ctrl;
    const { hotBound, denseBound } = this.o.cfg.parallel;
    ctrl[C.B] = B;
    ctrl[C.HOT] = hot ? 1 : 0;
    ctrl[C.STEP] = step;
    ctrl[C.RECONCILE] = hotBound > 0 && (step + 1) % hotBound === 0 ? 1 : 0;
    ctrl[C.AVERAGE] = denseBound > 0 && (step + 1) % denseBound === 0 ? 1 : 0;
    this.post(CMD.STEP);
    this.inflight = { hot, B };
    if (this.o.pipeline) await this.waitFor(C.LOSS);
    else await this.drain();
    this.steps++;
    let loss = 0;
    for (let k = 0; k < this.K; k++) loss += L.losses[k]!;
    return loss;
  }

  /** Bring the main thread's model and tables up to date (before evaluations, checkpoints, the saved model). */
  async sync(step: number): Promise<void> {
    await this.drain();
    this.layout.ctrl[C.STEP] = step;
    await this.command(CMD.SYNC);
    const L = this.layout;
    const t = this.trainer;
    const P = L.P;
    t.model.params.set(L.denseSlot.subarray(0, P));
    if (t.denseOpt.state) t.denseOpt.state.set(L.stateSlot.subarray(0, P));
    this.collectTouched();
  }

  /** OR the workers' touched bits into the tables'; hot rows a worker changed are marked for the copy to the host. */
  private collectTouched(): void {
    const dev = this.trainer.device;
    const L = this.layout;
    for (let f = 0; f < NUM_TABLES; f++) {
      const tt = dev.tables[f]!.touched;
      for (let k = 0; k < this.K; k++) {
        const wt = L.touched[k]![f]!;
        for (let i = 0; i < wt.length; i++) {
          if (wt[i] !== 0) { tt[i] = tt[i]! | wt[i]!; wt[i] = 0; }
        }
      }
    }
    if (!dev.hot || L.H === 0) return;
    for (let k = 0; k < this.K; k++) {
      const wt = L.touched[k]![HOT_TABLE]!;
      for (let i = 0; i < wt.length; i++) {
        const byte = wt[i]!;
        if (byte === 0) continue;
        wt[i] = 0;
        for (let b = 0; b < 8; b++) if (byte & (1 << b)) dev.markHotUpdated(i * 8 + b);
      }
    }
    dev.syncToHost();
  }

  /** Publish the main thread's dense state (slot 0) for the workers to load. */
  private publish(): void {
    const t = this.trainer;
    const L = this.layout;
    L.denseSlot.subarray(0, L.P).set(t.model.params);
    if (t.denseOpt.state) L.stateSlot.subarray(0, L.P).set(t.denseOpt.state);
  }

  /** After a checkpoint was restored into the main thread's state: every worker loads it. */
  async load(step: number): Promise<void> {
    await this.drain();
    this.publish();
    this.layout.ctrl[C.STEP] = step;
    for (const per of this.layout.touched) for (const t of per) t.fill(0);
    await this.command(CMD.LOAD);
  }

  /** Per-replica Slipstream: every worker snapshots its replica (the window's start). */
  snapshotReplicas(): Promise<void> {
    return this.command(CMD.SNAP);
  }

  /** Per-replica Slipstream: every worker measures its replica's Δ against its snapshot (the window's end). */
  replicaDeltas(): Promise<void> {
    return this.command(CMD.DELTA);
  }

  /** whether a pipelined step is in flight (its updates not yet known to be applied) */
  get busy(): boolean {
    return this.inflight !== null;
  }

  /** Counters summed over the workers (after {@link drain}: a step in flight still adds to them). */
  stats(): number[] {
    const out = new Array<number>(S.SIZE).fill(0);
    for (let k = 0; k < this.K; k++) {
      for (let i = 0; i < S.SIZE; i++) {
        const v = this.layout.stats[k * S.SIZE + i]!;
        out[i] = i === S.staleMax ? Math.max(out[i]!, v) : out[i]! + v;
      }
    }
    return out;
  }

  /** Stop the workers (idempotent). */
  async close(): Promise<void> {
    if (this.stopped) return;
    if (this.inflight && !this.failure) await this.drain().catch(() => undefined);
    this.stopped = true;
    const ctrl = this.layout.ctrl;
    ctrl[C.CMD] = CMD.STOP;
    Atomics.store(ctrl, C.SEQ, ++this.seq);
    Atomics.notify(ctrl, C.SEQ);
    if (this.failure) Atomics.notify(ctrl, C.BAR_GEN);
    await Promise.all(this.workers.map((w, k) => (this.exited.has(k) ? Promise.resolve() : new Promise<void>((resolve) => {
      const t = setTimeout(() => { void w.terminate().then(() => resolve()); }, 2000);
      t.unref();
      w.once('exit', () => { clearTimeout(t); resolve(); });
    }))));
  }
}

