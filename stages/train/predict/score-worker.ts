/**
 * Worker-thread entry of the scoring pool ({@link ScorePool}): a copy of the model's dense
 * weights (the MLPs, ≈ 2 MB for the Kaggle model; the embedding tables stay on the main thread,
 * which gathers) on a one-thread engine of the same kind, so every forward pass is the same
 * sequence of GEMMs with the same M as on the main thread: bit-identical probabilities.
 * A job's buffer (dense rows, then gathered embeddings) is transferred in and back out with
 * the probabilities written over its front.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rng } from '../../../pipeline/rng.js';
import { createEngine } from '../engine/engine.js';
import { Dlrm } from '../model/dlrm.js';
import type { PoolInit, ScoreJob, ScoreReply } from './pool.js';

const init = workerData as PoolInit;
const port = parentPort!;
const model = new Dlrm(init.shape, createEngine(init.engine, 1), new Rng(0));
model.params.set(init.params);
const nIn = init.shape.bot[0]!;
const row = init.shape.numTables * init.shape.dim;

port.on('message', (job: ScoreJob) => {
  let reply: ScoreReply;
  try {
    const B = job.rows;
    const f = new Float32Array(job.buf);
    const prob = model.forward(B, f.subarray(0, B * nIn), f.subarray(B * nIn, B * (nIn + row)));
    f.set(prob, 0);
    reply = { seq: job.seq, rows: B, buf: job.buf, error: null };
  } catch (e) {
    reply = { seq: job.seq, rows: 0, buf: job.buf, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply, [reply.buf]);
});
