/** `hotcold generate`: a synthetic Criteo-Kaggle-format TSV from a planted model, plus its sidecar. */
import type { Command } from 'commander';
import { action, floatArg, intArg } from '../../pipeline/cli.js';
import { quietSink } from '../../pipeline/progress.js';
import { DEFAULT_AUC, DEFAULT_CTR, DEFAULT_DAYS, DEFAULT_SCALE } from './constants.js';
import { generateToFile, sidecarPath, type GenerateSidecar } from './file.js';

interface CliOptions {
  rows: number;
  seed: number;
  out: string;
  scale: number;
  days: number;
  drift: number;
  ctr: number;
  auc: number;
  force?: boolean;
  forceClean?: boolean;
  quiet?: boolean;
}

const f4 = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');

/** A few lines a person reads after the run (stdout). */
export function formatSummary(s: GenerateSidecar, out: string, reused: boolean): string {
  const tables = s.cardinalities.reduce((a, b) => a + b, 0);
  return [
    `${reused ? 'up to date:' : 'wrote'} ${out} (${s.rows} rows, ${(s.bytes / 1e6).toFixed(1)} MB) and ${sidecarPath(out)}`,
    `  CTR ${(100 * s.ctr).toFixed(2)}% (target ${(100 * s.targetCtr).toFixed(1)}%), empty cells ${(100 * s.missing.overall).toFixed(1)}%, ` +
      `${tables} table rows (scale ${s.scale}), ${s.days} day(s), drift ${s.drift}`,
    `  planted-model Bayes AUC ${f4(s.bayes.auc)}, logloss ${f4(s.bayes.logloss)}, accuracy ${f4(s.bayes.accuracy)}`,
    `  on the Kaggle split's test half: AUC ${f4(s.bayesTest.auc)}, logloss ${f4(s.bayesTest.logloss)} (what trainers compare to)`,
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('generate')
    .summary('synthetic Criteo Kaggle TSV from a planted model (+ Bayes-optimal metrics)')
    .description(
      'Write a Criteo-Kaggle-format TSV (label, I1..I13, C1..C26 as 8 hex digits, empty = ' +
        'missing) whose labels come from a planted model, and a sidecar <out>.json with the ' +
        "generator's options, table sizes, achieved CTR and missing rates, and the planted " +
        "model's Bayes-optimal AUC / logloss / accuracy on the rows (overall, per day, and on " +
        "the Kaggle split's test and validation halves). Calibrated to real Kaggle: table sizes " +
        '∝ Kaggle × --scale, Zipf popularity, measured missing rates and integer quantiles. ' +
        'Same options → byte-identical output; a re-run with the same options does nothing.',
    )
    .requiredOption('-n, --rows <n>', 'rows to write', intArg('--rows', 1, 2 ** 31 - 1))
    .requiredOption('-o, --out <file>', 'output TSV path (sidecar: <file>.json)')
    .option('-s, --seed <n>', 'seed of everything random', intArg('--seed', 0, 2 ** 32 - 1), 1)
    .option('--scale <f>', `table sizes = Kaggle's × f, at least min(K, 10) (1 = full Kaggle, 33.8M rows)`, floatArg('--scale', 0, 4, true), DEFAULT_SCALE)
    .option('--days <d>', 'days the rows are split into, in file order (DLRM divmod sizes)', intArg('--days', 1, 1000), DEFAULT_DAYS)
    .option('--drift <x>', 'fraction of popular values (rank < 1000) whose weight is re-drawn each day', floatArg('--drift', 0, 1), 0)
    .option('--ctr <p>', 'target click-through rate', floatArg('--ctr', 0.01, 0.99), DEFAULT_CTR)
    .option('--auc <a>', "target Bayes-optimal AUC of the planted model", floatArg('--auc', 0.55, 0.95), DEFAULT_AUC)
    .option('--force', 'regenerate even when an up-to-date output exists')
    .option('--force-clean', 'overwrite an existing --out file that hotcold generate did not write')
    .option('-q, --quiet', 'no progress or summary')
    .action(
      action(async (o: CliOptions) => {
        const r = await generateToFile({ ...o, progress: o.quiet ? quietSink : undefined });
        if (!o.quiet) process.stdout.write(`${formatSummary(r.sidecar, o.out, r.reused)}\n`);
      }),
    );
}
