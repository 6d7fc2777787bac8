/**
 * A cold batch stream that reads one batch ahead, so the store can fetch the next batch's rows
 * while the current one trains (redis backend). Positions are the underlying stream's: the
 * batch read ahead is not state, a resume reads it again.
 */
import { allocBatch, type Batch } from '../data/batch.js';
import type { BatchSource } from './types.js';

export class PrefetchStream implements BatchSource {
  private readonly ahead: Batch;
  private has = false;
  private primed = false;

  constructor(
    private readonly inner: BatchSource,
    batchSize: number,
    private readonly onAhead: (cats: Int32Array, B: number) => void,
    private readonly onReset: () => void,
  ) {
    this.ahead = allocBatch(batchSize);
  }

  start(epoch: number, fromBatch: number): void {
    this.inner.start(epoch, fromBatch);
    this.onReset();
    this.primed = false;
    this.has = false;
  }

  private async read(): Promise<void> {
    this.has = await this.inner.next(this.ahead);
    if (this.has) this.onAhead(this.ahead.cats, this.ahead.size);
  }

  async next(batch: Batch): Promise<boolean> {
    if (!this.primed) {
      this.primed = true;
      await this.read();
    }
    if (!this.has) return false;
    const a = this.ahead;
    const n = a.size;
    batch.size = n;
    batch.labels.set(a.labels.subarray(0, n));
    batch.dense.set(a.dense.subarray(0, (a.dense.length / a.capacity) * n));
    batch.cats.set(a.cats.subarray(0, (a.cats.length / a.capacity) * n));
    await this.read();
    return true;
  }
}
