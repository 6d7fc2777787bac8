/**
 * Scoring in order, on the main thread or on a pool of worker threads (score-worker.ts).
 *
 *     workers ≤ 1   Scorer on this thread (gather + forward)
 *     workers = n   this thread reads batches, copies their dense rows and gathers their
 *                   embedding rows into a job buffer, and hands it to one of n workers (at most
 *                   2 jobs in flight per worker); each worker runs the forward pass with its own
 *                   copy of the dense weights on a one-thread engine; results come back in any
 *                   order and are yielded in file order
 *
 * The output is bit-identical to the one-thread path whatever n is: each batch is one forward
 * pass of the same size on the same kind of engine (OpenBLAS's results depend on the GEMM's M
 * and on its thread count, so neither the batch nor OpenBLAS threading is split).
 * Only the dense weights are copied to a worker (≈ 2 MB for the Kaggle model): the embedding
 * tables, the large part, stay here and are never shared.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PipelineError } from '../../../pipeline/errors.js';
import type { Batch } from '../data/batch.js';
import { NUM_TABLES } from '../data/batch.js';
import { gatherBatch } from '../model/embedding.js';
import type { DlrmShape } from '../model/dlrm.js';
import type { LoadedModel } from '../saved/model.js';
import { Scorer } from './scorer.js';

/** @internal what a worker starts with */
export interface PoolInit {
  shape: DlrmShape;
  params: Float32Array;
  engine: 'ts' | 'blas';
}

/** @internal one batch for a worker: `buf` holds rows×nIn dense floats, then rows×F×d embedding floats */
export interface ScoreJob {
  seq: number;
  rows: number;
  buf: ArrayBuffer;
}

/** @internal a worker's answer: the probabilities over the front of `buf` */
export interface ScoreReply {
  seq: number;
  rows: number;
  buf: ArrayBuffer;
  error: string | null;
}

/** One scored batch; both views are valid until the generator is resumed. */
export interface Scored {
  size: number;
  labels: Float32Array;
  probs: Float32Array;
}

function startWorker(init: PoolInit): Worker {
  const self = import.meta.url;
  const entry = new URL(`./score-worker.${self.endsWith('.ts') ? 'ts' : 'js'}`, self).href;
  if (!self.endsWith('.ts')) return new Worker(new URL(entry), { workerData: init });
  // under a TypeScript loader (tsx, vitest) the worker registers tsx first
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

/**
 * Score `batches` in their order.
 * @param workers scoring threads; ≤ 1 scores on this thread
 */
export async function* scoreBatches(m: LoadedModel, batches: AsyncIterable<Batch>, batchSize: number, workers: number): AsyncGenerator<Scored> {
  if (workers <= 1) {
    const scorer = new Scorer(m, batchSize);
    for await (const b of batches) yield { size: b.size, labels: b.labels.subarray(0, b.size), probs: scorer.score(b) };
    return;
  }
  yield* scoreInPool(m, batches, workers);
}

async function* scoreInPool(m: LoadedModel, batches: AsyncIterable<Batch>, n: number): AsyncGenerator<Scored> {
  const shape = m.model.shape;
  const nIn = shape.bot[0]!;
  const row = NUM_TABLES * shape.dim;
  const kernels = m.model.engine.kernels;
  const init: PoolInit = { shape, params: m.model.params, engine: m.model.engine.name };
  const pool: Worker[] = [];
  const load: number[] = [];
  const done = new Map<number, ScoreReply>();
  const labelsOf = new Map<number, Float32Array>();
  const free: ArrayBuffer[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const wait = (): Promise<void> => new Promise((r) => (wake = r));
  try {
    for (let i = 0; i < n; i++) {
      const w = startWorker(init);
      w.on('message', (r: ScoreReply) => {
        load[i]!--;
        if (r.error !== null) failure ??= new PipelineError('internal', `scoring worker ${i}: ${r.error}`);
        done.set(r.seq, r);
        notify();
      });
      w.on('error', (e) => {
        failure ??= e instanceof PipelineError ? e : new PipelineError('internal', `scoring worker ${i}: ${e.message}`);
        notify();
      });
      w.on('exit', (code) => {
        if (code !== 0) failure ??= new PipelineError('internal', `scoring worker ${i} exited with code ${code}`);
        notify();
      });
      pool.push(w);
      load.push(0);
    }
    let sent = 0;
    let next = 0;
    const drain = function* (): Generator<Scored> {
      for (let r = done.get(next); r !== undefined; r = done.get(next)) {
        done.delete(next);
        const labels = labelsOf.get(next)!;
        labelsOf.delete(next);
        next++;
        yield { size: r.rows, labels, probs: new Float32Array(r.buf, 0, r.rows) };
        free.push(r.buf);
      }
    };
    const sendable = async (): Promise<void> => {
      while (failure === null && sent - next >= 2 * n) {
        if (done.has(next)) return;
        await wait();
      }
    };
    for await (const b of batches) {
      if (failure) throw failure;
      const B = b.size;
      const bytes = 4 * B * (nIn + row);
      let buf = free.pop();
      if (!buf || buf.byteLength < bytes) buf = new ArrayBuffer(4 * b.capacity * (nIn + row));
      const f = new Float32Array(buf);
      f.set(b.dense.subarray(0, B * nIn), 0);
      gatherBatch(m.tables, b.cats, B, f.subarray(B * nIn, B * (nIn + row)), kernels);
      labelsOf.set(sent, Float32Array.from(b.labels.subarray(0, B)));
      let k = 0;
      for (let i = 1; i < n; i++) if (load[i]! < load[k]!) k = i;
      load[k]!++;
      const job: ScoreJob = { seq: sent++, rows: B, buf };
      pool[k]!.postMessage(job, [buf]);
      yield* drain();
      await sendable();
      if (failure) throw failure;
      yield* drain();
    }
    while (next < sent) {
      if (failure) throw failure;
      if (!done.has(next)) await wait();
      yield* drain();
    }
    if (failure) throw failure;
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
