import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/rng.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { inputKeys, searchThreshold, staleNeeded } from '../../stages/train/modes/slipstream.js';
import { train } from '../../stages/train/train.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

const SLIP = {
  mode: 'slipstream',
  model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' },
  train: { batchSize: 128, epochs: 2, logEvery: 10 },
  // the fixture's hot table has 8 rows per table, so many inputs share a drop key and the
  // would-drop fraction moves in steps of a few percent: a ±5 % band
  slipstream: { windowStart: 4, windowFraction: 0.05, tolerance: 0.05 },
} as const;

let d: TrainData;
beforeAll(() => {
  d = makeTrainData();
});
afterAll(() => d.cleanup());

describe('slipstream threshold search', () => {
  it('hits the band on spread-out keys', () => {
    const rng = new Rng(3);
    const keys = Float32Array.from({ length: 5000 }, () => Math.exp(-8 * rng.float()));
    for (const D of [0.1, 0.3, 0.5, 0.9]) {
      const s = searchThreshold(keys, D, 0.01, 60);
      expect(s.inBand).toBe(true);
      expect(Math.abs(s.dropFraction - D)).toBeLessThanOrEqual(0.01);
      const actual = keys.filter((k) => k < s.threshold).length / keys.length;
      expect(actual).toBe(s.dropFraction);
    }
  });

  it('reports a miss honestly and returns the closest threshold found', () => {
    // 7 distinct keys: the drop fraction can only be k/7, so 0.3 ± 0.005 is unreachable
    const keys = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    const s = searchThreshold(keys, 0.3, 0.005, 60);
    expect(s.inBand).toBe(false);
    expect(s.dropFraction).toBeCloseTo(2 / 7, 10); // closest reachable fraction, not 0
    expect(s.threshold).toBeGreaterThan(0.2);
    expect(s.threshold).toBeLessThanOrEqual(0.3);
    // all keys equal: the fraction jumps 0 → 1; 0 is closer to 0.3, and it is flagged
    const flat = searchThreshold(new Float32Array(100).fill(0.5), 0.3, 0.02, 60);
    expect(flat.inBand).toBe(false);
    expect(flat.dropFraction).toBe(0);
  });

  it('an input is dropped when at least α of its lookups are stale', () => {
    expect(staleNeeded(1)).toBe(26);
    expect(staleNeeded(0.5)).toBe(13);
    const delta = Float32Array.from({ length: 26 }, (_, h) => h / 100); // Δ of hot row h
    const cats = Int32Array.from({ length: 26 }, (_, f) => f); // one input using rows 0..25
    expect(inputKeys(cats, 1, delta, 1)[0]).toBeCloseTo(0.25); // max Δ: stale for T > 0.25
    expect(inputKeys(cats, 1, delta, 0.5)[0]).toBeCloseTo(0.12); // 13th smallest
  });
});

describe('slipstream training', () => {
  it('drops about D of the hot inputs after the window, every epoch, never training a batch twice', async () => {
    const out = join(d.root, 'slip');
    const m = await train({ config: resolveTrainConfig(SLIP), data: d.dataDir, hot: d.hotDir, out, quiet: true });
    const s = m.slipstream!;
    expect(s.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    for (const e of s.epochs) {
      expect(e.inBand).toBe(true);
      expect(e.threshold).toBeGreaterThan(0);
      expect(e.candidates).toBeGreaterThan(1000);
      expect(Math.abs(e.dropFraction - 0.3)).toBeLessThan(0.08);
    }
    const dropped = s.epochs.reduce((a, e) => a + e.dropped, 0);
    // every training input is either trained once or dropped, in both epochs
    expect(m.samplesTrained + dropped).toBe(2 * 6000);
    expect(s.dropFraction).toBeGreaterThan(0.15);
    expect(s.overheadSec).toBeGreaterThan(0);
    expect(m.time.slipstreamSec).toBe(s.overheadSec);
    expect(m.test.auc).toBeGreaterThan(0.75);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8');
    expect(log).toMatch(/slipstream: epoch 1: T = /);
  });

  it('says so when the search misses the band, and still drops by the closest threshold', async () => {
    const cfg = resolveTrainConfig(SLIP, ['slipstream.sampleSize=7', 'slipstream.tolerance=0.005', 'train.epochs=1']);
    const out = join(d.root, 'slip-miss');
    const m = await train({ config: cfg, data: d.dataDir, hot: d.hotDir, out, quiet: true });
    const e = m.slipstream!.epochs[0]!;
    expect(e.inBand).toBe(false);
    expect(e.threshold).toBeGreaterThan(0);
    expect(e.dropped).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'log.jsonl'), 'utf8')).toMatch(/MISSED the band/);
  });
  it('says so when the run stops before the window ends, instead of a silent T = 0', async () => {
    const cfg = resolveTrainConfig(SLIP, ['train.maxBatches=3', 'train.epochs=1']);
    const out = join(d.root, 'slip-short');
    const m = await train({ config: cfg, data: d.dataDir, hot: d.hotDir, out, quiet: true });
    expect(m.slipstream!.epochs[0]!.dropped).toBe(0);
    expect(readFileSync(join(out, 'log.jsonl'), 'utf8')).toMatch(/ended before the window finished .*nothing was dropped/);
  });
});
