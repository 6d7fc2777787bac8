/**
 * `npm run bench:workers -- --redis`: K processes over the Redis tier (parallel.transport redis,
 * stages/train/parallel/remote/) against one process on the same Redis tier, same data, seed,
 * model, native kernels and 1 BLAS thread per process, in one invocation, on a local
 * redis-server started for the bench (loopback, persistence off, stopped by pid):
 *
 *     baseline  1 process, --cold-store redis (the single-writer redis backend)
 *     K procs   rank 0 = train() in this process, ranks 1 … K−1 = `hotcold worker --join` children
 *     table     hotBound 0 / 10 / 100 × partition random / graph: samples/s, vs 1 process,
 *               bytes exchanged through the store, ΔAUC against the 1-process run, staleness, cut,
 *               seconds rank 0 waited at barriers, and CPU seconds per 1M samples (rank 0's steps +
 *               the workers' commands + the redis-server: the load-independent figure on a shared box)
 *
 * Env: as bench/workers.ts (BENCH_WORKERS_ROWS, BENCH_WORKERS_MODEL, BENCH_WORKERS_MODE, BENCH_WORKERS_K, BENCH_TRAIN_DIR).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunMetrics } from '../pipeline/run-metrics.js';
import { loadTrainConfig } from '../stages/train/config.js';
import { train } from '../stages/train/train.js';
import { REDIS_MISSING, startRedis } from '../test/fixtures/redis.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(process.env.BENCH_WORKERS_ROWS ?? 400_000);
const DIR = process.env.BENCH_TRAIN_DIR ?? join(tmpdir(), 'hotcold-bench-train');
const MODEL = process.env.BENCH_WORKERS_MODEL ?? 'small';
const MODE = process.env.BENCH_WORKERS_MODE ?? 'fae';
const K = Number(process.env.BENCH_WORKERS_K ?? 2);
const ENGINE = (process.env.BENCH_WORKERS_ENGINE ?? 'blas') as 'blas' | 'ts';

const log = (s: string): void => void process.stdout.write(`${s}\n`);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

export async function benchRedis(): Promise<void> {
  if (REDIS_MISSING) {
    log(`bench:workers --redis: ${REDIS_MISSING}`);
    process.exitCode = 1;
    return;
  }
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  log(`bench:workers --redis — ${ROWS} generated rows, model ${MODEL}, mode ${MODE}, K = ${K} processes over one local redis-server, engine ${ENGINE} (1 thread per process)`);
  log(`  CPU ${cpus()[0]?.model ?? '?'} × ${cpus().length}; load average ${load()} (1, 5, 15 min); OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS}`);
  const data = await prepareBenchData(join(DIR, `rows-${ROWS}`), ROWS, 7, 64 << 20, (s) => log(`  ${s}`));
  log(`  hot inputs ${(100 * data.hotInputShare).toFixed(1)}%`);
  const redis = await startRedis();
  const preset = MODEL === 'kaggle' ? `configs/${MODE}.json` : `configs/${MODE}-small.json`;
  const hot = MODE === 'baseline' ? undefined : data.hotDir;
  let runNo = 0;
  const runOne = async (name: string, sets: string[], procs: number): Promise<RunMetrics & { cpuPerM: number }> => {
    const config = loadTrainConfig(preset, ['train.evalEvery=0', 'train.saveModel=false', ...sets, ...(procs > 1 ? [`parallel.workers=${procs}`, 'parallel.transport=redis', 'parallel.joinTimeoutSec=120'] : [])]);
    const out = join(DIR, 'runs-workers-redis', name);
    const store = `${redis.address}?prefix=bench-wr-${runNo++}`;
    const run = train({ config, data: data.dataDir, hot, out, engine: ENGINE, threads: 1, quiet: true, force: true, coldStore: store });
    const redis0 = redisCpu();
    const kids = Array.from({ length: procs - 1 }, () => new Promise<number>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', 'bin/hotcold.ts', 'worker', '--join', out, '--cold-store', store, '--engine', ENGINE, '--threads', '1', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let so = '';
      p.stdout!.on('data', (b: Buffer) => { so += b.toString(); });
      p.once('error', reject);
      p.once('exit', (code) => (code === 0 ? resolve(Number(/([\d.]+) CPU-s in its commands/.exec(so)?.[1] ?? NaN)) : reject(new Error(`worker exited with ${code}`))));
    }));
    const [m, ...cpu] = await Promise.all([run, ...kids]);
    const rm = m as RunMetrics;
    // CPU of the training: rank 0's steps + every worker's commands + the redis-server over the run
    const total = (rm.time.trainCpuSec ?? NaN) + (cpu as number[]).reduce((a, b) => a + b, 0) + (redisCpu() - redis0);
    return Object.assign(rm, { cpuPerM: (total / rm.samplesTrained) * 1e6 });
  };
  /** utime + stime of the redis-server (seconds) */
  const redisCpu = (): number => {
    const f = readFileSync(`/proc/${redis.nodes[0]!.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  try {
    const one = await runOne('p1', [], 1);
    const s1 = one.samplesPerSec;
    const auc1 = one.test.auc;
    const cs = one.coldStore;
    log('');
    log(`1 process, redis cold store: ${Math.round(s1)} samples/s, train ${one.time.trainSec.toFixed(1)} s, CPU (trainer steps + redis-server) ${one.cpuPerM.toFixed(1)} s per 1M samples, test AUC ${auc1.toFixed(4)}${cs ? `; store: ${cs.roundTrips} round trips, ${((cs.bytesRead + cs.bytesWritten) / 2 ** 20).toFixed(1)} MiB` : ''}`);
    log(`  load average ${load()}`);
    log('');
    log(`K = ${K} processes over the store (ΔAUC against the 1-process run; bytes = dense + cold rows to their owner + hot lists / reconciles, posted and read)`);
    log('hotBound  partition  samples/s  vs 1 proc  CPU-s/1M (vs 1)  exchanged MiB  dense MiB  sparse MiB  hot MiB  ΔAUC      staleness mean/max  barrier s  cut graph/random');
    for (const partition of ['random', 'graph'] as const) {
      for (const hb of [0, 10, 100]) {
        const m = await runOne(`p${K}-${partition}-hb${hb}`, [`parallel.hotBound=${hb}`, `parallel.partition=${partition}`], K);
        const p = m.parallel!;
        const cut = p.cut ? `${(100 * p.cut.graph).toFixed(1)}% / ${(100 * p.cut.random).toFixed(1)}%` : '';
        const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
        log(
          `${String(hb).padStart(8)}  ${partition.padEnd(9)}  ${Math.round(m.samplesPerSec).toString().padStart(9)}  ${`${(m.samplesPerSec / s1).toFixed(2)}×`.padStart(9)}  ${`${m.cpuPerM.toFixed(1)} (${(m.cpuPerM / one.cpuPerM).toFixed(2)}×)`.padStart(15)}  ${mib(p.bytesExchanged).padStart(13)}  ${mib(p.denseBytes).padStart(9)}  ${mib(p.sparseBytes).padStart(10)}  ${mib(p.hotBytes).padStart(7)}  ${(m.test.auc - auc1 >= 0 ? '+' : '') + (m.test.auc - auc1).toFixed(5)}  ${`${p.staleness.mean.toFixed(1)} / ${p.staleness.max}`.padStart(18)}  ${(p.barrierSec ?? 0).toFixed(1).padStart(9)}  ${cut}`,
        );
      }
    }
    log(`  load average at the end ${load()}`);
  } finally {
    await redis.stop();
  }
}
