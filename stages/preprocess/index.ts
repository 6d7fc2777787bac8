/**
 * preprocess stage: raw Criteo text (TSV / CSV / .gz, one or many files) →
 * Arrow shards per split + per-feature vocabulary counts + a manifest.
 *
 * One pass over the input: parse → log-transform dense → categorify (counting,
 * provisional ids) → part shards in input order. Then the vocabularies are
 * fixed (frequency threshold), the parts are cut into splits (and remapped if
 * needed), the count files are written, and the manifest is committed last.
 * A crash at any point leaves no manifest; a re-run with the same inputs
 * (path, size, mtime) and options reuses the committed output.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createBadLineLog, type BadLineLog } from '../../datasets/criteo/parse.js';
import { DEFAULT_BATCH_ROWS } from '../../datasets/criteo/batch.js';
import { CAT_COLUMNS, CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../../datasets/criteo/constants.js';
import { readCriteoFiles, type WorkerVocab } from '../../datasets/criteo/parallel.js';
import type { ReadStats } from '../../datasets/criteo/reader.js';
import { resolveParser, type ParseAddon, type ParserChoice } from '../../datasets/criteo/native.js';
import { FIRST_VALUE_ID } from '../../datasets/ids.js';
import type { InputFileInfo, PreprocessManifest, PreprocessOptions, SplitName } from '../../datasets/preprocessed.js';
import { fsyncDir, writeFileSyncedAsync } from '../../pipeline/atomic.js';
import { badConfig, notFound, PipelineError } from '../../pipeline/errors.js';
import { ioError } from '../../pipeline/io-error.js';
import { configHash, stampFile } from '../../pipeline/hash.js';
import { ARTIFACTS, manifestHead, type FileEntry } from '../../pipeline/manifest.js';
import { xxh64 } from '../../pipeline/xxh64.js';
import { openStagedOutput, type StagedOutput } from '../../pipeline/outdir.js';
import { Progress, type ProgressSink } from '../../pipeline/progress.js';
import { resolveOptionsFast } from './options.js';
import { Categorify } from './ops/categorify.js';
import { logDenseBatch } from './ops/log-dense.js';
import { directFromBytes, PartWriter, type DirectIo } from './part-writer.js';
import { emptyFinalShards, finalizeStream, PartStream, settleAll, settleWrites } from './parts.js';
import { dayFileRanges, kaggleRanges, RANDOM_SPLITS, RandomSplitter } from './split.js';

export { DEFAULT_OPTIONS } from './defaults.js';
export type { DirectIo } from './part-writer.js';

/** What to preprocess. */
export interface PreprocessRequest {
  /** input files in order (for `--split days`: one per day, in day order) */
  inputs: string[];
  /** output directory */
  out: string;
  /** options; missing ones take the defaults of config.ts */
  options?: Partial<PreprocessOptions>;
  /** rewrite even when a committed output with the same fingerprint exists */
  force?: boolean;
  /** replace an --out directory that holds something other than a preprocess output */
  forceClean?: boolean;
  /**
   * parse on a worker thread (the second core); does not change the output.
   * @default 'auto' (on when the inputs hold ≥ 32 MiB)
   */
  parallel?: boolean | 'auto';
  /**
   * native parse + categorify loops (`native/parse`) when built (`auto`), always
   * (`native`: an error when not built) or never (`ts`); does not change the output.
   * @default 'auto'
   */
  parser?: ParserChoice;
  /**
   * when part shards are written with O_DIRECT (see part-writer.ts); does not change the output.
   * @default 'auto'
   */
  directIo?: DirectIo;
}

export interface PreprocessIo {
  /** where progress goes (default: stderr) */
  progress?: ProgressSink;
}

export interface PreprocessResult {
  dir: string;
  manifest: PreprocessManifest;
  /** true when a finished output with the same fingerprint was reused */
  reused: boolean;
}

/** Fingerprint of a run: inputs' (path, size, mtime) + resolved options. */
export function preprocessFingerprint(inputs: string[], options: PreprocessOptions): string {
  const stamps = inputs.map((p) => stampFile(resolve(p)));
  return configHash({ stage: 'preprocess', formatVersion: ARTIFACTS.preprocess.version, inputs: stamps, options });
}

/**
 * Features the parse worker categorifies in parallel mode (C3: one of Kaggle's six ~10M-value
 * vocabularies), to even the two threads out. Per-thread CPU at 10M rows with the native kernels
 * after the parser's store-forwarding fix: with C3, C4 and C12 on the worker, main 4.1 s / worker
 * 5.4 s; with none, 5.2 / 4.6 s; with C3 alone, 4.5–4.8 / 4.6–4.7 s.
 */
const WORKER_CAT_FEATURES: readonly number[] = [2];

/** Inputs at least this large are parsed on a worker thread when `parallel` is 'auto'. */
const PARALLEL_MIN_BYTES = 32 << 20;

/**
 * Run the stage.
 * @throws PipelineError bad_config / not_found / empty_input / bad_input / truncated
 */
export async function run(req: PreprocessRequest, io: PreprocessIo = {}): Promise<PreprocessResult> {
  const t0 = performance.now();
  const options = resolveOptionsFast(req.options ?? {}) ?? (await import('./config.js')).resolveOptions(req.options ?? {});
  if (req.inputs.length === 0) throw badConfig('--input', 'at least one input file is required');
  if (options.split === 'days' && req.inputs.length < 2) {
    throw badConfig('--split', `'days' needs one input file per day (at least 2), got ${req.inputs.length}`);
  }
  for (const p of req.inputs) if (!existsSync(p)) throw notFound('input file', p);
  const inputs = req.inputs.map((p) => resolve(p));
  const fingerprint = preprocessFingerprint(inputs, options);
  const parser = req.parser ?? 'auto';
  const native = resolveParser(parser);
  const out = openStagedOutput<PreprocessManifest>(
    { dir: req.out, kind: 'preprocess', inputs: inputs.map((path) => ({ flag: '--input', path })), forceClean: req.forceClean },
    fingerprint,
    { force: req.force },
  );
  if (out.reused) return { dir: out.final, manifest: out.reused, reused: true };

  const totalBytes = inputs.reduce((a, p) => a + stampFile(p).size, 0);
  const parallel = req.parallel === undefined || req.parallel === 'auto' ? totalBytes >= PARALLEL_MIN_BYTES : req.parallel;
  const partsDir = join(out.dir, '.parts');
  const random = options.split === 'random' ? new RandomSplitter(options.ratios!, options.seed!) : null;
  const writer = new PartWriter({ directFromBytes: directFromBytes(req.directIo ?? 'auto') });
  const streams = random
    ? RANDOM_SPLITS.map((s) => new PartStream(partsDir, s, options.rowsPerShard, writer))
    : [new PartStream(partsDir, 'rows', options.rowsPerShard, writer)];
  try {
    const progress = new Progress('preprocess', 'rows', 0, io.progress);
    const ing = await ingest(inputs, options, streams, random, parallel, totalBytes, progress, { parser, native });
    const manifest = await commit(out, ing, options, streams, random, fingerprint, t0);
    progress.done(`preprocess: ${ing.rows} rows in ${manifest.elapsedSec.toFixed(1)}s (${Math.round(ing.rows / Math.max(manifest.elapsedSec, 1e-9))} rows/s)`);
    return { dir: out.final, manifest, reused: false };
  } catch (e) {
    // no write may land in the output after an error; the partial output goes, the previous one stays
    for (const s of streams) await s.quiesce();
    out.abort();
    throw ioError(e, 'write preprocessed output', out.final);
  } finally {
    await writer.close();
  }
}

/** What the single pass over the inputs learned. */
interface Ingested {
  rows: number;
  stats: ReadStats[];
  badLines: BadLineLog;
  categorify: Categorify;
}

/** The pass: parse → dense transform → categorify (fit) → part shards. */
async function ingest(
  inputs: string[],
  options: PreprocessOptions,
  streams: PartStream[],
  random: RandomSplitter | null,
  parallel: boolean,
  totalBytes: number,
  progress: Progress,
  kernels: { parser: ParserChoice; native: ParseAddon | null },
): Promise<Ingested> {
  // with a parse worker it also categorifies WORKER_CAT_FEATURES, to balance the two threads
  const external = parallel ? WORKER_CAT_FEATURES : [];
  const categorify = new Categorify({ maxIndRange: options.maxIndRange, external, native: kernels.native });
  const vocab: WorkerVocab[] = [];
  const badLines = createBadLineLog();
  // staging columns for one parsed batch (transformed, provisional ids)
  const stageDense = Array.from({ length: INT_FEATURE_COUNT }, () => new Float32Array(DEFAULT_BATCH_ROWS));
  const stageCats = Array.from({ length: CAT_FEATURE_COUNT }, () => new Int32Array(DEFAULT_BATCH_ROWS));
  const stats: ReadStats[] = [];
  let rows = 0;
  const source = readCriteoFiles(
    inputs,
    {
      format: options.format,
      onBadLine: options.onBadLine,
      badLines,
      parallel,
      parser: kernels.parser,
      batchRows: DEFAULT_BATCH_ROWS,
      categorify: parallel ? { features: external, maxIndRange: options.maxIndRange, firstId: FIRST_VALUE_ID } : undefined,
      vocab,
    },
    stats,
  );
  for await (const { file, batch } of source) {
    const n = batch.rows;
    const s0 = streams[0]!;
    if (!random && s0.rows + n <= s0.capacity) {
      // the usual case: transform straight into the current part's columns
      const at = s0.rows;
      s0.label.set(batch.label.subarray(0, n), at);
      logDenseBatch(s0.dense, at, batch, kernels.native);
      categorify.fit(s0.cats, at, batch);
      s0.commitRows(n);
    } else {
      // through staging columns: rows are dealt to random splits, or the batch straddles two parts
      logDenseBatch(stageDense, 0, batch, kernels.native);
      categorify.fit(stageCats, 0, batch);
      if (random) {
        for (let r = 0; r < n; r++) streams[random.next()]!.appendRow(batch.label, stageDense, stageCats, r);
      } else {
        for (let i = 0; i < n; ) {
          const k = Math.min(n - i, s0.capacity - s0.rows);
          s0.appendRange(batch.label, stageDense, stageCats, i, k);
          i += k;
        }
      }
    }
    for (const s of streams) await s.settle(2); // two writes in flight: PartWriter's two threads
    rows += n;
    let done = 0;
    for (let i = 0; i <= file; i++) done += i < file ? stats[i]!.bytes : (stats[i]?.bytesRead ?? 0);
    progress.update(rows, `${((100 * done) / Math.max(totalBytes, 1)).toFixed(1)}% of input`);
  }
  if (parallel) categorify.adopt(vocab);
  if (rows === 0) {
    const first = badLines.first[0];
    throw new PipelineError('empty_input', `no valid rows in ${inputs.length} input file(s); ${badLines.count} bad line(s) skipped`, {
      file: inputs[0],
      hint: first ? `first bad line: ${first.file}:${first.line}: ${first.reason}` : undefined,
    });
  }
  return { rows, stats, badLines, categorify };
}

/**
 * Start writing a vocabulary file (write + fsync on the libuv pool: the 52 files' fsyncs overlap,
 * ≈ 0.1 s of a 1M-row run's wall time when they ran one after the other on this thread) and
 * return its entry, checksummed (XXH64, like the shards) from memory.
 */
function writeVocabFile(dir: string, rel: string, data: Uint8Array, writes: Promise<void>[]): FileEntry {
  const w = writeFileSyncedAsync(join(dir, rel), data);
  w.catch(() => {}); // awaited through settleAll
  writes.push(w);
  return { path: rel, bytes: data.byteLength, hash: xxh64(data) };
}

/** Fix vocabularies, cut parts into split shards, write counts, commit the manifest. */
async function commit(
  out: StagedOutput<PreprocessManifest>,
  ing: Ingested,
  options: PreprocessOptions,
  streams: PartStream[],
  random: RandomSplitter | null,
  fingerprint: string,
  t0: number,
): Promise<PreprocessManifest> {
  const { categorify, stats, rows } = ing;
  const dir = out.dir;
  const distinct = categorify.distinct();
  const vocab = categorify.finalize(options.freqThreshold);
  const remap = categorify.needsRemap() ? (cats: Int32Array[]) => categorify.transform(cats) : null;
  const final = emptyFinalShards();
  try {
    if (random) {
      for (let i = 0; i < streams.length; i++) {
        const s = streams[i]!;
        await finalizeStream(s, [{ split: RANDOM_SPLITS[i]!, start: 0, end: s.total }], dir, remap, final);
      }
    } else {
      const ranges = options.split === 'kaggle' ? kaggleRanges(rows) : dayFileRanges(stats.map((s) => s.rows));
      await finalizeStream(streams[0]!, ranges, dir, remap, final);
    }
    rmSync(join(dir, '.parts'), { recursive: true, force: true });

    const countFiles: string[] = [];
    const valueFiles: string[] = [];
    mkdirSync(join(dir, 'vocab'), { recursive: true });
    const vocabWrites: Promise<void>[] = [];
    for (let f = 0; f < CAT_FEATURE_COUNT; f++) {
      const rel = `vocab/counts-${CAT_COLUMNS[f]!}.bin`;
      const c = vocab[f]!.counts;
      countFiles.push(rel);
      final.files.push(writeVocabFile(dir, rel, new Uint8Array(c.buffer, c.byteOffset, c.byteLength), vocabWrites));
      const vrel = `vocab/values-${CAT_COLUMNS[f]!}.bin`;
      const v = vocab[f]!.values;
      valueFiles.push(vrel);
      final.files.push(writeVocabFile(dir, vrel, new Uint8Array(v.buffer, v.byteOffset, v.byteLength), vocabWrites));
    }
    await settleAll(vocabWrites);
    await settleWrites(final); // the last shards, written on the part writer's thread meanwhile
    fsyncDir(join(dir, 'shards'));
    fsyncDir(join(dir, 'vocab'));

    const splitInfo = (s: SplitName) => ({
      rows: final.shards[s].reduce((a, r) => a + r.rows, 0),
      positives: final.positives[s],
      shards: final.shards[s],
    });
    const inputs: InputFileInfo[] = stats.map((s) => ({ path: s.path, bytes: s.bytes, hash: s.hash, lines: s.lines }));
    const manifest: PreprocessManifest = {
      ...manifestHead('preprocess', fingerprint, t0, final.files),
      inputs,
      options,
      splits: { train: splitInfo('train'), val: splitInfo('val'), test: splitInfo('test') },
      vocab: { sizes: vocab.map((v) => v.size), distinct, countFiles, valueFiles },
      badLines: { count: ing.badLines.count, first: ing.badLines.first },
      rowsRead: rows,
    };
    out.commit(manifest);
    return manifest;
  } catch (e) {
    await Promise.allSettled(final.writes); // nothing may still be writing into the output when it is dropped
    throw e;
  }
}
