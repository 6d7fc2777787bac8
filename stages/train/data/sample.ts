/**
 * Seeded sample of the inputs a stream has not yet delivered in an epoch (Slipstream's
 * threshold search looks at not-yet-trained hot inputs). Positions are drawn uniformly
 * (with replacement) from the rest of the epoch's stream, then read shard by shard.
 */
import { Rng } from '../../../pipeline/rng.js';
import { NUM_TABLES } from './batch.js';
import type { ShardStream } from './shard-stream.js';

/**
 * @param fromBatch first batch of the epoch not yet delivered
 * @param k sample size (capped at the remaining inputs)
 * @returns k×26 categorical values, row-major
 */
export async function sampleRemaining(stream: ShardStream, epoch: number, fromBatch: number, k: number, seed: number): Promise<Int32Array> {
  const from = Math.min(fromBatch * stream.opts.batchSize, stream.totalRows);
  const remaining = stream.totalRows - from;
  const n = Math.min(k, remaining);
  const rng = Rng.derive(seed, 0x51195, epoch);
  const pos = new Float64Array(n);
  for (let i = 0; i < n; i++) pos[i] = from + Math.floor(rng.float() * remaining);
  pos.sort();
  const out = new Int32Array(n * NUM_TABLES);
  const order = stream.shardOrder(epoch);
  let i = 0;
  let segStart = 0;
  for (let p = 0; p < order.length && i < n; p++) {
    const shard = order[p]!;
    const rows = stream.rows[shard]!;
    if (pos[i]! >= segStart + rows) {
      segStart += rows;
      continue;
    }
    const cols = await stream.readShard(shard, false);
    const perm = stream.rowPerm(epoch, shard);
    for (; i < n && pos[i]! < segStart + rows; i++) {
      const r = perm[pos[i]! - segStart]!;
      for (let f = 0; f < NUM_TABLES; f++) out[i * NUM_TABLES + f] = cols.cats[f]![r]!;
    }
    segStart += rows;
  }
  return out;
}
