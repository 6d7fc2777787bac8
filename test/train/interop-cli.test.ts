import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/cli.js';
import { register as exportShards } from '../../stages/export-shards/cli.js';
import { register as exportModel } from '../../stages/train/export/cli.js';
import { register as predict } from '../../stages/train/predict/cli.js';
import { makeModelRun, type ModelRun } from '../fixtures/model-run.js';

let root = '';
let fx: ModelRun;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hotcold-interop-cli-'));
  fx = await makeModelRun(root);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cli = (args: string[]) => runCli([exportModel, predict, exportShards], args, { catchUsage: true });

describe('export / predict / evaluate / export-shards on the command line', () => {
  it('export writes the files it names; evaluate --json prints every metric', async () => {
    const r = await cli(['export', '--run', fx.run, '--out', join(root, 'exp')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/model\.safetensors, .*vocab\.json/);
    expect(existsSync(join(root, 'exp', 'manifest.json'))).toBe(true);
    const e = await cli(['evaluate', '--run', fx.run, '--split', 'val', '--json']);
    expect(e.code).toBe(0);
    const m = JSON.parse(e.out) as Record<string, number>;
    for (const k of ['auc', 'ap', 'logloss', 'accuracy', 'ne', 'neSplitCtr', 'ctr', 'trainCtr', 'rows']) expect(typeof m[k]).toBe('number');
  });

  it('predict prints the output path and a rows/s line; export-shards writes Parquet', async () => {
    const p = await cli(['predict', '--run', fx.run, '--split', 'test', '--out', join(root, 'p.csv')]);
    expect(p.code).toBe(0);
    expect(p.err).toMatch(/predict: \d+ rows of .* rows\/s/);
    expect(readFileSync(join(root, 'p.csv'), 'utf8').split('\n')[0]).toBe('row,label,probability');
    const s = await cli(['export-shards', '--data', fx.data, '--out', join(root, 'pq'), '--split', 'test']);
    expect(s.code).toBe(0);
    expect(s.out).toMatch(/export-shards: 1 Parquet files \(test \d+ rows\)/);
  });

  it('predict --no-label reaches the reader (refused on a labelled file); --workers 2 gives the same file as 1', async () => {
    const n = await cli(['predict', '--run', fx.run, '--input', fx.raw, '--no-label', '--out', join(root, 'n.csv')]);
    expect(n.code).toBe(1);
    expect(n.err).toMatch(/--no-label was given but .* has a label column/);
    const w1 = await cli(['predict', '--run', fx.run, '--split', 'test', '--out', join(root, 'w1.csv')]);
    const w2 = await cli(['predict', '--run', fx.run, '--split', 'test', '--workers', '2', '--out', join(root, 'w2.csv')]);
    expect([w1.code, w2.code]).toEqual([0, 0]);
    expect(readFileSync(join(root, 'w2.csv')).equals(readFileSync(join(root, 'w1.csv')))).toBe(true);
  });

  it('refusals: exit 2 with the message for usage errors, 1 for a missing model', async () => {
    const a = await cli(['predict', '--run', fx.run, '--out', join(root, 'x.csv')]);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/give exactly one of --split .* or --input/);
    const b = await cli(['export', '--run', fx.run, '--format', 'pt', '--out', join(root, 'y')]);
    expect(b.code).not.toBe(0);
    const c = await cli(['evaluate', '--run', join(root, 'nope'), '--split', 'test']);
    expect(c.code).toBe(1);
    expect(c.err).toMatch(/run directory .*nope does not exist/);
  });
});
