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
import type { WorkerJob, WorkerMessage, WorkerVocab } from './parallel.js';
import { modulo } from './modulo-hash.js';
import { U32IndexTable } from './id-table.js';
import { resolveParser } from './native.js';

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

const cat = job.categorify;
let tables: U32IndexTable[] = [];

/** Categorify the job's features in place: values → ids (int32 bit patterns in `cats`). */
function categorify(b: RowBatch): void {
  if (!cat) return;
  const ids = new Int32Array(b.cats.buffer, b.cats.byteOffset, b.cats.length);
  for (let k = 0; k < cat.features.length; k++) {
    const base = cat.features[k]! * b.capacity;
    if (cat.maxIndRange > 0) modulo(b.cats, base, b.rows, cat.maxIndRange);
    tables[k]!.mapAndCount(b.cats, b.catPresent, base, b.rows, ids, base, cat.firstId);
  }
}

async function main(): Promise<void> {
  const log = createBadLineLog();
  try {
    const native = resolveParser(job.parser);
    tables = cat ? cat.features.map(() => new U32IndexTable(1 << 12, native)) : [];
    for (let i = 0; i < job.paths.length; i++) {
      const stats = newReadStats(job.paths[i]);
      const opts = { format: job.format, onBadLine: job.onBadLine, badLines: log, batchRows: job.batchRows, parser: job.parser, reuseBatch: false, allocBatch: () => pool.pop() };
      for await (const b of readCriteo(job.paths[i]!, opts, stats)) {
        categorify(b);
        const transfer = [b.label.buffer, b.dense.buffer, b.cats.buffer, b.catPresent.buffer] as ArrayBuffer[];
        post({ type: 'batch', file: i, bytesRead: stats.bytesRead, batch: b }, transfer);
        if (pool.length === 0) await new Promise<void>((res) => (wake = res));
      }
      post({ type: 'file', file: i, stats, badLines: log });
    }
    if (cat) {
      const vocab: WorkerVocab[] = cat.features.map((feature, k) => {
        const t = tables[k]!;
        return { feature, size: t.size, missing: t.missing, counts: t.counts.slice(0, t.size), keys: t.keysByIndex() };
      });
      post({ type: 'vocab', tables: vocab }, vocab.flatMap((v) => [v.counts.buffer as ArrayBuffer, v.keys.buffer as ArrayBuffer]));
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
