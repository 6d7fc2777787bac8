/** `hotcold preprocess`: raw Criteo files → shards + vocabularies + manifest. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { action, intArg } from '../../pipeline/cli.js';
import type { PreprocessManifest, PreprocessOptions } from '../../datasets/preprocessed.js';
import type { ParserChoice } from '../../datasets/criteo/native.js';
import { DEFAULT_OPTIONS } from './defaults.js';
import type { DirectIo } from './part-writer.js';

/** The stage, loaded only when the command runs (keeps `hotcold --help` fast). */
const run: typeof import('./index.js').run = async (...a) => (await import('./index.js')).run(...a);

interface CliOptions {
  input: string[];
  out: string;
  split: PreprocessOptions['split'];
  ratios?: [number, number, number];
  seed?: number;
  freqThreshold: number;
  maxIndRange: number;
  onBadLine: PreprocessOptions['onBadLine'];
  rowsPerShard: number;
  format: PreprocessOptions['format'];
  force?: boolean;
  forceClean?: boolean;
  parser: ParserChoice;
  directIo: DirectIo;
}

function ratiosArg(v: string): [number, number, number] {
  const parts = v.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x) || x < 0)) {
    throw new InvalidArgumentError(`--ratios takes three non-negative numbers train,val,test (e.g. 0.8,0.1,0.1), got '${v}'`);
  }
  return parts as [number, number, number];
}

/** One paragraph a person reads after the run (stdout). */
export function formatSummary(m: PreprocessManifest, dir: string, reused: boolean): string {
  const s = m.splits;
  const pct = (n: number, d: number) => (d > 0 ? `${((100 * n) / d).toFixed(1)}% pos` : '-');
  const lines = [
    `${reused ? 'reused finished output' : 'wrote'} ${dir}`,
    `  rows: ${m.rowsRead} read from ${m.inputs.length} file(s) in ${m.elapsedSec.toFixed(1)}s (${Math.round(m.rowsRead / Math.max(m.elapsedSec, 1e-9))} rows/s)`,
    `  train ${s.train.rows} (${pct(s.train.positives, s.train.rows)}), val ${s.val.rows} (${pct(s.val.positives, s.val.rows)}), test ${s.test.rows} (${pct(s.test.positives, s.test.rows)}); split ${m.options.split}`,
    `  vocabulary rows: ${m.vocab.sizes.reduce((a, b) => a + b, 0)} over 26 tables (largest ${Math.max(...m.vocab.sizes)})`,
    `  bad lines skipped: ${m.badLines.count}`,
  ];
  for (const b of m.badLines.first.slice(0, 3)) lines.push(`    ${b.file}:${b.line}: ${b.reason}`);
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('preprocess')
    .summary('raw Criteo (TSV, CSV, .gz, day files) → Arrow shards + vocabularies')
    .description(
      [
        'Turn raw Criteo click logs into Arrow shards per split (train/val/test),',
        'per-feature vocabulary counts and a manifest, following DLRM:',
        '  dense I1..I13: missing or negative → 0, then ln(1 + x)',
        '  categorical C1..C26: id 0 = missing, 1 = out-of-vocabulary,',
        '  2.. = values in order of first appearance (over all splits)',
        'Inputs: Kaggle train.txt, Terabyte day_N, .gz of either, or CSV with',
        'the header label,I1..I13,C1..C26. manifest.json is written last; a',
        're-run with the same inputs (path, size, mtime) and options reuses it.',
      ].join('\n'),
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  hotcold preprocess --input data/train.txt --out data/kaggle',
        '  hotcold preprocess --input day_0.gz day_1.gz day_2.gz --split days --out data/tb \\',
        '      --max-ind-range 10000000 --freq-threshold 3 --on-bad-line skip',
      ].join('\n'),
    )
    .requiredOption('-i, --input <files...>', 'input files, in order (for --split days: one per day)')
    .requiredOption('-o, --out <dir>', 'output directory')
    .addOption(
      new Option('--split <kind>', 'kaggle: 7 pseudo-days in file order, days 0-5 train, day 6 → test | val halves; days: last file → test | val; random: --ratios/--seed')
        .choices(['kaggle', 'days', 'random'])
        .default(DEFAULT_OPTIONS.split),
    )
    .option('--ratios <train,val,test>', 'random split fractions', ratiosArg, DEFAULT_OPTIONS.ratios)
    .option('--seed <n>', 'random split seed', intArg('--seed'), DEFAULT_OPTIONS.seed)
    .option('--freq-threshold <n>', 'values seen fewer than n times share the OOV id 1 (0 = keep all)', intArg('--freq-threshold', 0), DEFAULT_OPTIONS.freqThreshold)
    .option('--max-ind-range <r>', 'hash each categorical value to value % r before mapping (0 = off)', intArg('--max-ind-range', 0, 0xffffffff), DEFAULT_OPTIONS.maxIndRange)
    .addOption(
      new Option('--on-bad-line <policy>', 'error: stop at the first malformed line (file:line: field); skip: skip, count, keep the first 10 in the manifest')
        .choices(['error', 'skip'])
        .default(DEFAULT_OPTIONS.onBadLine),
    )
    .option('--rows-per-shard <n>', 'rows per Arrow shard', intArg('--rows-per-shard', 1, 16_000_000), DEFAULT_OPTIONS.rowsPerShard)
    .addOption(new Option('--format <fmt>', 'input text format (auto: tabs → tsv, commas → csv with header, Avazu header → avazu; avazu-slipstream: Avazu in Slipstream\'s 1-dense/21-categorical layout)').choices(['auto', 'tsv', 'csv', 'avazu', 'avazu-slipstream']).default(DEFAULT_OPTIONS.format))
    .option('--force', 'rewrite the output even if a finished one with the same fingerprint exists')
    .option('--force-clean', 'replace an --out directory that holds files not written by this stage (never /, home, the checkout or a directory holding an input)')
    .addOption(
      new Option('--parser <kind>', 'auto: the C++ parse/categorify loops of native/parse when built, else TypeScript; native: fail when not built; ts: TypeScript only (same output)')
        .choices(['auto', 'native', 'ts'])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--direct-io <when>',
        'write the shards with O_DIRECT (less CPU; they are then not in the page cache for the next stage): auto = once the shards written exceed half of the available memory; on; off (same output)',
      )
        .choices(['auto', 'on', 'off'])
        .default('auto'),
    )
    .action(
      action(async (o: CliOptions) => {
        const options: Partial<PreprocessOptions> = {
          split: o.split,
          freqThreshold: o.freqThreshold,
          maxIndRange: o.maxIndRange,
          onBadLine: o.onBadLine,
          rowsPerShard: o.rowsPerShard,
          format: o.format,
        };
        if (o.split === 'random') {
          options.ratios = o.ratios;
          options.seed = o.seed;
        }
        const r = await run({ inputs: o.input, out: o.out, options, force: o.force, forceClean: o.forceClean, parser: o.parser, directIo: o.directIo });
        process.stdout.write(formatSummary(r.manifest, r.dir, r.reused) + '\n');
      }),
    );
}
