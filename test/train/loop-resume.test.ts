import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { train, type TrainOptions } from '../../stages/train/train.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';
import { trainCapturing } from '../fixtures/trainer-state.js';

const BASE = {
  model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' },
  train: { batchSize: 128, epochs: 2, evalEvery: 20, logEvery: 5 },
  slipstream: { windowStart: 4, windowFraction: 0.1, tolerance: 0.05 },
  fae: { rounds: 4 },
};

let d: TrainData;
beforeAll(() => {
  d = makeTrainData({ trainRows: 4000, evalRows: 800 });
});
afterAll(() => d.cleanup());

class Crash extends Error {}

const run = (o: Omit<TrainOptions, 'data' | 'quiet'>) => trainCapturing({ ...o, data: d.dataDir });

describe('checkpoint resume', () => {
  // crash points: mid epoch 0 (slipstream: inside the window and after it), and in epoch 1
  for (const [mode, crashAt] of [['baseline', 45], ['fae', 13], ['slipstream', 9], ['slipstream', 20], ['slipstream', 50]] as const) {
    it(`${mode}: a run killed after batch ${crashAt} and resumed ends bit-identical to an uninterrupted one`, async () => {
      const config = resolveTrainConfig({ ...BASE, mode });
      const hot = mode === 'baseline' ? undefined : d.hotDir;
      const ck = { every: 4, everySec: 0, threshold: 0, fullEvery: 3 };
      const ref = await run({ config, hot, out: join(d.root, `${mode}-${crashAt}-ref`), checkpoint: ck });
      const out = join(d.root, `${mode}-${crashAt}-crash`);
      const crash = { afterStep: (n: number) => { if (n === crashAt) throw new Crash('killed'); } };
      await expect(run({ config, hot, out, checkpoint: ck, hooks: crash })).rejects.toBeInstanceOf(Crash);
      const resumed = await run({ config, hot, out, checkpoint: ck, resume: true });
      expect(resumed.p.length).toBe(ref.p.length);
      for (let i = 0; i < ref.p.length; i++) expect(Buffer.compare(resumed.p[i]!, ref.p[i]!)).toBe(0);
      expect(resumed.m.test).toEqual(ref.m.test);
      expect(resumed.m.batches).toEqual(ref.m.batches);
      expect(resumed.m.samplesTrained).toBe(ref.m.samplesTrained);
      expect(resumed.m.evals.map((e) => [e.batch, e.auc])).toEqual(ref.m.evals.map((e) => [e.batch, e.auc]));
      expect(resumed.m.hostDeviceBytes).toEqual(ref.m.hostDeviceBytes);
      expect(resumed.m.work).toEqual(ref.m.work); // counted work is part of the position
      if (mode === 'slipstream') expect(resumed.m.slipstream!.epochs).toEqual(ref.m.slipstream!.epochs);
      if (mode === 'slipstream' && crashAt === 20) {
        // re-batching: the checkpoint the run resumed from (batch 20; same in the uninterrupted run) held kept rows waiting for a full batch
        const cks = readFileSync(join(d.root, `${mode}-${crashAt}-ref`, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg?: string; batch?: number; pending?: number })
          .filter((l) => l.msg === 'checkpoint' && l.batch === 20);
        expect(cks[0]?.pending).toBeGreaterThan(0);
      }
      // the log has no lines from batches after the checkpoint twice
      const steps = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; batch?: number })
        .filter((l) => l.kind === 'step').map((l) => l.batch);
      expect(new Set(steps).size).toBe(steps.length);
    });
  }

  it('slipstream: a run stopped by maxBatches mid-epoch, killed right after its last checkpoint, resumes with the same epoch report', async () => {
    const config = resolveTrainConfig({ ...BASE, mode: 'slipstream', train: { ...BASE.train, maxBatches: 28 } });
    const ck = { every: 4, everySec: 0, threshold: 0, fullEvery: 3 };
    const ref = await run({ config, hot: d.hotDir, out: join(d.root, 'slip-max-ref'), checkpoint: ck });
    const out = join(d.root, 'slip-max-crash');
    const crash = { afterStep: (n: number) => { if (n === 28) throw new Crash('killed'); } };
    await expect(run({ config, hot: d.hotDir, out, checkpoint: ck, hooks: crash })).rejects.toBeInstanceOf(Crash);
    const resumed = await run({ config, hot: d.hotDir, out, checkpoint: ck, resume: true });
    for (let i = 0; i < ref.p.length; i++) expect(Buffer.compare(resumed.p[i]!, ref.p[i]!)).toBe(0);
    expect(ref.m.slipstream!.epochs.length).toBe(1);
    const { overheadSec: _r, ...slip } = resumed.m.slipstream!;
    const { overheadSec: _f, ...refSlip } = ref.m.slipstream!;
    expect(slip).toEqual(refSlip);
  });
  it('refuses to resume a checkpoint written while training on other data, and says when there is none', async () => {
    const config = resolveTrainConfig({ ...BASE, mode: 'baseline' });
    const ck = { every: 4, everySec: 0, threshold: 0, fullEvery: 3 };
    const out = join(d.root, 'other-data');
    const crash = { afterStep: (n: number) => { if (n === 10) throw new Crash('killed'); } };
    await expect(run({ config, out, checkpoint: ck, hooks: crash })).rejects.toBeInstanceOf(Crash);
    const other = makeTrainData({ trainRows: 2000, evalRows: 800, seed: 2 });
    try {
      await expect(train({ config, data: other.dataDir, out, checkpoint: ck, resume: true, quiet: true })).rejects.toThrow(/other data/);
    } finally {
      other.cleanup();
    }
    const lines: string[] = [];
    const sink = { isTTY: false, write: (s: string) => void lines.push(s) };
    await train({ config, data: d.dataDir, out: join(d.root, 'fresh'), checkpoint: ck, resume: true, sink });
    expect(lines.join('')).toMatch(/--resume: no checkpoint in .*starting from the beginning/);
  });
});
