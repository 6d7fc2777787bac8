/**
 * `hotcold predict` and `hotcold evaluate`: a trained model (run, checkpoint or export source)
 * scored on a preprocessed split or a raw Criteo file.
 *
 *     predict   → CSV `row,label,probability` (row = 0-based position in the input, label as
 *                 read, probability of a click with 9 significant digits: float32 round-trips),
 *                 or Parquet (`--out x.parquet`: row INT32, label INT32, probability FLOAT, exact);
 *                 an unlabelled raw input (Kaggle's test.txt) gives `row,probability`
 *     evaluate  → every metric (AUC, AP, logloss, accuracy, NE by training CTR, NE by the
 *                 split's CTR, CTR) on one split
 */
import { renameSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { newReadStats, type ReadStats } from '../../../datasets/criteo/reader.js';
import type { PreprocessManifest, SplitName } from '../../../datasets/preprocessed.js';
import { fsyncDir, tmpName, writeChunksAtomic } from '../../../pipeline/atomic.js';
import { checkNoOverlap, type PathArg } from '../../../pipeline/outdir.js';
import { PipelineError } from '../../../pipeline/errors.js';
import type { EvalMetrics } from '../../../pipeline/run-metrics.js';
import type { Batch } from '../data/batch.js';
import type { EngineKind } from '../engine/engine.js';
import { evalMetrics } from '../metrics.js';
import { loadModel, type LoadedModel } from '../saved/model.js';
import { modelData } from '../saved/data.js';
import { writePredictionsParquet } from '../../../datasets/parquet/predictions.js';
import { csvLines } from './format.js';
import { rawBatches, splitBatches } from './inputs.js';
import { scoreBatches } from './pool.js';

export interface ScoreOptions {
  run?: string;
  checkpoint?: string;
  initial?: boolean;
  /** preprocessed dataset (its split is scored, or its vocabulary maps `input`) */
  data?: string;
  /** a preprocessed split to score */
  split?: SplitName;
  /** a raw Criteo file to score instead of a split */
  input?: string;
  /** @default 8192 */
  batchSize?: number;
  engine?: EngineKind;
  /** OpenBLAS threads @default 1 (changes the last bits of the output: see pool.ts) */
  threads?: number;
  /** scoring threads (pool.ts; same output for any number) @default 1 = this thread */
  workers?: number;
  /** raw input: skip malformed lines instead of stopping @default 'error' */
  onBadLine?: 'error' | 'skip';
  /** raw input has no label column (`--no-label`); without it an unlabelled file is detected by its field count */
  noLabel?: boolean;
}

/** A model's training CTR (positives / rows of its dataset's train split). */
export function trainCtr(m: PreprocessManifest): number | undefined {
  const t = m.splits.train;
  return t && t.rows > 0 ? t.positives / t.rows : undefined;
}

interface Opened {
  model: LoadedModel;
  data: { dir: string; manifest: PreprocessManifest };
  batches: AsyncGenerator<Batch>;
  what: string;
  /** the raw input's read stats (`labelled`), null for a split */
  stats: ReadStats | null;
}

async function open(o: ScoreOptions): Promise<Opened> {
  if ((o.split === undefined) === (o.input === undefined)) {
    throw new PipelineError('bad_config', 'give exactly one of --split <train|val|test> (with --data) or --input <raw file>', { field: o.split ? '--input' : '--split' });
  }
  const model = loadModel({ run: o.run, checkpoint: o.checkpoint, initial: o.initial, engine: o.engine, threads: o.threads });
  const data = modelData(model, o.data);
  if (o.noLabel && o.input === undefined) throw new PipelineError('bad_config', '--no-label applies to a raw --input file (a split always has labels)', { field: '--no-label' });
  const B = o.batchSize ?? 8192;
  const stats = o.input !== undefined ? newReadStats(o.input) : null;
  const batches = o.input !== undefined
    ? rawBatches(resolve(o.input), data.dir, data.manifest, B, o.onBadLine ?? 'error', stats!, o.noLabel ? 'absent' : 'auto')
    : splitBatches(data.dir, data.manifest, o.split!, B);
  return { model, data, batches, what: o.input ?? `${data.dir} split ${o.split}`, stats };
}

export interface PredictResult {
  rows: number;
  /** false when the input had no label column (the output then has none) */
  labelled: boolean;
  sec: number;
  source: string;
  input: string;
}

/** An output file may not lie inside (or be) any input of the command. */
function checkOutput(o: ScoreOptions & { out: string }, x: Opened): void {
  const inputs: PathArg[] = [{ flag: '--data', path: x.data.dir }];
  if (o.run !== undefined) inputs.push({ flag: '--run', path: o.run });
  if (o.checkpoint !== undefined) inputs.push({ flag: '--checkpoint', path: o.checkpoint });
  if (o.input !== undefined) inputs.push({ flag: '--input', path: o.input });
  checkNoOverlap([{ flag: '--out', path: o.out }], inputs);
}

/** Score the input and write `out` (CSV, or Parquet when it ends in .parquet) atomically. */
export async function runPredict(o: ScoreOptions & { out: string }): Promise<PredictResult> {
  if (o.out.toLowerCase().endsWith('.parquet')) return predictParquet(o);
  const x = await open(o);
  checkOutput(o, x);
  const labelled = (): boolean => x.stats?.labelled ?? true;
  const t0 = performance.now();
  let rows = 0;
  const csv = async function* (): AsyncGenerator<Buffer> {
    for await (const b of scoreBatches(x.model, x.batches, o.batchSize ?? 8192, o.workers ?? 1)) {
      if (rows === 0) yield Buffer.from(labelled() ? 'row,label,probability\n' : 'row,probability\n', 'latin1');
      yield csvLines(rows, labelled() ? b.labels : null, b.probs, b.size); // = `${row},${label},${p.toPrecision(9)}\n` per row
      rows += b.size;
    }
    if (rows === 0) yield Buffer.from('row,label,probability\n', 'latin1');
  };
  await writeChunksAtomic(resolve(o.out), csv());
  return { rows, labelled: labelled(), sec: (performance.now() - t0) / 1000, source: x.model.source, input: x.what };
}

export interface EvaluateResult {
  metrics: EvalMetrics;
  source: string;
  input: string;
  sec: number;
}

/** Score every row of the input, keeping labels and probabilities in memory (grown by doubling). */
async function scoreAll(x: Opened, batchSize = 8192, workers = 1, needLabels = false): Promise<{ labels: Float32Array; probs: Float32Array }> {
  let labels = new Float32Array(1 << 16);
  let probs = new Float32Array(1 << 16);
  let n = 0;
  for await (const b of scoreBatches(x.model, x.batches, batchSize, workers)) {
    if (needLabels && x.stats?.labelled === false) {
      throw new PipelineError('bad_input', `evaluate needs labels: ${x.what} has no label column`, {
        file: x.what, hint: '`hotcold predict` scores an unlabelled file; evaluate compares scores with labels (label, I1..I13, C1..C26)',
      });
    }
    const p = b.probs;
    if (n + b.size > labels.length) {
      const cap = Math.max(2 * labels.length, n + b.size);
      const l2 = new Float32Array(cap);
      l2.set(labels.subarray(0, n));
      const p2 = new Float32Array(cap);
      p2.set(probs.subarray(0, n));
      labels = l2;
      probs = p2;
    }
    labels.set(b.labels.subarray(0, b.size), n);
    probs.set(p, n);
    n += b.size;
  }
  return { labels: labels.subarray(0, n), probs: probs.subarray(0, n) };
}

/** Every metric of the model on the input (NE normalised by the model's training CTR). */
export async function runEvaluate(o: ScoreOptions): Promise<EvaluateResult> {
  const x = await open(o);
  const t0 = performance.now();
  const { labels, probs } = await scoreAll(x, o.batchSize, o.workers, true);
  const metrics = evalMetrics(labels, probs, trainCtr(x.data.manifest));
  return { metrics, source: x.model.source, input: x.what, sec: (performance.now() - t0) / 1000 };
}

/** {@link runPredict} into a Parquet file: probabilities kept in memory, then written in one go. */
async function predictParquet(o: ScoreOptions & { out: string }): Promise<PredictResult> {
  const x = await open(o);
  checkOutput(o, x);
  const t0 = performance.now();
  const { labels, probs } = await scoreAll(x, o.batchSize, o.workers);
  const n = probs.length;
  const out = resolve(o.out);
  const tmp = tmpName(out);
  try {
    writePredictionsParquet(tmp, x.stats?.labelled === false ? null : Int32Array.from(labels), probs);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, out);
  fsyncDir(dirname(out));
  return { rows: n, labelled: x.stats?.labelled ?? true, sec: (performance.now() - t0) / 1000, source: x.model.source, input: x.what };
}
