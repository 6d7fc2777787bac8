/**
 * `hotcold train`: the command line over {@link train}. Config flows defaults → --config
 * file → --set key=value (and --seed N, a shortcut for --set seed=N).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { action, collect, floatArg, intArg } from '../../pipeline/cli.js';
import { DEFAULT_FLAT_BUDGET, DEFAULT_FULL_EVERY } from './checkpoint/defaults.js';
import type { EngineKind } from './engine/engine.js';

interface TrainCliOptions {
  config?: string;
  data: string;
  hot?: string;
  out: string;
  set: string[];
  engine: string;
  threads: number | 'auto';
  dataWorker?: boolean;
  seed?: number;
  maxAucLoss?: number;
  rechecks?: number;
  quiet?: boolean;
  checkpointEvery: number;
  checkpointEverySec: number;
  checkpointDir?: string;
  checkpointThreshold: number;
  fullEvery: number;
  flatBudget: number;
  log?: string;
  logEvery: number;
  resume?: boolean;
  forceClean?: boolean;
  force?: boolean;
  coldStore: string;
  workers?: number;
}

/** Register `hotcold train`. */
export function register(program: Command): void {
  program
    .command('train')
    .description('train a DLRM (baseline | fae | slipstream) and write metrics.json, log.jsonl and config.json to --out')
    .option('--config <file>', 'train config JSON (configs/baseline.json, fae.json, slipstream.json, *-small.json); defaults when absent')
    .requiredOption('--data <dir>', 'preprocessed dataset (output of `hotcold preprocess`)')
    .option('--hot <dir>', 'segregated dataset (output of `hotcold segregate`), needed by fae and slipstream')
    .requiredOption('--out <dir>', 'run directory')
    .option('--set <key=value>', 'override a config key, e.g. --set train.batchSize=1024 (repeatable)', collect, [])
    .option('--engine <kind>', 'dense engine: auto (blas when built), ts or blas', 'auto')
    .option('--threads <n>', 'OpenBLAS threads for the dense layers, or auto: min(2, cores), the second core shared with the data worker (sweeps pass 1 per job)', threadsArg, 'auto')
    .option('--data-worker <on|off>', 'assemble batches (shard decode, shuffles) on a worker thread, ahead of the trainer; off: in the training thread (same batches) (default: on)', onOffArg('--data-worker'))
    .option('--seed <n>', 'shortcut for --set seed=N', intArg('--seed', 0))
    .option('--max-auc-loss <eps>', 'accuracy-budgeted Slipstream: shortcut for --set slipstream.maxAucLoss=EPS (D moves online to stay within EPS of a no-drop reference)', floatArg('--max-auc-loss', 0))
    .option('--rechecks <n>', 'accuracy-budgeted Slipstream: shortcut for --set slipstream.rechecks=N (re-check windows per epoch)', intArg('--rechecks', 1))
    .option('--workers <k>', 'data-parallel worker threads of this run (shortcut for --set parallel.workers=K; see stages/train/parallel/README.md)', intArg('--workers', 1, 16))
    .option('--quiet', 'no progress or evaluation lines')
    .option('--checkpoint-every <n>', 'checkpoint every N batches (0 = off)', intArg('--checkpoint-every', 0), 0)
    .option('--checkpoint-every-sec <s>', 'checkpoint every S seconds (0 = off)', floatArg('--checkpoint-every-sec', 0), 0)
    .option('--checkpoint-dir <dir>', 'checkpoint directory (default <out>/checkpoints)')
    .option('--checkpoint-threshold <t>', 'incremental checkpoints store rows with ‖Δ‖∞ > T (0 = exact)', floatArg('--checkpoint-threshold', 0), 0)
    .option('--full-every <k>', 'a full checkpoint after K increments', intArg('--full-every', 0), DEFAULT_FULL_EVERY)
    .option('--flat-budget <f>', 'a full checkpoint once the merged (flat) increment exceeds F × the base: bounds recovery time (0 = no bound)', floatArg('--flat-budget', 0), DEFAULT_FLAT_BUDGET)
    .option('--log <addr>', 'continuous update log on Redis Streams (redis://host:port[?prefix=P]): updated rows every --log-every steps, a marker at each checkpoint; --resume replays it')
    .option('--log-every <n>', 'steps between update-log entries (0 = the checkpoint interval)', intArg('--log-every', 0), 0)
    .option('--resume', 'continue from the newest checkpoint (bit-identical at threshold 0)')
    .option('--force', 'train again even when --out holds a finished run with the same config and data (it is reused otherwise)')
    .option('--force-clean', 'replace an --out / --checkpoint-dir that holds files not written by hotcold train (never /, home, the checkout or an input)')
    .option('--cold-store <addr>', 'where the cold embedding rows live: memory, redis://host:port, redis-cluster://h:p,h:p,… or redis-parity://h:p,…?data=K&parity=R (ECRec parity; see stages/train/store/README.md) (?prefix=P; default prefix from --out)', 'memory')
    .action(
      action(async (o: TrainCliOptions) => {
        const sets = [
          ...o.set, ...(o.seed === undefined ? [] : [`seed=${o.seed}`]),
          ...(o.maxAucLoss === undefined ? [] : [`slipstream.maxAucLoss=${o.maxAucLoss}`]), ...(o.rechecks === undefined ? [] : [`slipstream.rechecks=${o.rechecks}`]),
          ...(o.workers === undefined ? [] : [`parallel.workers=${o.workers}`]),
        ];
        // the trainer (zod, apache-arrow, the addon) loads only when the command runs, so `--help` starts fast
        const [{ loadTrainConfig }, { train }] = await Promise.all([import('./config.js'), import('./train.js')]);
        const config = loadTrainConfig(o.config, sets);
        const m = await train({
          config, data: o.data, hot: o.hot, out: o.out, engine: o.engine as EngineKind, threads: o.threads, dataWorker: o.dataWorker ?? true, quiet: o.quiet,
          resume: o.resume, forceClean: o.forceClean, force: o.force, coldStore: o.coldStore,
          checkpoint: {
            every: o.checkpointEvery, everySec: o.checkpointEverySec, dir: o.checkpointDir,
            threshold: o.checkpointThreshold, fullEvery: o.fullEvery, flatBudget: o.flatBudget > 0 ? o.flatBudget : Infinity,
            ...(o.log ? { log: { address: o.log, every: o.logEvery > 0 ? o.logEvery : Math.max(1, o.checkpointEvery) } } : {}),
          },
        });
        const val = m.val ? `val auc ${m.val.auc.toFixed(4)}, ` : '';
        const cs = m.coldStore;
        const store = cs
          ? `; cold store ${cs.address}: ${cs.roundTrips} round trips, ${cs.rowsRead} rows read, ${cs.rowsWritten} written, ${(cs.waitSec).toFixed(1)}s waited, ${(100 * cs.hotShare).toFixed(1)}% of lookups hot`
          : '';
        const b = m.slipstream?.budget;
        const budget = b ? `; budget ε ${b.maxAucLoss}: D ${b.startDrop} → ${b.finalDrop} over ${b.windows.length} re-checks` : '';
        const drop = m.slipstream ? `, dropped ${(100 * m.slipstream.dropFraction).toFixed(1)}% of hot inputs (T ${m.slipstream.threshold.toExponential(3)})${budget}` : '';
        process.stdout.write(
          `${m.mode}: ${val}test auc ${m.test.auc.toFixed(4)}, logloss ${m.test.logloss.toFixed(4)}, accuracy ${m.test.accuracy.toFixed(4)}; ` +
            `${Math.round(m.samplesPerSec)} samples/s (${m.engine})${drop}${store}\n${o.out}/metrics.json\n`,
        );
      }),
    );

  program
    .command('calibrate')
    .description("measure this machine's unit costs (per dense FLOP, embedding row, Slipstream lookup, byte copied) on real batches; sweeps run it to model time from counted work")
    .option('--config <file>', 'train config JSON (model, batch size, optimizers)')
    .requiredOption('--data <dir>', 'preprocessed dataset')
    .option('--hot <dir>', 'segregated dataset (hot-table costs)')
    .requiredOption('--out <file>', 'calibration JSON to write')
    .option('--set <key=value>', 'override a config key (repeatable)', collect, [])
    .option('--engine <kind>', 'dense engine: auto, ts or blas', 'auto')
    .option('--threads <n>', 'OpenBLAS threads', intArg('--threads', 1, 256), 1)
    .option('--batches <n>', 'batches of real data measured', intArg('--batches', 1, 1000), 6)
    .option('--reps <n>', 'repetitions over those batches', intArg('--reps', 1, 1000), 5)
    .action(
      action(async (o: { config?: string; data: string; hot?: string; out: string; set: string[]; engine: string; threads: number; batches: number; reps: number }) => {
        const [{ loadTrainConfig }, { calibrateToFile }] = await Promise.all([import('./config.js'), import('./calibrate.js')]);
        const config = loadTrainConfig(o.config, o.set);
        const c = await calibrateToFile({ config, data: o.data, hot: o.hot, engine: o.engine as EngineKind, threads: o.threads, batches: o.batches, reps: o.reps }, o.out);
        const line = Object.entries(c.costs).map(([k, v]) => `${k} ${v.toExponential(2)}s`).join(', ');
        process.stdout.write(`calibrate (${c.engine}, ${c.threads} thread(s), ${c.cpuModel}): ${line}\n${o.out}\n`);
      }),
    );
}

/** `--threads`: an integer in [1, 256] or 'auto'. */
function threadsArg(v: string): number | 'auto' {
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError(`--threads must be auto or an integer in [1, 256], got '${v}'`);
  return n;
}

/** An on/off flag value. */
function onOffArg(name: string): (v: string) => boolean {
  return (v) => {
    if (v === 'on') return true;
    if (v === 'off') return false;
    throw new InvalidArgumentError(`${name} must be on or off, got '${v}'`);
  };
}
