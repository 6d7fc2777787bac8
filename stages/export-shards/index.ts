/**
 * Stage `export-shards`: a preprocessed dataset's shards in another format (Parquet), one
 * file per shard, for tools outside hotcold. Arrow IPC stays the training format.
 *
 *     <out>/train-00000.parquet …  (the shard's name, .parquet)
 *     <out>/manifest.json          committed last: source fingerprint, files with sha256
 */
import { basename, join } from 'node:path';
import { iterateSplit, openPreprocessed, type PreprocessManifest, type SplitName } from '../../datasets/preprocessed.js';
import { writeShardParquet } from '../../datasets/parquet/shard-writer.js';
import { PipelineError } from '../../pipeline/errors.js';
import { configHash } from '../../pipeline/hash.js';
import { fileEntry, manifestHead, type FileEntry, type ManifestBase } from '../../pipeline/manifest.js';
import { openStagedOutput } from '../../pipeline/outdir.js';
import { fsyncDir } from '../../pipeline/atomic.js';

export type ShardFormat = 'parquet';

export interface ExportShardsOptions {
  data: string;
  out: string;
  /** splits to export @default all three */
  splits?: SplitName[];
  format: ShardFormat;
  /** replace an --out directory that holds files hotcold export-shards did not write */
  forceClean?: boolean;
}

export interface ExportShardsManifest extends ManifestBase {
  magic: 'hotcold.export-shards';
  format: ShardFormat;
  data: { dir: string; fingerprint: string };
  splits: Record<string, { rows: number; files: string[] }>;
}

/** Export the shards; reuses a committed export of the same data, splits and format. */
export async function runExportShards(o: ExportShardsOptions): Promise<ExportShardsManifest> {
  const t0 = performance.now();
  if (o.format !== 'parquet') throw new PipelineError('bad_config', `--format ${String(o.format)}: only parquet is supported`, { field: '--format' });
  const m = openPreprocessed(o.data);
  const splits = o.splits ?? (['train', 'val', 'test'] as SplitName[]);
  const fingerprint = configHash({ data: m.fingerprint, splits, format: o.format });
  const out = openStagedOutput<ExportShardsManifest>({ dir: o.out, kind: 'exportShards', inputs: [{ flag: '--data', path: o.data }], forceClean: o.forceClean }, fingerprint);
  if (out.reused) return out.reused;
  try {
    const manifest = await writeShards(o, m, splits, fingerprint, out.dir, t0);
    out.commit(manifest);
    return manifest;
  } catch (e) {
    out.abort();
    throw e;
  }
}

async function writeShards(o: ExportShardsOptions, m: PreprocessManifest, splits: SplitName[], fingerprint: string, dir: string, t0: number): Promise<ExportShardsManifest> {
  const files: FileEntry[] = [];
  const bySplit: ExportShardsManifest['splits'] = {};
  for (const split of splits) {
    const entry = { rows: 0, files: [] as string[] };
    for (const { path, shard } of iterateSplit(o.data, m, split)) {
      const rel = basename(path).replace(/\.arrow$/, '') + '.parquet';
      writeShardParquet(join(dir, rel), shard);
      files.push(await fileEntry(dir, rel));
      entry.rows += shard.rows;
      entry.files.push(rel);
    }
    bySplit[split] = entry;
  }
  fsyncDir(dir);
  const manifest: ExportShardsManifest = {
    ...manifestHead('exportShards', fingerprint, t0, files),
    format: o.format, data: { dir: o.data, fingerprint: m.fingerprint }, splits: bySplit,
  };
  return manifest;
}
