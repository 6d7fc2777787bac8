/**
 * The cold-store contract: where the trainer's *cold* embedding rows live. The device keeps
 * the hot table in process; a cold (or baseline) batch reads and updates its rows through a
 * {@link ColdStore}. Two backends:
 *
 *     memory  the host tables of device.ts (today's behaviour, bit for bit; the default)
 *     redis   binary row blocks in Redis (standalone or Cluster), updates applied on the server
 *             by a Redis Function (store/redis.ts, layout in store/layout.ts)
 *
 * Call order of one run (train.ts):
 *
 *     open(rng)                    seeded init (memory: in process; redis: seeds + fingerprint, rows lazily)
 *     wrap(coldStream)             redis: reads one cold batch ahead and prefetches its rows
 *     ready() → gather → update    per cold batch: await the prefetched rows, then the sync step
 *     barrier()                    before evaluation: every update applied
 *     beforeCheckpoint()           barrier, then the cold rows into device.tables (a consistent cut)
 *     afterRestore()               device.tables (just restored) → the store
 *     close()
 */
import type { EmbeddingTable } from '../model/embedding.js';
import type { Rng } from '../../../pipeline/rng.js';
import type { Batch } from '../data/batch.js';
import type { ColdStoreReport } from '../../../pipeline/run-metrics.js';

/** What a stream of training batches offers the loop (ShardStream, or a prefetching wrapper of one). */
export interface BatchSource {
  start(epoch: number, fromBatch: number): void;
  next(batch: Batch): Promise<boolean>;
}

/**
 * Gathers evaluation rows: out[b, f, :] = row cats[b, f] of table f. With `wrap`, the evaluator
 * reads its split through it, so the store can request a batch's rows before it is gathered.
 */
export type EvalGather = ((cats: Int32Array, B: number, out: Float32Array) => Promise<void>) & { wrap?: (stream: BatchSource) => BatchSource };

/** Traffic and waiting of a cold store, for metrics.json (`coldStore`); defined with the run-metrics contract. */
export type StoreReport = ColdStoreReport;

/** The cold tier behind the trainer (see the module comment for the call order). */
export interface ColdStore {
  readonly kind: 'memory' | 'redis';
  /** seeded init of every table (the memory backend has done it synchronously in the Trainer) */
  open(rng: Rng): Promise<void>;
  /** the cold stream as the loop should read it (memory: unchanged) */
  wrap(stream: BatchSource): BatchSource;
  /** before the sync step of a cold batch: its rows are here, the write bound is respected */
  ready(): Promise<void>;
  /** out[b, f, :] = current row cats[b, f] of table f (hot rows from the device) */
  gather(cats: Int32Array, B: number, out: Float32Array): void;
  /** sparse row-wise update of the batch's rows from grad (B×F×dim) */
  update(cats: Int32Array, B: number, grad: Float32Array): void;
  /** lookups of a hot batch (counted only: hot batches never call the store) */
  countHot(n: number): void;
  /** every update sent so far is applied */
  barrier(): Promise<void>;
  /** evaluation rows: the host tables (memory) or a gather through the store (redis) */
  evalSource(): EmbeddingTable[] | EvalGather;
  /** barrier, then the cold rows into device.tables (touched bits kept) */
  beforeCheckpoint(): Promise<void>;
  /** after a checkpoint was restored into device.tables: make the store hold those rows */
  afterRestore(): Promise<void>;
  report(): StoreReport;
  close(): Promise<void>;
}
