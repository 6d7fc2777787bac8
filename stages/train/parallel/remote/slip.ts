/**
 * Slipstream over K processes (parallel.transport redis). Rank 0 (the `hotcold train` process)
 * runs train.ts's Slipstream exactly as with worker threads; what the processes add:
 *
 *   - a hot batch after Slipstream's filter (and the re-batching packer) is no longer batch idx
 *     of the hot stream, so rank 0 posts it — labels, dense, cats and, with per-replica
 *     Slipstream, the worker of each row — and the other ranks train their slice of that
 *     ({@link encodeBatch} / {@link decodeBatch}, under the step's barrier number);
 *   - hotBound 0: rank 0's hot table is every rank's (all apply every rank's hot gradients each
 *     step), so the one-worker Slipstream over rank 0's Device sees the global Δ;
 *   - hotBound > 0: per-replica Slipstream (parallel/slip.ts ReplicaSlipstream) over
 *     {@link remoteReplicaOps}: at the window's start and end every other rank posts its replica
 *     (command `replica`), rank 0 keeps the K snapshots and computes the K Δ arrays itself, as the
 *     thread workers do in shared memory (same formula: ‖replica[h] − snapshot[h]‖∞).
 */
import { PipelineError } from '../../../../pipeline/errors.js';
import { NUM_DENSE, NUM_TABLES, type Batch } from '../../data/batch.js';
import type { ReplicaOps } from '../slip.js';
import { replicaDelta } from '../apply.js';
import { aligned, bytes, type Link } from './link.js';

/** [B, hasTags] (Int32) + labels + dense + cats (+ tags), little-endian as the typed arrays. */
export function encodeBatch(batch: Batch, tags: Int32Array | null): Buffer {
  const B = batch.size;
  const head = Int32Array.from([B, tags ? 1 : 0]);
  return Buffer.concat([
    bytes(head), bytes(batch.labels, B), bytes(batch.dense, B * NUM_DENSE), bytes(batch.cats, B * NUM_TABLES), ...(tags ? [bytes(tags, B)] : []),
  ]);
}

/**
 * Fill `batch` (and `tags`) from {@link encodeBatch}'s bytes.
 * @returns whether the post carried row tags
 * @throws PipelineError('mismatch') when the bytes do not fit the batch
 */
export function decodeBatch(buf: Buffer, batch: Batch, tags: Int32Array): boolean {
  const ab = aligned(buf);
  const head = new Int32Array(ab, 0, 2);
  const B = head[0]!;
  const tagged = head[1] === 1;
  const want = 8 + B * 4 * (1 + NUM_DENSE + NUM_TABLES + (tagged ? 1 : 0));
  if (B < 0 || B > batch.labels.length || buf.length !== want) {
    throw new PipelineError('mismatch', `hotcold worker: the coordinator's posted batch has ${buf.length} bytes for ${B} rows (expected ${want}, at most ${batch.labels.length} rows)`);
  }
  let o = 8;
  batch.labels.set(new Float32Array(ab, o, B));
  o += B * 4;
  batch.dense.set(new Float32Array(ab, o, B * NUM_DENSE));
  o += B * NUM_DENSE * 4;
  batch.cats.set(new Int32Array(ab, o, B * NUM_TABLES));
  o += B * NUM_TABLES * 4;
  if (tagged) tags.set(new Int32Array(ab, o, B));
  batch.size = B;
  return tagged;
}

/** A rank's answer to the `replica` command: its hot replica, posted at the barrier. */
export async function postReplica(link: Link, replica: Float32Array): Promise<void> {
  await link.barrier([['replica', bytes(replica)]]);
  link.collect();
}

/**
 * Rank 0's ReplicaOps over the processes: `replica` is rank 0's own hot table (its replica).
 * Every call is a global barrier of all K ranks (the command goes out first).
 */
export function remoteReplicaOps(link: Link, replica: Float32Array, H: number, dim: number): ReplicaOps {
  const K = link.K;
  const snapshots = new Float32Array(K * H * dim);
  const deltas = new Float32Array(K * H);
  const n = H * dim;
  /** every rank's replica, rank 0's own first: into(k, rows) */
  const gather = async (into: (k: number, w: Float32Array) => void): Promise<void> => {
    await link.command({ op: 'replica', n: link.next });
    const b = await link.barrier();
    into(0, replica);
    const got = await Promise.all(Array.from({ length: K - 1 }, (_, i) => link.read(b, i + 1, 'replica')));
    got.forEach((buf, i) => {
      if (!buf || buf.length !== n * 4) {
        throw new PipelineError('worker_failed', `train: ${link.who(i + 1)} posted ${buf ? buf.length : 'no'} bytes of its hot replica at barrier ${b} (expected ${n * 4})`);
      }
      into(i + 1, new Float32Array(aligned(buf)));
    });
    link.collect();
  };
  return {
    K, H, dim, snapshots, deltas,
    snapshotReplicas: () => gather((k, w) => snapshots.set(w.subarray(0, n), k * n)),
    replicaDeltas: () => gather((k, w) => replicaDelta(deltas.subarray(k * H, (k + 1) * H), w, snapshots.subarray(k * n, (k + 1) * n), H, dim)),
  };
}
