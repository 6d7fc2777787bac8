/**
 * The data worker's thread: shard reads and decodes, the seeded shuffles and batch assembly
 * of a {@link ShardStream}, into the shared slots of its {@link WorkerStream}. The same
 * ShardStream code as the in-thread path runs here, so the batches are bit-identical.
 *
 *     pump:  while a slot is free and the epoch has rows: fill it (stream.next) → post 'batch'
 *            a 'start' in between: the fill in flight is dropped, a new stream starts the new generation
 *            an error: posted once as 'error' (PipelineError fields), nothing more until the next 'start'
 */
import { parentPort } from 'node:worker_threads';
import { PipelineError } from '../../../pipeline/errors.js';
import type { Batch } from './batch.js';
import { ShardStream } from './shard-stream.js';
import { slotBatch, type ErrorPayload, type FromWorker, type InitMsg, type StartMsg, type ToWorker } from './worker-protocol.js';

const port = parentPort!;
let init: InitMsg | null = null;
let views: Batch[] = [];
let stream: ShardStream | null = null;
let gen = -1;
let free: number[] = [];
let stopped = true;
let pendingStart: StartMsg | null = null;
let pumping = false;

const post = (m: FromWorker): void => port.postMessage(m);

function payload(e: unknown): ErrorPayload {
  if (e instanceof PipelineError) {
    const { file, line, byteOffset, field, expected, actual, hint } = e;
    return { pipeline: true, code: e.code, message: e.message, fields: { file, line, byteOffset, field, expected, actual, hint } };
  }
  return { pipeline: false, code: 'internal', message: e instanceof Error ? e.message : String(e), fields: {} };
}

function apply(s: StartMsg): void {
  const i = init!;
  gen = s.gen;
  stream = new ShardStream(i.paths, i.rows, i.opts);
  stream.start(s.epoch, s.batch);
  free = [];
  for (let k = 0; k < views.length; k++) if (k !== s.held) free.push(k);
  stopped = false;
}

async function pump(): Promise<void> {
  if (pumping) return;
  pumping = true;
  try {
    for (;;) {
      if (pendingStart) {
        apply(pendingStart);
        pendingStart = null;
      }
      if (stopped || free.length === 0) break;
      const slot = free.shift()!;
      const g = gen;
      let ok: boolean;
      try {
        ok = await stream!.next(views[slot]!);
      } catch (e) {
        if (pendingStart) continue; // a newer generation asked for other batches
        stopped = true;
        post({ type: 'error', gen: g, error: payload(e) });
        continue;
      }
      if (pendingStart) continue; // stale fill: the new generation's free list is rebuilt
      if (!ok) {
        stopped = true;
        free.push(slot);
        post({ type: 'end', gen: g });
        continue;
      }
      post({ type: 'batch', gen: g, slot, size: views[slot]!.size });
    }
  } finally {
    pumping = false;
  }
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'init') {
    init = m;
    views = m.slots.map((b) => slotBatch(b, m.capacity));
    return;
  }
  if (m.type === 'start') pendingStart = m;
  else if (!free.includes(m.slot)) free.push(m.slot);
  void pump();
});
