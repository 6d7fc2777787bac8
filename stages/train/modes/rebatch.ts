/**
 * Slipstream re-batching (`slipstream.dropMode: 'rebatch'`, the default): the hot inputs the
 * filter keeps are packed into full batches, as the paper's public code does, so a step's loss
 * is a mean over B inputs and the run takes fewer optimizer steps.
 *
 *     stream batch (B rows) → filter → kept rows appended to `pending` (capacity 2B)
 *     while pending ≥ B      → train the first B rows (in stream order), keep the rest
 *     last hot batch of the epoch, or the end of the run → train what is left (< B rows)
 *
 * Every kept input is trained exactly once and in stream order; an epoch's kept inputs take
 * ⌈kept/B⌉ steps. The pending rows are part of a checkpoint's position (blobs
 * `rebatch.labels|dense|cats` plus `size`), so a resumed run continues bit-identically.
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { Blob } from '../checkpoint/index.js';
import { allocBatch, NUM_DENSE, NUM_TABLES, type Batch } from '../data/batch.js';

/**
 * A per-row side channel aligned with the training loop's batch: the worker each input was
 * assigned to (parallel runs with per-replica Slipstream, parallel/slip.ts). `valid` says the
 * current batch's rows carry tags; the packer moves the tags with the rows.
 */
export interface RowTags {
  tags: Int32Array;
  valid: boolean;
}

export class Packer {
  private readonly pending: Batch;
  private readonly pendingTags: Int32Array | null;

  /**
   * @param B batch size of the run
   * @param side per-row tags that travel with the rows (pushed from and popped into `side.tags`)
   */
  constructor(readonly B: number, private readonly side: RowTags | null = null) {
    this.pending = allocBatch(2 * B);
    this.pendingTags = side ? new Int32Array(2 * B) : null;
  }

  /** Rows waiting for a full batch. */
  get size(): number {
    return this.pending.size;
  }

  /** Append the first `b.size` rows of `b` (after the filter) to the pending rows. */
  push(b: Batch): void {
    const p = this.pending;
    const n = b.size;
    if (p.size + n > p.capacity) throw new PipelineError('internal', `rebatch: ${p.size} pending + ${n} rows exceed ${p.capacity}`);
    p.labels.set(b.labels.subarray(0, n), p.size);
    p.dense.set(b.dense.subarray(0, n * NUM_DENSE), p.size * NUM_DENSE);
    p.cats.set(b.cats.subarray(0, n * NUM_TABLES), p.size * NUM_TABLES);
    if (this.side) {
      if (!this.side.valid) throw new PipelineError('internal', 'rebatch: a batch without worker tags in a per-replica Slipstream run');
      this.pendingTags!.set(this.side.tags.subarray(0, n), p.size);
    }
    p.size += n;
  }

  /**
   * Move the next batch to train into `out`: B rows when that many are pending, or (with
   * `flush`) whatever is left. @returns false when there is nothing to train now.
   */
  pop(out: Batch, flush: boolean): boolean {
    const p = this.pending;
    const n = p.size >= this.B ? this.B : flush ? p.size : 0;
    if (n === 0) return false;
    out.labels.set(p.labels.subarray(0, n));
    out.dense.set(p.dense.subarray(0, n * NUM_DENSE));
    out.cats.set(p.cats.subarray(0, n * NUM_TABLES));
    out.size = n;
    if (this.side) {
      this.side.tags.set(this.pendingTags!.subarray(0, n));
      this.side.valid = true;
      this.pendingTags!.copyWithin(0, n, p.size);
    }
    const rest = p.size - n;
    p.labels.copyWithin(0, n, p.size);
    p.dense.copyWithin(0, n * NUM_DENSE, p.size * NUM_DENSE);
    p.cats.copyWithin(0, n * NUM_TABLES, p.size * NUM_TABLES);
    p.size = rest;
    return true;
  }

  /** Checkpoint form. */
  save(): { size: number; blobs: Record<string, Blob> } {
    const p = this.pending;
    const n = p.size;
    return {
      size: n,
      blobs: n === 0 ? {} : {
        'rebatch.labels': p.labels.slice(0, n),
        'rebatch.dense': p.dense.slice(0, n * NUM_DENSE),
        'rebatch.cats': p.cats.slice(0, n * NUM_TABLES),
        ...(this.pendingTags ? { 'rebatch.worker': this.pendingTags.slice(0, n) } : {}),
      },
    };
  }

  /** Restore {@link save}'s output. */
  restore(size: number, blobs: Record<string, unknown>): void {
    const p = this.pending;
    p.size = 0;
    if (size === 0) return;
    const labels = blobs['rebatch.labels'];
    const dense = blobs['rebatch.dense'];
    const cats = blobs['rebatch.cats'];
    if (!(labels instanceof Float32Array) || !(dense instanceof Float32Array) || !(cats instanceof Int32Array)
      || labels.length !== size || dense.length !== size * NUM_DENSE || cats.length !== size * NUM_TABLES) {
      throw new PipelineError('bad_manifest', `checkpoint lacks the ${size} pending re-batched rows (rebatch.* blobs)`);
    }
    p.labels.set(labels);
    p.dense.set(dense);
    p.cats.set(cats);
    if (this.pendingTags) {
      const w = blobs['rebatch.worker'];
      if (!(w instanceof Int32Array) || w.length !== size) throw new PipelineError('bad_manifest', `checkpoint lacks the workers of the ${size} pending re-batched rows (rebatch.worker blob)`);
      this.pendingTags.set(w);
    }
    p.size = size;
  }
}
