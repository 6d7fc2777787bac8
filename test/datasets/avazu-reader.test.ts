import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RowBatch } from '../../datasets/criteo/batch.js';
import { createBadLineLog } from '../../datasets/criteo/parse.js';
import { newReadStats, readCriteo, type ReadOptions } from '../../datasets/criteo/reader.js';
import { expandHour } from '../../datasets/avazu/reader.js';
import { quietSink } from '../../pipeline/progress.js';
import { run as preprocess } from '../../stages/preprocess/index.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { train } from '../../stages/train/train.js';
import { runEvaluate, runPredict } from '../../stages/train/predict/index.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';

const SAMPLE = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'avazu', 'avazu-train-head-8999.csv');
const HAVE = existsSync(SAMPLE);
const tmp = useTempDirs('hotcold-avazu-');
const HEX = new Set(['site_id', 'site_domain', 'site_category', 'app_id', 'app_domain', 'app_category', 'device_id', 'device_ip', 'device_model']);

async function readAll(path: string, opts: ReadOptions = {}): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of readCriteo(path, opts)) out.push(...flat(b));
  return out;
}
function flat(b: RowBatch): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < b.rows; r++) {
    const row = [b.label[r]!, b.dense[r]!, b.dense[b.capacity + r]!];
    for (let f = 0; f < 26; f++) row.push(b.catPresent[f * b.capacity + r] ? b.cats[f * b.capacity + r]! : -1);
    out.push(row);
  }
  return out;
}

/** Avazu's test.csv made from the labelled sample: the same file without its click column (header included). */
function dropClick(src: string, dir: string, name = 'test.csv'): string {
  const out = join(dir, name);
  const lines = readFileSync(src, 'utf8').split('\n');
  writeFileSync(out, lines.map((l) => (l === '' ? l : l.split(',').filter((_, i) => i !== 1).join(','))).join('\n'));
  return out;
}

/** The probability column of a predict CSV (header checked). */
function probs(path: string, header: string): number[] {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  expect(lines[0]).toBe(header);
  return lines.slice(1).map((l, i) => {
    const f = l.split(',');
    expect(Number(f[0])).toBe(i);
    return Number(f[f.length - 1]);
  });
}

/** Oracle: the documented mapping, computed the slow way. */
function naive(text: string): number[][] {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const names = lines.shift()!.split(',');
  return lines.map((l) => {
    const f = l.split(',');
    const h = f[2]!;
    const date = new Date(`20${h.slice(0, 2)}-${h.slice(2, 4)}-${h.slice(4, 6)}T${h.slice(6, 8)}:00:00Z`);
    const hod = date.getUTCHours();
    const wd = (date.getUTCDay() + 6) % 7;
    const cats = f.slice(3).map((s, i) => (HEX.has(names[3 + i]!) ? parseInt(s, 16) : Number(s) >>> 0));
    return [Number(f[1]), hod, wd, ...cats, hod, wd, -1, -1, -1];
  });
}

describe('Avazu reader', () => {
  it('expands hour YYMMDDHH into hour of day and weekday (Monday = 0)', () => {
    expect(expandHour('14102100')).toEqual([0, 1]); // 2014-10-21 was a Tuesday
    expect(expandHour('14102623')).toEqual([23, 6]); // a Sunday
    expect(expandHour('14023100')).toBeNull(); // 31 February
    expect(expandHour('1410210')).toBeNull();
  });

  it.skipIf(!HAVE)('reads the shared sample into Criteo-shaped rows, every value as documented', async () => {
    const rows = await readAll(SAMPLE);
    const want = naive(readFileSync(SAMPLE, 'utf8'));
    expect(rows.length).toBe(8999);
    expect(rows).toEqual(want);
    const ctr = rows.reduce((a, r) => a + r[0]!, 0) / rows.length;
    expect(ctr).toBeGreaterThan(0.17);
    expect(ctr).toBeLessThan(0.18);
    // .gz reads the same
    const gz = join(tmp(), 'a.csv.gz');
    writeFileSync(gz, gzipSync(readFileSync(SAMPLE)));
    expect(await readAll(gz)).toEqual(rows);
  });

  it.skipIf(!HAVE)('preprocess (Slipstream\'s 80/10/10 random split) and train run on it', async () => {
    const d = tmp();
    const pre = await preprocess({ inputs: [SAMPLE], out: join(d, 'pre'), options: { split: 'random', ratios: [0.8, 0.1, 0.1], seed: 123 }, parallel: false }, { progress: quietSink });
    const m = pre.manifest;
    expect(m.rowsRead).toBe(8999);
    expect(m.splits.train.rows + m.splits.val.rows + m.splits.test.rows).toBe(8999);
    expect(m.vocab.sizes[21]).toBeLessThanOrEqual(2 + 24); // hour of day
    expect(m.vocab.sizes[22]).toBeLessThanOrEqual(2 + 7); // weekday
    expect(m.vocab.sizes.slice(23)).toEqual([2, 2, 2]); // unused slots: missing + OOV
    const config = resolveTrainConfig({ model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 256, epochs: 2, saveModel: false } });
    const r = await train({ config, data: join(d, 'pre'), out: join(d, 'run'), quiet: true });
    expect(r.test.auc).toBeGreaterThan(0.55);
  }, 60_000);

  it.skipIf(!HAVE)('--format avazu-slipstream: Slipstream\'s layout (1 dense = hour of day, C1..C21), every value as documented', async () => {
    const rows = await readAll(SAMPLE, { format: 'avazu-slipstream' });
    // Slipstream: the dense slot I1 = hour of day, I2 missing; C1..C21 as in the default layout; C22..C26 missing
    const want = naive(readFileSync(SAMPLE, 'utf8')).map((r) => [r[0]!, r[1]!, NaN, ...r.slice(3, 24), -1, -1, -1, -1, -1]);
    expect(rows).toEqual(want);
    // the default layout stays as it was with --format avazu
    expect(await readAll(SAMPLE, { format: 'avazu' })).toEqual(naive(readFileSync(SAMPLE, 'utf8')));
    const notAvazu = join(tmp(), 'x.tsv');
    writeFileSync(notAvazu, '0\t1\t2\n');
    const e = await expectCode(readAll(notAvazu, { format: 'avazu-slipstream' }), 'bad_input');
    expect(e.message).toMatch(/--format avazu-slipstream: not an Avazu file/);
  });

  it.skipIf(!HAVE)('preprocess --format avazu-slipstream records the layout; predict on the raw file reads it the same way as the split', async () => {
    const d = tmp();
    const pre = await preprocess({ inputs: [SAMPLE], out: join(d, 'pre'), options: { split: 'random', ratios: [0.8, 0.1, 0.1], seed: 123, format: 'avazu-slipstream' }, parallel: false }, { progress: quietSink });
    const m = pre.manifest;
    expect(m.options.format).toBe('avazu-slipstream');
    expect(m.vocab.sizes.slice(21)).toEqual([2, 2, 2, 2, 2]); // no hour/weekday tables: missing + OOV only
    const config = resolveTrainConfig({ model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 256, epochs: 1 } });
    await train({ config, data: join(d, 'pre'), out: join(d, 'run'), quiet: true });
    // the raw file scored through the vocabulary must be read in the model's (Slipstream) layout: the same ids and
    // dense values as the three splits, so its logloss is their row-weighted mean (the default layout's I2 = weekday would change it)
    const raw = await runEvaluate({ run: join(d, 'run'), input: SAMPLE });
    expect(raw.metrics.rows).toBe(8999);
    let sum = 0;
    let rows = 0;
    for (const split of ['train', 'val', 'test'] as const) {
      const e = await runEvaluate({ run: join(d, 'run'), split });
      sum += e.metrics.logloss! * e.metrics.rows;
      rows += e.metrics.rows;
    }
    expect(rows).toBe(8999);
    expect(raw.metrics.logloss!).toBeCloseTo(sum / rows, 6);
    // test.csv (no click) in the Slipstream layout: the same probabilities as train.csv
    await runPredict({ run: join(d, 'run'), input: SAMPLE, out: join(d, 'lab.csv') });
    await runPredict({ run: join(d, 'run'), input: dropClick(SAMPLE, d), out: join(d, 'unl.csv') });
    expect(probs(join(d, 'unl.csv'), 'row,probability')).toEqual(probs(join(d, 'lab.csv'), 'row,label,probability'));
  }, 60_000);

  it.skipIf(!HAVE)('test.csv without click (23 columns): read as the labelled rows with label 0 in both layouts, only where labels may be absent', async () => {
    const d = tmp();
    const unl = dropClick(SAMPLE, d);
    expect(readFileSync(unl, 'utf8').split('\n', 1)[0]).toMatch(/^id,hour,C1,banner_pos,site_id,/);
    for (const format of ['auto', 'avazu', 'avazu-slipstream'] as const) {
      const want = (await readAll(SAMPLE, { format })).map((r) => [0, ...r.slice(1)]);
      const stats = newReadStats();
      const got: number[][] = [];
      for await (const b of readCriteo(unl, { format, labels: 'auto' }, stats)) got.push(...flat(b));
      expect(got).toEqual(want);
      expect(stats.labelled).toBe(false);
      expect(stats.format).toBe('avazu');
    }
    const gz = join(d, 'test.csv.gz');
    writeFileSync(gz, gzipSync(readFileSync(unl)));
    expect((await readAll(gz, { labels: 'absent' })).length).toBe(8999);
    // training data must have labels; --no-label refuses train.csv
    const e1 = await expectCode(readAll(unl), 'bad_input');
    expect(e1.message).toMatch(/test\.csv has no label column: its header has no 'click' column/);
    const e2 = await expectCode(readAll(SAMPLE, { labels: 'absent' }), 'bad_input');
    expect(e2.message).toMatch(/--no-label was given but .* has a label column \(a 'click' column\)/);
    // a 24-field line under the 23-column header: located, and says why
    const bad = join(d, 'bad.csv');
    const lines = readFileSync(unl, 'utf8').split('\n');
    writeFileSync(bad, [lines[0], lines[1], readFileSync(SAMPLE, 'utf8').split('\n')[3]].join('\n') + '\n');
    const e3 = await expectCode(readAll(bad, { labels: 'auto' }), 'bad_input');
    expect(e3.line).toBe(3);
    expect(e3.message).toMatch(/24 fields, expected 23 \(the header has no 'click' column\)/);
  });

  it.skipIf(!HAVE)('predict --input test.csv (no click) scores every row as predict on train.csv does, through the same vocabulary; evaluate and preprocess refuse it', async () => {
    const d = tmp();
    const unl = dropClick(SAMPLE, d);
    await preprocess({ inputs: [SAMPLE], out: join(d, 'pre'), options: { split: 'random', ratios: [0.8, 0.1, 0.1], seed: 123 }, parallel: false }, { progress: quietSink });
    const config = resolveTrainConfig({ model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 256, epochs: 1 } });
    await train({ config, data: join(d, 'pre'), out: join(d, 'run'), quiet: true });
    const lab = await runPredict({ run: join(d, 'run'), input: SAMPLE, out: join(d, 'lab.csv'), batchSize: 1000 });
    expect(lab.labelled).toBe(true);
    const want = probs(join(d, 'lab.csv'), 'row,label,probability');
    expect(want.length).toBe(8999);
    for (const noLabel of [false, true]) {
      const r = await runPredict({ run: join(d, 'run'), input: unl, out: join(d, 'unl.csv'), batchSize: 1000, noLabel });
      expect(r.labelled).toBe(false);
      expect(r.rows).toBe(8999);
      expect(probs(join(d, 'unl.csv'), 'row,probability')).toEqual(want);
    }
    // OOV: a value the vocabulary never saw scores as id 1, the same as in train.csv
    const oovLab = join(d, 'oov-lab.csv');
    const oovUnl = join(d, 'oov-unl.csv');
    const src = readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 3);
    const swapped = src.map((l, i) => (i === 0 ? l : l.split(',').map((v, c) => (c === 5 ? '0badf00d' : v)).join(','))); // site_id
    writeFileSync(oovLab, swapped.join('\n') + '\n');
    // another unseen value in test.csv: both are OOV (id 1), so the probabilities agree
    writeFileSync(oovUnl, swapped.map((l) => l.replace('0badf00d', 'deadbeef').split(',').filter((_, i) => i !== 1).join(',')).join('\n') + '\n');
    await runPredict({ run: join(d, 'run'), input: oovLab, out: join(d, 'o1.csv') });
    await runPredict({ run: join(d, 'run'), input: oovUnl, out: join(d, 'o2.csv') });
    expect(probs(join(d, 'o2.csv'), 'row,probability')).toEqual(probs(join(d, 'o1.csv'), 'row,label,probability'));
    expect(probs(join(d, 'o2.csv'), 'row,probability')).not.toEqual(want.slice(0, 2)); // site_id matters to this model
    const e = await expectCode(runEvaluate({ run: join(d, 'run'), input: unl }), 'bad_input');
    expect(e.message).toMatch(/evaluate needs labels: .*test\.csv has no label column/);
    const p = await expectCode(preprocess({ inputs: [unl], out: join(d, 'pre2'), parallel: false }, { progress: quietSink }), 'bad_input');
    expect(p.message).toMatch(/has no label column: its header has no 'click' column/);
    await expectCode(runPredict({ run: join(d, 'run'), input: SAMPLE, noLabel: true, out: join(d, 'x.csv') }), 'bad_input');
  }, 60_000);

  it('a malformed line: error naming line and field, or skipped and counted', async () => {
    const d = tmp();
    const header = 'id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21';
    const good = '1,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79';
    const p = join(d, 'bad.csv');
    writeFileSync(p, [header, good, good.replace('1fbe01fe', 'zzzzzzzz'), good.replace(',79', ''), good].join('\n') + '\n');
    const e = await expectCode(readAll(p), 'bad_input');
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/field site_id: 'zzzzzzzz' is not hex/);
    const log = createBadLineLog();
    const stats = newReadStats();
    const rows: number[][] = [];
    for await (const b of readCriteo(p, { onBadLine: 'skip', badLines: log }, stats)) rows.push(...flat(b));
    expect(rows.length).toBe(2);
    expect(log.count).toBe(2);
    expect(log.first.map((x) => x.line)).toEqual([3, 4]);
    expect(stats.format).toBe('avazu');
  });
});
