/**
 * Read several Criteo files in order as `(file index, batch)` pairs, either on
 * this thread or with reading + gunzip + hashing + parsing moved to a worker
 * thread (the second core), so the caller's transforms overlap with parsing.
 * Both modes yield the same batches in the same order.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PipelineError, type ErrorCode } from '../../pipeline/errors.js';
import { DEFAULT_BATCH_ROWS, type RowBatch } from './batch.js';
import type { ParserChoice } from './native.js';
import type { BadLineLog, OnBadLine } from './parse.js';
import { newReadStats, readCriteo, type CriteoFormat, type ReadStats } from './reader.js';

export interface FileBatch {
  /** index into the paths */
  file: number;
  batch: RowBatch;
}

/**
 * Categorify work for the worker thread (parallel mode only): the worker maps
 * these features' values to ids (`datasets/criteo/id-table.ts`, same
 * first-appearance order as on the main thread) and returns the ids in place
 * of the values in `batch.cats` (int32 bit patterns); the vocabularies come back
 * in {@link ReadFilesOptions.vocab} at the end. Moves part of the main thread's
 * hash-table work to the parse thread, which has spare time at large vocabularies.
 */
export interface WorkerCategorify {
  /** feature indices (0..25) the worker categorifies */
  features: readonly number[];
  /** `value % maxIndRange` first; 0 = off */
  maxIndRange: number;
  /** id of the first value (ids below are reserved) */
  firstId: number;
}

/** One feature's vocabulary as built on the worker. */
export interface WorkerVocab {
  feature: number;
  /** distinct values */
  size: number;
  /** rows with the feature missing */
  missing: number;
  /** count per first-appearance index, length `size` */
  counts: Uint32Array;
  /** (hashed) raw value per first-appearance index, length `size` */
  keys: Uint32Array;
}

export interface ReadFilesOptions {
  format: CriteoFormat;
  onBadLine: OnBadLine;
  /** skipped lines of all files (filled in as files finish) */
  badLines: BadLineLog;
  /** parse on a worker thread @default false */
  parallel?: boolean;
  batchRows?: number;
  /** categorify these features on the worker (ignored unless `parallel`) */
  categorify?: WorkerCategorify;
  /** filled with the worker's vocabularies when `categorify` was honoured */
  vocab?: WorkerVocab[];
  /** native parse/categorify loops (see `native.ts`) @default 'auto' */
  parser?: ParserChoice;
}

/** @internal the worker's job description */
export interface WorkerJob {
  paths: string[];
  format: CriteoFormat;
  onBadLine: OnBadLine;
  batchRows: number;
  poolSize: number;
  categorify?: WorkerCategorify;
  parser?: ParserChoice;
}

/** @internal messages from the worker */
export type WorkerMessage =
  | { type: 'batch'; file: number; bytesRead: number; batch: RowBatch }
  | { type: 'file'; file: number; stats: ReadStats; badLines: BadLineLog }
  | { type: 'vocab'; tables: WorkerVocab[] }
  | { type: 'done' }
  | { type: 'error'; error: { code: ErrorCode; message: string; file?: string; line?: number; field?: string; expected?: string; actual?: string; hint?: string } };

/**
 * Yield every file's batches in order. A yielded batch is valid until the next
 * iteration step. `stats[i]` is live while file i is read and final after it.
 */
export async function* readCriteoFiles(paths: string[], opts: ReadFilesOptions, stats: ReadStats[]): AsyncGenerator<FileBatch> {
  if (opts.parallel) {
    yield* readInWorker(paths, opts, stats);
    return;
  }
  for (let i = 0; i < paths.length; i++) {
    const st = newReadStats(paths[i]);
    stats[i] = st;
    const r = readCriteo(paths[i]!, { format: opts.format, onBadLine: opts.onBadLine, badLines: opts.badLines, batchRows: opts.batchRows, parser: opts.parser }, st);
    for await (const batch of r) yield { file: i, batch };
  }
}

/** Start the worker. Under a TypeScript loader (tsx) the worker registers it first. */
function startWorker(job: WorkerJob): Worker {
  const self = import.meta.url;
  const entry = new URL(`./parse-worker.${self.endsWith('.ts') ? 'ts' : 'js'}`, self).href;
  if (!self.endsWith('.ts')) return new Worker(new URL(entry), { workerData: job });
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: job });
}

/**
 * Batches in flight between the parse worker and the consumer: 8 (≈ 31 MB) absorb the two threads'
 * jitter (with 4, each side waited for the other ≈ 0.5–1.5 s per 10M rows).
 */
const POOL_SIZE = 8;

async function* readInWorker(paths: string[], opts: ReadFilesOptions, stats: ReadStats[]): AsyncGenerator<FileBatch> {
  const worker = startWorker({ paths, format: opts.format, onBadLine: opts.onBadLine, batchRows: opts.batchRows ?? DEFAULT_BATCH_ROWS, poolSize: POOL_SIZE, categorify: opts.categorify, parser: opts.parser });
  const queue: WorkerMessage[] = [];
  let failure: unknown = null;
  let exited = false;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  worker.on('message', (m: WorkerMessage) => {
    queue.push(m);
    notify();
  });
  worker.on('error', (e) => {
    failure = e;
    notify();
  });
  worker.on('exit', () => {
    exited = true;
    notify();
  });
  try {
    for (;;) {
      while (queue.length === 0) {
        if (failure) throw failure;
        if (exited) throw new PipelineError('internal', 'the parse worker exited early');
        await new Promise<void>((res) => (wake = res));
      }
      const m = queue.shift()!;
      if (m.type === 'done') return;
      if (m.type === 'error') {
        const { code, message, ...fields } = m.error;
        throw new PipelineError(code, message, fields);
      }
      if (m.type === 'vocab') {
        if (opts.vocab) opts.vocab.push(...m.tables);
        continue;
      }
      if (m.type === 'file') {
        stats[m.file] = m.stats;
        opts.badLines.count = m.badLines.count;
        opts.badLines.first = m.badLines.first;
        continue;
      }
      const st = (stats[m.file] ??= newReadStats(paths[m.file]));
      st.bytesRead = m.bytesRead;
      yield { file: m.file, batch: m.batch };
      const b = m.batch;
      worker.postMessage({ type: 'return', batch: b }, [b.label.buffer, b.dense.buffer, b.cats.buffer, b.catPresent.buffer] as ArrayBuffer[]);
    }
  } finally {
    await worker.terminate();
  }
}
