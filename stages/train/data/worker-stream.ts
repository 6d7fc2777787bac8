/**
 * A {@link ShardStream} whose batches are read, decoded, shuffled and assembled on a worker
 * thread (data-worker.ts), a few batches ahead of the trainer, so the training loop does not
 * wait on data. Same batches as the in-thread stream, bit for bit (the worker runs the same
 * ShardStream code on the same seeds); `hotcold train --data-worker off` keeps the in-thread path.
 *
 *     ring of SLOTS SharedArrayBuffers (one batch each), filled by the worker in stream order
 *     next(out): free the slot `out` held → wait for the next filled one → `out` adopts its
 *                arrays (no copy: the worker's gather from the shard columns is the only one)
 *
 * Everything else a ShardStream offers (shardOrder, rowPerm, readShard: Slipstream's sample of
 * the not-yet-trained inputs) runs in the calling thread as before. The worker is unref'ed
 * while nobody waits on it, so it never keeps the process alive; errors in a shard reach the
 * caller as the same PipelineError (code, message, file) the in-thread stream throws.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PipelineError, type ErrorFields } from '../../../pipeline/errors.js';
import type { Batch } from './batch.js';
import { ShardStream, type StreamOptions } from './shard-stream.js';
import { slotBatch, slotBytes, type ErrorPayload, type FromWorker, type ToWorker } from './worker-protocol.js';

/** Batches in flight per stream: one the trainer holds, the rest filled ahead. */
export const SLOTS = 4;

/** Start the worker on compiled code, or through tsx under a TypeScript loader (tsx, vitest). */
function startWorker(): Worker {
  const self = import.meta.url;
  const entry = new URL(`./data-worker.${self.endsWith('.ts') ? 'ts' : 'js'}`, self).href;
  if (!self.endsWith('.ts')) return new Worker(new URL(entry));
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true });
}

function toError(p: ErrorPayload): Error {
  if (!p.pipeline) return new PipelineError('internal', `data worker: ${p.message}`);
  return new PipelineError(p.code, p.message, p.fields as ErrorFields);
}

/** Seconds the trainer waited on the worker, and batches it received. */
export interface WorkerStreamStats { waitSec: number; batches: number }

export class WorkerStream extends ShardStream {
  readonly stats: WorkerStreamStats = { waitSec: 0, batches: 0 };
  private worker: Worker | null = null;
  private readonly slots: SharedArrayBuffer[] = [];
  private readonly views: Batch[] = [];
  private readonly capacity: number;
  private gen = 0;
  private held = -1;
  private ended = false;
  private readonly ready: FromWorker[] = [];
  private waiter: ((m: FromWorker | Error) => void) | null = null;
  /** a crash of the worker itself (not a shard error): every later call throws it */
  private dead: Error | null = null;
  private closed = false;

  constructor(paths: string[], rows: number[], opts: StreamOptions) {
    super(paths, rows, opts);
    this.capacity = opts.batchSize;
    for (let k = 0; k < SLOTS; k++) {
      const b = new SharedArrayBuffer(slotBytes(this.capacity));
      this.slots.push(b);
      this.views.push(slotBatch(b, this.capacity));
    }
    this.ensure(); // the worker loads its modules while the trainer initialises its tables
  }

  private ensure(): Worker {
    if (this.dead) throw this.dead;
    if (this.worker) return this.worker;
    const w = startWorker();
    w.on('message', (m: FromWorker) => this.deliver(m));
    w.on('error', (e: Error) => this.fail(new PipelineError('internal', `data worker failed: ${e.message}`)));
    w.on('exit', (code) => {
      if (!this.closed) this.fail(new PipelineError('internal', `data worker exited (status ${code})`));
    });
    w.unref();
    this.worker = w;
    this.send({ type: 'init', paths: this.paths, rows: this.rows, opts: this.opts, slots: this.slots, capacity: this.capacity });
    return w;
  }

  private send(m: ToWorker): void {
    this.worker!.postMessage(m);
  }

  private fail(e: Error): void {
    this.dead ??= e;
    this.worker = null;
    const w = this.waiter;
    this.waiter = null;
    w?.(e);
  }

  private deliver(m: FromWorker): void {
    if (m.gen !== this.gen) return; // an older generation's batch: its slot was freed by 'start'
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      // resume the trainer from a fresh event-loop turn, not from inside the port's message loop:
      // Node emits up to 1000 queued messages per turn, and a step resumed from one of them would
      // keep signals (Ctrl-C), timers and other I/O waiting for as many steps
      setImmediate(() => w(m));
    } else this.ready.push(m);
  }

  /** Position the stream at batch `batch` of `epoch`; the worker starts filling from there. */
  override start(epoch: number, batch = 0): void {
    const w = this.ensure();
    this.gen++;
    this.ready.length = 0;
    this.ended = false;
    w.postMessage({ type: 'start', gen: this.gen, epoch, batch, held: this.held } satisfies ToWorker);
  }

  private take(): Promise<FromWorker> {
    const m = this.ready.shift();
    // a batch already here: still one event-loop turn per batch (see deliver)
    if (m) return new Promise((resolve) => setImmediate(() => resolve(m)));
    const w = this.ensure();
    w.ref();
    return new Promise<FromWorker>((resolve, reject) => {
      this.waiter = (r) => {
        this.worker?.unref();
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
    });
  }

  /**
   * The next batch of the epoch: `out` adopts the arrays of a filled slot when its capacity is
   * the stream's batch size (the trainer's batch), else the rows are copied into it.
   * @returns false when the epoch is exhausted (out.size = 0)
   */
  override async next(out: Batch): Promise<boolean> {
    if (this.held >= 0) {
      this.ensure();
      this.send({ type: 'free', slot: this.held });
      this.held = -1;
    }
    if (this.ended) {
      out.size = 0;
      return false;
    }
    const t = performance.now();
    const m = await this.take();
    this.stats.waitSec += (performance.now() - t) / 1000;
    if (m.type === 'error') {
      this.ended = true;
      throw toError(m.error);
    }
    if (m.type === 'end') {
      this.ended = true;
      out.size = 0;
      return false;
    }
    this.stats.batches++;
    const v = this.views[m.slot]!;
    if (out.capacity === this.capacity) {
      // the trainer's batch points into the slot until its next call (Batch's arrays are fixed per slot)
      const o = out as { labels: Float32Array; dense: Float32Array; cats: Int32Array };
      o.labels = v.labels;
      o.dense = v.dense;
      o.cats = v.cats;
      this.held = m.slot;
    } else {
      const n = m.size;
      out.labels.set(v.labels.subarray(0, n));
      out.dense.set(v.dense.subarray(0, n * (out.dense.length / out.capacity)));
      out.cats.set(v.cats.subarray(0, n * (out.cats.length / out.capacity)));
      this.send({ type: 'free', slot: m.slot });
    }
    out.size = m.size;
    return true;
  }

  /** Stop the worker (idempotent); the stream cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    this.dead ??= new PipelineError('internal', 'the data stream was closed');
    if (w) await w.terminate();
  }
}
