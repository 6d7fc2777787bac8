import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunMetrics } from '../../../pipeline/run-metrics.js';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import { train, type TrainOptions } from '../../../stages/train/train.js';
import type { Trainer } from '../../../stages/train/trainer.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';
import { poolTestHooks } from '../../../stages/train/parallel/pool.js';

const BASE = {
  model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' },
  train: { batchSize: 128, epochs: 1, logEvery: 5 },
  fae: { rounds: 4 },
};

let d: TrainData;
beforeAll(() => {
  d = makeTrainData({ trainRows: 3000, evalRows: 600 });
});
afterAll(() => d.cleanup());

interface Snap { dense: Float32Array; state: Float32Array; tables: Float32Array[]; accum: Float32Array[] }
function snap(t: Trainer): Snap {
  return {
    dense: t.model.params.slice(), state: t.denseOpt.state!.slice(),
    tables: t.device.tables.map((x) => x.weights.slice()), accum: t.device.tables.map((x) => x.accum!.slice()),
  };
}
async function run(o: Omit<TrainOptions, 'data' | 'quiet'>): Promise<{ m: RunMetrics; s: Snap }> {
  let s: Snap | null = null;
  const m = await train({ ...o, data: d.dataDir, quiet: true, engine: 'ts', hooks: { ...o.hooks, onFinish: (t) => (s = snap(t)) } });
  return { m, s: s! };
}
function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('parallel workers', () => {
  it('pipelined steps (the next batch split in while the workers apply this one) equal unpipelined ones bit for bit, counters too', async () => {
    const config = resolveTrainConfig({ ...BASE, mode: 'fae', train: { ...BASE.train, evalEvery: 7 }, parallel: { workers: 2, hotBound: 3, partition: 'graph' } });
    const runs: { m: RunMetrics; s: Snap }[] = [];
    for (const pipeline of [true, false]) {
      poolTestHooks.pipeline = pipeline;
      try {
        runs.push(await run({ config, hot: d.hotDir, out: join(d.root, `pipe-${pipeline}`) }));
      } finally {
        poolTestHooks.pipeline = null;
      }
    }
    const [a, b] = runs as [{ m: RunMetrics; s: Snap }, { m: RunMetrics; s: Snap }];
    expect(Buffer.from(a.s.dense.buffer).equals(Buffer.from(b.s.dense.buffer))).toBe(true);
    for (let t = 0; t < 26; t++) expect(Buffer.from(a.s.tables[t]!.buffer).equals(Buffer.from(b.s.tables[t]!.buffer))).toBe(true);
    expect(a.m.test).toEqual(b.m.test);
    const noTime = (m: RunMetrics) => m.evals.map(({ trainSec: _t, ...e }) => e);
    expect(noTime(a.m)).toEqual(noTime(b.m));
    expect(a.m.work).toEqual(b.m.work);
    expect(a.m.hostDeviceBytes).toEqual(b.m.hostDeviceBytes);
    const { staleness: sa, ...pa } = a.m.parallel!;
    const { staleness: sb, ...pb } = b.m.parallel!;
    expect(pa).toEqual(pb);
    expect(sa).toEqual(sb);
  }, 60_000);

  for (const mode of ['baseline', 'fae'] as const) {
    it(`${mode}: 2 workers at bound 0 equal one worker on the merged batch (float tolerance)`, async () => {
      const hot = mode === 'baseline' ? undefined : d.hotDir;
      const one = await run({ config: resolveTrainConfig({ ...BASE, mode }), hot, out: join(d.root, `${mode}-k1`) });
      const two = await run({ config: resolveTrainConfig({ ...BASE, mode, parallel: { workers: 2 } }), hot, out: join(d.root, `${mode}-k2`) });
      expect(two.m.parallel?.workers).toBe(2);
      expect(two.m.samplesTrained).toBe(one.m.samplesTrained);
      expect(maxDiff(one.s.dense, two.s.dense)).toBeLessThan(1e-4);
      for (let t = 0; t < 26; t++) expect(maxDiff(one.s.tables[t]!, two.s.tables[t]!)).toBeLessThan(1e-4);
      expect(Math.abs(one.m.test.auc - two.m.test.auc)).toBeLessThan(1e-3);
      // counted work is the same: distinct rows updated, summed over the rows' owners, equal the merged batch's
      expect(two.m.work!.embedding).toEqual(one.m.work!.embedding);
      expect(two.m.work!.optimizerSteps).toEqual(one.m.work!.optimizerSteps);
      expect(two.m.hostDeviceBytes.gatherIn).toBe(one.m.hostDeviceBytes.gatherIn);
    }, 60_000);
  }
});
