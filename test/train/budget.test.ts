import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunMetrics } from '../../pipeline/run-metrics.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { DropController } from '../../stages/train/modes/budget.js';
import { train, type TrainOptions } from '../../stages/train/train.js';
import type { Trainer } from '../../stages/train/trainer.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

describe('accuracy-budgeted drop controller', () => {
  it('raises D while the loss has room, backs off (with a finer step) when it overshoots, holds near the budget', () => {
    const c = new DropController({ maxAucLoss: 0.001, start: 0.2 });
    // scripted re-checks: (run AUC, no-drop reference AUC)
    const script: [number, number][] = [
      [0.7900, 0.7902], // loss 0.0002 ≤ ε/2 → raise 0.2 → 0.3
      [0.7905, 0.7909], // 0.0004 ≤ ε/2 → raise → 0.4
      [0.7900, 0.7915], // 0.0015 > ε → lower → 0.3, step 0.05
      [0.7910, 0.7918], // 0.0008: within (ε/2, ε] → hold 0.3
      [0.7912, 0.7915], // 0.0003 → raise by 0.05 → 0.35
      [0.7900, 0.7930], // 0.003 → lower → 0.3, step 0.025
    ];
    const out = script.map(([run, ref]) => c.observe(run, ref));
    expect(out.map((s) => s.decision)).toEqual(['raise', 'raise', 'lower', 'hold', 'raise', 'lower']);
    expect(out.map((s) => s.next)).toEqual([0.3, 0.4, 0.3, 0.3, 0.35, 0.3]);
    expect(out.map((s) => s.drop)).toEqual([0.2, 0.3, 0.4, 0.3, 0.3, 0.35]);
    expect(out[2]!.loss).toBeCloseTo(0.0015, 10);
    expect(c.trajectory).toHaveLength(6);
  });

  it('stays inside [dMin, dMax], ignores a failed measurement, and round-trips its state', () => {
    const c = new DropController({ maxAucLoss: 0.001, start: 0.85, dMax: 0.9 });
    expect(c.observe(0.8, 0.8).next).toBe(0.9);
    expect(c.observe(0.8, 0.8).decision).toBe('hold'); // already at dMax
    expect(c.observe(Number.NaN, 0.8).decision).toBe('hold');
    const low = new DropController({ maxAucLoss: 0.001, start: 0.05 });
    expect(low.observe(0.7, 0.8).next).toBe(0);
    const copy = new DropController({ maxAucLoss: 0.001, start: 0.5 });
    copy.restore(c.save());
    expect(copy.drop).toBe(c.drop);
    expect(copy.trajectory).toEqual(c.trajectory);
    expect(() => new DropController({ maxAucLoss: 0, start: 0.3 })).toThrow(/maxAucLoss/);
  });
});

describe('budgeted runs in the trainer', () => {
  const BASE = {
    mode: 'slipstream',
    model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' },
    optim: { dense: { lr: 0.05 }, sparse: { lr: 0.2 } },
    train: { batchSize: 64, epochs: 2, logEvery: 5, saveModel: false },
    fae: { schedule: 'phases' },
    slipstream: { windowStart: 4, windowFraction: 0.1, tolerance: 0.05, maxAucLoss: 0.002, rechecks: 3, recheckRows: 600, targetDrop: 0.3, budgetStep: 0.2 },
  };
  let d: TrainData;
  let nCold = 0;
  let first: unknown = null;
  beforeAll(() => {
    d = makeTrainData({ trainRows: 3000, evalRows: 800 });
    const seg = JSON.parse(readFileSync(join(d.hotDir, 'manifest.json'), 'utf8')) as { splits: { cold: { rows: number } } };
    nCold = Math.ceil(seg.splits.cold.rows / 64);
  });
  afterAll(() => d.cleanup());

  const snapshot = (t: Trainer): Buffer[] => [t.model.params, t.denseOpt.state!, ...t.device.tables.flatMap((x) => [x.weights, x.accum!])].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  async function run(o: Omit<TrainOptions, 'data' | 'quiet' | 'hot'>): Promise<{ m: RunMetrics; p: Buffer[] }> {
    let p: Buffer[] = [];
    const m = await train({ ...o, data: d.dataDir, hot: d.hotDir, quiet: true, hooks: { ...o.hooks, onFinish: (t) => (p = snapshot(t)) } });
    return { m, p };
  }

  it('moves D as the controller decides on the AUCs it measured, logs the trajectory and counts the reference', async () => {
    const config = resolveTrainConfig(BASE);
    const out = join(d.root, 'budget');
    const { m } = await run({ config, out });
    const b = m.slipstream!.budget!;
    first = b;
    expect(b.windows.length).toBe(6); // 3 re-checks × 2 epochs
    expect(b.sliceRows).toBe(600);
    // replay: the recorded AUCs fed to a fresh controller give the same decisions and Ds
    const c = new DropController({ maxAucLoss: 0.002, start: 0.3, step: 0.2, dMax: 0.9 });
    for (const w of b.windows) {
      expect(w.drop).toBe(c.drop);
      const s = c.observe(w.aucRun, w.aucRef);
      expect([w.decision, w.next]).toEqual([s.decision, s.next]);
      expect(w.deltaAuc).toBeCloseTo(w.aucRun - w.aucRef, 12);
      expect(w.aucRef).toBeGreaterThan(0.5);
    }
    expect(b.finalDrop).toBe(c.drop);
    expect(new Set(b.windows.map((w) => w.drop)).size).toBeGreaterThan(1); // D moved
    // windows tile the hot batches after the snapshot window; T searched again whenever another window follows in the epoch
    for (const e of [0, 1]) {
      const ws = b.windows.filter((w) => w.epoch === e);
      for (let k = 1; k < ws.length; k++) {
        expect(ws[k]!.hotFrom).toBe(ws[k - 1]!.hotTo + 1);
        expect(ws[k]!.threshold).toBe(ws[k - 1]!.nextThreshold);
      }
      expect(ws[ws.length - 1]!.nextThreshold).toBeNull();
    }
    // the reference trained every input of every window, and its work is priced into the run's
    const r = m.work!.reference!;
    expect(r.windows).toBe(b.windows.filter((w) => w.threshold > 0).length);
    expect(r.samplesTrained).toBeGreaterThan(0);
    expect(r.recheckRows).toBe(b.windows.reduce((a, w) => a + (w.threshold > 0 ? 2 : 1) * 600, 0));
    expect(m.work!.slipstream!.rechecks).toBe(4); // 2 per epoch: after windows 0 and 1
    const { modelledSec, REFERENCE_COSTS } = await import('../../pipeline/cost-model.js');
    expect(modelledSec(m.work!, REFERENCE_COSTS)).toBeGreaterThan(modelledSec(m.work!, REFERENCE_COSTS, 0, { reference: false }));
    expect(m.time.referenceSec).toBeGreaterThan(0);
    const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { budget?: unknown });
    expect(lines.filter((l) => l.budget !== undefined).map((l) => l.budget)).toEqual(b.windows);
  }, 120_000);

  it('slipstream.referenceFraction: the reference covers the first share of each window, the re-check follows it', async () => {
    const full = first as { windows: { hotFrom: number; hotTo: number }[] } | null;
    const config = resolveTrainConfig({ ...BASE, slipstream: { ...BASE.slipstream, referenceFraction: 0.5 } });
    const { m } = await run({ config, out: join(d.root, 'budget-half') });
    const b = m.slipstream!.budget!;
    expect(b.windows.length).toBe(6);
    const c = new DropController({ maxAucLoss: 0.002, start: 0.3, step: 0.2, dMax: 0.9 });
    for (const w of b.windows) {
      expect(w.drop).toBe(c.drop);
      expect([w.decision, w.next]).toEqual((({ decision, next }) => [decision, next])(c.observe(w.aucRun, w.aucRef)));
    }
    if (full) {
      // same window starts; each probe is the first ⌈half⌉ of its window
      expect(b.windows.map((w) => w.hotFrom)).toEqual(full.windows.map((w) => w.hotFrom));
      b.windows.forEach((w, i) => expect(w.hotTo - w.hotFrom + 1).toBe(Math.ceil((full.windows[i]!.hotTo - full.windows[i]!.hotFrom + 1) / 2)));
    }
    // T is searched again after every probe that has hot batches after it in its epoch (the rest of its window, at least)
    expect(m.work!.slipstream!.rechecks).toBe(6);
  }, 120_000);

  it('resumed inside a window ends bit-identical to an uninterrupted run, with the same trajectory', async () => {
    const config = resolveTrainConfig(BASE);
    const ck = { every: 2, everySec: 0, threshold: 0, fullEvery: 3 };
    const ref = await run({ config, out: join(d.root, 'b-ref'), checkpoint: ck });
    if (first) expect(ref.m.slipstream!.budget).toEqual(first); // determinism: the same config, the same trajectory (checkpoints change nothing)
    const w = ref.m.slipstream!.budget!.windows[1]!; // epoch 0, window 1
    // batches done when killed: inside the window, after a checkpoint taken after ≥ 1 of its batches (the reference's model is in it)
    const crashAt = nCold + w.hotFrom + 2;
    expect(w.hotTo - w.hotFrom).toBeGreaterThanOrEqual(2);
    expect(w.threshold).toBeGreaterThan(0); // a window that drops, so the reference trains
    const out = join(d.root, 'b-crash');
    const crash = { afterStep: (n: number) => { if (n === crashAt) throw new Error('killed'); } };
    await expect(run({ config, out, checkpoint: ck, hooks: crash })).rejects.toThrow('killed');
    const resumed = await run({ config, out, checkpoint: ck, resume: true });
    for (let i = 0; i < ref.p.length; i++) expect(Buffer.compare(resumed.p[i]!, ref.p[i]!)).toBe(0);
    expect(resumed.m.slipstream!.budget).toEqual(ref.m.slipstream!.budget);
    expect(resumed.m.work).toEqual(ref.m.work);
    expect(resumed.m.test).toEqual(ref.m.test);
  }, 180_000);

  it('rejects bad budget configs with an error naming the field', async () => {
    const bad = (slipstream: Record<string, unknown>): unknown => {
      try {
        resolveTrainConfig({ ...BASE, slipstream: { ...BASE.slipstream, ...slipstream } });
      } catch (e) {
        return e;
      }
      return null;
    };
    expect(bad({ maxAucLoss: -0.001 })).toMatchObject({ code: 'bad_config', message: expect.stringContaining('slipstream.maxAucLoss') });
    expect(bad({ rechecks: 0 })).toMatchObject({ code: 'bad_config', message: expect.stringContaining('slipstream.rechecks') });
    const conflict = resolveTrainConfig({ ...BASE, slipstream: { ...BASE.slipstream, targetDrop: 0.95, budgetMaxDrop: 0.8 } });
    await expect(train({ config: conflict, data: d.dataDir, hot: d.hotDir, out: join(d.root, 'never'), quiet: true }))
      .rejects.toMatchObject({ code: 'bad_config', field: 'slipstream.targetDrop' });
    await expect(train({ config: resolveTrainConfig(BASE), data: d.dataDir, hot: d.hotDir, out: join(d.root, 'never2'), quiet: true, coldStore: 'redis://127.0.0.1:1' }))
      .rejects.toMatchObject({ code: 'not_implemented', field: 'slipstream.maxAucLoss' });
  });
});
