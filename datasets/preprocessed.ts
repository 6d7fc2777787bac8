/**
 * The preprocessed-dataset contract: what `hotcold preprocess` commits and what
 * profile, segregate and train read. Stages never import each other; they meet here.
 *
 * Layout of a preprocessed directory:
 *
 *     manifest.json            PreprocessManifest (committed last)
 *     shards/train-00000.arrow  Arrow IPC shards (datasets/shards.ts), per split
 *     shards/val-00000.arrow
 *     shards/test-00000.arrow
 *     vocab/counts-C1.bin ...   per-feature Uint32 counts, index = id (little endian)
 *     vocab/values-C1.bin ...   per-feature Uint32 raw values (after --max-ind-range hashing),
 *                               index = id − 2 (the vocabulary map; datasets/vocab.ts)
 *
 * Categorical id convention, per feature: id 0 = missing (empty field),
 * id 1 = out-of-vocabulary (values seen fewer than `freqThreshold` times; unused
 * when the threshold is ≤ 1), ids 2.. = values in order of first appearance in
 * the input. The table size of feature f is `vocab.sizes[f]`.
 */
import { join } from 'node:path';
import { readManifest, type FileEntry, type ManifestBase } from '../pipeline/manifest.js';
import { PipelineError } from '../pipeline/errors.js';
import { readShardFile, type ShardColumns } from './shards.js';

export { MISSING_ID, OOV_ID, FIRST_VALUE_ID } from './ids.js';

export type SplitName = 'train' | 'val' | 'test';

/** One shard of a split: `file` is relative to the dataset directory. */
export interface ShardRef {
  file: string;
  rows: number;
}

export interface SplitInfo {
  rows: number;
  /** rows with label 1 */
  positives: number;
  shards: ShardRef[];
}

export interface InputFileInfo {
  path: string;
  bytes: number;
  /** `xxh64:<16 hex>` of the bytes on disk (pipeline/xxh64.ts; `xxhsum -H1 FILE` prints the same digits) */
  hash?: string;
  /** sha256 hex of the bytes on disk: outputs written before the xxh64 checksums (still read) */
  sha256?: string;
  /** data lines read (bad lines included) */
  lines: number;
}

export interface BadLineSample {
  file: string;
  line: number;
  reason: string;
}

export interface PreprocessOptions {
  split: 'kaggle' | 'days' | 'random';
  /** random split: [train, val, test] fractions */
  ratios?: [number, number, number];
  seed?: number;
  freqThreshold: number;
  /** 0 = no hashing */
  maxIndRange: number;
  onBadLine: 'error' | 'skip';
  rowsPerShard: number;
  format: 'auto' | 'tsv' | 'csv' | 'avazu' | 'avazu-slipstream';
}

export interface PreprocessManifest extends ManifestBase {
  magic: 'hotcold.preprocess';
  inputs: InputFileInfo[];
  options: PreprocessOptions;
  splits: Record<SplitName, SplitInfo>;
  vocab: {
    /** table rows per categorical feature C1..C26 (ids 0 and 1 reserved) */
    sizes: number[];
    /** distinct raw values seen per feature (before the threshold) */
    distinct: number[];
    /** per-feature count files, relative paths, in C1..C26 order */
    countFiles: string[];
    /** per-feature raw-value files (value of id k at index k − 2); absent in datasets written before them */
    valueFiles?: string[];
  };
  badLines: { count: number; first: BadLineSample[] };
  rowsRead: number;
}

/** Open a committed preprocessed dataset, checking magic and version. */
export function openPreprocessed(dir: string): PreprocessManifest {
  return readManifest<PreprocessManifest>(dir, 'preprocess');
}

/** One shard of a split, as {@link iterateSplit} yields it. */
export interface SplitShard {
  /** absolute path of the shard file */
  path: string;
  shard: ShardColumns;
}

/**
 * Iterate a split's shards in order, one at a time (streams: one shard in memory).
 * @throws PipelineError `bad_manifest` for a split the manifest lacks, `bad_input`
 *   for a shard whose row count differs from the manifest's
 */
export function* iterateSplit(dir: string, m: PreprocessManifest, split: SplitName): Generator<SplitShard> {
  const s = m.splits[split];
  if (!s) throw new PipelineError('bad_manifest', `preprocessed dataset has no '${split}' split`, { file: dir });
  for (const ref of s.shards) {
    const path = join(dir, ref.file);
    const shard = readShardFile(path);
    if (shard.rows !== ref.rows) {
      throw new PipelineError('bad_input', `shard has ${shard.rows} rows, manifest says ${ref.rows}`, { file: path });
    }
    yield { path, shard };
  }
}

/** File entries of the manifest for a split (for checksums). */
export function splitFiles(m: PreprocessManifest, split: SplitName): FileEntry[] {
  const names = new Set(m.splits[split].shards.map((s) => s.file));
  return m.files.filter((f) => names.has(f.path));
}
