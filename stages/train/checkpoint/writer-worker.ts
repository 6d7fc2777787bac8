/**
 * Worker-thread entry of the background checkpoint writer ({@link BackgroundWriter}):
 * receives a version's file image (transferred, not copied), runs the commit protocol
 * ({@link commitVersion}: CRC-32, write, fsyncs, manifest, rename) and, after a new base,
 * prunes old chains; then transfers the image buffer back for reuse. One job at a time.
 */
import { parentPort } from 'node:worker_threads';
import { PipelineError } from '../../../pipeline/errors.js';
import { ioError } from '../../../pipeline/io-error.js';
import { InjectedCrash, commitVersion, nowMs, pruneChains } from './commit.js';
import { writeFlat } from './flat.js';
import { versionName } from './format.js';
import type { FlatReply, WriteJob, WriteReply } from './writer.js';

const port = parentPort!;

port.on('message', (job: WriteJob) => {
  const progress = { committed: false };
  let reply: WriteReply;
  try {
    const image = job.image.subarray(0, job.imageBytes);
    const r = commitVersion(job.dir, job.head, (w) => {
      w.write(image);
      return job.layout;
    }, { failAfter: job.failAfter, startedAt: job.startedAt, progress });
    const pruned = job.keepChains === null ? null : pruneChains(job.dir, job.keepChains);
    reply = { type: 'done', version: job.head.version, dataBytes: r.dataBytes, bytes: r.bytes, pruned, finishedAt: nowMs(), image: job.image };
  } catch (caught) {
    // an OS failure (disk full …) becomes a located `io` error naming the checkpoint directory
    const e = ioError(caught, `write checkpoint ${versionName(job.head.version)}`, job.dir);
    const error =
      e instanceof PipelineError
        ? { code: e.code, message: e.message, file: e.file, field: e.field, expected: e.expected, actual: e.actual, hint: e.hint }
        : { code: 'internal' as const, message: `checkpoint write failed: ${e instanceof Error ? e.message : String(e)}` };
    reply = { type: 'error', version: job.head.version, error, crash: e instanceof InjectedCrash ? e.step : null, committed: progress.committed, image: job.image };
  }
  port.postMessage(reply, [reply.image.buffer as ArrayBuffer]);
  // the version is committed and answered (training goes on); now fold the chain into its flat increment
  if (job.flat && reply.type === 'done') {
    let msg: FlatReply;
    try {
      msg = { type: 'flat', version: job.head.version, ok: true, result: writeFlat(job.dir, job.head.version, { failAfter: job.failFlatAfter }) };
    } catch (e) {
      msg = { type: 'flat', version: job.head.version, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(msg);
  }
});
