/**
 * Splitting a global batch over the workers (the main thread, before each step).
 *
 *     random  worker k gets the contiguous slice [⌊k·B/K⌋, ⌊(k+1)·B/K⌋) of the (shuffled) batch
 *     graph   each input goes to the worker owning most of its 26 rows (partition.ts's owner
 *             map; ties → the less filled, then the lower worker), capped at ⌈B/K⌉ inputs per worker so a step stays
 *             balanced (a full worker passes the input to its next-best choice); batch order kept
 *
 * Either way the workers' slices together are exactly the batch, and each gradient is
 * weighted B_k/B, so at bound 0 the step equals the one-worker step on the merged batch.
 */
import { NUM_DENSE, NUM_TABLES, type Batch } from '../data/batch.js';
import { HOT_TABLE, type SharedLayout } from './shared.js';

/** How inputs are assigned; `owners` (graph) are per table 0..26, 255 = none. */
export interface Splitter {
  kind: 'random' | 'graph';
  owners: Uint8Array[] | null;
}

let votes = new Int32Array(0);
let scratch = new Int32Array(0);

/**
 * Write each worker's slice of `batch` into the shared input areas (sizes, labels, dense, cats).
 * @param tags the worker of each row, when the rows were assigned earlier (per-replica
 *   Slipstream assigns a stream batch's inputs before filtering them, parallel/slip.ts); the
 *   rows go to their workers in batch order
 */
export function splitBatch(batch: Batch, hot: boolean, L: SharedLayout, sp: Splitter, tags: Int32Array | null = null): void {
  const K = L.K;
  const B = batch.size;
  const cap = L.cap;
  if (!tags && (sp.kind === 'random' || !sp.owners)) {
    for (let k = 0; k < K; k++) {
      const lo = Math.floor((k * B) / K);
      const hi = Math.floor(((k + 1) * B) / K);
      L.sizes[k] = hi - lo;
      copyRows(batch, lo, hi, L, k * cap);
    }
    return;
  }
  if (!tags) {
    if (scratch.length < B) scratch = new Int32Array(B);
    assignInputs(batch.cats, B, hot, K, L.reverse, sp, scratch);
  }
  const assign = tags ?? scratch;
  for (let k = 0; k < K; k++) L.sizes[k] = 0;
  for (let b = 0; b < B; b++) {
    const k = assign[b]!;
    const at = k * cap + L.sizes[k]!;
    copyRows(batch, b, b + 1, L, at);
    L.sizes[k]!++;
  }
}

/**
 * The worker of each of B inputs (`cats`: B×26 ids; out[0..B)), by the splitter's rule: random = contiguous
 * slices [⌊kB/K⌋, ⌊(k+1)B/K⌋); graph = owner votes, capped at ⌈B/K⌉ inputs per worker.
 */
export function assignInputs(cats: Int32Array, B: number, hot: boolean, K: number, reverse: Int32Array[] | null, sp: Splitter, out: Int32Array): Int32Array {
  if (sp.kind === 'random' || !sp.owners) {
    for (let k = 0; k < K; k++) out.fill(k, Math.floor((k * B) / K), Math.floor(((k + 1) * B) / K));
    return out;
  }
  if (votes.length < K) votes = new Int32Array(K);
  const limit = Math.ceil(B / K);
  const fill = new Int32Array(K);
  const owners = sp.owners;
  const rev = hot ? null : reverse;
  for (let b = 0; b < B; b++) {
    votes.fill(0, 0, K);
    for (let f = 0; f < NUM_TABLES; f++) {
      const id = cats[b * NUM_TABLES + f]!;
      let o: number;
      if (hot) o = owners[HOT_TABLE]![id]!;
      else {
        const h = rev ? rev[f]![id]! : -1;
        o = h >= 0 ? owners[HOT_TABLE]![h]! : owners[f]![id]!;
      }
      if (o !== 255) votes[o]!++;
    }
    let best = -1;
    for (let k = 0; k < K; k++) {
      if (fill[k]! >= limit) continue;
      if (best < 0 || votes[k]! > votes[best]! || (votes[k] === votes[best] && fill[k]! < fill[best]!)) best = k;
    }
    out[b] = best;
    fill[best]!++;
  }
  return out;
}

function copyRows(batch: Batch, lo: number, hi: number, L: SharedLayout, at: number): void {
  L.labels.set(batch.labels.subarray(lo, hi), at);
  L.dense.set(batch.dense.subarray(lo * NUM_DENSE, hi * NUM_DENSE), at * NUM_DENSE);
  L.cats.set(batch.cats.subarray(lo * NUM_TABLES, hi * NUM_TABLES), at * NUM_TABLES);
}
