import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunMetrics } from '../../pipeline/run-metrics.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { train } from '../../stages/train/train.js';
import type { Trainer } from '../../stages/train/trainer.js';
import { randomSplit, writePreprocessedFixture } from '../fixtures/preprocessed.js';
import { useTempDirs } from '../fixtures/temp.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

const SMALL = { model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 500, epochs: 2, logEvery: 10, saveModel: false } };

let d: TrainData;
beforeAll(() => {
  d = makeTrainData({ trainRows: 3000, evalRows: 600 });
});
afterAll(() => d.cleanup());
const tmp = useTempDirs('hotcold-dlrm-opts-');

/** A fingerprint of every batch trained: sum of ids weighted by position. */
function batchTrace(set: string[]): Promise<{ trace: number[]; m: RunMetrics }> {
  const trace: number[] = [];
  const hook = (_n: number, t: Trainer): void => {
    let h = 0;
    const b = t.batch;
    for (let i = 0; i < b.size * 26; i++) h = (h * 31 + b.cats[i]!) % 1_000_000_007;
    trace.push(h);
  };
  return train({ config: resolveTrainConfig(SMALL, set), data: d.dataDir, out: tmp(), quiet: true, hooks: { afterStep: hook } }).then((m) => ({ trace, m }));
}

describe('DLRM-compatible options', () => {
  it('learning-rate sets the dense and the sparse rate; mlperf-auc-threshold is train.targetAuc', () => {
    const c = resolveTrainConfig({ 'learning-rate': 0.2, 'mlperf-auc-threshold': 0.8 });
    expect(c.optim.dense.lr).toBe(0.2);
    expect(c.optim.sparse.lr).toBe(0.2);
    expect(c.train.targetAuc).toBe(0.8);
    const s = resolveTrainConfig({}, ['learning-rate=0.3', 'mlperf-auc-threshold=0.75']);
    expect([s.optim.dense.lr, s.optim.sparse.lr, s.train.targetAuc]).toEqual([0.3, 0.3, 0.75]);
    expect(() => resolveTrainConfig({ 'learning-rate': 0.2, optim: { sparse: { lr: 0.1 } } })).toThrow(/given together with optim.sparse.lr/);
  });

  it('train.shuffleOnce keeps the first epoch\'s order every epoch; the default reshuffles', async () => {
    const per = Math.ceil(3000 / 500);
    const once = await batchTrace(['train.shuffleOnce=true']);
    expect(once.trace.length).toBe(2 * per);
    expect(once.trace.slice(per)).toEqual(once.trace.slice(0, per));
    const every = await batchTrace([]);
    expect(every.trace.slice(0, per)).toEqual(once.trace.slice(0, per)); // same first epoch
    expect(every.trace.slice(per)).not.toEqual(every.trace.slice(0, per));
  });
});

describe('evaluation records', () => {
  it('train.evalTest evaluates test at every periodic evaluation; per-epoch records; NE by the training CTR', async () => {
    const out = tmp();
    const m = await train({ config: resolveTrainConfig(SMALL, ['train.evalEvery=4', 'train.evalTest=true', 'train.evalEpochEnd=true']), data: d.dataDir, out, quiet: true });
    const periodic = m.evals.filter((e) => e.batch % 4 === 0 && e.batch < 12);
    expect(periodic.map((e) => `${e.split}@${e.batch}`)).toEqual(['val@4', 'test@4', 'val@8', 'test@8']);
    // epoch 0 ends at batch 6 with a val and a test evaluation; epoch 1 with the final ones
    expect(m.evals.filter((e) => e.batch === 6).map((e) => e.split)).toEqual(['val', 'test']);
    expect(m.epochRecords!.map((r) => [r.epoch, r.batches, r.samples])).toEqual([[0, 6, 3000], [1, 6, 3000]]);
    expect(m.epochRecords![0]!.val!.rows).toBe(600);
    expect(m.epochRecords![1]!.test).toEqual(m.test);
    for (const r of m.epochRecords!) expect(Number.isFinite(r.trainLoss)).toBe(true);
    const manifest = JSON.parse(readFileSync(join(d.dataDir, 'manifest.json'), 'utf8')) as { splits: { train: { rows: number; positives: number } } };
    const ctr = manifest.splits.train.positives / manifest.splits.train.rows;
    expect(m.test.trainCtr).toBeCloseTo(ctr, 12);
    expect(m.test.ap).toBeGreaterThan(0);
    expect(m.test.ne).not.toBe(m.test.neSplitCtr);
  });

  it('warns once when a split has no positives (AUC undefined)', async () => {
    const root = tmp();
    const sizes = Array.from({ length: 26 }, () => 20);
    const test = randomSplit(400, sizes, 3);
    test.labels!.fill(0);
    await writePreprocessedFixture(join(root, 'pre'), { sizes, train: randomSplit(1000, sizes, 1), val: randomSplit(300, sizes, 2), test });
    const lines: string[] = [];
    const sink = { isTTY: false, write: (s: string) => lines.push(s) };
    const m = await train({ config: resolveTrainConfig(SMALL, ['train.epochs=1', 'train.evalEvery=1', 'train.evalTest=true']), data: join(root, 'pre'), out: join(root, 'run'), sink });
    expect(m.test.auc).toBeNaN();
    const warnings = lines.join('').split('\n').filter((l) => l.includes('no positives'));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(/test split has no positives \(\d+ rows, CTR 0\): AUC and AP are undefined/);
  });
});
