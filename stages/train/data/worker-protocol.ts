/**
 * The messages between a {@link WorkerStream} (trainer thread) and its data worker
 * (data-worker.ts), and the batch slots they share.
 *
 *     slots   a ring of SharedArrayBuffers, one batch each: labels f32[B] | dense f32[B·13] | cats i32[B·26]
 *     main → worker   init (paths, rows, options, slots) · start (generation, epoch, batch, slot held) · free (slot)
 *     worker → main   batch (generation, slot, rows) · end (generation) · error (generation, PipelineError fields)
 *
 * The worker fills free slots in stream order, one at a time; the trainer holds at most one
 * slot (the batch it trains on) and frees it when it asks for the next. `start` begins a new
 * generation: messages of older generations are dropped on arrival.
 */
import type { ErrorCode } from '../../../pipeline/errors.js';
import { NUM_DENSE, NUM_TABLES, type Batch } from './batch.js';
import type { StreamOptions } from './shard-stream.js';

export interface InitMsg {
  type: 'init';
  paths: string[];
  rows: number[];
  opts: StreamOptions;
  slots: SharedArrayBuffer[];
  capacity: number;
}
export interface StartMsg { type: 'start'; gen: number; epoch: number; batch: number; held: number }
export interface FreeMsg { type: 'free'; slot: number }
export type ToWorker = InitMsg | StartMsg | FreeMsg;

/** A PipelineError's fields as they cross the thread boundary. */
export interface ErrorPayload { pipeline: boolean; code: ErrorCode; message: string; fields: Record<string, string | number | undefined> }

export type FromWorker =
  | { type: 'batch'; gen: number; slot: number; size: number }
  | { type: 'end'; gen: number }
  | { type: 'error'; gen: number; error: ErrorPayload };

/** Bytes of one slot for batches of `capacity` rows. */
export function slotBytes(capacity: number): number {
  return 4 * capacity * (1 + NUM_DENSE + NUM_TABLES);
}

/** The batch view of one slot (size 0). */
export function slotBatch(buf: SharedArrayBuffer, capacity: number): Batch {
  return {
    size: 0,
    capacity,
    labels: new Float32Array(buf, 0, capacity),
    dense: new Float32Array(buf, 4 * capacity, capacity * NUM_DENSE),
    cats: new Int32Array(buf, 4 * capacity * (1 + NUM_DENSE), capacity * NUM_TABLES),
  };
}
