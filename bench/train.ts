/**
 * `npm run bench:train`: training throughput of baseline / fae / slipstream on the Kaggle
 * reference model (13-512-256-64-16 / 512-256-1, dim 16, batch 2048) and the small preset
 * (13-64-16 / 64-1), blas vs ts engine, on a generated planted data set, in one run.
 *
 * Per row: samples/s of the training steps (median of BENCH_REPEAT runs), end-to-end train
 * time (steps + Slipstream overhead), its ratio to baseline's, test AUC, host↔device bytes.
 * The ts engine runs a capped number of batches (it is there to compare speed, not accuracy).
 *
 * Env: BENCH_TRAIN_ROWS (default 400000), BENCH_TRAIN_DIR (default os.tmpdir()/hotcold-bench-train),
 *      BENCH_REPEAT (default 1), BENCH_ENGINES (default "blas,ts"), BENCH_MODELS (default "kaggle,small"),
 * The blas runs train one full epoch, so their test AUC is compared with the generator's
 * Bayes-optimal AUC (BENCH_TRAIN_ROWS=2000000 for the issue's 2M-row numbers).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTrainConfig } from '../stages/train/config.js';
import { blasAvailable } from '../stages/train/engine/engine.js';
import { train } from '../stages/train/train.js';
import type { RunMetrics } from '../pipeline/run-metrics.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(process.env.BENCH_TRAIN_ROWS ?? 400_000);
const DIR = process.env.BENCH_TRAIN_DIR ?? join(tmpdir(), 'hotcold-bench-train');
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
const ENGINES = (process.env.BENCH_ENGINES ?? 'blas,ts').split(',') as ('blas' | 'ts')[];
const MODELS = (process.env.BENCH_MODELS ?? 'kaggle,small').split(',');
const MODES = ['baseline', 'fae', 'slipstream'] as const;
/** batches the ts engine trains per run (it is slow on the Kaggle MLPs) */
const TS_BATCHES: Record<string, number> = { kaggle: 8, small: 40 };

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (s: string): void => void process.stdout.write(`${s}\n`);

interface Row { model: string; engine: string; mode: string; sps: number; sec: number; auc: number; mib: number; drop: number | null; batches: number }

async function runOne(model: string, engine: 'blas' | 'ts', mode: string, data: { dataDir: string; hotDir: string }, sets: string[]): Promise<RunMetrics[]> {
  const preset = model === 'kaggle' ? `configs/${mode}.json` : `configs/${mode}-small.json`;
  const extra = engine === 'ts' ? [`train.maxBatches=${TS_BATCHES[model]}`] : [];
  const out: RunMetrics[] = [];
  for (let r = 0; r < REPEAT; r++) {
    const config = loadTrainConfig(preset, ['train.evalEvery=0', ...extra, ...sets]);
    out.push(await train({ config, data: data.dataDir, hot: data.hotDir, out: join(DIR, 'runs', `${model}-${engine}-${mode}-${r}`), engine, quiet: true, resume: false }));
  }
  return out;
}

function toRow(model: string, engine: string, mode: string, ms: RunMetrics[]): Row {
  const m = ms[0]!;
  return {
    model, engine, mode,
    sps: median(ms.map((x) => x.samplesPerSec)),
    sec: median(ms.map((x) => x.time.trainSec + x.time.slipstreamSec)),
    auc: m.test.auc, mib: m.hostDeviceBytes.total / 2 ** 20, drop: m.slipstream ? m.slipstream.dropFraction : null, batches: m.batches.total,
  };
}

function table(rows: Row[]): void {
  log('model   engine mode        batches  samples/s  train+slip s  vs baseline  test AUC  link MiB  drop');
  for (const r of rows) {
    const base = rows.find((x) => x.model === r.model && x.engine === r.engine && x.mode === 'baseline');
    // blas runs train a full epoch: compare end-to-end time; capped ts runs: compare samples/s
    const ratio = !base ? '' : r.engine === 'blas' ? `${(base.sec / r.sec).toFixed(2)}x` : `${(r.sps / base.sps).toFixed(2)}x sps`;
    log(
      `${r.model.padEnd(7)} ${r.engine.padEnd(6)} ${r.mode.padEnd(11)} ${String(r.batches).padStart(7)} ${Math.round(r.sps).toString().padStart(10)} ${r.sec.toFixed(1).padStart(13)} ${ratio.padStart(12)} ${r.auc.toFixed(4).padStart(9)} ${r.mib.toFixed(0).padStart(9)}  ${r.drop === null ? '' : `${(100 * r.drop).toFixed(1)}%`}`,
    );
  }
}

async function main(): Promise<void> {
  log(`bench:train — ${ROWS} generated rows in ${DIR}; blas addon ${blasAvailable() ? 'built' : 'NOT built (blas rows skipped)'}`);
  const data = await prepareBenchData(join(DIR, `rows-${ROWS}`), ROWS, 7, 64 << 20, (s) => log(`  ${s}`));
  log(`  hot inputs ${(100 * data.hotInputShare).toFixed(1)}%; Bayes test AUC ${data.bayesTest?.auc.toFixed(4) ?? '?'}`);
  const rows: Row[] = [];
  for (const model of MODELS) {
    for (const engine of ENGINES) {
      if (engine === 'blas' && !blasAvailable()) continue;
      for (const mode of MODES) {
        const ms = await runOne(model, engine, mode, data, []);
        rows.push(toRow(model, engine, mode, ms));
        log(`  ${model} ${engine} ${mode}: ${Math.round(rows[rows.length - 1]!.sps)} samples/s`);
      }
    }
  }
  table(rows);
  for (const model of MODELS) {
    const b = rows.find((r) => r.model === model && r.engine === 'blas' && r.mode === 'baseline');
    const t = rows.find((r) => r.model === model && r.engine === 'ts' && r.mode === 'baseline');
    if (b && t) log(`${model}: blas / ts samples/s = ${(b.sps / t.sps).toFixed(2)}x`);
  }
  const bayes = data.bayesTest?.auc ?? NaN;
  log(`accuracy of the full-epoch (blas) runs vs the generator's Bayes-optimal test AUC ${bayes.toFixed(4)}:`);
  for (const r of rows.filter((x) => x.engine === 'blas')) {
    const base = rows.find((x) => x.model === r.model && x.engine === 'blas' && x.mode === 'baseline')!;
    log(`  ${r.model.padEnd(7)} ${r.mode.padEnd(11)} AUC ${r.auc.toFixed(4)}  Bayes − AUC ${(bayes - r.auc).toFixed(4)}  baseline − AUC ${(base.auc - r.auc).toFixed(4)}`);
  }
}

await main();
