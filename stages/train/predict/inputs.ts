/**
 * The inputs `predict` and `evaluate` score, as batches in the model's layout (data/batch.ts):
 *
 *     split    a preprocessed split (ids already assigned), rows in file order
 *     raw      a raw Criteo file (TSV / CSV / .gz): dense → ln(1 + max(x, 0)), categorical
 *              values → ids through the dataset's vocabulary map (datasets/vocab.ts), with the
 *              dataset's --max-ind-range hashing first; unseen values → OOV (id 1)
 */
import { join } from 'node:path';
import { readCriteo, newReadStats, type CriteoFormat, type LabelMode, type ReadStats } from '../../../datasets/criteo/reader.js';
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../../../datasets/criteo/constants.js';
import { MISSING_ID, type PreprocessManifest, type SplitName } from '../../../datasets/preprocessed.js';
import { readVocabValues, VocabLookup } from '../../../datasets/vocab.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { verifyFiles } from '../../../pipeline/manifest.js';
import { splitFiles } from '../../../datasets/preprocessed.js';
import { allocBatch, type Batch } from '../data/batch.js';
import { ShardStream } from '../data/shard-stream.js';

/** Batches of a preprocessed split in file order. `batch` is refilled on every step. */
export async function* splitBatches(dir: string, m: PreprocessManifest, split: SplitName, batchSize: number): AsyncGenerator<Batch> {
  const s = m.splits[split];
  if (!s) throw new PipelineError('bad_config', `preprocessed dataset has no '${split}' split`, { field: '--split', file: dir });
  await verifyFiles(dir, splitFiles(m, split), false);
  const stream = new ShardStream(s.shards.map((r) => join(dir, r.file)), s.shards.map((r) => r.rows), { batchSize, shuffle: false, seed: 0, salt: 0 });
  const b = allocBatch(batchSize);
  stream.start(0, 0);
  while (await stream.next(b)) yield b;
}

/** An Avazu dataset's layout is the model's: a raw Avazu file is read the way preprocess read its training data. */
function avazuFormat(m: PreprocessManifest): CriteoFormat {
  const f = m.options.format;
  return f === 'avazu-slipstream' ? f : 'auto';
}

/** ln(1 + x) for x > 0, else 0 (NaN = missing → 0): the preprocess dense transform. */
function logDense(x: number): number {
  return x > 0 ? Math.log1p(x) : 0;
}

/**
 * Batches of a raw Criteo file mapped through the vocabulary of the dataset in `dir`.
 * @param stats filled while reading (rows, bad lines; `labelled` false for an unlabelled file, whose labels read 0)
 * @param labels `auto` (detected, reader.ts) or `absent` (`--no-label`)
 */
export async function* rawBatches(
  path: string, dir: string, m: PreprocessManifest, batchSize: number, onBadLine: 'error' | 'skip', stats: ReadStats = newReadStats(path),
  labels: LabelMode = 'auto',
): AsyncGenerator<Batch> {
  const lookups = readVocabValues(dir, m).map((v) => new VocabLookup(v));
  const range = m.options.maxIndRange;
  const b = allocBatch(batchSize);
  let hashed = new Int32Array(0);
  for await (const rb of readCriteo(path, { onBadLine, batchRows: batchSize, labels, format: avazuFormat(m) }, stats)) {
    const n = rb.rows;
    const cap = rb.capacity;
    for (let r = 0; r < n; r++) b.labels[r] = rb.label[r]!;
    // feature by feature (the raw batch is column-major): one vocabulary's hash table at a time
    // stays in cache, where alternating between 26 of them per row missed it on most lookups
    for (let f = 0; f < INT_FEATURE_COUNT; f++) {
      const col = rb.dense.subarray(f * cap, f * cap + n);
      for (let r = 0; r < n; r++) b.dense[r * INT_FEATURE_COUNT + f] = logDense(col[r]!);
    }
    if (range > 0) {
      // --max-ind-range: value % R first, into a scratch column of bit patterns
      if (hashed.length < cap) hashed = new Int32Array(cap);
      for (let f = 0; f < CAT_FEATURE_COUNT; f++) {
        for (let r = 0; r < n; r++) hashed[r] = (rb.cats[f * cap + r]! % range) | 0;
        lookups[f]!.mapColumn(hashed, rb.catPresent.subarray(f * cap), 0, n, b.cats, f, CAT_FEATURE_COUNT, MISSING_ID);
      }
    } else {
      const bits = new Int32Array(rb.cats.buffer, rb.cats.byteOffset, rb.cats.length);
      for (let f = 0; f < CAT_FEATURE_COUNT; f++) lookups[f]!.mapColumn(bits, rb.catPresent, f * cap, n, b.cats, f, CAT_FEATURE_COUNT, MISSING_ID);
    }
    b.size = n;
    yield b;
  }
}
