/**
 * A batch stream read `depth` batches ahead (evaluation with the redis backend): each batch is
 * announced (`onAhead`) as soon as it is read, so its rows are being fetched from the store
 * while the batches before it are scored. Positions are the underlying stream's.
 */
import { allocBatch, type Batch } from '../data/batch.js';
import type { BatchSource } from './types.js';

export class ReadAhead implements BatchSource {
  private readonly free: Batch[];
  private readonly queue: Batch[] = [];
  private done = false;

  constructor(
    private readonly inner: BatchSource,
    batchSize: number,
    private readonly depth: number,
    private readonly onAhead: (cats: Int32Array, B: number) => void,
    private readonly onReset: () => void,
  ) {
    this.free = Array.from({ length: depth }, () => allocBatch(batchSize));
  }

  start(epoch: number, fromBatch: number): void {
    this.inner.start(epoch, fromBatch);
    this.onReset();
    this.free.push(...this.queue.splice(0));
    this.done = false;
  }

  private async fill(): Promise<void> {
    while (!this.done && this.free.length > 0) {
      const b = this.free.pop()!;
      if (!(await this.inner.next(b))) {
        this.free.push(b);
        this.done = true;
        break;
      }
      this.queue.push(b);
      this.onAhead(b.cats, b.size);
    }
  }

  async next(batch: Batch): Promise<boolean> {
    await this.fill();
    const a = this.queue.shift();
    if (!a) return false;
    const n = a.size;
    batch.size = n;
    batch.labels.set(a.labels.subarray(0, n));
    batch.dense.set(a.dense.subarray(0, (a.dense.length / a.capacity) * n));
    batch.cats.set(a.cats.subarray(0, (a.cats.length / a.capacity) * n));
    this.free.push(a);
    return true;
  }
}
