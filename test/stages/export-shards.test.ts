import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { iterateSplit, openPreprocessed } from '../../datasets/preprocessed.js';
import { runExportShards } from '../../stages/export-shards/index.js';
import { randomSplit, writePreprocessedFixture } from '../fixtures/preprocessed.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';

const tmp = useTempDirs('hotcold-export-shards-');
const SIZES = Array.from({ length: 26 }, (_, t) => 5 + 37 * t);

async function fixture(): Promise<string> {
  const dir = join(tmp(), 'pre');
  await writePreprocessedFixture(dir, { sizes: SIZES, train: randomSplit(2500, SIZES, 1), val: randomSplit(700, SIZES, 2), test: randomSplit(800, SIZES, 3), rowsPerShard: 1000 });
  return dir;
}

describe('hotcold export-shards --format parquet', () => {
  it('round trip: every value of every shard comes back bit for bit (hyparquet)', async () => {
    const data = await fixture();
    const out = join(tmp(), 'pq');
    const m = await runExportShards({ data, out, format: 'parquet' });
    expect(m.splits.train!.files).toEqual(['train-00000.parquet', 'train-00001.parquet', 'train-00002.parquet']);
    const pre = openPreprocessed(data);
    for (const split of ['train', 'val', 'test'] as const) {
      let k = 0;
      for (const { shard } of iterateSplit(data, pre, split)) {
        const rows = await parquetReadObjects({ file: await asyncBufferFromFile(join(out, m.splits[split]!.files[k++]!)) });
        expect(rows.length).toBe(shard.rows);
        const col = (name: string): number[] => rows.map((row) => row[name] as number);
        expect(Int8Array.from(col('label'))).toEqual(shard.label);
        for (let f = 0; f < 13; f++) expect(Float32Array.from(col(`I${f + 1}`))).toEqual(shard.dense[f]);
        for (let c = 0; c < 26; c++) expect(Int32Array.from(col(`C${c + 1}`))).toEqual(shard.cats[c]);
        // Float32Array.from would hide a value that is not exactly a float32: check one column in double
        expect(col('I1').every((v, r) => v === shard.dense[0]![r])).toBe(true);
      }
    }
    const again = await runExportShards({ data, out, format: 'parquet' });
    expect(again.createdAt).toBe(m.createdAt);
  });

  it('DuckDB reads the files with the same row count and per-column sums', async () => {
    const data = await fixture();
    const out = join(tmp(), 'pq');
    await runExportShards({ data, out, format: 'parquet', splits: ['train'] });
    const cols = ['label', ...Array.from({ length: 13 }, (_, i) => `I${i + 1}`), ...Array.from({ length: 26 }, (_, i) => `C${i + 1}`)];
    const want = new Float64Array(cols.length);
    let n = 0;
    for (const { shard } of iterateSplit(data, openPreprocessed(data), 'train')) {
      n += shard.rows;
      for (let r = 0; r < shard.rows; r++) {
        want[0] = want[0]! + shard.label[r]!;
        for (let f = 0; f < 13; f++) want[1 + f] = want[1 + f]! + shard.dense[f]![r]!;
        for (let c = 0; c < 26; c++) want[14 + c] = want[14 + c]! + shard.cats[c]![r]!;
      }
    }
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const sql = `SELECT count(*) AS n, ${cols.map((c) => `sum(CAST("${c}" AS DOUBLE)) AS "${c}"`).join(', ')} FROM read_parquet('${join(out, 'train-*.parquet')}')`;
    const res = await con.runAndReadAll(sql);
    const row = res.getRows()[0]!;
    expect(Number(row[0])).toBe(n);
    for (let i = 0; i < cols.length; i++) {
      const got = Number(row[1 + i]);
      if (i === 0 || i >= 14) expect(got).toBe(want[i]); // integers: exact
      else expect(Math.abs(got - want[i]!)).toBeLessThanOrEqual(1e-9 * Math.abs(want[i]!));
    }
    con.closeSync();
  });

  it('refuses a directory that is not a preprocessed dataset', async () => {
    await expectCode(runExportShards({ data: tmp(), out: join(tmp(), 'o'), format: 'parquet' }), 'bad_manifest');
  });
});
