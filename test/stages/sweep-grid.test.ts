import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadSweepConfig, resolveSweepConfig } from '../../stages/sweep/config.js';
import { baselineKey, expandGrid, modesForKey } from '../../stages/sweep/grid.js';
import { PipelineError } from '../../pipeline/errors.js';

describe('expandGrid', () => {
  it('multiplies slipstream keys only for slipstream and seeds for every mode', () => {
    const runs = expandGrid({ mode: ['baseline', 'fae', 'slipstream'], 'slipstream.targetDrop': [0.1, 0.2, 0.3, 0.4, 0.5], seed: [1, 2] });
    const ids = runs.map((r) => r.id);
    expect(ids.filter((i) => i.startsWith('baseline'))).toEqual(['baseline-s1', 'baseline-s2']);
    expect(ids.filter((i) => i.startsWith('fae'))).toEqual(['fae-s1', 'fae-s2']);
    expect(ids.filter((i) => i.startsWith('slipstream'))).toHaveLength(10);
    expect(ids).toContain('slipstream-D0.3-s2');
    expect(new Set(ids).size).toBe(ids.length);
    const r = runs.find((x) => x.id === 'slipstream-D0.3-s2')!;
    expect(r.params).toEqual({ mode: 'slipstream', 'slipstream.targetDrop': 0.3, seed: 2 });
    expect(runs.find((x) => x.id === 'baseline-s1')!.params).toEqual({ mode: 'baseline', seed: 1 });
  });

  it('applies fae.* keys to fae and slipstream, other keys to all, and honours appliesTo', () => {
    expect(modesForKey('fae.schedule')).toEqual(['fae', 'slipstream']);
    expect(modesForKey('train.batchSize')).toEqual(['baseline', 'fae', 'slipstream']);
    const runs = expandGrid(
      { mode: ['baseline', 'fae'], 'fae.schedule': ['phases', 'interleave'], 'train.batchSize': [512, 1024] },
      { 'train.batchSize': ['fae'] },
    );
    expect(runs.map((r) => r.id)).toEqual([
      'baseline',
      'fae-schedulephases-batchSize512',
      'fae-schedulephases-batchSize1024',
      'fae-scheduleinterleave-batchSize512',
      'fae-scheduleinterleave-batchSize1024',
    ]);
  });

  it('uses full key paths when short names would clash, and rejects unknown modes', () => {
    const runs = expandGrid({ mode: ['baseline'], 'optim.dense.lr': [0.1], 'optim.sparse.lr': [0.2] });
    expect(runs[0]!.id).toBe('baseline-optim.dense.lr=0.1-optim.sparse.lr=0.2');
    expect(() => expandGrid({ mode: ['turbo'] })).toThrow(PipelineError);
    expect(() => expandGrid({ seed: [1] })).toThrow(/grid.mode/);
  });

  it('matches each run to the baseline with the same shared parameters', () => {
    const runs = expandGrid({ mode: ['baseline', 'slipstream'], 'slipstream.targetDrop': [0.1, 0.2], seed: [1, 2] });
    const b2 = runs.find((r) => r.id === 'baseline-s2')!;
    const s2 = runs.find((r) => r.id === 'slipstream-D0.2-s2')!;
    const s1 = runs.find((r) => r.id === 'slipstream-D0.2-s1')!;
    expect(baselineKey(s2)).toBe(baselineKey(b2));
    expect(baselineKey(s1)).not.toBe(baselineKey(b2));
  });
});

describe('sweep config', () => {
  const base = { generate: { rows: 1000 }, train: { config: 'train.json' } };

  it('applies defaults and resolves paths against the config directory', () => {
    const c = resolveSweepConfig({ ...base, out: 'out' }, '/cfg');
    expect(c.out).toBe('/cfg/out');
    expect(c.train.config).toBe('/cfg/train.json');
    expect(c.grid).toEqual({ mode: ['baseline', 'fae', 'slipstream'], seed: [1] });
    expect(c.profile.sampleRate).toBe(0.05);
    expect(c.goal).toEqual({ speedup: 1.3, deltaAuc: -0.001, basis: 'modelled' });
    expect(c.schedule).toEqual({ repeats: 1, seed: 1, order: 'random', calibrate: true });
  });

  it('reports every problem: two data sources, unknown keys, missing per-mode config', () => {
    let err: PipelineError | undefined;
    try {
      resolveSweepConfig({ generate: { rows: 10 }, input: ['a.tsv'], bogus: 1, train: { configs: { baseline: 'b.json' } } }, '/');
    } catch (e) {
      err = e as PipelineError;
    }
    expect(err?.code).toBe('bad_config');
    expect(err?.message).toMatch(/bogus/);
    expect(() => resolveSweepConfig({ input: ['a.tsv'], train: { configs: { baseline: 'b.json' } } }, '/')).toThrow(/train base config/);
    expect(() => resolveSweepConfig({ ...base, input: ['x'] }, '/')).toThrow(/exactly one data source/);
  });
});

describe('configs/sweep-drop.json', () => {
  it('is a valid sweep config of 14 runs (7 per seed, 2 seeds) whose paths resolve inside the repository', () => {
    const root = join(import.meta.dirname, '..', '..');
    const c = loadSweepConfig(join(root, 'configs', 'sweep-drop.json'));
    expect(c.out).toBe(join(root, 'runs', 'sweep-drop'));
    expect(c.train.configs.fae).toBe(join(root, 'configs', 'fae-small.json'));
    expect(expandGrid(c.grid, c.appliesTo)).toHaveLength(14);
  });
});

describe('configs/sweep-budget.json', () => {
  it('compares budgeted runs (ε > 0, start D) with the fixed-D grid and baseline; every train config it sets is valid', async () => {
    const root = join(import.meta.dirname, '..', '..');
    const c = loadSweepConfig(join(root, 'configs', 'sweep-budget.json'));
    const runs = expandGrid(c.grid, c.appliesTo);
    expect(runs.map((r) => r.id)).toEqual([
      'baseline-s1',
      'slipstream-D0.3-eps0-s1', 'slipstream-D0.3-eps0.0005-s1', 'slipstream-D0.3-eps0.001-s1',
      'slipstream-D0.5-eps0-s1', 'slipstream-D0.5-eps0.0005-s1', 'slipstream-D0.5-eps0.001-s1',
    ]);
    const { loadTrainConfig } = await import('../../stages/train/config.js');
    const sets = Object.entries(c.train.set).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    for (const r of runs) {
      const cfg = loadTrainConfig(c.train.configs[r.mode], [...sets, ...Object.entries(r.params).filter(([k]) => k !== 'mode').map(([k, v]) => `${k}=${JSON.stringify(v)}`)]);
      expect(cfg.slipstream.maxAucLoss).toBe(r.params['slipstream.maxAucLoss'] ?? 0);
    }
  });
});
