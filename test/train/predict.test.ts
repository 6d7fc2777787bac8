import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParseAddon } from '../../datasets/criteo/native.js';
import { openPreprocessed } from '../../datasets/preprocessed.js';
import type { RunMetrics } from '../../pipeline/run-metrics.js';
import { quietSink } from '../../pipeline/progress.js';
import { run as preprocess } from '../../stages/preprocess/index.js';
import { runEvaluate, runPredict } from '../../stages/train/predict/index.js';
import { makeModelRun, type ModelRun } from '../fixtures/model-run.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';

const NATIVE_V2 = (loadParseAddon().addon?.version ?? 0) >= 2;
if (!NATIVE_V2) console.warn('predict native-vs-TS parser test skipped: the parse addon (version 2) is not built; run `npm run build:addon`');

let root = '';
let fx: ModelRun;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hotcold-predict-'));
  fx = await makeModelRun(root);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const tmp = useTempDirs('hotcold-predict-out-');

/** Kaggle's test.txt from the raw fixture (its label column cut) and the CSV with an Id column (ids from idBase, lines ending in eol). */
function writeUnlabelled(dir: string, idBase: number, eol: string): { unl: string; csv: string } {
  const lines = readFileSync(fx.raw, 'utf8').trimEnd().split('\n');
  const unl = join(dir, 'test.txt');
  writeFileSync(unl, lines.map((l) => l.slice(l.indexOf('\t') + 1)).join('\n') + '\n');
  const csv = join(dir, 'test.csv');
  const head = ['Id', ...Array.from({ length: 13 }, (_, i) => `I${i + 1}`), ...Array.from({ length: 26 }, (_, i) => `C${i + 1}`)].join(',');
  writeFileSync(csv, [head, ...lines.map((l, i) => `${idBase + i},${l.slice(l.indexOf('\t') + 1).split('\t').join(',')}`)].join(eol) + eol);
  return { unl, csv };
}

function readCsv(path: string): { label: number; p: number }[] {
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  expect(lines[0]).toBe('row,label,probability');
  return lines.slice(1).map((l, i) => {
    const [row, label, p] = l.split(',');
    expect(Number(row)).toBe(i);
    return { label: Number(label), p: Number(p) };
  });
}

describe('hotcold predict / evaluate', () => {
  it('evaluate on the test split reproduces the run\'s final test metrics, plus AP and both NEs', async () => {
    const run = JSON.parse(readFileSync(join(fx.run, 'metrics.json'), 'utf8')) as RunMetrics;
    const r = await runEvaluate({ run: fx.run, split: 'test' });
    expect(r.metrics.rows).toBe(run.test.rows);
    expect(r.metrics.auc).toBeCloseTo(run.test.auc, 12);
    expect(r.metrics.logloss).toBeCloseTo(run.test.logloss, 9);
    expect(r.metrics.ne).toBeCloseTo(run.test.ne, 9);
    expect(r.metrics.ap).toBeGreaterThan(r.metrics.ctr!);
    const m = openPreprocessed(fx.data);
    expect(r.metrics.trainCtr).toBeCloseTo(m.splits.train.positives / m.splits.train.rows, 12);
  });

  it('predict writes one probability per row; a raw file scored through the vocabulary gives the split\'s probabilities', async () => {
    const dir = tmp();
    const split = await runPredict({ run: fx.run, split: 'test', out: join(dir, 'test.csv') });
    const m = openPreprocessed(fx.data);
    expect(split.rows).toBe(m.splits.test.rows);
    const a = readCsv(join(dir, 'test.csv'));
    const raw = await runPredict({ run: fx.run, input: fx.raw, out: join(dir, 'raw.csv'), batchSize: 1000 });
    expect(raw.rows).toBe(m.rowsRead);
    const b = readCsv(join(dir, 'raw.csv'));
    // Kaggle split: the test half starts after the six training days
    const off = m.splits.train.rows;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) {
      expect(b[off + i]!.label).toBe(a[i]!.label);
      maxDiff = Math.max(maxDiff, Math.abs(b[off + i]!.p - a[i]!.p));
    }
    expect(maxDiff).toBeLessThan(1e-6);
    // evaluate on the raw file agrees with predict's probabilities
    const ev = await runEvaluate({ run: fx.run, input: fx.raw });
    expect(ev.metrics.rows).toBe(b.length);
  });

  it('--workers 3 writes byte-identical predictions to the one-thread path, in file order (uneven last batch)', async () => {
    const dir = tmp();
    await runPredict({ run: fx.run, split: 'train', batchSize: 700, out: join(dir, 'one.csv') });
    await runPredict({ run: fx.run, split: 'train', batchSize: 700, workers: 3, out: join(dir, 'pool.csv') });
    const one = readFileSync(join(dir, 'one.csv'));
    expect(readFileSync(join(dir, 'pool.csv')).equals(one)).toBe(true);
    const a = await runEvaluate({ run: fx.run, split: 'train', batchSize: 700 });
    const b = await runEvaluate({ run: fx.run, split: 'train', batchSize: 700, workers: 2 });
    expect(b.metrics).toEqual(a.metrics);
  });

  it('refuses: split and input together, neither, a checkpoint dir that does not exist, an output inside an input', async () => {
    await expectCode(runEvaluate({ run: fx.run }), 'bad_config');
    await expectCode(runEvaluate({ run: fx.run, split: 'test', input: fx.raw }), 'bad_config');
    await expectCode(runEvaluate({ checkpoint: join(root, 'none'), split: 'test' }), 'not_found');
    await expectCode(runPredict({ run: fx.run, input: join(root, 'missing.tsv'), out: join(tmp(), 'x.csv') }), 'not_found');
    // an output file inside an input directory (here: the preprocessed dataset) is refused before anything is written
    const e = await expectCode(runPredict({ run: fx.run, split: 'test', out: join(fx.data, 'manifest.json') }), 'unsafe_output');
    expect(e.message).toMatch(/--out .* lies inside --data/);
  });
});

describe('hotcold predict --out x.parquet', () => {
  it('writes row, label, probability exactly (read back by DuckDB), equal to the CSV', async () => {
    const dir = tmp();
    await runPredict({ run: fx.run, split: 'test', out: join(dir, 'p.csv') });
    const r = await runPredict({ run: fx.run, split: 'test', out: join(dir, 'p.parquet') });
    const csv = readCsv(join(dir, 'p.csv'));
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const rows = (await con.runAndReadAll(`SELECT row, label, probability FROM read_parquet('${join(dir, 'p.parquet')}') ORDER BY row`)).getRows();
    expect(rows.length).toBe(r.rows);
    for (let i = 0; i < rows.length; i += 97) {
      expect(Number(rows[i]![0])).toBe(i);
      expect(Number(rows[i]![1])).toBe(csv[i]!.label);
      expect(Number(rows[i]![2])).toBe(Math.fround(csv[i]!.p));
    }
    con.closeSync();
  });
});

describe('hotcold predict --input on an unlabelled file (Kaggle test.txt: 39 fields)', () => {
  it('scores it as the labelled file minus its label column (TSV, and CSV with an Id header), writes row,probability; evaluate and preprocess refuse it', async () => {
    const dir = tmp();
    const { unl, csv } = writeUnlabelled(dir, 60000000, '\r\n');
    const lab = await runPredict({ run: fx.run, input: fx.raw, out: join(dir, 'lab.csv') });
    expect(lab.labelled).toBe(true);
    const want = readCsv(join(dir, 'lab.csv')).map((r) => r.p);
    for (const [file, opts] of [[unl, {}], [unl, { noLabel: true }], [csv, {}]] as const) {
      const r = await runPredict({ run: fx.run, input: file, out: join(dir, 'unl.csv'), ...opts });
      expect(r.labelled).toBe(false);
      const out = readFileSync(join(dir, 'unl.csv'), 'utf8').trim().split('\n');
      expect(out[0]).toBe('row,probability');
      expect(out.slice(1).map((l) => Number(l.split(',')[1]))).toEqual(want);
    }
    const pq = await runPredict({ run: fx.run, input: unl, out: join(dir, 'unl.parquet') });
    expect(pq.rows).toBe(want.length);
    const e = await expectCode(runEvaluate({ run: fx.run, input: unl }), 'bad_input');
    expect(e.message).toMatch(/evaluate needs labels: .*test\.txt has no label column/);
    const p = await expectCode(preprocess({ inputs: [unl], out: join(dir, 'pre'), parallel: false }, { progress: quietSink }), 'bad_input');
    expect(p.message).toMatch(/has no label column: its lines have 39 fields/);
  });

  it.skipIf(!NATIVE_V2)('native and TypeScript parsers give byte-identical predictions on the unlabelled file (TSV and Id CSV) and the labelled one', async () => {
    const dir = tmp();
    const { unl, csv } = writeUnlabelled(dir, 0, '\n');
    const prev = process.env.HOTCOLD_PARSER;
    try {
      for (const file of [unl, csv, fx.raw]) {
        const outs: Buffer[] = [];
        for (const parser of ['native', 'ts']) {
          if (parser === 'ts') process.env.HOTCOLD_PARSER = 'ts';
          else delete process.env.HOTCOLD_PARSER;
          const out = join(dir, `${parser}.csv`);
          await runPredict({ run: fx.run, input: file, out, batchSize: 999 });
          outs.push(readFileSync(out));
        }
        expect(outs[0]!.length).toBeGreaterThan(1000);
        expect(outs[0]!.equals(outs[1]!)).toBe(true);
      }
    } finally {
      if (prev === undefined) delete process.env.HOTCOLD_PARSER;
      else process.env.HOTCOLD_PARSER = prev;
    }
  });

  it('refuses --no-label on a labelled file, a file whose first lines mix 39 and 40 fields, and --no-label with --split', async () => {
    const dir = tmp();
    const e1 = await expectCode(runPredict({ run: fx.run, input: fx.raw, noLabel: true, out: join(dir, 'x.csv') }), 'bad_input');
    expect(e1.message).toMatch(/--no-label was given but .* has a label column/);
    const lines = readFileSync(fx.raw, 'utf8').trimEnd().split('\n').slice(0, 50);
    const mixed = join(dir, 'mixed.txt');
    writeFileSync(mixed, lines.map((l, i) => (i === 7 ? l.slice(l.indexOf('\t') + 1) : l)).join('\n') + '\n');
    const e2 = await expectCode(runPredict({ run: fx.run, input: mixed, out: join(dir, 'x.csv') }), 'bad_input');
    expect(e2.message).toMatch(/cannot tell whether .*mixed\.txt has a label column: its first lines have 39 and 40 fields/);
    await expectCode(runPredict({ run: fx.run, split: 'test', noLabel: true, out: join(dir, 'x.csv') }), 'bad_config');
  });
});
