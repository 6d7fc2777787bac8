/**
 * `hotcold train --threads auto` and `--data-worker`: what a lone run gives the dense GEMMs and
 * where its batches are assembled.
 *
 *     data worker on:  shard decode, shuffles and batch assembly run on a worker thread; it is idle
 *                      most of the time (≈ 1–3 ms of work per 100+ ms step on the Kaggle model)
 *     --threads auto:  OpenBLAS gets min(2, cores) threads — the second core is the data worker's
 *                      only while it assembles a batch, and the GEMMs' the rest of the time
 *
 * Sweeps pass `--threads 1` (one single-threaded job per core). The choice is fixed for a run
 * (GEMM results are bit-identical for one thread count, not across counts) and recorded in
 * metrics.json (`dataLoad`) and log.jsonl.
 */
import { availableParallelism } from 'node:os';

/** How a run loads its data and threads its GEMMs (metrics.json `dataLoad`). */
export interface DataLoadReport {
  /** batches assembled on the data worker thread */
  worker: boolean;
  /** `--threads` as asked ('auto' or a count) and the OpenBLAS threads it chose */
  threadsAsked: number | 'auto';
  threads: number;
  /** cores Node sees */
  cores: number;
  /** seconds the training loop waited for batches (this process), and the share of step time */
  waitSec: number;
  waitShare: number;
}

/**
 * The OpenBLAS threads of `--threads` (per trainer thread): auto = min(2, cores), divided among
 * `workers` data-parallel workers (so `--workers 2` on 2 cores runs 1 BLAS thread per worker,
 * not 2 × 2 threads spinning on 2 cores). An explicit count is taken as given.
 */
export function resolveThreads(asked: number | 'auto' | undefined, cores = availableParallelism(), workers = 1): number {
  if (asked === undefined) return 1;
  if (asked === 'auto') return Math.max(1, Math.floor(Math.min(2, cores) / Math.max(1, workers)));
  return asked;
}

/** metrics.json `dataLoad` of a run. */
export function dataLoadReport(worker: boolean, threadsAsked: number | 'auto', threads: number, waitSec: number, stepSec: number): DataLoadReport {
  return { worker, threadsAsked, threads, cores: availableParallelism(), waitSec, waitShare: stepSec > 0 ? waitSec / stepSec : 0 };
}
