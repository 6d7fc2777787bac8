/**
 * `npm run bench:cold-store -- --big` (or `tsx bench/cold-store-big.ts`): tables larger than
 * the process's memory limit train with the redis backend.
 *
 *  - Data: BENCH_BIG_ROWS (default 1M) planted rows generated at cardinality scale 1, i.e. ids
 *    drawn from tables of Kaggle's sizes (datasets/criteo/constants.ts, 33.8M rows over 26
 *    tables), preprocessed, profiled and segregated for dim 64 (64 MiB hot budget). Preprocess
 *    sizes each table by the ids the data holds (≈ 1.25M rows for 1M inputs); the bench then
 *    declares the tables at Kaggle's sizes (a copy of the dataset whose manifest lists
 *    max(Kaggle, seen) rows per table; shards hard-linked): rows no input looks up are still
 *    rows of the model, allocated, initialised and checkpointed like the others, as in a run
 *    over part of the real Kaggle data.
 *  - Model: the small preset (fae) at dim 64 (13-64-64 / 64-1), batch 2048, BENCH_BIG_BATCHES
 *    (default 120) batches, final evaluation on the full validation and test splits, no
 *    checkpoints and no model export (both need the tables in process memory: see the store README).
 *  - Runs, each in its own child process under a watchdog that polls VmRSS every 50 ms and
 *    kills the child past BENCH_BIG_LIMIT_GIB (default 4): the redis backend on a local
 *    3-master Cluster, then the memory backend on the same tables. Reported: peak RSS (VmHWM of
 *    the child, or the RSS at which it was stopped), rows/s of training, test AUC, and the
 *    redis-servers' used memory.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KAGGLE_CARDINALITIES } from '../datasets/criteo/constants.js';
import type { RunMetrics } from '../pipeline/run-metrics.js';
import { loadTrainConfig } from '../stages/train/config.js';
import { train } from '../stages/train/train.js';
import { REDIS_MISSING, startCluster } from '../test/fixtures/redis.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(process.env.BENCH_BIG_ROWS ?? 1_000_000);
const BATCHES = Number(process.env.BENCH_BIG_BATCHES ?? 120);
const LIMIT_GIB = Number(process.env.BENCH_BIG_LIMIT_GIB ?? 4);
const DIR = process.env.BENCH_STORE_DIR ?? join(tmpdir(), 'hotcold-bench-store');
const DIM = 64;
const log = (s: string): void => void process.stdout.write(`${s}\n`);
const gib = (kb: number): string => `${(kb / 2 ** 20).toFixed(2)} GiB`;

interface ChildArgs {
  data: string;
  hot: string;
  out: string;
  coldStore?: string;
}
interface ChildResult {
  vmHwmKb: number;
  samples: number;
  trainSec: number;
  wallSec: number;
  auc: number;
  hotShare: number | null;
}

/** VmRSS / VmHWM of a process in kB (0 when it is gone). */
function status(pid: number | 'self', field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function child(a: ChildArgs): Promise<void> {
  const config = loadTrainConfig('configs/fae-small.json', [
    `model.dim=${DIM}`, `model.mlpBot=13-64-${DIM}`, 'model.mlpTop=64-1', 'train.evalEvery=0', `train.maxBatches=${BATCHES}`, 'train.saveModel=false',
  ]);
  const m: RunMetrics = await train({ config, data: a.data, hot: a.hot, out: a.out, quiet: true, coldStore: a.coldStore });
  const r: ChildResult = {
    vmHwmKb: status('self', 'VmHWM'), samples: m.samplesTrained, trainSec: m.time.trainSec, wallSec: m.time.totalSec, auc: m.test.auc,
    hotShare: m.coldStore?.hotShare ?? null,
  };
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
}

/** Run a child under the RSS watchdog. */
function runChild(a: ChildArgs): Promise<{ r: ChildResult | null; killedAtKb: number; peakKb: number; sec: number; err: string }> {
  return new Promise((res) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, ['--import', 'tsx', 'bench/cold-store-big.ts', '--child', JSON.stringify(a)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    let killedAtKb = 0;
    let peakKb = 0;
    const limitKb = LIMIT_GIB * 2 ** 20;
    const timer = setInterval(() => {
      const rss = status(p.pid!, 'VmRSS');
      peakKb = Math.max(peakKb, rss);
      if (rss > limitKb && killedAtKb === 0) {
        killedAtKb = rss;
        p.kill('SIGKILL');
      }
    }, 50);
    p.on('exit', () => {
      clearInterval(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      res({ r: line ? (JSON.parse(line.slice(7)) as ChildResult) : null, killedAtKb, peakKb, sec: (performance.now() - t0) / 1000, err: err.trim().split('\n').slice(-3).join(' | ') });
    });
  });
}

/** A copy of the dataset (shards hard-linked) whose manifest declares tables of Kaggle's sizes. */
function kaggleTables(dataDir: string): { dir: string; sizes: number[]; seen: number[] } {
  const dir = `${dataDir}-kaggle-tables`;
  const m = JSON.parse(readFileSync(join(dataDir, 'manifest.json'), 'utf8')) as { vocab: { sizes: number[] } };
  const seen = m.vocab.sizes;
  const sizes = seen.map((n, f) => Math.max(n, KAGGLE_CARDINALITIES[f]!));
  if (!existsSync(join(dir, 'manifest.json'))) {
    rmSync(dir, { recursive: true, force: true });
    const link = (from: string, to: string): void => {
      mkdirSync(to, { recursive: true });
      for (const e of readdirSync(from, { withFileTypes: true })) {
        if (e.isDirectory()) link(join(from, e.name), join(to, e.name));
        else if (e.name !== 'manifest.json') linkSync(join(from, e.name), join(to, e.name));
      }
    };
    link(dataDir, dir);
    m.vocab.sizes = sizes;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 1));
  }
  return { dir, sizes, seen };
}

async function main(): Promise<void> {
  if (REDIS_MISSING) {
    log(REDIS_MISSING);
    process.exitCode = 2;
    return;
  }
  log(`cold-store bench (--big): ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}; limit ${LIMIT_GIB} GiB RSS`);
  const data = await prepareBenchData(join(DIR, `big-${ROWS}`), ROWS, 7, 64 << 20, log, { scale: 1, dim: DIM });
  const k = kaggleTables(data.dataDir);
  const rows = k.sizes.reduce((a, b) => a + b, 0);
  const seen = k.seen.reduce((a, b) => a + b, 0);
  const tableGib = (rows * (DIM + 1) * 4) / 2 ** 30;
  log(`tables: ${rows} rows × dim ${DIM} (Kaggle's sizes; ${seen} of them in the data's vocabulary) = ${tableGib.toFixed(2)} GiB of weights + Adagrad accumulators; ${ROWS} inputs, ${BATCHES} batches of 2048`);
  const cluster = await startCluster(3);
  try {
    const results: string[] = [];
    for (const backend of ['redis', 'memory'] as const) {
      const out = join(DIR, 'runs', `big-${backend}-${Date.now()}`);
      const x = await runChild({ data: k.dir, hot: data.hotDir, out, coldStore: backend === 'redis' ? `${cluster.address}?prefix=bench-big` : undefined });
      let line: string;
      if (x.r) {
        line = `${backend.padEnd(7)} peak RSS ${gib(x.r.vmHwmKb)} (limit ${LIMIT_GIB} GiB): trained ${x.r.samples} rows in ${x.r.trainSec.toFixed(1)}s = ${Math.round(x.r.samples / x.r.trainSec)} rows/s (run ${x.r.wallSec.toFixed(1)}s), test AUC ${x.r.auc.toFixed(4)}${x.r.hotShare !== null ? `, ${(100 * x.r.hotShare).toFixed(1)}% of lookups hot` : ''}`;
      } else if (x.killedAtKb > 0) {
        line = `${backend.padEnd(7)} does not fit: RSS ${gib(x.killedAtKb)} > limit ${LIMIT_GIB} GiB after ${x.sec.toFixed(1)}s (stopped by the watchdog; its tables alone are ${tableGib.toFixed(2)} GiB)`;
      } else {
        line = `${backend.padEnd(7)} failed after ${x.sec.toFixed(1)}s (peak RSS ${gib(x.peakKb)}): ${x.err}`;
      }
      log(line);
      results.push(line);
      if (backend === 'redis') {
        const mem = cluster.nodes.map((n) => {
          const info = spawnSyncInfo(n.port);
          return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
        });
        log(`        redis-servers' used memory: ${mem.map((b) => `${(b / 2 ** 20).toFixed(0)} MiB`).join(' + ')} (rows written so far only: the store is lazy)`);
      }
    }
    log(`load at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    await cluster.stop();
  }
}

function spawnSyncInfo(port: number): string {
  return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'INFO', 'memory'], { encoding: 'utf8' }).stdout ?? '';
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(JSON.parse(process.argv[i + 1]!) as ChildArgs);
else await main();
