/**
 * Worker-thread entry for {@link readCriteoFiles} in parallel mode: reads,
 * hashes, decompresses and parses the files in order, posting each filled
 * {@link RowBatch} to the parent (buffers transferred, not copied). The parent
 * sends batches back for reuse; at most `poolSize` are in flight.
 *
 * Messages to the parent: `batch`, `file` (stats + bad-line log after each
 * file), `done`, or `error` (a serialised PipelineError).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PipelineError } from '../../pipeline/errors.js';
import { createRowBatch, type RowBatch } from './batch.js';
import { createBadLineLog } from './parse.js';
import { newReadStats, readCriteo } from './reader.js';
import type { WorkerJob, WorkerMessage } from './parallel.js';

const port = parentPort!;
const job = workerData as WorkerJob;
const pool: RowBatch[] = Array.from({ length: job.poolSize }, () => createRowBatch(job.batchRows));
let wake: (() => void) | null = null;
port.on('message', (m: { type: 'return'; batch: RowBatch }) => {
  pool.push(m.batch);
  if (wake) {
    const w = wake;
    wake = null;
    w();
  }
});

function post(m: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

async function main(): Promise<void> {
  const log = createBadLineLog();
  try {
    for (let i = 0; i < job.paths.length; i++) {
      const stats = newReadStats(job.paths[i]);
      const opts = { format: job.format, onBadLine: job.onBadLine, badLines: log, batchRows: job.batchRows, reuseBatch: false, allocBatch: () => pool.pop() };
      for await (const b of readCriteo(job.paths[i]!, opts, stats)) {
        const transfer = [b.label.buffer, b.dense.buffer, b.cats.buffer, b.catPresent.buffer] as ArrayBuffer[];
        post({ type: 'batch', file: i, bytesRead: stats.bytesRead, batch: b }, transfer);
        if (pool.length === 0) await new Promise<void>((res) => (wake = res));
      }
      post({ type: 'file', file: i, stats, badLines: log });
    }
    post({ type: 'done' });
  } catch (e) {
    const err =
      e instanceof PipelineError
        ? { code: e.code, message: e.message, file: e.file, line: e.line, field: e.field, expected: e.expected, actual: e.actual, hint: e.hint }
        : { code: 'internal' as const, message: (e as Error)?.stack ?? String(e) };
    post({ type: 'error', error: err });
  }
  port.close();
}

void main();
