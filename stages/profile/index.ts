/**
 * `hotcold profile`: count accesses per (table, row) on a seeded Bernoulli
 * sample of the training split — the fit step of FAE's hot/cold segregation.
 *
 * Streams the training shards one at a time; within a shard only the sampled
 * rows are read (geometric skips, see `sampler.ts`). Output follows
 * `datasets/profile.ts`: one Uint32 count file per table plus a manifest that
 * records the data fingerprint and the sampled row count.
 */
import { resolve } from 'node:path';
import { CAT_COLUMNS, CAT_FEATURE_COUNT } from '../../datasets/criteo/constants.js';
import { iterateSplit, openPreprocessed, splitFiles } from '../../datasets/preprocessed.js';
import type { ProfileManifest } from '../../datasets/profile.js';
import { PipelineError } from '../../pipeline/errors.js';
import { configHash } from '../../pipeline/hash.js';
import { ioError } from '../../pipeline/io-error.js';
import { openStagedOutput } from '../../pipeline/outdir.js';
import { ARTIFACTS, manifestHead, verifyFiles, writeDataFile, type FileEntry } from '../../pipeline/manifest.js';
import { Progress, type StageIO } from '../../pipeline/progress.js';
import { checkProfileConfig, type ProfileConfig } from './config.js';
import { addCounts, SkipSampler } from './sampler.js';

/** Relative path of table t's count file. */
export function countFileName(t: number): string {
  return `counts/${CAT_COLUMNS[t]!}.bin`;
}

/**
 * Run the profile stage (or reuse an identical committed profile).
 * @returns the committed manifest
 * @throws PipelineError `bad_config` (sample rate), `bad_manifest` (data not committed),
 *   `bad_input` (an id outside its table), `empty_input` (no training rows)
 */
export async function run(config: ProfileConfig, io: StageIO = {}): Promise<ProfileManifest> {
  checkProfileConfig(config);
  const t0 = performance.now();
  const data = openPreprocessed(config.data);
  const a = ARTIFACTS.profile;
  const fingerprint = configHash({
    stage: a.magic,
    version: a.version,
    data: data.fingerprint,
    sampleRate: config.sampleRate,
    seed: config.seed,
  });
  const out = openStagedOutput<ProfileManifest>(
    { dir: config.out, kind: 'profile', inputs: [{ flag: '--data', path: config.data }], forceClean: config.forceClean },
    fingerprint,
    { force: config.force },
  );
  if (out.reused) return out.reused;
  try {

    const train = data.splits.train;
    if (!train || train.rows === 0) {
      throw new PipelineError('empty_input', `preprocessed dataset ${config.data} has no training rows`, { file: config.data });
    }
    const sizes = data.vocab.sizes;
    if (sizes.length !== CAT_FEATURE_COUNT) {
      throw new PipelineError('bad_manifest', `expected ${CAT_FEATURE_COUNT} table sizes, found ${sizes.length}`, { file: config.data });
    }
    // sizes only: hashing every shard would cost more than the profile itself
    await verifyFiles(config.data, splitFiles(data, 'train'), false);

    const counts = sizes.map((n) => new Uint32Array(n));
    const sampler = new SkipSampler(config.sampleRate, config.seed);
    const progress = new Progress('profile', 'rows', train.rows, io.sink);
    let picked = new Int32Array(1024);
    let base = 0;
    let sampledRows = 0;
    for (const { path, shard } of iterateSplit(config.data, data, 'train')) {
      if (picked.length < shard.rows) picked = new Int32Array(shard.rows);
      const n = sampler.take(base, shard.rows, picked);
      for (let t = 0; t < CAT_FEATURE_COUNT; t++) {
        const bad = addCounts(counts[t]!, shard.cats[t]!, picked, n);
        if (bad >= 0) {
          const r = picked[bad]!;
          throw new PipelineError('bad_input', `row ${r}: ${CAT_COLUMNS[t]!} id ${shard.cats[t]![r]!} is outside its table of ${sizes[t]!} rows`, {
            file: path,
            field: CAT_COLUMNS[t],
            hint: 'the shard does not match its manifest; run `hotcold preprocess` again',
          });
        }
      }
      sampledRows += n;
      base += shard.rows;
      progress.update(base, `${sampledRows} sampled`);
    }

    const countFiles: string[] = [];
    const files: FileEntry[] = [];
    const nonzeroRows: number[] = [];
    const maxCount: number[] = [];
    for (let t = 0; t < CAT_FEATURE_COUNT; t++) {
      const c = counts[t]!;
      let nz = 0;
      let mx = 0;
      for (let i = 0; i < c.length; i++) {
        const v = c[i]!;
        if (v !== 0) nz++;
        if (v > mx) mx = v;
      }
      nonzeroRows.push(nz);
      maxCount.push(mx);
      const rel = countFileName(t);
      files.push(writeDataFile(out.dir, rel, new Uint8Array(c.buffer, c.byteOffset, c.byteLength)));
      countFiles.push(rel);
    }
    const manifest: ProfileManifest = {
      ...manifestHead('profile', fingerprint, t0, files),
      data: { dir: resolve(config.data), fingerprint: data.fingerprint },
      sampleRate: config.sampleRate,
      seed: config.seed,
      trainRows: train.rows,
      sampledRows,
      tableSizes: [...sizes],
      countFiles,
      nonzeroRows,
      maxCount,
    };
    out.commit(manifest);
    progress.done(
      `profile: sampled ${sampledRows} of ${train.rows} training rows (rate ${config.sampleRate}) in ${manifest.elapsedSec.toFixed(1)}s → ${out.final}`,
    );
    return manifest;
  } catch (e) {
    out.abort(); // the partial output goes; a previous committed output stays
    throw ioError(e, 'write profile', out.final);
  }
}
