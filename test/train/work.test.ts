import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelledSec, REFERENCE_COSTS } from '../../pipeline/cost-model.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { Device } from '../../stages/train/device.js';
import { parseArch } from '../../stages/train/model/arch.js';
import { train } from '../../stages/train/train.js';
import { layerFlops, LogHistogram, paramCount } from '../../stages/train/work.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

let d: TrainData;
beforeAll(() => {
  d = makeTrainData({ trainRows: 3000, evalRows: 600 });
});
afterAll(() => d.cleanup());

describe('work counters', () => {
  it('dense FLOPs per layer, forward and backward, equal the hand-computed values', () => {
    // bottom 13-4-2, dim 2, 26 tables → interaction over 27 vectors, 351 pairs, top input 2 + 351 = 353
    const shape = parseArch('13-4-2', '3-1', 2);
    expect(layerFlops(shape)).toEqual([
      { name: 'bot.0', forward: 2 * 13 * 4 + 4, backward: 2 * 13 * 4 + 2 * 4 }, // no input gradient for the model input
      { name: 'bot.1', forward: 2 * 4 * 2 + 2, backward: 2 * 4 * 2 * 2 + 2 * 2 },
      { name: 'interaction', forward: 2 * 2 * 351, backward: 4 * 2 * 351 },
      { name: 'top.0', forward: 2 * 353 * 3 + 3, backward: 2 * 353 * 3 * 2 + 2 * 3 },
      { name: 'top.1', forward: 2 * 3 * 1 + 1, backward: 2 * 3 * 1 * 2 + 2 * 1 },
    ]);
    expect(paramCount(shape)).toBe(13 * 4 + 4 + 4 * 2 + 2 + 353 * 3 + 3 + 3 * 1 + 1);
  });

  it('rows gathered count duplicates; rows updated count each distinct row of a batch once', () => {
    const sizes = new Array<number>(26).fill(10);
    const dev = new Device(sizes, 4, { kind: 'adagrad', lr: 0.1 }, null);
    // 3 inputs; table 0 reads rows 5, 5, 7 (2 distinct), tables 1..25 read row 1 for every input (1 distinct each)
    const cats = new Int32Array(3 * 26).fill(1);
    cats[0] = 5;
    cats[26] = 5;
    cats[52] = 7;
    dev.coldBatch(cats, 3);
    expect(dev.rows).toEqual({ coldGathered: 78, coldUnique: 2 + 25, hotGathered: 0, hotUnique: 0 });
    // the hot table is one table serving all 26 columns: hot indices repeat across columns too
    const hotDev = new Device(sizes, 4, { kind: 'adagrad', lr: 0.1 }, { table: Int32Array.from([0, 1, 2]), row: Int32Array.from([1, 1, 1]) });
    const hot = new Int32Array(2 * 26); // every lookup of both inputs is hot index 0 …
    hot[3] = 2; // … but one reads hot index 2
    hotDev.hotBatch(hot, 2);
    expect(hotDev.rows).toEqual({ coldGathered: 0, coldUnique: 0, hotGathered: 52, hotUnique: 2 });
  });

  it('a run reports its work, identical on a repeat; FLOPs = samples × per-sample FLOPs', async () => {
    const cfg = resolveTrainConfig({ mode: 'baseline', model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 256, epochs: 1 } });
    const a = await train({ config: cfg, data: d.dataDir, out: join(d.root, 'w1'), quiet: true });
    const b = await train({ config: cfg, data: d.dataDir, out: join(d.root, 'w2'), quiet: true });
    const w = a.work!;
    expect(w).toEqual(b.work);
    expect(w.samplesTrained).toBe(3000);
    expect(w.samplesDropped).toBe(0);
    expect(w.optimizerSteps).toEqual({ hot: 0, cold: a.batches.cold, total: a.batches.total });
    const per = layerFlops(parseArch('13-16-8', '16-1', 8));
    expect(w.denseFlops.forward).toBe(3000 * per.reduce((s, l) => s + l.forward, 0));
    expect(w.denseFlops.total).toBe(w.denseFlops.forward + w.denseFlops.backward);
    expect(w.embedding.rowsGathered).toBe(3000 * 26);
    expect(w.embedding.rowsUpdated).toBeLessThan(w.embedding.rowsGathered);
    expect(w.deviceBytes).toBe(a.hostDeviceBytes.total);
    expect(w.slipstream).toBeNull();
    expect(a.steps!.count).toBe(a.batches.total);
    expect(a.steps!.medianCpuPerSample).toBeGreaterThan(0);
    expect(modelledSec(w, REFERENCE_COSTS)).toBe(modelledSec(b.work!, REFERENCE_COSTS));
  });
});

describe('LogHistogram', () => {
  it('gives the median within half a bucket', () => {
    const h = new LogHistogram();
    for (const x of [1, 2, 3, 100, 4]) h.add(x * 1e-6);
    expect(h.median() / 3e-6).toBeGreaterThan(0.995);
    expect(h.median() / 3e-6).toBeLessThan(1.005);
    expect(LogHistogram.from(h.toJSON()).median()).toBe(h.median());
    expect(new LogHistogram().median()).toBe(0);
  });
});
