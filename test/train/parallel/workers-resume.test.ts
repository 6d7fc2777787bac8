import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineError } from '../../../pipeline/errors.js';
import type { RunMetrics } from '../../../pipeline/run-metrics.js';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import type { TrainOptions } from '../../../stages/train/train.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';
import { trainCapturing } from '../../fixtures/trainer-state.js';

const BASE = {
  model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' },
  train: { batchSize: 128, epochs: 1, logEvery: 5, evalEvery: 10 },
  slipstream: { windowStart: 3, windowFraction: 0.15, tolerance: 0.05 },
  fae: { rounds: 4 },
};
const CK = { every: 4, everySec: 0, threshold: 0, fullEvery: 3 };

let d: TrainData;
beforeAll(() => {
  d = makeTrainData({ trainRows: 2400, evalRows: 400 });
});
afterAll(() => d.cleanup());

const run = (o: Omit<TrainOptions, 'data' | 'quiet'>) => trainCapturing({ ...o, data: d.dataDir });

describe('parallel runs: faults, checkpoints, resume', () => {
  const cases = [
    { mode: 'baseline', parallel: { workers: 2 }, how: 'throw', at: 9 },
    { mode: 'fae', parallel: { workers: 2, hotBound: 3, denseBound: 2 }, how: 'exit', at: 11 },
    { mode: 'slipstream', parallel: { workers: 2, partition: 'graph' }, how: 'throw', at: 6 },
  ] as const;
  for (const c of cases) {
    it(`${c.mode} ${JSON.stringify(c.parallel)}: a worker that ${c.how === 'throw' ? 'throws' : 'exits'} at step ${c.at} stops the run cleanly; --resume ends bit-identical to an uninterrupted run`, async () => {
      const config = resolveTrainConfig({ ...BASE, mode: c.mode, parallel: c.parallel });
      const hot = c.mode === 'baseline' ? undefined : d.hotDir;
      const name = `${c.mode}-${c.how}`;
      const ref = await run({ config, hot, out: join(d.root, `${name}-ref`), checkpoint: CK });
      const out = join(d.root, `${name}-crash`);
      const err = await run({ config, hot, out, checkpoint: CK, workerFault: { worker: 1, step: c.at, how: c.how } }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(PipelineError);
      expect((err as PipelineError).code).toBe('worker_failed');
      expect((err as PipelineError).message).toMatch(/worker 1 of 2 failed at step/);
      expect((err as PipelineError).hint).toMatch(/--resume.*--workers 2/);
      if (c.mode === 'baseline') {
        // another worker count is refused, saying so
        const other = resolveTrainConfig({ ...BASE, mode: c.mode, parallel: { ...c.parallel, workers: 3 } });
        await expect(run({ config: other, hot, out, checkpoint: CK, resume: true })).rejects.toThrow(/2 worker\(s\); this run has --workers 3/);
      }
      const resumed = await run({ config, hot, out, checkpoint: CK, resume: true });
      expect(resumed.p.length).toBe(ref.p.length);
      for (let i = 0; i < ref.p.length; i++) expect(Buffer.compare(resumed.p[i]!, ref.p[i]!)).toBe(0);
      expect(resumed.m.test).toEqual(ref.m.test);
      expect(resumed.m.samplesTrained).toBe(ref.m.samplesTrained);
      expect(resumed.m.evals.map((e) => [e.batch, e.auc])).toEqual(ref.m.evals.map((e) => [e.batch, e.auc]));
      const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg?: string; parallel?: RunMetrics['parallel'] });
      expect(log.find((l) => l.msg === 'parallel')?.parallel?.workers).toBe(2);
      if ('hotBound' in c.parallel) {
        expect(ref.m.parallel!.hotBytes).toBeGreaterThan(0);
        expect(ref.m.parallel!.staleness.max).toBeGreaterThan(0);
        expect(ref.m.parallel!.staleness.max).toBeLessThan(c.parallel.hotBound);
      }
      if (c.mode === 'slipstream') expect(ref.m.parallel!.cut).not.toBeNull();
    }, 120_000);
  }

  it('a K=1 checkpoint is refused by a K=2 resume, and --cold-store redis with workers is not implemented', async () => {
    const one = resolveTrainConfig({ ...BASE, mode: 'baseline', train: { ...BASE.train, maxBatches: 8 } });
    const out = join(d.root, 'k1');
    await run({ config: one, out, checkpoint: CK });
    const two = resolveTrainConfig({ ...BASE, mode: 'baseline', train: { ...BASE.train, maxBatches: 8 }, parallel: { workers: 2 } });
    await expect(run({ config: two, out, checkpoint: CK, resume: true })).rejects.toThrow(/1 worker\(s\); this run has --workers 2/);
    const e = await run({ config: two, out: join(d.root, 'redis'), coldStore: 'redis://127.0.0.1:1' }).then(() => null, (x: unknown) => x);
    expect((e as PipelineError).code).toBe('not_implemented');
  }, 60_000);
});
