/**
 * Evaluation: forward passes over a split (no shuffling) with the host tables, then the
 * exact metrics of metrics.ts. The caller syncs the device's hot rows to the host first
 * (memory backend), or passes the cold store's gather (redis backend).
 */
import type { EvalMetrics } from '../../pipeline/run-metrics.js';
import { allocBatch, type Batch } from './data/batch.js';
import type { ShardStream } from './data/shard-stream.js';
import { evalMetrics } from './metrics.js';
import type { Dlrm } from './model/dlrm.js';
import { gatherBatch, type EmbeddingTable } from './model/embedding.js';
import type { EvalGather } from './store/types.js';

/** What an evaluation reads: a split's stream, or rows held in memory (modes/val-slice.ts). */
export type EvalStream = Pick<ShardStream, 'totalRows' | 'start' | 'next'>;

/** Reusable buffers of an evaluator (one batch and its gathered rows). */
export class Evaluator {
  private readonly batch: Batch;
  private readonly emb: Float32Array;

  /** @param trainCtr the training split's CTR: NE is normalised by it (He et al. 2014) */
  constructor(batchSize: number, dim: number, numTables: number, private readonly trainCtr?: number) {
    this.batch = allocBatch(batchSize);
    this.emb = new Float32Array(batchSize * numTables * dim);
  }

  /**
   * Evaluate on the first `maxRows` rows of `stream` (0 = all).
   * @returns AUC, AP, logloss, accuracy, NE (by training CTR and by the split's) and the rows scored
   */
  async run(model: Dlrm, tables: EmbeddingTable[] | EvalGather, stream: EvalStream, maxRows = 0): Promise<EvalMetrics> {
    const rows = maxRows > 0 ? Math.min(maxRows, stream.totalRows) : stream.totalRows;
    const labels = new Float32Array(rows);
    const probs = new Float32Array(rows);
    const b = this.batch;
    // the redis backend reads the split ahead, requesting each batch's rows before it is gathered
    const src = typeof tables === 'function' && tables.wrap ? tables.wrap(stream) : stream;
    src.start(0, 0);
    let n = 0;
    while (n < rows && (await src.next(b))) {
      const B = Math.min(b.size, rows - n);
      if (typeof tables === 'function') await tables(b.cats, B, this.emb);
      else gatherBatch(tables, b.cats, B, this.emb, model.engine.kernels);
      const p = model.forward(B, b.dense, this.emb);
      probs.set(p.subarray(0, B), n);
      labels.set(b.labels.subarray(0, B), n);
      n += B;
    }
    return evalMetrics(labels.subarray(0, n), probs.subarray(0, n), this.trainCtr);
  }
}
