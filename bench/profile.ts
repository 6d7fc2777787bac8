/**
 * Benchmark of `hotcold profile` and `hotcold segregate` on a synthetic
 * preprocessed dataset written directly as shards (Zipf-like ids over the real
 * Kaggle table sizes), with rows/s (median of 3) and an extrapolation to the
 * full Kaggle training split (6 of 7 days of 45,840,617 rows).
 *
 * Baseline measured in the same run: reading every training shard (Arrow decode
 * only) — the floor any pass over the data pays.
 *
 *     npm run bench:profile -- [--rows 3000000] [--rate 0.05] [--hot-mem 256MiB] [--runs 3] [--keep]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { INT_FEATURE_COUNT, KAGGLE_CARDINALITIES, KAGGLE_DAYS, KAGGLE_TOTAL_ROWS } from '../datasets/criteo/constants.js';
import type { PreprocessManifest, ShardRef } from '../datasets/preprocessed.js';
import { readShardFile, writeShardFile, type ShardColumns } from '../datasets/shards.js';
import { parseBytes } from '../pipeline/config.js';
import { configHash } from '../pipeline/hash.js';
import { writeManifest } from '../pipeline/manifest.js';
import { quietSink } from '../pipeline/progress.js';
import { Rng } from '../pipeline/rng.js';
import { run as profile } from '../stages/profile/index.js';
import { run as segregate } from '../stages/segregate/index.js';
import { arg, flag, median } from './args.js';

const ROWS = Number(arg('rows', '3000000'));
const RATE = Number(arg('rate', '0.05'));
const HOT_MEM = parseBytes(arg('hot-mem', '256MiB'));
const RUNS = Number(arg('runs', '3'));
const ROWS_PER_SHARD = 1_000_000; // preprocess default
const KAGGLE_TRAIN_ROWS = Math.round((KAGGLE_TOTAL_ROWS * (KAGGLE_DAYS - 1)) / KAGGLE_DAYS);
const SIZES = KAGGLE_CARDINALITIES.map((c) => c + 2); // ids 0 (missing) and 1 (OOV) reserved

/** Shard of Zipf-like ids: id = floor(size^u) − 1, P(id) ∝ ~1/(id + 1). */
function synthShard(rng: Rng, rows: number): ShardColumns {
  const cats = SIZES.map((size) => {
    const col = new Int32Array(rows);
    const ln = Math.log(size);
    for (let r = 0; r < rows; r++) col[r] = Math.min(size - 1, Math.floor(Math.exp(rng.float() * ln)) - 1);
    return col;
  });
  const label = new Int8Array(rows);
  for (let r = 0; r < rows; r++) label[r] = rng.float() < 0.256 ? 1 : 0;
  const dense = Array.from({ length: INT_FEATURE_COUNT }, () => {
    const d = new Float32Array(rows);
    for (let r = 0; r < rows; r++) d[r] = rng.float() * 5;
    return d;
  });
  return { rows, label, dense, cats };
}

/** Write ROWS rows as shards under `root/shards`; returns the shard list. */
function writeShards(root: string): { shards: ShardRef[]; positives: number[] } {
  const rng = new Rng(2024);
  const shards: ShardRef[] = [];
  const positives: number[] = [];
  for (let from = 0; from < ROWS; from += ROWS_PER_SHARD) {
    const n = Math.min(ROWS_PER_SHARD, ROWS - from);
    const cols = synthShard(rng, n);
    const file = `shards/train-${String(shards.length).padStart(5, '0')}.arrow`;
    writeShardFile(join(root, file), cols);
    let pos = 0;
    for (let i = 0; i < n; i++) pos += cols.label[i]!;
    positives.push(pos);
    shards.push({ file, rows: n });
  }
  return { shards, positives };
}

/** Commit a preprocessed manifest in `dir` over the first `count` shards of `root` (shared files). */
function writeDataset(dir: string, root: string, all: { shards: ShardRef[]; positives: number[] }, count: number): number {
  const shards = all.shards.slice(0, count).map((s) => ({ file: relative(dir, join(root, s.file)), rows: s.rows }));
  const rows = shards.reduce((a, s) => a + s.rows, 0);
  const positives = all.positives.slice(0, count).reduce((a, b) => a + b, 0);
  const files = shards.map((s) => ({ path: s.file, bytes: statSync(join(dir, s.file)).size, sha256: 'not-hashed-in-bench' }));
  const empty = { rows: 0, positives: 0, shards: [] };
  const m: PreprocessManifest = {
    magic: 'hotcold.preprocess',
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    fingerprint: configHash({ bench: 'profile', rows }),
    elapsedSec: 0,
    files,
    inputs: [],
    options: { split: 'kaggle', freqThreshold: 0, maxIndRange: 0, onBadLine: 'error', rowsPerShard: ROWS_PER_SHARD, format: 'tsv' },
    splits: { train: { rows, positives, shards }, val: empty, test: empty },
    vocab: { sizes: SIZES, distinct: KAGGLE_CARDINALITIES.slice(), countFiles: [] },
    badLines: { count: 0, first: [] },
    rowsRead: rows,
  };
  writeManifest(dir, m);
  return rows;
}

/** Median of RUNS (default 3) timed runs. */
async function median3(fn: () => Promise<void>): Promise<{ median: number; all: number[] }> {
  const all: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await fn();
    all.push((performance.now() - t) / 1000);
  }
  return { median: median(all), all };
}

/**
 * Fit time = fixed + perRow · rows from a small and a full run, print rows/s and
 * the extrapolation to the Kaggle training split.
 */
function line(name: string, small: { rows: number; sec: number }, full: { rows: number; sec: number; all: number[] }): void {
  const perRow = Math.max(0, (full.sec - small.sec) / (full.rows - small.rows));
  const fixed = Math.max(0, full.sec - perRow * full.rows);
  const kaggle = fixed + perRow * KAGGLE_TRAIN_ROWS;
  console.log(
    `${name.padEnd(30)} ${small.sec.toFixed(2).padStart(6)} s @${(small.rows / 1e6).toFixed(0)}M  ${full.sec.toFixed(2).padStart(6)} s @${(full.rows / 1e6).toFixed(0)}M  ` +
      `${(full.rows / full.sec / 1e6).toFixed(2).padStart(5)} M rows/s overall, ${perRow > 0 ? (1e-6 / perRow).toFixed(2) : 'inf'} M rows/s marginal + ${fixed.toFixed(2)} s fixed ` +
      `→ Kaggle train ≈ ${kaggle.toFixed(1)} s   [full runs ${full.all.map((x) => x.toFixed(2)).join(', ')}]`,
  );
}

const root = mkdtempSync(join(tmpdir(), 'hotcold-bench-profile-'));
try {
  const t = performance.now();
  const written = writeShards(root);
  const nSmall = Math.max(1, Math.floor(written.shards.length / 3));
  const small = join(root, 'small');
  const data = join(root, 'data');
  const smallRows = writeDataset(small, root, written, nSmall);
  writeDataset(data, root, written, written.shards.length);
  console.log(
    `synthetic dataset: ${ROWS} rows in ${written.shards.length} shards (small run: first ${smallRows}), 26 tables of Kaggle size ` +
      `(${SIZES.reduce((a, b) => a + b, 0)} rows), Zipf-like ids; written in ${((performance.now() - t) / 1000).toFixed(1)} s; ` +
      `extrapolated to ${KAGGLE_TRAIN_ROWS} rows`,
  );
  if (written.shards.length < 2) throw new Error('--rows must give at least 2 shards of 1M rows for the fit');

  const readAll = (n: number) => async (): Promise<void> => {
    for (let s = 0; s < n; s++) readShardFile(join(root, written.shards[s]!.file));
  };
  const rs = await median3(readAll(nSmall));
  const rf = await median3(readAll(written.shards.length));
  line('baseline: read shards', { rows: smallRows, sec: rs.median }, { rows: ROWS, sec: rf.median, all: rf.all });

  const prof = (dir: string, out: string, rate: number) => async (): Promise<void> => {
    await profile({ data: dir, out, sampleRate: rate, seed: 1, force: true }, { sink: quietSink });
  };
  const ps = await median3(prof(small, join(root, 'prof-small'), RATE));
  const pf = await median3(prof(data, join(root, 'prof'), RATE));
  line(`profile @ ${RATE}`, { rows: smallRows, sec: ps.median }, { rows: ROWS, sec: pf.median, all: pf.all });
  const p1s = await median3(prof(small, join(root, 'prof1-small'), 1));
  const p1f = await median3(prof(data, join(root, 'prof1'), 1));
  line('profile @ 1 (every row)', { rows: smallRows, sec: p1s.median }, { rows: ROWS, sec: p1f.median, all: p1f.all });

  let report = '';
  const seg = (dir: string, profDir: string, out: string) => async (): Promise<void> => {
    const m = await segregate({ data: dir, profile: profDir, out, dim: 16, hotMem: HOT_MEM, force: true }, { sink: quietSink });
    const r = m.report;
    report = `hot rows ${r.hotRows} (${(r.hotTableBytes / 2 ** 20).toFixed(0)} MiB), hot inputs ${(100 * r.hotInputShare).toFixed(1)} %, hot lookups ${(100 * r.hotLookupShare).toFixed(1)} %`;
  };
  const ss = await median3(seg(small, join(root, 'prof-small'), join(root, 'seg-small')));
  const sf = await median3(seg(data, join(root, 'prof'), join(root, 'seg')));
  line(`segregate (${arg('hot-mem', '256MiB')}, dim 16)`, { rows: smallRows, sec: ss.median }, { rows: ROWS, sec: sf.median, all: sf.all });
  console.log(`segregate result (full): ${report}`);
  console.log(`ratios vs reading the shards (full): profile ${(pf.median / rf.median).toFixed(2)}×, segregate ${(sf.median / rf.median).toFixed(2)}×`);
} finally {
  if (!flag('keep')) rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
}
