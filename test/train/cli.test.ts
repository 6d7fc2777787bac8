import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { PipelineError } from '../../pipeline/errors.js';
import type { RunMetrics } from '../../pipeline/run-metrics.js';
import { register } from '../../stages/train/cli.js';
import { loadTrainConfig, resolveTrainConfig } from '../../stages/train/config.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

function configError(raw: unknown, sets: string[] = []): PipelineError {
  try {
    resolveTrainConfig(raw, sets);
  } catch (e) {
    if (e instanceof PipelineError) return e;
    throw e;
  }
  throw new Error('expected a config error');
}

describe('train config', () => {
  it('fills every default and keeps file values', () => {
    const c = resolveTrainConfig({ mode: 'fae', train: { batchSize: 512 } });
    expect(c.mode).toBe('fae');
    expect(c.train.batchSize).toBe(512);
    expect(c.train.epochs).toBe(1);
    expect(c.model).toEqual({ dim: 16, mlpBot: '13-512-256-64-16', mlpTop: '512-256-1' });
    expect(c.slipstream).toMatchObject({ targetDrop: 0.3, alpha: 1 });
    expect(c.optim.sparse.kind).toBe('adagrad');
  });

  it('names the field of every error', () => {
    expect(configError({ train: { batchsize: 5 } }).message).toMatch(/train: .*batchsize/);
    expect(configError({ train: { batchSize: -1 } }).field).toBe('train.batchSize');
    expect(configError({ mode: 'fast' }).field).toBe('mode');
    expect(configError({ slipstream: { targetDrop: 1.5 } }).field).toBe('slipstream.targetDrop');
    expect(configError({ model: { dim: 8 } }).field).toBe('model.mlpBot'); // bottom MLP must end with dim
    expect(configError({ model: { mlpTop: '512-256-2' } }).field).toBe('model.mlpTop');
    expect(configError({}, ['train.epochs=two']).field).toBe('train.epochs');
    expect(configError({}, ['optim.dense.lr']).field).toBe('--set');
    expect(configError({ nope: 1 }).code).toBe('bad_config');
  });

  it('accepts DLRM spellings', () => {
    const c = resolveTrainConfig({ 'arch-mlp-bot': '13-64-8', 'arch-sparse-feature-size': 8, 'mini-batch-size': 256, nepochs: 3 }, [
      'arch-mlp-top=64-1',
    ]);
    expect(c.model).toEqual({ dim: 8, mlpBot: '13-64-8', mlpTop: '64-1' });
    expect(c.train).toMatchObject({ batchSize: 256, epochs: 3 });
    expect(resolveTrainConfig({ model: { mlpBot: [13, 64, 16] } }).model.mlpBot).toBe('13-64-16');
  });

  it('loads every shipped preset', () => {
    for (const name of ['baseline', 'fae', 'slipstream', 'baseline-small', 'fae-small', 'slipstream-small']) {
      const c = loadTrainConfig(join('configs', `${name}.json`));
      expect(c.mode).toBe(name.split('-')[0]);
    }
    expect(loadTrainConfig('configs/baseline.json').model).toEqual({ dim: 16, mlpBot: '13-512-256-64-16', mlpTop: '512-256-1' });
  });
});

describe('hotcold train (command line)', () => {
  let d: TrainData;
  let dir: string;
  beforeAll(() => {
    d = makeTrainData({ trainRows: 2000, evalRows: 500 });
    dir = mkdtempSync(join(tmpdir(), 'hotcold-train-cli-'));
  });
  afterAll(() => {
    d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (args: string[]) => runCli([register], ['train', ...args]);

  it('trains from a config file with --set and --seed, and writes the run directory', async () => {
    const cfg = join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ mode: 'fae', model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 128 } }));
    const out = join(dir, 'run');
    const r = await cli(['--config', cfg, '--data', d.dataDir, '--hot', d.hotDir, '--out', out, '--set', 'train.epochs=2', '--seed', '5', '--engine', 'ts', '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^fae: val auc 0\.\d+, test auc 0\.\d+/);
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
    expect(m).toMatchObject({ mode: 'fae', seed: 5, epochs: 2, engine: 'ts' });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ seed: 5, train: { epochs: 2, batchSize: 128 } });
    // the same command again reuses the finished run; --force trains it again
    const again = ['--config', cfg, '--data', d.dataDir, '--hot', d.hotDir, '--out', out, '--set', 'train.epochs=2', '--seed', '5', '--engine', 'ts', '--quiet'];
    expect((await cli(again)).code).toBe(0);
    const reused = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
    expect(reused.time.totalSec).toBe(m.time.totalSec);
    expect((await cli([...again, '--force'])).code).toBe(0);
    const fresh = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
    expect(fresh.time.totalSec).not.toBe(m.time.totalSec);
    expect(fresh.test.auc).toBe(m.test.auc);
  });

  it('--max-auc-loss and --rechecks run an accuracy-budgeted Slipstream and say where D went', async () => {
    const cfg = join(dir, 's.json');
    writeFileSync(cfg, JSON.stringify({ mode: 'slipstream', model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 64, saveModel: false }, slipstream: { windowStart: 2, windowFraction: 0.1 } }));
    const out = join(dir, 'budget');
    const r = await cli(['--config', cfg, '--data', d.dataDir, '--hot', d.hotDir, '--out', out, '--max-auc-loss', '0.002', '--rechecks', '2', '--engine', 'ts', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/budget ε 0\.002: D 0\.3 → [\d.]+ over 2 re-checks/);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ slipstream: { maxAucLoss: 0.002, rechecks: 2 } });
    await expect(cli(['--config', cfg, '--data', d.dataDir, '--hot', d.hotDir, '--out', join(dir, 'bad-budget'), '--max-auc-loss', '-1', '--quiet'])).rejects.toThrow(/--max-auc-loss must be a number in \[0/);
  });

  it('exits 2 with the field named for a bad --set', async () => {
    const r = await cli(['--data', d.dataDir, '--out', join(dir, 'bad'), '--set', 'train.batchSize=0', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/train\.batchSize/);
  });
});
