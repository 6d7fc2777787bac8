/**
 * `npm run bench:workers`: K data-parallel workers (stages/train/parallel/) against one worker,
 * same data, seed, model, native kernels and 1 BLAS thread per worker, in one invocation.
 *
 *     1. 1 worker vs 2 workers at bound 0 (BENCH_REPEAT runs each, interleaved): samples/s
 *        (median), the ratio (target ≥ 1.7× on 2 idle cores) and the test-AUC difference (target ≤ 0.001)
 *     1b. the hardware peer (bench/fp-peer.ts): the model's MLP GEMMs on the project's OpenBLAS
 *        addon (1 thread, per-worker batch B/K), one runner alone vs two at once (worker threads,
 *        and child processes), a 1024³ sgemm and an integer loop the same way: the ratios bound what 2 workers
 *        can reach on this machine (medians of BENCH_REPEAT; BENCH_PEER_SEC seconds per run, default 2)
 *     2. the trade-off table: hotBound 0 / 10 / 100 × partition random / graph at K = 2:
 *        samples/s, bytes exchanged, ΔAUC against the 1-worker run, measured staleness, cut
 *
 * Prints the CPU, the core count and the load average before and after (a shared machine moves
 * wall-time figures by ±30 % or more; the ratios of runs made back to back are what to read).
 *
 * `npm run bench:workers -- --redis`: K processes over the Redis tier instead (bench/workers-redis.ts).
 *
 * Env: BENCH_WORKERS_ROWS (default 400000), BENCH_WORKERS_MODEL (small | kaggle, default small),
 *      BENCH_WORKERS_MODE (fae | baseline | slipstream, default fae), BENCH_WORKERS_K (default 2),
 *      BENCH_REPEAT (default 1), BENCH_WORKERS_TABLE (0 = skip the trade-off table),
 *      BENCH_TRAIN_DIR (default os.tmpdir()/hotcold-bench-train; data shared with bench:train)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunMetrics } from '../pipeline/run-metrics.js';
import { loadTrainConfig } from '../stages/train/config.js';
import { blasAvailable } from '../stages/train/engine/engine.js';
import { train } from '../stages/train/train.js';
import { parseArch } from '../stages/train/model/arch.js';
import { gemmJob, measurePeer, type PeerResult } from './fp-peer.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(process.env.BENCH_WORKERS_ROWS ?? 400_000);
const DIR = process.env.BENCH_TRAIN_DIR ?? join(tmpdir(), 'hotcold-bench-train');
const MODEL = process.env.BENCH_WORKERS_MODEL ?? 'small';
const MODE = process.env.BENCH_WORKERS_MODE ?? 'fae';
const K = Number(process.env.BENCH_WORKERS_K ?? 2);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
const TABLE = process.env.BENCH_WORKERS_TABLE !== '0';

const log = (s: string): void => void process.stdout.write(`${s}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

async function runOne(data: { dataDir: string; hotDir: string }, name: string, sets: string[]): Promise<RunMetrics> {
  const preset = MODEL === 'kaggle' ? `configs/${MODE}.json` : `configs/${MODE}-small.json`;
  const config = loadTrainConfig(preset, ['train.evalEvery=0', 'train.saveModel=false', ...sets]);
  return train({ config, data: data.dataDir, hot: MODE === 'baseline' ? undefined : data.hotDir, out: join(DIR, 'runs-workers', name), engine: (process.env.BENCH_WORKERS_ENGINE ?? 'blas') as 'blas' | 'ts', threads: 1, quiet: true, force: true });
}

/**
 * The peer: two independent 1-worker runs at the same time (child processes): what this machine gives two threads now.
 * Configured as the in-process runs (batches in the training thread, 1 BLAS thread), and trained afresh (`--force`:
 * a finished run in the same --out would otherwise be reused, and its old metrics read back).
 */
async function concurrentPair(data: { dataDir: string; hotDir: string }): Promise<RunMetrics[]> {
  const preset = MODEL === 'kaggle' ? `configs/${MODE}.json` : `configs/${MODE}-small.json`;
  const one = (i: number): Promise<RunMetrics> => new Promise((resolve, reject) => {
    const out = join(DIR, 'runs-workers', `pair-${i}`);
    const args = ['--import', 'tsx', 'bin/hotcold.ts', 'train', '--config', preset, '--data', data.dataDir, ...(MODE === 'baseline' ? [] : ['--hot', data.hotDir]),
      '--out', out, '--engine', 'blas', '--threads', '1', '--data-worker', 'off', '--quiet', '--force', '--set', 'train.evalEvery=0', '--set', 'train.saveModel=false', '--set', `seed=${1 + i}`];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics) : reject(new Error(`peer run ${i} exited with ${code}`))));
  });
  return Promise.all([one(0), one(1)]);
}

/**
 * The other use of the second core: one worker as a lone `hotcold train` runs by default (child
 * process: `--threads auto` gives its GEMMs the second core, batches on the data worker thread).
 */
async function lonePeer(data: { dataDir: string; hotDir: string }): Promise<RunMetrics> {
  const preset = MODEL === 'kaggle' ? `configs/${MODE}.json` : `configs/${MODE}-small.json`;
  const out = join(DIR, 'runs-workers', 'lone-auto');
  const args = ['--import', 'tsx', 'bin/hotcold.ts', 'train', '--config', preset, '--data', data.dataDir, ...(MODE === 'baseline' ? [] : ['--hot', data.hotDir]),
    '--out', out, '--engine', 'blas', '--threads', 'auto', '--data-worker', 'on', '--quiet', '--force', '--set', 'train.evalEvery=0', '--set', 'train.saveModel=false'];
  const env = { ...process.env };
  delete env.OPENBLAS_NUM_THREADS; // this process pinned it to 1 for the in-process runs
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    p.once('error', reject);
    p.once('exit', (code) => (code === 0 ? resolve(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics) : reject(new Error(`lone --threads auto run exited with ${code}`))));
  });
}

/** The FP / integer peer beside the 2-workers ratio (see fp-peer.ts). */
async function hardwarePeer(workersRatio: number): Promise<void> {
  const preset = loadTrainConfig(MODEL === 'kaggle' ? `configs/${MODE}.json` : `configs/${MODE}-small.json`, []);
  const shape = parseArch(preset.model.mlpBot, preset.model.mlpTop, preset.model.dim);
  const Bk = Math.ceil(preset.train.batchSize / K);
  const job = gemmJob(shape.bot, shape.top, Bk);
  const sec = Number(process.env.BENCH_PEER_SEC ?? 2);
  const fmt = (r: PeerResult, unit: string): string =>
    `alone ${r.alone.toFixed(1)} ${unit}; two at once ${r.pair[0].toFixed(1)} + ${r.pair[1].toFixed(1)} = ${r.pairSum.toFixed(1)} ${unit} = ${r.ratio.toFixed(2)}× (per repeat ${r.ratios.map((x) => x.toFixed(2)).join(', ')})`;
  log('');
  log(`hardware peer (median of ${REPEAT}, ${sec} s per run; load average ${load()}):`);
  const layers = job.layers.map(([i, o]) => `${i}→${o}`).join(', ');
  const gt = await measurePeer(job, 'threads', sec, REPEAT);
  log(`  sgemm, the model's MLP GEMMs (${layers}; batch ${Bk} = B/K; forward + both gradients; OpenBLAS 1 thread), worker threads: ${fmt(gt, 'GFLOP/s')}`);
  const gp = await measurePeer(job, 'processes', sec, REPEAT);
  log(`  the same, child processes: ${fmt(gp, 'GFLOP/s')}`);
  const big = await measurePeer({ kind: 'gemm', layers: [[1024, 1024]], batch: 1024 }, 'threads', sec, REPEAT);
  log(`  sgemm 1024³ (compute-bound reference, 2 GEMMs per unit), worker threads: ${fmt(big, 'GFLOP/s')}`);
  const sc = await measurePeer({ kind: 'scalar', layers: [], batch: 0 }, 'threads', sec, REPEAT);
  log(`  integer hash loop (no FP, no memory), worker threads: ${fmt(sc, 'M it/s')}`);
  const fp = Math.max(gt.ratio, gp.ratio);
  const cap = Math.max(fp, sc.ratio);
  log(`  ceiling while these ran: 2 threads running the model's GEMMs got ${fp.toFixed(2)}× one (the better of threads and processes; 1024³: ${big.ratio.toFixed(2)}×), ` +
    `2 integer-bound ones ${sc.ratio.toFixed(2)}×; a worker's step mixes both kinds of work (GEMMs, the interaction; gathers, scatters, the split), ` +
    `so while the machine gives two threads this much, 2 workers cannot exceed about ${cap.toFixed(2)}× one — ${K} workers measured ${workersRatio.toFixed(2)}× above` +
    (K === 2 ? `, and 1.7× is ${cap < 1.7 ? 'beyond' : 'within'} that ceiling` : ''));
  log(`  load average now ${load()}`);
}

async function main(): Promise<void> {
  // one BLAS thread per worker and for the lone run, OpenBLAS's pool sized to it before the addon loads (see parallel/index.ts sizeBlasPool)
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  if (!blasAvailable()) {
    log('bench:workers: the BLAS addon is not built (npm run build:addon); the target is measured with the native kernels');
    process.exitCode = 1;
    return;
  }
  log(`bench:workers — ${ROWS} generated rows, model ${MODEL}, mode ${MODE}, K = ${K}, engine blas (1 thread per worker), native kernels`);
  log(`  CPU ${cpus()[0]?.model ?? '?'} × ${cpus().length}; load average ${load()} (1, 5, 15 min); OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS}`);
  const data = await prepareBenchData(join(DIR, `rows-${ROWS}`), ROWS, 7, 64 << 20, (s) => log(`  ${s}`));
  log(`  hot inputs ${(100 * data.hotInputShare).toFixed(1)}%; Bayes test AUC ${data.bayesTest?.auc.toFixed(4) ?? '?'}`);

  const one: RunMetrics[] = [];
  const many: RunMetrics[] = [];
  for (let r = 0; r < REPEAT; r++) {
    one.push(await runOne(data, `k1-${r}`, []));
    many.push(await runOne(data, `k${K}-${r}`, [`parallel.workers=${K}`]));
  }
  const s1 = median(one.map((m) => m.samplesPerSec));
  const sK = median(many.map((m) => m.samplesPerSec));
  const auc1 = one[0]!.test.auc;
  const aucK = many[0]!.test.auc;
  log('');
  // CPU seconds of the training steps (the whole process: every worker thread and the main thread)
  const cpu = (ms: RunMetrics[]): number => median(ms.map((m) => ((m.time.trainCpuSec ?? NaN) / m.samplesTrained) * 1e6));
  log(`workers  samples/s (median of ${REPEAT})  train s  CPU-s per 1M samples  test AUC`);
  log(`1        ${Math.round(s1).toString().padStart(10)}  ${median(one.map((m) => m.time.trainSec)).toFixed(1).padStart(21)}  ${cpu(one).toFixed(1).padStart(20)}  ${auc1.toFixed(4)}`);
  log(`${String(K).padEnd(8)} ${Math.round(sK).toString().padStart(10)}  ${median(many.map((m) => m.time.trainSec)).toFixed(1).padStart(21)}  ${cpu(many).toFixed(1).padStart(20)}  ${aucK.toFixed(4)}`);
  log(`ratio ${K} vs 1 workers: ${(sK / s1).toFixed(2)}× samples/s (target ≥ 1.7× on ${K} idle cores); |ΔAUC| ${Math.abs(aucK - auc1).toFixed(5)} (target ≤ 0.001)`);
  log(`  CPU per sample ${K} vs 1 workers: ${(cpu(many) / cpu(one)).toFixed(2)}× — on ${K} otherwise idle cores the samples/s ratio is at most ${(K * cpu(one) / cpu(many)).toFixed(2)}× (K / that)`);
  const pair = await concurrentPair(data);
  const pairSum = pair[0]!.samplesPerSec + pair[1]!.samplesPerSec;
  log(`peer: two independent 1-worker runs at once (child processes, seeds 1 and 2): ${Math.round(pair[0]!.samplesPerSec)} + ${Math.round(pair[1]!.samplesPerSec)} = ${Math.round(pairSum)} samples/s = ${(pairSum / s1).toFixed(2)}× the lone run — the most two threads get on this machine now; ${K} workers reached ${((sK / s1) / (pairSum / s1)).toFixed(2)} of it`);
  // two threads at once cost more CPU per sample even when they share nothing (caches, memory bandwidth, a busy host)
  log(`  CPU per sample of the pair vs the lone run: ${(cpu(pair) / cpu(one)).toFixed(2)}× (the ${K} workers: ${(cpu(many) / cpu(one)).toFixed(2)}×)`);
  const lone = await lonePeer(data);
  log(`the default lone run instead (1 worker, child process, --threads auto = ${lone.dataLoad?.threads ?? '?'} OpenBLAS threads, batches on the data worker): ${Math.round(lone.samplesPerSec)} samples/s = ${(lone.samplesPerSec / s1).toFixed(2)}× the 1-worker run; ${K} workers ${(sK / lone.samplesPerSec).toFixed(2)}× it`);
  log(`  load average now ${load()}`);
  await hardwarePeer(sK / s1);

  if (!TABLE) return;
  log('');
  log(`trade-off at K = ${K} (ΔAUC against the 1-worker run; bytes = dense + sparse-to-owner + hot reconcile traffic)`);
  log('hotBound  partition  samples/s  vs 1 worker  exchanged MiB  hot MiB  ΔAUC      staleness mean/max  cut graph/random');
  for (const partition of ['random', 'graph'] as const) {
    for (const hb of [0, 10, 100]) {
      const m = hb === 0 && partition === 'random' ? many[0]! : await runOne(data, `k${K}-${partition}-hb${hb}`, [`parallel.workers=${K}`, `parallel.hotBound=${hb}`, `parallel.partition=${partition}`]);
      const p = m.parallel!;
      const cut = p.cut ? `${(100 * p.cut.graph).toFixed(1)}% / ${(100 * p.cut.random).toFixed(1)}%` : '';
      log(
        `${String(hb).padStart(8)}  ${partition.padEnd(9)}  ${Math.round(m.samplesPerSec).toString().padStart(9)}  ${`${(m.samplesPerSec / s1).toFixed(2)}×`.padStart(11)}  ${(p.bytesExchanged / 2 ** 20).toFixed(1).padStart(13)}  ${(p.hotBytes / 2 ** 20).toFixed(1).padStart(7)}  ${(m.test.auc - auc1 >= 0 ? '+' : '') + (m.test.auc - auc1).toFixed(5)}  ${`${p.staleness.mean.toFixed(1)} / ${p.staleness.max}`.padStart(18)}  ${cut}`,
      );
    }
  }
  log(`  load average at the end ${load()}`);
}

// `--redis`: the same table for K processes over the Redis tier (bench/workers-redis.ts)
if (process.argv.includes('--redis')) await (await import('./workers-redis.js')).benchRedis();
else await main();
