/** Forward passes of a loaded model over batches: probabilities (and logits) per row. */
import type { Batch } from '../data/batch.js';
import { NUM_TABLES } from '../data/batch.js';
import { gatherBatch } from '../model/embedding.js';
import type { LoadedModel } from '../saved/model.js';

/** Reusable gather buffer for one model. */
export class Scorer {
  private emb: Float32Array;

  constructor(readonly m: LoadedModel, capacity: number) {
    this.emb = new Float32Array(capacity * NUM_TABLES * m.model.shape.dim);
  }

  /**
   * Score the first `b.size` rows (an id outside its table is a `bad_input` error from the gather).
   * @returns probabilities (a view valid until the next call)
   */
  score(b: Batch): Float32Array {
    const B = b.size;
    const need = B * NUM_TABLES * this.m.model.shape.dim;
    if (need > this.emb.length) this.emb = new Float32Array(need);
    gatherBatch(this.m.tables, b.cats, B, this.emb, this.m.model.engine.kernels);
    return this.m.model.forward(B, b.dense, this.emb);
  }

  /** Logits of the last {@link score} call. */
  logits(): Float32Array {
    return this.m.model.logits();
  }
}
