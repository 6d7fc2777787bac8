import { describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import { allocBatch, NUM_TABLES, type Batch } from '../../../stages/train/data/batch.js';
import type { Device } from '../../../stages/train/device.js';
import { Packer } from '../../../stages/train/modes/rebatch.js';
import { Slipstream } from '../../../stages/train/modes/slipstream.js';
import { ReplicaSlipstream, replicaKeys, type ReplicaOps } from '../../../stages/train/parallel/slip.js';
import { HOT_TABLE } from '../../../stages/train/parallel/shared.js';

const H = 4;
const DIM = 2;
const K = 2;

/**
 * Two replicas that disagree: replica 0 moved rows 0 and 1 (row 2, 3 still), replica 1 moved
 * rows 2 and 3 (0, 1 still). "Training" between the snapshot and Δ is done by `move`.
 */
function fakeOps(): ReplicaOps & { replicas: Float32Array[]; move(): void } {
  const replicas = [new Float32Array(H * DIM), new Float32Array(H * DIM)];
  const snapshots = new Float32Array(K * H * DIM);
  const deltas = new Float32Array(K * H);
  return {
    K, H, dim: DIM, snapshots, deltas, replicas,
    move() {
      const [r0, r1] = replicas as [Float32Array, Float32Array];
      for (const h of [0, 1]) r0[h * DIM] = r0[h * DIM]! + 1;
      for (const h of [2, 3]) r1[h * DIM + 1] = r1[h * DIM + 1]! - 2;
    },
    snapshotReplicas() {
      replicas.forEach((r, k) => snapshots.set(r, k * H * DIM));
      return Promise.resolve();
    },
    replicaDeltas() {
      for (let k = 0; k < K; k++) {
        for (let h = 0; h < H; h++) {
          let m = 0;
          for (let c = 0; c < DIM; c++) m = Math.max(m, Math.abs(replicas[k]![h * DIM + c]! - snapshots[(k * H + h) * DIM + c]!));
          deltas[k * H + h] = m;
        }
      }
      return Promise.resolve();
    },
  };
}

/** A hot batch: input i looks up row rows[i] in all 26 tables. */
function batchOf(rows: number[]): Batch {
  const b = allocBatch(rows.length);
  rows.forEach((r, i) => {
    b.cats.fill(r, i * NUM_TABLES, (i + 1) * NUM_TABLES);
    b.labels[i] = i;
  });
  b.size = rows.length;
  return b;
}

const cfg = resolveTrainConfig({ mode: 'slipstream', slipstream: { windowStart: 0, windowFraction: 0.05, targetDrop: 0.5, tolerance: 0.05, sampleSize: 64 } }).slipstream;
const noDevice = null as unknown as Device;
/** the sample of future inputs: every row equally often */
const sample = (_e: number, _f: number, n: number): Promise<Int32Array> => Promise.resolve(batchOf(Array.from({ length: n }, (_, i) => i % H)).cats);

async function throughWindow(s: Slipstream, ops: ReturnType<typeof fakeOps>): Promise<void> {
  s.beginEpoch(0, 20);
  await s.beforeHot(0, noDevice);
  ops.move();
  await s.afterHot(0, 0, noDevice, sample);
  expect(s.filterFrom).toBe(1); // window = hot batch 0, filter from batch 1
}

describe('per-replica Slipstream', () => {
  it('each worker skips the inputs stale in ITS replica (the replicas disagree)', async () => {
    const ops = fakeOps();
    const s = new ReplicaSlipstream(cfg, 8, () => {}, ops, { kind: 'random', owners: null });
    await throughWindow(s, ops);
    // Δ: replica 0 = [1, 1, 0, 0], replica 1 = [0, 0, 2, 2]; pooled keys: half 0 → T in (0, 1] drops exactly D = 0.5
    expect(Array.from(ops.deltas)).toEqual([1, 1, 0, 0, 0, 0, 2, 2]);
    expect(s.threshold).toBeGreaterThan(0);
    expect(s.threshold).toBeLessThanOrEqual(1);
    expect(s.rowsDiffering).toBe(1);
    // random split: inputs 0..3 → worker 0, 4..7 → worker 1
    const b = batchOf([0, 1, 2, 3, 0, 1, 2, 3]);
    const dropped = s.filter(b);
    // worker 0 drops rows 2, 3 (still in its replica); worker 1 drops rows 0, 1
    expect(dropped).toBe(4);
    expect(b.size).toBe(4);
    expect(Array.from(b.labels.subarray(0, 4))).toEqual([0, 1, 6, 7]);
    expect(Array.from(s.tags.tags.subarray(0, 4))).toEqual([0, 0, 1, 1]);
    expect(s.tags.valid).toBe(true);
    expect(s.report().perWorker).toEqual([{ candidates: 4, dropped: 2, dropFraction: 0.5 }, { candidates: 4, dropped: 2, dropFraction: 0.5 }]);
    expect(s.report().dropFraction).toBe(0.5);
    // the one-replica Slipstream over replica 0 alone would drop rows 2, 3 on both workers: another result
    const one = new Slipstream(cfg, 8, () => {});
    const dev = { syncToDevice() {}, hot: { weights: ops.replicas[0]!.slice(), dim: DIM, rows: H } } as unknown as Device;
    one.beginEpoch(0, 20);
    one.beforeHot(0, dev);
    const r0 = ops.replicas[0]!;
    r0[0] = r0[0]! + 1;
    r0[DIM] = r0[DIM]! + 1;
    (dev.hot!.weights as Float32Array).set(ops.replicas[0]!);
    await one.afterHot(0, 0, dev, sample);
    const b1 = batchOf([0, 1, 2, 3, 0, 1, 2, 3]);
    one.filter(b1);
    expect(Array.from(b1.labels.subarray(0, b1.size))).toEqual([0, 1, 4, 5]);
  });

  it('graph split: the sample is keyed under its assigned worker, and the filter assigns by owner votes', async () => {
    const ops = fakeOps();
    // rows 0, 1 owned by worker 1, rows 2, 3 by worker 0: every input lands where its rows are fresh
    const owners = Array.from({ length: NUM_TABLES + 1 }, () => new Uint8Array(H).fill(255));
    owners[HOT_TABLE] = Uint8Array.from([1, 1, 0, 0]);
    const s = new ReplicaSlipstream({ ...cfg, targetDrop: 0 }, 8, () => {}, ops, { kind: 'graph', owners });
    expect(s.keying).toBe('assigned');
    await throughWindow(s, ops);
    const b = batchOf([0, 2, 1, 3, 0, 2, 1, 3]);
    expect(s.filter(b)).toBe(0);
    expect(Array.from(s.tags.tags)).toEqual([1, 0, 1, 0, 1, 0, 1, 0]);
    // keys: each sampled input under its own worker's Δ → none is stale at any T ≤ 1
    const cats = batchOf([0, 1, 2, 3]).cats;
    expect(Array.from(replicaKeys(cats, 4, ops.deltas, H, K, 1, Int32Array.from([0, 0, 1, 1])))).toEqual([1, 1, 2, 2]);
    expect(Array.from(replicaKeys(cats, 4, ops.deltas, H, K, 1, null))).toEqual([1, 1, 0, 0, 0, 0, 2, 2]);
  });

  it('the packer carries the workers with the rows; checkpoints hold the per-replica arrays and counters', async () => {
    const ops = fakeOps();
    const s = new ReplicaSlipstream(cfg, 8, () => {}, ops, { kind: 'random', owners: null });
    const packer = new Packer(8, s.tags);
    s.beginEpoch(0, 20);
    await s.beforeHot(0, noDevice);
    const win = s.save();
    expect(win.blobs['slipstream.snapshots']).toEqual(ops.snapshots);
    ops.move();
    await s.afterHot(0, 0, noDevice, sample);
    const b = batchOf([0, 1, 2, 3, 0, 1, 2, 3]);
    s.filter(b);
    packer.push(b);
    expect(packer.pop(b, false)).toBe(false);
    const saved = s.save();
    const pk = packer.save();
    expect(Array.from(pk.blobs['rebatch.worker'] as Int32Array)).toEqual([0, 0, 1, 1]);
    // restore into fresh objects (the shared areas zeroed) and continue identically
    const ops2 = fakeOps();
    const s2 = new ReplicaSlipstream(cfg, 8, () => {}, ops2, { kind: 'random', owners: null });
    s2.restore(saved.position, saved.blobs);
    expect(ops2.deltas).toEqual(ops.deltas);
    expect(s2.report()).toEqual(s.report());
    const p2 = new Packer(8, s2.tags);
    p2.restore(pk.size, pk.blobs);
    const more = batchOf([2, 3, 2, 3, 2, 3, 0, 1]);
    const more2 = batchOf([2, 3, 2, 3, 2, 3, 0, 1]);
    s.filter(more);
    s2.filter(more2);
    packer.push(more);
    p2.push(more2);
    expect(packer.pop(more, true)).toBe(true);
    expect(p2.pop(more2, true)).toBe(true);
    expect(Array.from(more2.labels.subarray(0, more2.size))).toEqual(Array.from(more.labels.subarray(0, more.size)));
    expect(Array.from(s2.tags.tags.subarray(0, more2.size))).toEqual(Array.from(s.tags.tags.subarray(0, more.size)));
    // a window-phase checkpoint without the snapshots blob is refused
    const s3 = new ReplicaSlipstream(cfg, 8, () => {}, fakeOps(), { kind: 'random', owners: null });
    expect(() => s3.restore(win.position, {})).toThrow(/slipstream.snapshots/);
  });
});
