import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSegregated, readHotMap } from '../../datasets/segregated.js';
import type { RunMetrics } from '../../pipeline/run-metrics.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { createEngine } from '../../stages/train/engine/engine.js';
import { epochSchedule, HOT } from '../../stages/train/modes/schedule.js';
import { train } from '../../stages/train/train.js';
import { Trainer } from '../../stages/train/trainer.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

const SMALL = { model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' }, train: { batchSize: 128, epochs: 2, logEvery: 10 } };

let d: TrainData;
beforeAll(() => {
  d = makeTrainData();
});
afterAll(() => d.cleanup());

/** Host row of hot index h vs the device's hot row h: weights and Adagrad accumulator. */
function expectConsistent(t: Trainer, hotTable: Int32Array, hotRow: Int32Array): void {
  const hot = t.device.hot!;
  const dim = hot.dim;
  let diffs = 0;
  for (let h = 0; h < hotTable.length; h++) {
    const host = t.device.tables[hotTable[h]!]!;
    const r = hotRow[h]!;
    for (let k = 0; k < dim; k++) if (host.weights[r * dim + k] !== hot.weights[h * dim + k]) diffs++;
    if (host.accum![r] !== hot.accum![h]) diffs++;
  }
  expect(diffs).toBe(0);
}

describe('fae: hot table consistency', () => {
  it('after hot batches and a sync, host tables equal the hot table on hot rows (and back after cold batches)', () => {
    const cfg = resolveTrainConfig({ ...SMALL, mode: 'fae' });
    const seg = openSegregated(d.hotDir);
    const map = readHotMap(d.hotDir, seg);
    const t = new Trainer(cfg, createEngine('ts'), d.tableSizes, map);
    expectConsistent(t, map.table, map.row); // initial placement copies the host rows
    const b = t.batch;
    // a hot batch: every column looks up hot indices of its own table block
    b.size = 64;
    for (let i = 0; i < b.size; i++) {
      b.labels[i] = i % 2;
      for (let j = 0; j < 13; j++) b.dense[i * 13 + j] = ((i * 7 + j) % 5) / 5;
      for (let f = 0; f < 26; f++) b.cats[i * 26 + f] = seg.hotOffsets[f]! + ((i + f) % seg.hotRowsPerTable[f]!);
    }
    const before = t.device.hot!.weights.slice();
    t.step(true, () => 'hot');
    t.step(true, () => 'hot');
    expect(t.device.hot!.weights).not.toEqual(before);
    expect(t.device.bytes.gatherIn).toBe(0); // hot batches cross nothing
    // lazily: a cold batch that reads hot row (table 3, id 1) pulls exactly that row first
    const probe = new Int32Array(26).fill(d.tableSizes[0]! - 1); // cold ids everywhere ...
    probe[3] = 1; // ... except one hot row
    const h = seg.hotOffsets[3]! + 1;
    const dim = cfg.model.dim;
    expect(t.device.tables[3]!.weights.subarray(dim, 2 * dim)).not.toEqual(t.device.hot!.weights.subarray(h * dim, h * dim + dim));
    t.device.coldBatch(probe, 1);
    expect(t.device.tables[3]!.weights.subarray(dim, 2 * dim)).toEqual(t.device.hot!.weights.subarray(h * dim, h * dim + dim));
    const synced = t.device.syncToHost();
    expect(synced).toBe(seg.hotRows - 1); // the batches touched every hot row; one was already pulled
    expectConsistent(t, map.table, map.row);
    // a cold batch on original ids, touching hot rows on the host; then sync to the device
    for (let i = 0; i < b.size; i++) for (let f = 0; f < 26; f++) b.cats[i * 26 + f] = (i + f) % d.tableSizes[f]!;
    t.step(false, () => 'cold');
    expect(t.device.bytes.gatherIn).toBeGreaterThan(0);
    expect(t.device.syncToDevice()).toBeGreaterThan(0);
    expectConsistent(t, map.table, map.row);
    expect(t.device.syncToDevice()).toBe(0); // nothing dirty: nothing moves
  });
});

describe('fae: schedules', () => {
  it('phases = all cold then all hot; interleave keeps hot and cold in proportion', () => {
    const phases = epochSchedule(resolveTrainConfig({ mode: 'fae', fae: { schedule: 'phases' } }), 10, 30);
    expect(Array.from(phases)).toEqual([...new Array<number>(10).fill(0), ...new Array<number>(30).fill(1)]);
    const inter = epochSchedule(resolveTrainConfig({ mode: 'fae', fae: { schedule: 'interleave', rounds: 5 } }), 10, 30);
    expect(inter.length).toBe(40);
    expect(inter.reduce((s, x) => s + x, 0)).toBe(30);
    for (let q = 0; q < 5; q++) {
      const chunk = inter.subarray(q * 8, q * 8 + 8);
      expect(chunk.filter((x) => x === HOT).length).toBe(6); // 2 cold then 6 hot per round
      expect(chunk[0]).toBe(0);
    }
    expect(epochSchedule(resolveTrainConfig({ mode: 'baseline' }), 7, 0).every((x) => x === 0)).toBe(true);
  });
});

describe('fae: training', () => {
  const runs: Record<string, RunMetrics> = {};
  beforeAll(async () => {
    for (const [name, raw] of [
      ['baseline', { ...SMALL }],
      ['phases', { ...SMALL, mode: 'fae', fae: { schedule: 'phases' } }],
      ['interleave', { ...SMALL, mode: 'fae', fae: { schedule: 'interleave', rounds: 8 } }],
    ] as const) {
      runs[name] = await train({ config: resolveTrainConfig(raw), data: d.dataDir, hot: d.hotDir, out: join(d.root, `fae-${name}`), quiet: true });
    }
  });

  it('reaches baseline accuracy within noise with both schedules', () => {
    const base = runs.baseline!.test.auc;
    expect(base).toBeGreaterThan(0.75);
    for (const k of ['phases', 'interleave']) {
      expect(Math.abs(runs[k]!.test.auc - base)).toBeLessThan(0.02);
      expect(runs[k]!.samplesTrained).toBe(runs.baseline!.samplesTrained);
    }
  });

  it('moves fewer bytes over the host-device link than baseline, and only syncs where needed', () => {
    const base = runs.baseline!.hostDeviceBytes;
    const ph = runs.phases!;
    const il = runs.interleave!;
    expect(ph.batches.hot).toBeGreaterThan(ph.batches.cold);
    expect(ph.hostDeviceBytes.gatherIn).toBeLessThan(base.gatherIn / 2);
    expect(ph.hostDeviceBytes.hotSync).toBeGreaterThan(0);
    expect(ph.hostDeviceBytes.total).toBeLessThan(base.total);
    // interleave switches more often than phases, so it syncs more rows
    expect(il.hostDeviceBytes.hotSync).toBeGreaterThan(ph.hostDeviceBytes.hotSync);
  });
});
