import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineError } from '../../../pipeline/errors.js';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import type { TrainOptions } from '../../../stages/train/train.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';
import { trainCapturing } from '../../fixtures/trainer-state.js';

const D = 0.3;
const BASE = {
  mode: 'slipstream' as const,
  model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' },
  train: { batchSize: 64, epochs: 2, logEvery: 5 },
  slipstream: { windowStart: 2, windowFraction: 0.1, targetDrop: D, tolerance: 0.03, sampleSize: 2000 },
  fae: { rounds: 4 },
};
const CK = { every: 5, everySec: 0, threshold: 0, fullEvery: 3 };

let d: TrainData;
beforeAll(() => {
  d = makeTrainData({ trainRows: 3000, evalRows: 400 });
});
afterAll(() => d.cleanup());

const run = (o: Omit<TrainOptions, 'data' | 'quiet' | 'hot'>) => trainCapturing({ ...o, data: d.dataDir, hot: d.hotDir }, { hot: true });

describe('per-replica Slipstream with workers (hotBound > 0)', () => {
  it('each worker skips its own stale inputs; the achieved drop is D; the replicas\' Δ differ at a bound beyond the window and agree at bound 1', async () => {
    const far = await run({ config: resolveTrainConfig({ ...BASE, parallel: { workers: 2, hotBound: 50 } }), out: join(d.root, 'far') });
    const s = far.m.parallel!.slipstream!;
    expect(s.keys).toBe('pooled');
    expect(s.perWorker).toHaveLength(2);
    for (const w of s.perWorker) {
      expect(w.candidates).toBeGreaterThan(0);
      expect(w.dropped).toBeGreaterThan(0);
    }
    expect(Math.abs(s.dropFraction - D)).toBeLessThan(0.08);
    for (const e of far.m.slipstream!.epochs) expect(Math.abs(e.dropFraction - D)).toBeLessThan(0.1);
    expect(s.rowsDiffering).toBeGreaterThan(0.1); // replicas not reconciled during the window measure different Δ
    const near = await run({ config: resolveTrainConfig({ ...BASE, parallel: { workers: 2, hotBound: 1 } }), out: join(d.root, 'near') });
    expect(near.m.parallel!.slipstream!.rowsDiffering).toBe(0); // reconciled every step: one copy
    expect(Math.abs(near.m.parallel!.slipstream!.dropFraction - D)).toBeLessThan(0.08);
    // hotBound 0 keeps the main-thread Slipstream (no per-replica report)
    const zero = await run({ config: resolveTrainConfig({ ...BASE, train: { ...BASE.train, epochs: 1 }, parallel: { workers: 2 } }), out: join(d.root, 'zero') });
    expect(zero.m.parallel!.slipstream).toBeUndefined();
    expect(zero.m.slipstream!.dropFraction).toBeGreaterThan(0);
  }, 180_000);

  for (const c of [{ partition: 'random', at: 13, dropMode: 'rebatch' }, { partition: 'graph', at: 58, dropMode: 'shrink' }] as const) {
    it(`${c.partition} ${c.dropMode}: a crash at step ${c.at} → --resume ends bit-identical to an uninterrupted run (replica snapshots / Δ and the packer's workers in the checkpoint)`, async () => {
      const config = resolveTrainConfig({ ...BASE, slipstream: { ...BASE.slipstream, dropMode: c.dropMode }, parallel: { workers: 2, hotBound: 7, partition: c.partition } });
      const name = `${c.partition}-${c.dropMode}`;
      const ref = await run({ config, out: join(d.root, `${name}-ref`), checkpoint: CK });
      const out = join(d.root, `${name}-crash`);
      const err = await run({ config, out, checkpoint: CK, workerFault: { worker: 0, step: c.at, how: 'throw' } }).then(() => null, (e: unknown) => e);
      expect((err as PipelineError).code).toBe('worker_failed');
      const resumed = await run({ config, out, checkpoint: CK, resume: true });
      for (let i = 0; i < ref.p.length; i++) expect(Buffer.compare(resumed.p[i]!, ref.p[i]!)).toBe(0);
      expect(resumed.m.test).toEqual(ref.m.test);
      expect(resumed.m.samplesTrained).toBe(ref.m.samplesTrained);
      expect(resumed.m.parallel!.slipstream).toEqual(ref.m.parallel!.slipstream);
      expect(resumed.m.slipstream!.epochs).toEqual(ref.m.slipstream!.epochs);
      // the resume starts from the checkpoint at step 10 (random: epoch 0's filter phase, Δ blob, 44 re-batched rows
      // pending with their workers) or 55 (graph: epoch 1's window, the replicas' snapshots blob); a resume that
      // skips either blob fails this test
      const log = readFileSync(join(out, 'log.jsonl'), 'utf8');
      expect(log).toMatch(/resumed at epoch/);
    }, 180_000);
  }
});
