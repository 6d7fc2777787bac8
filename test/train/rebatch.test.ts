import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/rng.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { allocBatch, compactBatch, NUM_TABLES } from '../../stages/train/data/batch.js';
import type { Device } from '../../stages/train/device.js';
import { Packer } from '../../stages/train/modes/rebatch.js';
import { inputKeys, markStale, Slipstream, staleNeeded } from '../../stages/train/modes/slipstream.js';
import { train } from '../../stages/train/train.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

const SLIP = {
  mode: 'slipstream',
  model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' },
  train: { batchSize: 128, epochs: 2, logEvery: 10 },
  slipstream: { windowStart: 4, windowFraction: 0.05, tolerance: 0.05 },
} as const;

let d: TrainData;
beforeAll(() => {
  d = makeTrainData();
});
afterAll(() => d.cleanup());

describe('Packer', () => {
  it('trains every kept input exactly once, in stream order, in ⌈kept/B⌉ batches', () => {
    const B = 8;
    const rng = new Rng(5);
    const p = new Packer(B);
    const inb = allocBatch(B);
    const out = allocBatch(B);
    const kept: number[] = [];
    const seen: number[] = [];
    let steps = 0;
    let id = 0;
    const batches = 13;
    for (let k = 0; k < batches; k++) {
      inb.size = k === batches - 1 ? 5 : B; // the stream's last batch is short
      const keep = new Uint8Array(B);
      for (let r = 0; r < inb.size; r++) {
        inb.dense[r * 13] = id; // the input's identity rides in dense[0]
        inb.cats[r * NUM_TABLES] = id;
        keep[r] = rng.float() < 0.6 ? 1 : 0;
        if (keep[r]) kept.push(id);
        id++;
      }
      compactBatch(inb, keep);
      p.push(inb);
      while (p.pop(out, k === batches - 1)) {
        steps++;
        if (p.size > 0 || k < batches - 1) expect(out.size).toBe(B); // only the flush may be short
        for (let r = 0; r < out.size; r++) {
          expect(out.cats[r * NUM_TABLES]).toBe(out.dense[r * 13]);
          seen.push(out.dense[r * 13]!);
        }
      }
    }
    expect(seen).toEqual(kept);
    expect(steps).toBe(Math.ceil(kept.length / B));
    expect(p.size).toBe(0);
  });

  it('round-trips its pending rows through save/restore', () => {
    const p = new Packer(4);
    const b = allocBatch(4);
    b.size = 3;
    b.labels.set([1, 0, 1]);
    b.cats[26] = 9;
    p.push(b);
    const s = p.save();
    const q = new Packer(4);
    q.restore(s.size, s.blobs);
    const out = allocBatch(4);
    expect(q.pop(out, false)).toBe(false);
    expect(q.pop(out, true)).toBe(true);
    expect([...out.labels.subarray(0, 3)]).toEqual([1, 0, 1]);
    expect(out.cats[26]).toBe(9);
    expect(() => q.restore(3, {})).toThrow(/pending re-batched rows/);
  });
});

describe('Slipstream filter and snapshots', () => {
  it('drops exactly the inputs whose key is below T', () => {
    const rng = new Rng(9);
    const H = 50;
    const n = 400;
    const delta = Float32Array.from({ length: H }, () => rng.float() * 1e-3);
    const cats = Int32Array.from({ length: n * NUM_TABLES }, () => Math.floor(rng.float() * H));
    for (const alpha of [1, 0.5, 0.1]) {
      const keys = inputKeys(cats, n, delta, alpha);
      for (const T of [0, 2e-4, 5e-4, 9e-4, 1]) {
        const keep = new Uint8Array(n);
        const dropped = markStale(keep, cats, n, delta, T, staleNeeded(alpha));
        let expected = 0;
        for (let r = 0; r < n; r++) {
          expect(keep[r] === 0).toBe(keys[r]! < T);
          if (keys[r]! < T) expected++;
        }
        expect(dropped).toBe(expected);
      }
    }
  });

  it('snapshots before hot batch start = min(windowStart, ⌊nHot/4⌋) and computes Δ after batch start + len − 1', async () => {
    const H = 10;
    const weights = new Float32Array(H * 4);
    const device = { hot: { weights, dim: 4, rows: H }, syncToDevice: () => 0 } as unknown as Device;
    const cfg = resolveTrainConfig({ mode: 'slipstream', slipstream: { windowStart: 6, windowFraction: 0.1, sampleSize: 10 } }).slipstream;
    for (const [nHot, start, len] of [[40, 6, 4], [16, 4, 2]] as const) {
      const s = new Slipstream(cfg, 8, () => {});
      s.beginEpoch(0, nHot);
      const snaps: number[] = [];
      const deltas: number[] = [];
      for (let i = 0; i < nHot; i++) {
        const before = s.work.snapshotBytes;
        s.beforeHot(i, device);
        if (s.work.snapshotBytes > before) snaps.push(i);
        weights[0] = weights[0]! + 1; // every batch changes row 0
        const d0 = s.work.deltaBytes;
        await s.afterHot(0, i, device, async () => new Int32Array(NUM_TABLES * 2));
        if (s.work.deltaBytes > d0) deltas.push(i);
      }
      expect(snaps).toEqual([start]);
      expect(deltas).toEqual([start + len - 1]);
      expect(s.work.snapshotBytes).toBe(H * 4 * 4);
      expect(s.work.keyLookups).toBe(2 * NUM_TABLES);
    }
  });
});

describe('re-batching vs shrinking in training', () => {
  it("rebatch: each epoch's kept hot inputs take ⌈kept/B⌉ steps; shrink keeps one step per hot batch", async () => {
    const re = await train({ config: resolveTrainConfig(SLIP), data: d.dataDir, hot: d.hotDir, out: join(d.root, 'rebatch'), quiet: true });
    const sh = await train({ config: resolveTrainConfig(SLIP, ['slipstream.dropMode="shrink"']), data: d.dataDir, hot: d.hotDir, out: join(d.root, 'shrink'), quiet: true });
    for (const m of [re, sh]) {
      const dropped = m.slipstream!.epochs.reduce((a, e) => a + e.dropped, 0);
      expect(dropped).toBeGreaterThan(0);
      expect(m.samplesTrained + dropped).toBe(2 * 6000); // every input trained once or dropped
      expect(m.work!.samplesDropped).toBe(dropped);
    }
    expect(re.slipstream!.dropMode).toBe('rebatch');
    expect(sh.slipstream!.dropMode).toBe('shrink');
    // hot inputs per epoch = hot inputs drawn (kept + dropped); kept = hot − dropped
    const hotPerEpoch = re.slipstream!.epochs.map((e) => e.candidates); // candidates: only after the window
    expect(hotPerEpoch.every((c) => c > 0)).toBe(true);
    const hotInputs = (re.work!.embedding.hotGathered / NUM_TABLES + re.work!.samplesDropped) / 2; // per epoch, both epochs equal
    const keptPerEpoch = re.slipstream!.epochs.map((e) => hotInputs - e.dropped);
    expect(re.batches.hot).toBe(keptPerEpoch.reduce((a, k) => a + Math.ceil(k / 128), 0));
    expect(sh.batches.hot).toBe(2 * Math.ceil(hotInputs / 128)); // a step per hot stream batch (none emptied here)
    expect(re.batches.hot).toBeLessThan(sh.batches.hot);
    expect(re.work!.optimizerSteps.hot).toBe(re.batches.hot);
  });
});
