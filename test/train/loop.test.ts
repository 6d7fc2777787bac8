import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';
import type { RunMetrics } from '../../pipeline/run-metrics.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { train } from '../../stages/train/train.js';
import type { Trainer } from '../../stages/train/trainer.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

/** A small model that trains in about a second on the fixture. */
export const SMALL = { model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' }, train: { batchSize: 128, epochs: 2, evalEvery: 25, logEvery: 10 } };

let d: TrainData;
beforeAll(() => {
  d = makeTrainData();
});
afterAll(() => d.cleanup());

function snapshot(t: Trainer): Float32Array[] {
  return [t.model.params.slice(), ...t.device.tables.map((x) => x.weights.slice())];
}

describe('train loop (baseline)', () => {
  let m: RunMetrics;
  let params: Float32Array[] = [];
  const out = (): string => join(d.root, 'run-a');

  beforeAll(async () => {
    m = await train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out: out(), quiet: true, hooks: { onFinish: (t) => (params = snapshot(t)) } });
  });

  it('beats AUC 0.5 by a clear margin on planted data', () => {
    expect(m.test.auc).toBeGreaterThan(0.75);
    expect(m.val!.auc).toBeGreaterThan(0.75);
    expect(m.test.rows).toBe(1500);
  });

  it('writes metrics.json, log.jsonl and the resolved config.json', () => {
    const disk = JSON.parse(readFileSync(join(out(), 'metrics.json'), 'utf8')) as RunMetrics;
    expect(disk.magic).toBe('hotcold.train.metrics');
    expect(disk.test.auc).toBe(m.test.auc);
    expect(disk.batches).toEqual({ hot: 0, cold: 2 * Math.ceil(6000 / 128), total: 2 * Math.ceil(6000 / 128) });
    expect(disk.samplesTrained).toBe(12000);
    expect(disk.hostDeviceBytes.gatherIn).toBeGreaterThan(0);
    expect(disk.hostDeviceBytes.total).toBe(disk.hostDeviceBytes.gatherIn + disk.hostDeviceBytes.gradOut);
    const lines = readFileSync(join(out(), 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; batch?: number });
    expect(lines.filter((l) => l.kind === 'eval').map((l) => l.batch)).toEqual([25, 50, 75, 94, 94]);
    expect(lines.some((l) => l.kind === 'step')).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out(), 'config.json'), 'utf8')) as { train: { batchSize: number; shuffle: boolean } };
    expect(cfg.train).toMatchObject({ batchSize: 128, shuffle: true });
    expect(existsSync(join(out(), 'manifest.json'))).toBe(true);
  });

  it('is deterministic: the same config twice gives identical parameters and metrics', async () => {
    let again: Float32Array[] = [];
    const m2 = await train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out: join(d.root, 'run-b'), quiet: true, hooks: { onFinish: (t) => (again = snapshot(t)) } });
    expect(m2.test).toEqual(m.test);
    expect(m2.evals.map((e) => e.auc)).toEqual(m.evals.map((e) => e.auc));
    expect(again.length).toBe(params.length);
    for (let i = 0; i < params.length; i++) expect(Buffer.compare(Buffer.from(again[i]!.buffer), Buffer.from(params[i]!.buffer))).toBe(0);
  });

  it('another seed gives other parameters', async () => {
    const m3 = await train({ config: resolveTrainConfig(SMALL, ['seed=2', 'train.epochs=1']), data: d.dataDir, out: join(d.root, 'run-c'), quiet: true });
    expect(m3.test.logloss).not.toBe(m.test.logloss);
  });

  it('reuses a finished run with the same fingerprint', async () => {
    const again = await train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out: out(), quiet: true, hooks: { onFinish: () => { throw new Error('should not train'); } } });
    expect(again.test).toEqual(m.test);
  });
});

describe('train loop: early stop', () => {
  it('stops once validation AUC reaches train.targetAuc', async () => {
    const m = await train({ config: resolveTrainConfig(SMALL, ['train.evalEvery=5', 'train.targetAuc=0.7']), data: d.dataDir, out: join(d.root, 'run-early'), quiet: true });
    expect(m.stoppedEarly).toBe(true);
    const hit = m.evals.find((e) => e.split === 'val' && e.auc >= 0.7)!;
    expect(m.batches.total).toBe(hit.batch);
    expect(m.batches.total).toBeLessThan(2 * Math.ceil(6000 / 128));
  });
});

describe('train loop: bad input', () => {
  it('stops on a NaN loss naming the batch and the last good evaluation', async () => {
    // a learning rate far too large drives the logits to ±Inf within two batches
    const cfg = resolveTrainConfig({ ...SMALL, model: { ...SMALL.model, mlpTop: '1' } }, [
      'optim.dense.kind=sgd', 'optim.dense.lr=1e38', 'optim.sparse.kind=sgd', 'optim.sparse.lr=1e38', 'train.evalEvery=1',
    ]);
    const err = await train({ config: cfg, data: d.dataDir, out: join(d.root, 'run-nan'), quiet: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('numeric');
    expect((err as PipelineError).message).toMatch(/loss is (NaN|-?Infinity) at batch \d+ .*last good evaluation: (val AUC [0-9.]+ at batch \d+|none)/);
  });

  it('refuses fae without --hot, naming the option', async () => {
    const err = await train({ config: resolveTrainConfig({ ...SMALL, mode: 'fae' }), data: d.dataDir, out: join(d.root, 'run-nohot'), quiet: true }).catch((e: unknown) => e);
    expect((err as PipelineError).code).toBe('bad_config');
    expect((err as PipelineError).field).toBe('--hot');
  });

  it('refuses a hot dir made from other data', async () => {
    const other = makeTrainData({ seed: 9, trainRows: 600, evalRows: 100 });
    try {
      const err = await train({ config: resolveTrainConfig({ ...SMALL, mode: 'fae' }), data: d.dataDir, hot: other.hotDir, out: join(d.root, 'run-other'), quiet: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PipelineError);
      expect((err as PipelineError).code).toBe('mismatch');
      expect((err as PipelineError).message).toMatch(/made from other data/);
    } finally {
      other.cleanup();
    }
  });
});
