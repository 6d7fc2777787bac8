/** `hotcold predict` and `hotcold evaluate`. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { SplitName } from '../../../datasets/preprocessed.js';
import { action, intArg } from '../../../pipeline/cli.js';
import type { EngineKind } from '../engine/engine.js';
import { oneClassWarning } from '../metrics.js';
import type { ScoreOptions } from './index.js';

interface CliOptions {
  run?: string;
  checkpoint?: string;
  initial?: boolean;
  data?: string;
  split?: SplitName;
  input?: string;
  batchSize: number;
  engine: string;
  threads: number;
  workers: number;
  /** commander's negatable --no-label: false when given */
  label: boolean;
  onBadLine: 'error' | 'skip';
  out?: string;
  json?: boolean;
}

const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

function modelOptions(c: Command): Command {
  return c
    .option('--run <dir>', 'train run directory (its final model)')
    .option('--checkpoint <dir>', 'checkpoint directory (its newest valid version)')
    .option('--initial', 'the weights before step 0 instead of the trained ones')
    .option('--data <dir>', 'preprocessed dataset the model was trained on (default: the one the run recorded)')
    .option('--split <name>', 'score this split of --data: train, val or test', (v: string) => {
      if (!SPLITS.includes(v as SplitName)) throw new InvalidArgumentError(`--split must be one of ${SPLITS.join(', ')}, got '${v}'`);
      return v as SplitName;
    })
    .option('--input <file>', 'score a raw file (Criteo TSV, CSV with header, .gz, Parquet; Avazu train.csv / test.csv) through the dataset\'s vocabulary instead')
    .option('--no-label', 'the raw --input file has no label column (Kaggle\'s test.txt: I1..I13, C1..C26; Avazu\'s test.csv: no click); detected by its field count or header when not given')
    .option('--on-bad-line <mode>', 'raw input: error | skip', (v: string) => {
      if (v !== 'error' && v !== 'skip') throw new InvalidArgumentError(`--on-bad-line must be error or skip, got '${v}'`);
      return v;
    }, 'error')
    .option('--batch-size <n>', 'rows per forward pass', intArg('--batch-size', 1), 8192)
    .option('--engine <kind>', 'dense engine: auto, ts or blas', 'auto')
    .option('--threads <n>', 'OpenBLAS threads (more than 1 changes the last bits of some probabilities)', intArg('--threads', 1, 256), 1)
    .option('--workers <n>', 'scoring threads, one OpenBLAS thread each (same output for any number; 2 on an idle 2-core machine)', intArg('--workers', 1, 64), 1);
}

function scoreOptions(o: CliOptions): ScoreOptions {
  const { label, ...rest } = o;
  return { ...rest, engine: o.engine as EngineKind, noLabel: label === false };
}

const fmt = (x: number | undefined): string => (x === undefined ? '—' : Number.isNaN(x) ? 'NaN' : x.toFixed(6));

/** Register `hotcold predict` and `hotcold evaluate`. */
export function register(program: Command): void {
  modelOptions(program.command('predict').description('per-row click probabilities of a trained model on a split or a raw file → CSV (or .parquet) row,label,probability'))
    .requiredOption('--out <file>', 'output file: CSV, or Parquet when it ends in .parquet')
    .action(
      action(async (o: CliOptions) => {
        const r = await (await import('./index.js')).runPredict({ ...scoreOptions(o), out: o.out! });
        process.stderr.write(`predict: ${r.rows} rows of ${r.input} in ${r.sec.toFixed(2)}s (${Math.round(r.rows / Math.max(r.sec, 1e-9))} rows/s) with the ${r.source}\n`);
        process.stdout.write(`${o.out}\n`);
      }),
    );
  modelOptions(program.command('evaluate').description('every metric of a trained model on a split or a raw file: AUC, AP, logloss, accuracy, NE (training CTR and split CTR)'))
    .option('--json', 'print the metrics as JSON')
    .action(
      action(async (o: CliOptions) => {
        const r = await (await import('./index.js')).runEvaluate(scoreOptions(o));
        const m = r.metrics;
        const warn = oneClassWarning(o.split ?? 'input', m);
        if (warn) process.stderr.write(`evaluate: ${warn}\n`);
        if (o.json) {
          process.stdout.write(JSON.stringify({ source: r.source, input: r.input, ...m }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) + '\n');
          return;
        }
        process.stdout.write(
          `${r.input} (${m.rows} rows, CTR ${fmt(m.ctr)}), ${r.source}:\n` +
            `  auc ${fmt(m.auc)}  ap ${fmt(m.ap)}  logloss ${fmt(m.logloss)}  accuracy ${fmt(m.accuracy)}\n` +
            `  ne ${fmt(m.ne)} (by training CTR ${fmt(m.trainCtr)})  ne-split-ctr ${fmt(m.neSplitCtr)}\n`,
        );
      }),
    );
}
