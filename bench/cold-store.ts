/**
 * `npm run bench:cold-store`: the redis cold tier against the in-process one, in one run.
 *
 *  1. Training, small preset (13-64-16 / 64-1, batch 2048), on a generated planted data set:
 *     baseline, fae and slipstream (D = 0.3) with the memory backend, then the same three with
 *     the redis backend on a local 3-master Cluster (started here, persistence off). Per run: wall
 *     time of the training loop (steps + Slipstream overhead + store waits), its ratio to the same
 *     backend's baseline, test AUC, ΔAUC vs the memory backend (same seed), store round trips,
 *     rows read/written, MiB, seconds waited on the store, share of lookups served hot.
 *  2. Store throughput: rows read (hc_read) and updated (hc_update) per second, pipelined, per
 *     node, beside `redis-benchmark` GET/SET of one block's size on the same nodes.
 *
 * Env: BENCH_STORE_ROWS (default 400000 generated rows), BENCH_STORE_DIR (default
 *      os.tmpdir()/hotcold-bench-store), BENCH_STORE_MODES (default baseline,fae,slipstream; empty =
 *      throughput only),
 *      BENCH_STORE_BATCHES (0 = one full epoch; default 0), BENCH_REPEAT (default 1; medians),
 *      BENCH_STORE_PRESET (small, the default: configs/<mode>-small.json; kaggle: configs/<mode>.json).
 * `--big`: tables larger than the process's memory limit (bench/cold-store-big.ts).
 *
 * On a shared machine wall time follows the other load; each run also reports CPU seconds of the
 * trainer process and of the three redis-server processes (utime + stime from /proc), and the
 * runs of one mode alternate memory / redis so drift in the load hits both alike.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../pipeline/rng.js';
import type { RunMetrics } from '../pipeline/run-metrics.js';
import { loadTrainConfig } from '../stages/train/config.js';
import { BatchRows, KeyCache } from '../stages/train/store/batch-rows.js';
import { connectStore, masters } from '../stages/train/store/connect.js';
import { parseStoreAddress, ROWS_PER_BLOCK } from '../stages/train/store/layout.js';
import { RedisTables } from '../stages/train/store/redis-tables.js';
import { train } from '../stages/train/train.js';
import { REDIS_MISSING, startCluster } from '../test/fixtures/redis.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(process.env.BENCH_STORE_ROWS ?? 400_000);
const DIR = process.env.BENCH_STORE_DIR ?? join(tmpdir(), 'hotcold-bench-store');
const MODES = (process.env.BENCH_STORE_MODES ?? 'baseline,fae,slipstream').split(',').filter(Boolean);
const BATCHES = Number(process.env.BENCH_STORE_BATCHES ?? 0);
/** small: configs/<mode>-small.json (13-64-16 / 64-1); kaggle: configs/<mode>.json (13-512-256-64-16 / 512-256-1) */
const PRESET = process.env.BENCH_STORE_PRESET ?? 'small';
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU seconds (user + system) of a process so far, from /proc/<pid>/stat. */
function cpuSec(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // utime, stime in clock ticks (100 Hz)
}
const selfCpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const log = (s: string): void => void process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  if (REDIS_MISSING) {
    log(REDIS_MISSING);
    process.exitCode = 2;
    return;
  }
  log(`cold-store bench: ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${ROWS} generated rows, ${PRESET} preset`);
  const data = MODES.length > 0 ? await prepareBenchData(join(DIR, `data-${ROWS}`), ROWS, 7, 64 << 20, log) : null;
  const cluster = await startCluster(3);
  try {
    if (!data) {
      await throughput(cluster.address, cluster.nodes.map((n) => n.port), cluster.nodes.map((n) => n.proc.pid!));
      return;
    }
    log(`cluster: ${cluster.address}`);
    const pids = cluster.nodes.map((n) => n.proc.pid!);
    const res: Record<string, { m: RunMetrics; sec: number[]; cpu: number[]; rcpu: number[] }> = {};
    for (let rep = 0; rep < REPEAT; rep++) {
      for (const mode of MODES) {
        for (const backend of ['memory', 'redis'] as const) {
          const config = loadTrainConfig(`configs/${mode}${PRESET === 'kaggle' ? '' : '-small'}.json`, ['train.evalEvery=0', `train.maxBatches=${BATCHES}`, ...(mode === 'slipstream' ? ['slipstream.targetDrop=0.3'] : [])]);
          const out = join(DIR, 'runs', `${backend}-${mode}-${Date.now()}`);
          const coldStore = backend === 'redis' ? `${cluster.address}?prefix=bench-${mode}` : undefined;
          const c0 = selfCpu();
          const r0 = pids.reduce((a, p) => a + cpuSec(p), 0);
          if (backend === 'redis') for (const n of cluster.nodes) redisCli(n.port, 'CONFIG', 'RESETSTAT');
          const m = await train({ config, data: data.dataDir, hot: mode === 'baseline' ? undefined : data.hotDir, out, quiet: true, coldStore });
          const e = (res[`${backend}-${mode}`] ??= { m, sec: [], cpu: [], rcpu: [] });
          e.sec.push(m.time.trainSec + m.time.slipstreamSec);
          e.cpu.push(selfCpu() - c0);
          e.rcpu.push(pids.reduce((a, p) => a + cpuSec(p), 0) - r0);
          log(`  ${backend} ${mode}: ${(m.time.trainSec + m.time.slipstreamSec).toFixed(1)}s loop, load ${loadavg()[0]!.toFixed(1)}`);
          if (backend === 'redis') log(`    where the store time goes: ${storeProfile(cluster.nodes.map((n) => n.port), m)}`);
        }
      }
    }
    log('');
    log(`medians of ${REPEAT}; loop s = training steps + Slipstream overhead + store waits (wall); CPU s = trainer process (whole run) + redis-servers`);
    log('backend mode        batches  loop s  vs baseline  CPU s (+redis)  vs baseline  test AUC  ΔAUC vs mem  round trips  rows read  rows written  MiB moved  store wait s  hot share');
    for (const backend of ['memory', 'redis'] as const) {
      const base = res[`${backend}-baseline`];
      for (const mode of MODES) {
        const r = res[`${backend}-${mode}`]!;
        const m = r.m;
        const sec = median(r.sec);
        const cpu = median(r.cpu.map((c, i) => c + r.rcpu[i]!));
        const bsec = base ? median(base.sec) : NaN;
        const bcpu = base ? median(base.cpu.map((c, i) => c + base.rcpu[i]!)) : NaN;
        const mem = res[`memory-${mode}`]!.m;
        const cs = m.coldStore;
        log(`${backend.padEnd(7)} ${mode.padEnd(11)} ${String(m.batches.total).padStart(7)} ${sec.toFixed(1).padStart(7)} ${(bsec / sec).toFixed(2).padStart(11)}× ${`${median(r.cpu).toFixed(1)} + ${median(r.rcpu).toFixed(1)}`.padStart(14)} ${(bcpu / cpu).toFixed(2).padStart(11)}× ${m.test.auc.toFixed(4).padStart(9)} ${(m.test.auc - mem.test.auc).toFixed(5).padStart(12)} ${String(cs?.roundTrips ?? 0).padStart(12)} ${String(cs?.rowsRead ?? 0).padStart(10)} ${String(cs?.rowsWritten ?? 0).padStart(13)} ${(((cs?.bytesRead ?? 0) + (cs?.bytesWritten ?? 0)) / 2 ** 20).toFixed(1).padStart(10)} ${(cs?.waitSec ?? 0).toFixed(1).padStart(13)} ${cs ? (100 * cs.hotShare).toFixed(1).padStart(9) + '%' : '        –'}`);
      }
    }
    await throughput(cluster.address, cluster.nodes.map((n) => n.port), pids);
  } finally {
    await cluster.stop();
  }
}

function redisCli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' }).stdout ?? '';
}

/**
 * One redis run's store time: the servers' own time in the Functions (INFO commandstats, reset
 * before the run: FCALL carries hc_read and hc_update) against the trainer's wait on the store
 * and its round trips; the rest of the wait is queueing (the servers share the CPUs with the
 * trainer) and the wire.
 */
function storeProfile(ports: number[], m: RunMetrics): string {
  let calls = 0;
  let usec = 0;
  for (const p of ports) {
    for (const l of redisCli(p, 'INFO', 'commandstats').split(/\r?\n/)) {
      const x = /^cmdstat_(fcall|fcall_ro):calls=(\d+),usec=(\d+)/.exec(l);
      if (x) {
        calls += Number(x[2]);
        usec += Number(x[3]);
      }
    }
  }
  const cs = m.coldStore;
  const rows = (cs?.rowsRead ?? 0) + (cs?.rowsWritten ?? 0);
  return `${calls} Function calls, ${(usec / 1e6).toFixed(1)}s of server time in them (${(usec / Math.max(1, calls)).toFixed(0)} µs per call, ${(usec / Math.max(1, rows)).toFixed(2)} µs per row read or written, summed over ${ports.length} masters); trainer waited ${(cs?.waitSec ?? 0).toFixed(1)}s on the store`;
}

/** hc_read / hc_update rows per second per node, pipelined, beside redis-benchmark on the same nodes. */
async function throughput(address: string, ports: number[], pids: number[]): Promise<void> {
  const addr = parseStoreAddress(`${address}?prefix=bench-tp`)!;
  const client = await connectStore(addr);
  try {
    const F = 26;
    const dim = 16;
    const sizes = Array.from({ length: F }, () => 100_000);
    const rt = new RedisTables(client, addr, addr.prefix!, { fingerprint: 'tp', dim, opt: { kind: 'adagrad', lr: 0.01, eps: 1e-8 }, sizes });
    const ri = await rt.create(new Rng(1));
    await rt.writeAll((t, r0, n, out) => ri.rows(t, r0, n, out, dim + 1)); // every row written: reads and updates of stored rows
    const B = 2048;
    const rng = new Rng(2);
    const batches = Array.from({ length: 20 }, () => {
      const cats = new Int32Array(B * F);
      for (let i = 0; i < cats.length; i++) cats[i] = rng.int(100_000);
      const r = new BatchRows(dim, F);
      r.plan(cats, B, null, sizes, new KeyCache(addr.prefix!, F));
      r.accumulate(B, new Float32Array(B * F * dim).fill(0.01));
      return r;
    });
    const rows = batches.reduce((a, r) => a + r.U, 0);
    const srv = (): number => pids.reduce((a, p) => a + cpuSec(p), 0);
    let c0 = srv();
    let t = performance.now();
    await Promise.all(batches.flatMap((r) => r.requests.map(async (q) => r.fill(q, await rt.readRows(q), dim + 1, ri))));
    const readSec = (performance.now() - t) / 1000;
    const readCpu = srv() - c0;
    c0 = srv();
    t = performance.now();
    // with the rows as read and as computed (the trainer's path; one writer: no conflicts)
    await Promise.all(batches.flatMap((r) => r.requests.map((q) => rt.updateRows(q, r.grads(q), r.rowsOf(q, r.vals, dim + 1), r.freshOf(q), r.rowsOf(q, r.vals, dim + 1)))));
    const updSec = (performance.now() - t) / 1000;
    const updCpu = srv() - c0;
    c0 = srv();
    t = performance.now();
    await Promise.all(batches.flatMap((r) => r.requests.map((q) => rt.updateRows(q, r.grads(q), r.rowsOf(q, r.vals, dim + 1), r.freshOf(q)))));
    const slowSec = (performance.now() - t) / 1000;
    const slowCpu = srv() - c0;
    const n = masters(client).length;
    log('');
    log(`store throughput (${n} masters, dim ${dim}, ${ROWS_PER_BLOCK} rows/block, ${rows} rows in 20 batches of ${B}×${F} random ids, all requests in flight):`);
    const k = (x: number): string => `${(x / 1e3).toFixed(0)}k`;
    log(`  hc_read                     ${k(rows / readSec)} rows/s wall (${k(rows / readSec / n)} per node); ${k(rows / readCpu)} rows per server CPU-second`);
    log(`  hc_update (rows as read)    ${k(rows / updSec)} rows/s wall (${k(rows / updSec / n)} per node); ${k(rows / updCpu)} rows per server CPU-second`);
    log(`  hc_update (gradients only)  ${k(rows / slowSec)} rows/s wall (${k(rows / slowSec / n)} per node); ${k(rows / slowCpu)} rows per server CPU-second (row-wise Adagrad in Lua)`);
    const blk = ROWS_PER_BLOCK * (dim + 1) * 4;
    for (const p of ports.slice(0, 1)) {
      const out = spawnSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(p), '-t', 'get,set', '-d', String(blk), '-n', '100000', '-P', '16', '-q', '--cluster'], { encoding: 'utf8' });
      log(`  redis-benchmark --cluster -P 16 -d ${blk} (one block's value): ${rps(out.stdout + out.stderr)}`);
      const out2 = spawnSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(p), '-t', 'get,set', '-d', String((dim + 1) * 4), '-n', '100000', '-P', '16', '-q', '--cluster'], { encoding: 'utf8' });
      log(`  redis-benchmark --cluster -P 16 -d ${(dim + 1) * 4} (one row's value): ${rps(out2.stdout + out2.stderr)}`);
    }
  } finally {
    client.disconnect();
  }
}

/** The final `X: N requests per second` figures of redis-benchmark -q output (progress lines dropped). */
function rps(text: string): string {
  return text.split(/[\r\n]+/).map((l) => /(\w+): ([\d.]+) requests per second/.exec(l)).filter((m) => m !== null).map((m) => `${m![1]} ${(Number(m![2]) / 1e3).toFixed(0)}k/s`).join(', ');
}

if (process.argv.includes('--big')) await import('./cold-store-big.js'); // tables larger than the process's memory limit
else await main();
