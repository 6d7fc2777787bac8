/**
 * The memory backend: cold rows are the Device's host tables, exactly as before the store
 * existed (Device.coldBatch counts and syncs, gatherBatch / scatterUpdate do the work).
 */
import type { Rng } from '../../../pipeline/rng.js';
import { NUM_TABLES } from '../data/batch.js';
import type { Device } from '../device.js';
import type { Kernels } from '../engine/kernels.js';
import { gatherBatch, scatterUpdate, type EmbeddingTable } from '../model/embedding.js';
import type { BatchSource, ColdStore, StoreReport } from './types.js';

/** Host tables in process memory. */
export class MemoryColdStore implements ColdStore {
  readonly kind = 'memory' as const;
  private lookups = 0;
  private lookupsHot = 0;

  constructor(private readonly device: Device, private readonly kernels?: Kernels) {}

  /** The Trainer initialised the tables already (Device.init, synchronously). */
  open(_rng: Rng): Promise<void> {
    return Promise.resolve();
  }

  wrap(stream: BatchSource): BatchSource {
    return stream;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  gather(cats: Int32Array, B: number, out: Float32Array): void {
    this.lookups += B * NUM_TABLES;
    this.device.coldBatch(cats, B);
    gatherBatch(this.device.tables, cats, B, out, this.kernels);
  }

  update(cats: Int32Array, B: number, grad: Float32Array): void {
    scatterUpdate(this.device.tables, cats, B, grad, this.kernels);
  }

  /** Hot-batch lookups (the trainer counts them here; nothing else happens). */
  countHot(n: number): void {
    this.lookups += n;
    this.lookupsHot += n;
  }

  barrier(): Promise<void> {
    return Promise.resolve();
  }

  evalSource(): EmbeddingTable[] {
    return this.device.tables;
  }

  beforeCheckpoint(): Promise<void> {
    return Promise.resolve();
  }

  afterRestore(): Promise<void> {
    return Promise.resolve();
  }

  report(): StoreReport {
    return {
      kind: 'memory', address: 'memory', roundTrips: 0, rowsRead: 0, rowsWritten: 0, bytesRead: 0, bytesWritten: 0, conflicts: 0, waitSec: 0, initSec: 0,
      lookups: this.lookups, lookupsHot: this.lookupsHot, hotShare: this.lookups > 0 ? this.lookupsHot / this.lookups : 0,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
