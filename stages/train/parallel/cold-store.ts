/**
 * The ColdStore a parallel run gives the Trainer on the main thread: the cold rows are the
 * shared host tables (memory), trained by the workers; the store's hooks are where the
 * workers' state comes back to the main thread:
 *
 *     open            start the workers (after the Trainer initialised the shared tables)
 *     barrier         before an evaluation: WorkerPool.sync (reconcile, average, publish, touched bits, hot rows → host)
 *     beforeCheckpoint the same, at a global barrier between two steps: a consistent cut of all workers
 *     afterRestore    the restored state → every worker
 *     close           stop the workers
 *
 * gather / update are never called: ParallelRun.step trains, not Trainer.step.
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { Rng } from '../../../pipeline/rng.js';
import type { Device } from '../device.js';
import type { EmbeddingTable } from '../model/embedding.js';
import type { BatchSource, ColdStore, StoreReport } from '../store/types.js';
import type { WorkerPool } from './pool.js';

export class ParallelColdStore implements ColdStore {
  readonly kind = 'memory' as const;
  /** optimizer steps trained so far (set by ParallelRun; reconcile points count from it) */
  step = 0;
  lookups = 0;
  lookupsHot = 0;

  constructor(private readonly device: Device, private readonly pool: () => WorkerPool) {}

  open(_rng: Rng): Promise<void> {
    return this.pool().start();
  }

  wrap(stream: BatchSource): BatchSource {
    return stream;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  gather(): void {
    throw new PipelineError('internal', 'ParallelColdStore.gather: a parallel run trains through ParallelRun.step');
  }

  update(): void {
    throw new PipelineError('internal', 'ParallelColdStore.update: a parallel run trains through ParallelRun.step');
  }

  countHot(n: number): void {
    this.lookups += n;
    this.lookupsHot += n;
  }

  barrier(): Promise<void> {
    return this.pool().sync(this.step);
  }

  evalSource(): EmbeddingTable[] {
    return this.device.tables;
  }

  beforeCheckpoint(): Promise<void> {
    return this.pool().sync(this.step);
  }

  afterRestore(): Promise<void> {
    return this.pool().load(this.step);
  }

  report(): StoreReport {
    return {
      kind: 'memory', address: 'memory', roundTrips: 0, rowsRead: 0, rowsWritten: 0, bytesRead: 0, bytesWritten: 0, conflicts: 0, waitSec: 0, initSec: 0,
      lookups: this.lookups, lookupsHot: this.lookupsHot, hotShare: this.lookups > 0 ? this.lookupsHot / this.lookups : 0,
    };
  }

  close(): Promise<void> {
    return this.pool().close();
  }
}
