/**
 * `hotcold segregate`: choose the hot set from a profile (memory budget or
 * count threshold), then split the training split into hot and cold shards
 * (FAE). An input is hot iff every one of its 26 lookups hits a hot row.
 *
 * Output follows `datasets/segregated.ts`: hot-map.bin, shards/hot-*.arrow
 * (ids = hot indices), shards/cold-*.arrow (original ids), report.json,
 * skew.csv, skew.svg, skew.png, and the manifest, committed last.
 */
import { resolve } from 'node:path';
import { CAT_FEATURE_COUNT } from '../../datasets/criteo/constants.js';
import { iterateSplit, openPreprocessed, splitFiles } from '../../datasets/preprocessed.js';
import { openProfile, readProfileCounts } from '../../datasets/profile.js';
import type { SegregateManifest } from '../../datasets/segregated.js';
import { mismatch } from '../../pipeline/errors.js';
import { configHash } from '../../pipeline/hash.js';
import { ioError } from '../../pipeline/io-error.js';
import { openStagedOutput } from '../../pipeline/outdir.js';
import { ARTIFACTS, fileEntry, manifestHead, verifyFiles, writeDataFile } from '../../pipeline/manifest.js';
import { Progress, type StageIO } from '../../pipeline/progress.js';
import { budgetRows, checkSegregateConfig, type SegregateConfig } from './config.js';
import { CountLevels, selectByCount, selectByRows, type HotSet } from './hot-set.js';
import { buildReport, writeReport } from './report.js';
import { ShardSink, splitShard, SplitScratch, type SplitTotals } from './split.js';

export const HOT_MAP_FILE = 'hot-map.bin';

/** hot-map.bin bytes: Int32 pairs (table, row) in hot-index order (little-endian host). */
export function encodeHotMap(hot: HotSet): Uint8Array {
  return new Uint8Array(hot.map.buffer, hot.map.byteOffset, hot.map.byteLength);
}

/**
 * Run the segregate stage (or reuse an identical committed output).
 * @throws PipelineError `bad_config` (options), `bad_manifest` (data or profile not
 *   committed), `mismatch` (profile made from other data), `bad_input` (bad ids)
 */
export async function run(config: SegregateConfig, io: StageIO = {}): Promise<SegregateManifest> {
  const selection = checkSegregateConfig(config);
  const t0 = performance.now();
  const data = openPreprocessed(config.data);
  const prof = openProfile(config.profile);
  if (prof.data.fingerprint !== data.fingerprint) {
    throw mismatch(
      `profile ${config.profile} was made from other data (fingerprint ${prof.data.fingerprint.slice(0, 12)}, from ${prof.data.dir}) ` +
        `than ${config.data} (fingerprint ${data.fingerprint.slice(0, 12)})`,
      `run \`hotcold profile --data ${config.data} --out <dir>\` and segregate with that profile`,
    );
  }
  const sizes = data.vocab.sizes;
  if (sizes.length !== CAT_FEATURE_COUNT || prof.tableSizes.some((n, t) => n !== sizes[t])) {
    throw mismatch(`profile table sizes differ from the data's vocabulary sizes`, 'run `hotcold profile` again');
  }
  const rowsPerShard = config.rowsPerShard ?? (data.options.rowsPerShard > 0 ? data.options.rowsPerShard : 1 << 20);
  const a = ARTIFACTS.segregate;
  const fingerprint = configHash({
    stage: a.magic,
    version: a.version,
    data: data.fingerprint,
    profile: prof.fingerprint,
    selection,
    dim: config.dim,
    allowZeroCount: Boolean(config.allowZeroCount),
    rowsPerShard,
  });
  const out = openStagedOutput<SegregateManifest>(
    {
      dir: config.out,
      kind: 'segregate',
      inputs: [{ flag: '--data', path: config.data }, { flag: '--profile', path: config.profile }],
      forceClean: config.forceClean,
    },
    fingerprint,
    { force: config.force },
  );
  if (out.reused) return out.reused;
  try {
    await verifyFiles(config.profile, prof.files);
    await verifyFiles(config.data, splitFiles(data, 'train'), false);

    // choose the hot set
    const counts = readProfileCounts(config.profile, prof);
    const levels = new CountLevels(counts);
    const hot =
      selection.by === 'memory'
        ? selectByRows(counts, budgetRows(selection.budgetBytes, config.dim), Boolean(config.allowZeroCount), levels)
        : selectByCount(counts, selection.minCount);
    const hotMapEntry = writeDataFile(out.dir, HOT_MAP_FILE, encodeHotMap(hot));

    // split the training inputs
    const train = data.splits.train;
    const progress = new Progress('segregate', 'rows', train.rows, io.sink);
    const hotSink = new ShardSink(out.dir, 'hot', rowsPerShard);
    const coldSink = new ShardSink(out.dir, 'cold', rowsPerShard);
    const scratch = new SplitScratch();
    const totals: SplitTotals = { inputs: 0, hotInputs: 0, hotLookups: 0 };
    for (const { path, shard } of iterateSplit(config.data, data, 'train')) {
      splitShard(shard, path, hot.index, hotSink, coldSink, scratch, totals);
      progress.update(totals.inputs, `${((100 * totals.hotInputs) / Math.max(1, totals.inputs)).toFixed(1)} % hot`);
    }
    hotSink.flush();
    coldSink.flush();

    const report = buildReport(hot, levels, totals, sizes, prof.nonzeroRows, config.dim, selection);
    const reportFiles = await writeReport(out.dir, report);
    const files = [hotMapEntry, ...hotSink.files, ...coldSink.files];
    for (const rel of reportFiles) files.push(await fileEntry(out.dir, rel));
    const manifest: SegregateManifest = {
      ...manifestHead('segregate', fingerprint, t0, files),
      data: { dir: resolve(config.data), fingerprint: data.fingerprint },
      profile: { dir: resolve(config.profile), fingerprint: prof.fingerprint, sampleRate: prof.sampleRate, seed: prof.seed },
      dim: config.dim,
      selection,
      hotRows: hot.hotRows,
      hotRowsPerTable: [...hot.perTable],
      hotOffsets: [...hot.offsets],
      hotMapFile: HOT_MAP_FILE,
      splits: { hot: hotSink.info(), cold: coldSink.info() },
      report: {
        hotRows: report.hotRows,
        hotRowsPerTable: report.hotRowsPerTable,
        hotInputs: report.hotInputs,
        coldInputs: report.coldInputs,
        hotInputShare: report.hotInputShare,
        hotLookupShare: report.hotLookupShare,
        hotTableBytes: report.hotTableBytes,
      },
    };
    out.commit(manifest);
    progress.done(
      `segregate: ${hot.hotRows} hot rows (${(report.hotTableBytes / 2 ** 20).toFixed(2)} MiB); ` +
        `${report.hotInputs} of ${totals.inputs} inputs hot (${(100 * report.hotInputShare).toFixed(1)} %), ` +
        `${(100 * report.hotLookupShare).toFixed(1)} % of lookups hit the hot set; ${manifest.elapsedSec.toFixed(1)}s → ${out.final}`,
    );
    return manifest;
  } catch (e) {
    out.abort(); // the partial output goes; a previous committed output stays
    throw ioError(e, 'write segregated output', out.final);
  }
}
