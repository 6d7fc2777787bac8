import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { iterateSplit, openPreprocessed, type PreprocessManifest, type PreprocessOptions, type SplitName } from '../../datasets/preprocessed.js';
import type { ShardColumns } from '../../datasets/shards.js';
import { verifyFiles } from '../../pipeline/manifest.js';
import { quietSink } from '../../pipeline/progress.js';
import { Rng } from '../../pipeline/rng.js';
import { xxh64 } from '../../pipeline/xxh64.js';
import { run } from '../../stages/preprocess/index.js';
import { useTempDirs } from '../fixtures/temp.js';

/** The real Criteo samples (../shared/data/criteo next to the repository, or $HOTCOLD_CRITEO_SAMPLES). */
const DATA = process.env.HOTCOLD_CRITEO_SAMPLES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'criteo');
const HAVE_SAMPLES = existsSync(join(DATA, 'kaggle-train-head-8000.tsv'));

const tmp = useTempDirs('hotcold-pre-');

/** Raw row spec: label, dense (null = missing), cats (null = missing). */
interface RawRow {
  label: number;
  dense: (number | null)[];
  cats: (number | null)[];
}

function line(r: RawRow): string {
  const d = Array.from({ length: 13 }, (_, i) => (r.dense[i] == null ? '' : String(r.dense[i])));
  const c = Array.from({ length: 26 }, (_, i) => (r.cats[i] == null ? '' : r.cats[i]!.toString(16).padStart(8, '0')));
  return [String(r.label), ...d, ...c].join('\t');
}

function writeTsv(path: string, rows: RawRow[]): string {
  writeFileSync(path, rows.map(line).join('\n') + '\n');
  return path;
}

/** Rows with I1 = global row index and C1 = row index (for tracking), random others. */
function indexedRows(n: number, seed = 1, offset = 0): RawRow[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    label: rng.float() < 0.3 ? 1 : 0,
    dense: [offset + i, ...Array.from({ length: 12 }, () => (rng.float() < 0.2 ? null : rng.int(100)))],
    cats: [offset + i, ...Array.from({ length: 25 }, () => (rng.float() < 0.1 ? null : rng.int(50)))],
  }));
}

async function pre(inputs: string[], out: string, options: Partial<PreprocessOptions> = {}, force = false) {
  return run({ inputs, out, options, force }, { progress: quietSink });
}

function readSplit(dir: string, m: PreprocessManifest, split: SplitName): ShardColumns[] {
  return [...iterateSplit(dir, m, split)].map((s) => s.shard);
}

function readCounts(path: string): Uint32Array {
  const b = readFileSync(path);
  return new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Column values of a split, concatenated over shards. */
function column(shards: ShardColumns[], pick: (s: ShardColumns) => ArrayLike<number>): number[] {
  return shards.flatMap((s) => Array.from(pick(s)));
}

describe('preprocess semantics', () => {
  it('log-transforms dense values: missing and negative → 0, else ln(1 + x)', async () => {
    const d = tmp();
    const rows: RawRow[] = [
      { label: 1, dense: [0, -3, null, 1, 260, 17668, 2.5], cats: [] },
      { label: 0, dense: [5], cats: [] },
    ];
    const r = await pre([writeTsv(join(d, 'in.tsv'), rows)], join(d, 'out'), { split: 'random', ratios: [1, 0, 0], seed: 1 });
    const [s] = readSplit(r.dir, r.manifest, 'train');
    const got = Array.from({ length: 7 }, (_, f) => s!.dense[f]![0]!);
    const want = [0, 0, 0, Math.log(2), Math.log(261), Math.log(17669), Math.log(3.5)];
    for (let i = 0; i < 7; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
    expect(s!.dense[12]![0]).toBe(0);
    expect(s!.dense[0]![1]).toBeCloseTo(Math.log(6), 5);
    expect(Array.from(s!.label)).toEqual([1, 0]);
  });

  it('maps categorical values to ids: 0 missing, 2.. in first-appearance order, over all splits', async () => {
    const d = tmp();
    const A = 0xa, B = 0xb, C = 0xffffffff;
    const rows: RawRow[] = [B, null, A, B, C, A, null, B].map((v) => ({ label: 0, dense: [], cats: [v] }));
    const r = await pre([writeTsv(join(d, 'in.tsv'), rows)], join(d, 'out'), { split: 'random', ratios: [1, 0, 0] });
    const ids = column(readSplit(r.dir, r.manifest, 'train'), (s) => s.cats[0]!);
    expect(ids).toEqual([2, 0, 3, 2, 4, 3, 0, 2]);
    expect(r.manifest.vocab.sizes[0]).toBe(5);
    expect(r.manifest.vocab.distinct[0]).toBe(3);
    const counts = readCounts(join(r.dir, r.manifest.vocab.countFiles[0]!));
    expect(Array.from(counts)).toEqual([2, 0, 3, 2, 1]);
    // an all-missing feature has only the two reserved ids
    expect(r.manifest.vocab.sizes[25]).toBe(2);
  });

  it('applies the frequency threshold: rarer values share OOV id 1, survivors renumbered', async () => {
    const d = tmp();
    const rows: RawRow[] = [1, 2, 1, 3, 2, 1, 4, null].map((v) => ({ label: 0, dense: [], cats: [v] }));
    const r = await pre([writeTsv(join(d, 'in.tsv'), rows)], join(d, 'out'), { split: 'random', ratios: [1, 0, 0], freqThreshold: 2, rowsPerShard: 3 });
    const ids = column(readSplit(r.dir, r.manifest, 'train'), (s) => s.cats[0]!);
    // counts: 1→3, 2→2, 3→1, 4→1
    expect(ids).toEqual([2, 3, 2, 1, 3, 2, 1, 0]);
    expect(r.manifest.vocab.sizes[0]).toBe(4);
    expect(r.manifest.vocab.distinct[0]).toBe(4);
    const counts = readCounts(join(r.dir, r.manifest.vocab.countFiles[0]!));
    expect(Array.from(counts)).toEqual([1, 2, 3, 2]);
  });

  it('hashes with --max-ind-range before mapping', async () => {
    const d = tmp();
    const R = 100;
    const rows: RawRow[] = [5, 105, 1005, 7, 0xffffffff].map((v) => ({ label: 0, dense: [], cats: [v] }));
    const r = await pre([writeTsv(join(d, 'in.tsv'), rows)], join(d, 'out'), { split: 'random', ratios: [1, 0, 0], maxIndRange: R });
    const ids = column(readSplit(r.dir, r.manifest, 'train'), (s) => s.cats[0]!);
    expect(ids.slice(0, 3)).toEqual([2, 2, 2]);
    expect(ids[3]).toBe(3);
    expect(ids[4]).toBe(0xffffffff % R === 5 ? 2 : 4);
    expect(r.manifest.vocab.distinct[0]).toBe(0xffffffff % R === 5 || 0xffffffff % R === 7 ? 2 : 3);
  });
});

describe('preprocess splits', () => {
  it('kaggle: 10,000 rows → 7 pseudo-days 1429×4, 1428×3; days 0–5 train, day 6 → test | val halves', async () => {
    const d = tmp();
    const r = await pre([writeTsv(join(d, 'in.tsv'), indexedRows(10_000))], join(d, 'out'), { rowsPerShard: 999 });
    const trainEnd = 1429 * 4 + 1428 * 2;
    expect(r.manifest.splits.train.rows).toBe(trainEnd);
    expect(r.manifest.splits.test.rows).toBe(714);
    expect(r.manifest.splits.val.rows).toBe(714);
    const idx = (split: SplitName) => column(readSplit(r.dir, r.manifest, split), (s) => s.dense[0]!).map((x) => Math.round(Math.expm1(x)));
    const train = idx('train');
    const test = idx('test');
    const val = idx('val');
    expect(train).toEqual(Array.from({ length: trainEnd }, (_, i) => i));
    expect(test[0]).toBe(trainEnd);
    expect(test.at(-1)).toBe(trainEnd + 713);
    expect(val[0]).toBe(trainEnd + 714);
    expect(val.at(-1)).toBe(9999);
    // shards are cut at the split boundaries and never exceed rowsPerShard
    for (const s of ['train', 'val', 'test'] as const) for (const sh of r.manifest.splits[s].shards) expect(sh.rows).toBeLessThanOrEqual(999);
    const positives = column(readSplit(r.dir, r.manifest, 'test'), (s) => s.label).reduce((a, b) => a + b, 0);
    expect(r.manifest.splits.test.positives).toBe(positives);
    await verifyFiles(r.dir, r.manifest.files);
  });

  it('kaggle split with an odd last day puts the extra row in test', async () => {
    const d = tmp();
    const r = await pre([writeTsv(join(d, 'in.tsv'), indexedRows(27))], join(d, 'out'));
    // 27 = 7×3 + 6 → days 4,4,4,4,4,4,3 → train 24, test 2, val 1
    expect([r.manifest.splits.train.rows, r.manifest.splits.test.rows, r.manifest.splits.val.rows]).toEqual([24, 2, 1]);
  });

  it('days: every file but the last trains, the last is halved into test then val', async () => {
    const d = tmp();
    const f0 = writeTsv(join(d, 'day_0'), indexedRows(50, 1, 0));
    const f1 = writeTsv(join(d, 'day_1'), indexedRows(40, 2, 50));
    const f2 = writeTsv(join(d, 'day_2'), indexedRows(31, 3, 90));
    const r = await pre([f0, f1, f2], join(d, 'out'), { split: 'days', rowsPerShard: 16 });
    expect([r.manifest.splits.train.rows, r.manifest.splits.test.rows, r.manifest.splits.val.rows]).toEqual([90, 16, 15]);
    const first = column(readSplit(r.dir, r.manifest, 'test'), (s) => s.dense[0]!).map((x) => Math.round(Math.expm1(x)));
    expect(first[0]).toBe(90);
    expect(r.manifest.inputs.map((i) => i.lines)).toEqual([50, 40, 31]);
  });

  it('random: ratios are respected roughly, the same seed gives the same split, another seed another', async () => {
    const d = tmp();
    const input = writeTsv(join(d, 'in.tsv'), indexedRows(4000));
    const opts = { split: 'random' as const, ratios: [0.7, 0.2, 0.1] as [number, number, number], seed: 11 };
    const a = await pre([input], join(d, 'a'), opts);
    const b = await pre([input], join(d, 'b'), opts);
    const c = await pre([input], join(d, 'c'), { ...opts, seed: 12 });
    const ids = (r: typeof a, s: SplitName) => column(readSplit(r.dir, r.manifest, s), (x) => x.dense[0]!);
    expect(ids(a, 'val')).toEqual(ids(b, 'val'));
    expect(ids(a, 'val')).not.toEqual(ids(c, 'val'));
    expect(a.manifest.files).toEqual(b.manifest.files);
    const { train, val, test } = a.manifest.splits;
    expect(train.rows + val.rows + test.rows).toBe(4000);
    expect(Math.abs(train.rows / 4000 - 0.7)).toBeLessThan(0.04);
    expect(Math.abs(val.rows / 4000 - 0.2)).toBeLessThan(0.04);
  });

  it('is deterministic: two runs (in-thread and on a worker thread) write byte-identical shards', async () => {
    const d = tmp();
    const input = writeTsv(join(d, 'in.tsv'), indexedRows(8000, 5));
    const a = await pre([input], join(d, 'a'), { freqThreshold: 3, rowsPerShard: 2500 });
    const b = await run({ inputs: [input], out: join(d, 'b'), options: { freqThreshold: 3, rowsPerShard: 2500 }, parallel: true }, { progress: quietSink });
    expect(a.manifest.files).toEqual(b.manifest.files);
    expect(a.manifest.vocab).toEqual(b.manifest.vocab);
  });

  it('--direct-io on, off and auto write the same bytes, and the files on disk are the ones the manifest hashes', async () => {
    const d = tmp();
    const input = writeTsv(join(d, 'in.tsv'), indexedRows(9000, 7));
    const options = { freqThreshold: 2, rowsPerShard: 2000 };
    const runs = [];
    for (const directIo of ['on', 'off', 'auto'] as const) {
      runs.push(await run({ inputs: [input], out: join(d, directIo), options, parallel: true, directIo }, { progress: quietSink }));
    }
    for (const r of runs.slice(1)) expect(r.manifest.files).toEqual(runs[0]!.manifest.files);
    for (const r of runs) {
      for (const f of r.manifest.files) {
        const bytes = readFileSync(join(r.dir, f.path));
        expect(bytes.length).toBe(f.bytes);
        expect(xxh64(bytes)).toBe(f.hash);
      }
    }
  });

  it('the worker thread categorifies with --max-ind-range and the random split exactly as one thread does', async () => {
    const d = tmp();
    const input = writeTsv(join(d, 'in.tsv'), indexedRows(6000, 9));
    // C2..C26 take 50 values: % 37 folds some of them together in every feature
    const options = { maxIndRange: 37, split: 'random' as const, seed: 3, rowsPerShard: 1500 };
    const a = await run({ inputs: [input], out: join(d, 'a'), options, parallel: false }, { progress: quietSink });
    const b = await run({ inputs: [input], out: join(d, 'b'), options, parallel: true }, { progress: quietSink });
    expect(b.manifest.vocab.sizes).toEqual(Array.from({ length: 26 }, () => 37 + 2));
    expect(a.manifest.files).toEqual(b.manifest.files);
    expect(a.manifest.vocab).toEqual(b.manifest.vocab);
  });
});

describe.skipIf(!HAVE_SAMPLES)('preprocess on the real samples', () => {
  it('reads all three sample files together (TSV, stripped TSV, CSV)', async () => {
    const d = tmp();
    const inputs = ['kaggle-train-head-8000.tsv', 'kaggle-stripped-trailing-tabs-1000.tsv', 'kaggle-header-200.csv'].map((f) => join(DATA, f));
    const r = await pre(inputs, join(d, 'out'));
    expect(r.manifest.rowsRead).toBe(9200);
    expect(r.manifest.inputs.map((i) => i.lines)).toEqual([8000, 1000, 200]);
    expect(r.manifest.splits.train.rows + r.manifest.splits.val.rows + r.manifest.splits.test.rows).toBe(9200);
    // C9 takes only a few values in the real data (a73ee510 dominates)
    expect(r.manifest.vocab.sizes[8]).toBeLessThan(6);
    const m = openPreprocessed(r.dir);
    expect(m.fingerprint).toBe(r.manifest.fingerprint);
    await verifyFiles(r.dir, m.files);
  });

  it('records skipped bad lines in the manifest under onBadLine skip', async () => {
    const d = tmp();
    const good = readFileSync(join(DATA, 'kaggle-train-head-8000.tsv'), 'latin1').split('\n').slice(0, 30);
    good[4] = good[4]!.replace(/\t[0-9a-f]{8}\t/, '\tzz12\t');
    good[9] = good[9] + '\textra';
    const p = join(d, 'in.tsv');
    writeFileSync(p, good.join('\n'));
    const r = await pre([p], join(d, 'out'), { onBadLine: 'skip' });
    expect(r.manifest.rowsRead).toBe(28);
    expect(r.manifest.badLines.count).toBe(2);
    expect(r.manifest.badLines.first.map((b) => b.line)).toEqual([5, 10]);
    expect(r.manifest.inputs[0]!.lines).toBe(30);
    await expect(pre([p], join(d, 'out2'))).rejects.toThrow(/field C\d+: 'zz12' is not hex/);
  });
});
