/**
 * Write a synthetic data set to disk: the TSV under a temporary name, fsynced and
 * renamed into place, then the sidecar `<out>.json` (written atomically, last).
 * A re-run with the same options finds the sidecar and the file of the recorded
 * size and does nothing; an interrupted run leaves no sidecar.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { fsyncDir, tmpName, writeFileAtomicSync } from '../../pipeline/atomic.js';
import { badManifest, PipelineError } from '../../pipeline/errors.js';
import { configHash } from '../../pipeline/hash.js';
import { ioError } from '../../pipeline/io-error.js';
import { Progress, type ProgressSink } from '../../pipeline/progress.js';
import { CAT_COLUMNS } from '../criteo/constants.js';
import {
  DRIFT_POPULAR_RANKS,
  GENERATE_FORMAT_VERSION,
  GENERATE_MAGIC,
  INTERACTION_PAIRS,
  WEIGHT_DECAY_RANK,
  ZIPF_EXPONENT,
} from './constants.js';
import { BLOCK_BYTES, SyntheticGenerator } from './generator.js';
import type { BayesMetrics } from './metrics.js';
import { resolveOptions, type GenerateOptions, type ResolvedGenerateOptions } from './options.js';
import { zipfOffsets } from './planted.js';
import type { StatsReport } from './stats.js';

/**
 * Bumped whenever the same options would produce different bytes, so that an
 * old output is not mistaken for a current one.
 */
export const GENERATOR_VERSION = 1;

/** The sidecar `<out>.json`. */
export interface GenerateSidecar extends Omit<StatsReport, 'rows'> {
  magic: typeof GENERATE_MAGIC;
  formatVersion: number;
  generatorVersion: number;
  /** Hash of the options and generator version; equal hash → identical bytes. */
  fingerprint: string;
  /** The TSV's file name (same directory as the sidecar) and size. */
  file: string;
  bytes: number;
  rows: number;
  seed: number;
  scale: number;
  days: number;
  drift: number;
  /** Targets the planted model was calibrated to (the achieved values are `ctr`, `bayes.auc`). */
  targetCtr: number;
  targetAuc: number;
  /** Table size of C1..C26 (ranks 0..K-1; `distinct` says how many occur). */
  cardinalities: number[];
  /** Planted-model parameters, for the record. */
  model: {
    zipfExponent: number;
    zipfOffsets: number[];
    weightDecayRank: number;
    driftPopularRanks: number;
    interactions: string[];
    bias: number;
    temperature: number;
    calibrationAuc: number;
  };
  elapsedSec: number;
}

/** What {@link generateToFile} returns. */
export interface GenerateResult {
  sidecar: GenerateSidecar;
  /** True when an up-to-date output was found and nothing was written. */
  reused: boolean;
}

/** Options of {@link generateToFile}. */
export interface GenerateToFileOptions extends GenerateOptions {
  /** Output TSV path; the sidecar is `<out>.json`. */
  out: string;
  /** Regenerate even when an up-to-date output exists. @default false */
  force?: boolean;
  /** Overwrite an existing `out` that is not a generated file (no hotcold sidecar). @default false */
  forceClean?: boolean;
  /** Where progress goes. @default stderr */
  progress?: ProgressSink;
}

/** Path of the sidecar of `out`. */
export function sidecarPath(out: string): string {
  return `${out}.json`;
}

function fingerprintOf(o: ResolvedGenerateOptions): string {
  return configHash({ ...o, generatorVersion: GENERATOR_VERSION, formatVersion: GENERATE_FORMAT_VERSION });
}

/**
 * Read and check a sidecar.
 * @throws PipelineError `bad_manifest` when it is missing, not JSON, or of another kind/version
 */
export function readSidecar(out: string): GenerateSidecar {
  const path = sidecarPath(out);
  const hint = 'regenerate it with `hotcold generate`';
  if (!existsSync(path)) throw badManifest(path, `sidecar not found: ${path}`, hint);
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new PipelineError('bad_manifest', `sidecar is not valid JSON: ${path}`, { file: path, hint, cause: e });
  }
  const s = j as Partial<GenerateSidecar>;
  if (s.magic !== GENERATE_MAGIC) throw badManifest(path, `not a hotcold generate sidecar (magic ${String(s.magic)})`, hint);
  if (s.formatVersion !== GENERATE_FORMAT_VERSION) {
    throw badManifest(path, `sidecar formatVersion ${String(s.formatVersion)}, expected ${GENERATE_FORMAT_VERSION}`, hint);
  }
  return s as GenerateSidecar;
}

/** The existing output when it was made with the same options and is complete, else null. */
function upToDate(out: string, fingerprint: string): GenerateSidecar | null {
  try {
    const s = readSidecar(out);
    if (s.fingerprint !== fingerprint || !existsSync(out) || statSync(out).size !== s.bytes) return null;
    return s;
  } catch {
    return null;
  }
}

/** An existing `out` is only replaced when an earlier `hotcold generate` wrote it (its sidecar says so). */
function refuseForeignFile(out: string, forceClean: boolean): void {
  if (!existsSync(out)) return;
  if (statSync(out).isDirectory()) {
    throw new PipelineError('unsafe_output', `--out ${out} is a directory; generate writes one TSV file`, { file: out, hint: 'pass a file path, e.g. data/synth.tsv' });
  }
  let generated = false;
  try {
    generated = readSidecar(out).magic === 'hotcold.generate';
  } catch {
    generated = false;
  }
  if (!generated && !forceClean) {
    throw new PipelineError('unsafe_output', `--out ${out} exists and was not written by hotcold generate (no ${basename(sidecarPath(out))} sidecar); nothing was changed`, {
      file: out,
      hint: 'choose another --out, or pass --force-clean to overwrite it',
    });
  }
}

/**
 * Generate `rows` rows to `out` (TSV) and `<out>.json` (sidecar); returns the sidecar.
 * Writing overlaps generation: block i goes to the OS while block i+1 is drawn.
 */
export async function generateToFile(opts: GenerateToFileOptions): Promise<GenerateResult> {
  const o = resolveOptions(opts);
  const fingerprint = fingerprintOf(o);
  const progress = new Progress('generate', 'rows', o.rows, opts.progress);
  const existing = opts.force ? null : upToDate(opts.out, fingerprint);
  if (existing) {
    progress.log(`generate: ${opts.out} is up to date (same options; --force to regenerate)`);
    return { sidecar: existing, reused: true };
  }

  refuseForeignFile(opts.out, Boolean(opts.forceClean));
  const gen = new SyntheticGenerator(o);
  await mkdir(dirname(opts.out), { recursive: true });
  const tmp = tmpName(opts.out);
  const fh = await open(tmp, 'w');
  let bytes = 0;
  try {
    const bufs = [Buffer.allocUnsafe(BLOCK_BYTES), Buffer.allocUnsafe(BLOCK_BYTES)];
    let pending: Promise<unknown> = Promise.resolve();
    for (let k = 0, b = gen.nextBlock(); b; k ^= 1, b = gen.nextBlock()) {
      const text = gen.formatBlock(b, bufs[k]);
      await pending; // the other buffer's write is done, so it may be reused next
      pending = writeAll(fh, text);
      bytes += text.length;
      progress.update(gen.rowsDone);
    }
    await pending;
    await fh.sync();
  } catch (e) {
    await fh.close();
    rmSync(tmp, { force: true });
    throw ioError(e, 'write generated rows', opts.out);
  }
  await fh.close();
  rmSync(sidecarPath(opts.out), { force: true }); // the old sidecar must not describe the new file
  await rename(tmp, opts.out);
  fsyncDir(dirname(opts.out));

  const report = gen.stats!.finish();
  const m = gen.model;
  const sidecar: GenerateSidecar = {
    magic: GENERATE_MAGIC,
    formatVersion: GENERATE_FORMAT_VERSION,
    generatorVersion: GENERATOR_VERSION,
    fingerprint,
    file: basename(opts.out),
    bytes,
    seed: o.seed,
    scale: o.scale,
    days: o.days,
    drift: o.drift,
    targetCtr: o.ctr,
    targetAuc: o.auc,
    cardinalities: m.cardinalities,
    ...report,
    model: {
      zipfExponent: ZIPF_EXPONENT,
      zipfOffsets: [...zipfOffsets()],
      weightDecayRank: WEIGHT_DECAY_RANK,
      driftPopularRanks: DRIFT_POPULAR_RANKS,
      interactions: INTERACTION_PAIRS.map(([a, b]) => `${CAT_COLUMNS[a]}×${CAT_COLUMNS[b]}`),
      bias: m.bias,
      temperature: m.temperature,
      calibrationAuc: m.calibrationAuc,
    },
    elapsedSec: progress.elapsedSec(),
  };
  writeFileAtomicSync(sidecarPath(opts.out), `${JSON.stringify(sidecar, null, 2)}\n`);
  progress.done(
    `generate: ${o.rows} rows (${(bytes / 1e6).toFixed(1)} MB) in ${sidecar.elapsedSec.toFixed(1)}s → ${opts.out}; ` +
      `CTR ${(report.ctr * 100).toFixed(1)}%, Bayes AUC ${fmt(report.bayes)}, test ${fmt(report.bayesTest)}`,
  );
  return { sidecar, reused: false };
}

async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
}

function fmt(m: BayesMetrics): string {
  return Number.isFinite(m.auc) ? m.auc.toFixed(4) : 'n/a';
}
