/**
 * Opening a train run's inputs: the preprocessed dataset, the segregated dataset (fae /
 * slipstream), their consistency, and the batch streams of each split.
 */
import { openPreprocessed, splitFiles, type PreprocessManifest } from '../../datasets/preprocessed.js';
import { openSegregated, readHotMap, type SegregateManifest } from '../../datasets/segregated.js';
import { badConfig, mismatch, PipelineError } from '../../pipeline/errors.js';
import { verifyFiles } from '../../pipeline/manifest.js';
import { join } from 'node:path';
import type { TrainConfig } from './config.js';
import { NUM_TABLES } from './data/batch.js';
import { ShardStream, type StreamOptions } from './data/shard-stream.js';
import { WorkerStream } from './data/worker-stream.js';
import type { HotMap } from './device.js';

/** Stream salts: each training stream of a run has its own shuffle. */
const SALT = { train: 1, cold: 2, hot: 3 } as const;

export interface TrainInputs {
  data: PreprocessManifest;
  seg: SegregateManifest | null;
  hotMap: HotMap | null;
  /** baseline: the train split; fae / slipstream: the cold inputs */
  main: ShardStream;
  /** fae / slipstream: the hot inputs (hot indices), else null */
  hot: ShardStream | null;
  /** validation split (null when empty) and test split, unshuffled */
  val: ShardStream | null;
  test: ShardStream;
  tableSizes: number[];
}

/** A stream over shards listed as { file (relative to dir), rows } in a manifest; `worker`: assembled on a data worker thread. */
function shardStream(dir: string, shards: readonly { file: string; rows: number }[], opts: StreamOptions, worker = false): ShardStream {
  const Stream = worker ? WorkerStream : ShardStream;
  return new Stream(shards.map((r) => join(dir, r.file)), shards.map((r) => r.rows), opts);
}

/** Stop the data workers of a run's training streams (idempotent; no-op for in-thread streams). */
export async function closeInputs(inputs: TrainInputs): Promise<void> {
  await Promise.all([inputs.main, inputs.hot].map((s) => (s instanceof WorkerStream ? s.close() : undefined)));
}

/**
 * Open and check the inputs of a run.
 * @param o.dataWorker assemble the training batches (train / cold / hot streams) on data worker threads
 * @throws bad_config when fae/slipstream lacks --hot; mismatch when the hot dir was made
 *   from other data; checksum when a shard's size differs from its manifest
 */
export async function openInputs(cfg: TrainConfig, dataDir: string, hotDir?: string, o: { dataWorker?: boolean } = {}): Promise<TrainInputs> {
  const worker = o.dataWorker ?? false;
  const data = openPreprocessed(dataDir);
  const tableSizes = data.vocab.sizes;
  if (tableSizes.length !== NUM_TABLES) throw new PipelineError('bad_manifest', `preprocessed dataset has ${tableSizes.length} tables, expected ${NUM_TABLES}`, { file: dataDir });
  if (data.splits.train.rows === 0) throw new PipelineError('empty_input', `preprocessed dataset ${dataDir} has no training rows`, { file: dataDir });
  if (data.splits.test.rows === 0) throw new PipelineError('empty_input', `preprocessed dataset ${dataDir} has no test rows`, { file: dataDir });
  const { batchSize, evalBatchSize, shuffle } = cfg.train;
  const seed = cfg.seed;
  const evalOpts = { batchSize: evalBatchSize, shuffle: false, seed, salt: 0 };
  await verifyFiles(dataDir, [...splitFiles(data, 'val'), ...splitFiles(data, 'test')], false);
  const val = data.splits.val.rows > 0 ? shardStream(dataDir, data.splits.val.shards, evalOpts) : null;
  const test = shardStream(dataDir, data.splits.test.shards, evalOpts);

  if (cfg.mode === 'baseline') {
    await verifyFiles(dataDir, splitFiles(data, 'train'), false);
    const main = shardStream(dataDir, data.splits.train.shards, { batchSize, shuffle, seed, salt: SALT.train }, worker);
    return { data, seg: null, hotMap: null, main, hot: null, val, test, tableSizes };
  }
  if (!hotDir) throw badConfig('--hot', `mode '${cfg.mode}' needs the segregated dataset: pass --hot <dir> (the output of \`hotcold segregate\`)`);
  const seg = openSegregated(hotDir);
  if (seg.data.fingerprint !== data.fingerprint) {
    throw mismatch(
      `the segregated dataset ${hotDir} was made from other data: its manifest names preprocessed fingerprint ${seg.data.fingerprint} (${seg.data.dir}), but ${dataDir} has ${data.fingerprint}`,
      `run \`hotcold profile\` and \`hotcold segregate --data ${dataDir}\` again`,
    );
  }
  await verifyFiles(hotDir, seg.files, false);
  const hotMap = readHotMap(hotDir, seg);
  for (let h = 0; h < seg.hotRows; h++) {
    const t = hotMap.table[h]!;
    const r = hotMap.row[h]!;
    if (t < 0 || t >= NUM_TABLES || r < 0 || r >= tableSizes[t]!) {
      throw new PipelineError('bad_manifest', `hot map entry ${h} = (table ${t}, row ${r}) is outside the tables of ${dataDir}`, { file: join(hotDir, seg.hotMapFile) });
    }
  }
  const shards = (split: 'hot' | 'cold', salt: number): ShardStream => shardStream(hotDir, seg.splits[split].shards, { batchSize, shuffle, seed, salt }, worker);
  return { data, seg, hotMap, main: shards('cold', SALT.cold), hot: shards('hot', SALT.hot), val, test, tableSizes };
}
