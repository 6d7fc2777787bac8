import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { iterateSplit, openPreprocessed } from '../../datasets/preprocessed.js';
import { readCriteo } from '../../datasets/criteo/reader.js';
import { quietSink } from '../../pipeline/progress.js';
import { run as preprocess } from '../../stages/preprocess/index.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';

const DATA = process.env.HOTCOLD_CRITEO_SAMPLES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'criteo');
const SAMPLE = join(DATA, 'kaggle-train-head-8000.tsv');
const tmp = useTempDirs('hotcold-parquet-');

/**
 * The sample as Criteo-shaped Parquet in the layouts seen in the wild: label DOUBLE, I1..I6 DOUBLE
 * and I7..I13 INT64 (nullable), C1..C13 INT32 (the hex value's bits, nullable), C14..C26 hex
 * STRING (nullable; repeated values get dictionary pages).
 */
function sampleAsParquet(tsv: string, out: string): number {
  const lines = readFileSync(tsv, 'utf8').split('\n').filter((l) => l.length > 0);
  const cols = Array.from({ length: 40 }, () => [] as unknown[]);
  for (const l of lines) {
    const f = l.split('\t');
    while (f.length < 40) f.push('');
    cols[0]!.push(Number(f[0]));
    for (let i = 1; i <= 13; i++) cols[i]!.push(f[i] === '' ? null : i <= 6 ? Number(f[i]) : BigInt(f[i]!));
    for (let c = 0; c < 26; c++) {
      const v = f[14 + c]!;
      cols[14 + c]!.push(v === '' ? null : c < 13 ? parseInt(v, 16) | 0 : v);
    }
  }
  parquetWriteFile({
    filename: out,
    rowGroupSize: 1000,
    columnData: [
      { name: 'label', data: cols[0]!, type: 'DOUBLE', nullable: false },
      ...Array.from({ length: 13 }, (_, i) => ({ name: `I${i + 1}`, data: cols[1 + i]!, type: (i < 6 ? 'DOUBLE' : 'INT64') as 'DOUBLE' | 'INT64', nullable: true })),
      ...Array.from({ length: 26 }, (_, c) => ({ name: `C${c + 1}`, data: cols[14 + c]!, type: (c < 13 ? 'INT32' : 'STRING') as 'INT32' | 'STRING', nullable: true })),
    ],
  });
  return lines.length;
}

describe.skipIf(!existsSync(SAMPLE))('preprocess --input x.parquet (Criteo-shaped)', () => {
  it('gives the same shards and vocabulary as the TSV it was made from', async () => {
    const d = tmp();
    // the first 2,500 lines keep the test quick (hyparquet decodes in JavaScript)
    const tsv = join(d, 'head.tsv');
    writeFileSync(tsv, readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 2500).join('\n') + '\n');
    const pq = join(d, 'sample.parquet');
    const n = sampleAsParquet(tsv, pq);
    expect(n).toBe(2500);
    const a = await preprocess({ inputs: [tsv], out: join(d, 'from-tsv'), parallel: false }, { progress: quietSink });
    const b = await preprocess({ inputs: [pq], out: join(d, 'from-parquet'), parallel: false }, { progress: quietSink });
    expect(b.manifest.rowsRead).toBe(n);
    expect(b.manifest.vocab.sizes).toEqual(a.manifest.vocab.sizes);
    for (const split of ['train', 'val', 'test'] as const) {
      const sa = [...iterateSplit(a.dir, openPreprocessed(a.dir), split)];
      const sb = [...iterateSplit(b.dir, openPreprocessed(b.dir), split)];
      expect(sb.length).toBe(sa.length);
      for (let k = 0; k < sa.length; k++) {
        expect(sb[k]!.shard.label).toEqual(sa[k]!.shard.label);
        expect(sb[k]!.shard.dense).toEqual(sa[k]!.shard.dense);
        expect(sb[k]!.shard.cats).toEqual(sa[k]!.shard.cats);
      }
    }
    for (const f of a.manifest.vocab.valueFiles!) expect(readFileSync(join(b.dir, f))).toEqual(readFileSync(join(a.dir, f)));
  }, 60_000);
});

describe('Criteo-shaped Parquet refusals', () => {
  it('a file without the Criteo columns names what is missing', async () => {
    const p = join(tmp(), 'other.parquet');
    parquetWriteFile({ filename: p, columnData: [{ name: 'click', data: [0, 1], type: 'INT32' }, { name: 'hour', data: [1, 2], type: 'INT32' }] });
    const e = await expectCode((async () => { for await (const _ of readCriteo(p)) void _; })(), 'bad_input');
    expect(e.message).toMatch(/not Criteo-shaped: no column label, I1, I2/);
  });
  it('a label other than 0/1 and a non-hex string name row and column', async () => {
    const cols = (label: number[], c1: unknown[]) => [
      { name: 'label', data: label, type: 'INT32' as const },
      ...Array.from({ length: 13 }, (_, i) => ({ name: `I${i + 1}`, data: [1, 2], type: 'INT32' as const })),
      ...Array.from({ length: 26 }, (_, c) => ({ name: `C${c + 1}`, data: c === 0 ? c1 : ['a', 'b'], type: 'STRING' as const })),
    ];
    const d = tmp();
    const p1 = join(d, 'label.parquet');
    parquetWriteFile({ filename: p1, columnData: cols([0, 2], ['a', 'b']) });
    const e1 = await expectCode((async () => { for await (const _ of readCriteo(p1)) void _; })(), 'bad_input');
    expect(e1.message).toMatch(/row 2: column label: 2 is not 0 or 1/);
    const p2 = join(d, 'hex.parquet');
    parquetWriteFile({ filename: p2, columnData: cols([0, 1], ['a', 'zz']) });
    const e2 = await expectCode((async () => { for await (const _ of readCriteo(p2)) void _; })(), 'bad_input');
    expect(e2.message).toMatch(/row 2: column C1: zz is not a hex value/);
  });
});
