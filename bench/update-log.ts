/**
 * The continuous update log (`--log`, Redis Streams) against incremental checkpoints at the same
 * interval, and the kill test: the real trainer (FAE, the test fixture's planted data) killed with
 * SIGKILL at `--kills` random steps, each resumed from checkpoint + log replay and compared bit for
 * bit with an uninterrupted run.
 *
 *     npm run bench:update-log -- [--kills 20] [--reps 5] [--rows 6000] [--seed 1] [--full-every 8] [--cold-rows 20000]
 *
 * Starts its own redis-server (test/fixtures/redis.ts) on a free loopback port.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../pipeline/rng.js';
import { CheckpointStore } from '../stages/train/checkpoint/index.js';
import { readCheckpointManifest } from '../stages/train/checkpoint/manifest.js';
import { emptyState } from '../stages/train/checkpoint/tools.js';
import { resolveTrainConfig } from '../stages/train/config.js';
import { train } from '../stages/train/train.js';
import { LogDriver } from '../stages/train/updatelog/index.js';
import { startRedis } from '../test/fixtures/redis.js';
import { makeTrainData } from '../test/fixtures/train-data.js';
import { BENCH_CK, BENCH_RUN, LOG_EVERY } from './update-log-child.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const KILLS = Number(arg('kills', '20'));
const REPS = Number(arg('reps', '5'));
const ROWS = Number(arg('rows', '6000'));
const SEED = Number(arg('seed', '1'));
/** the comparison's full base interval (the kill test uses BENCH_CK's 2, to cross bases and trims often) */
const CMP_FULL_EVERY = Number(arg('full-every', '8'));
/** cold ids per table of the comparison's data (the kill test uses the fixture's small tables) */
const COLD_ROWS = Number(arg('cold-rows', '20000'));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
const ms = (s: number): string => `${(s * 1e3).toFixed(1)} ms`;

interface LogLine { msg?: string; type?: string; bytes?: number; entries?: number; markers?: number; rows?: number; pauseSec?: number }
const lines = (out: string): LogLine[] => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);

console.log(`update-log bench: load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at start`);
const d = makeTrainData({ trainRows: ROWS, evalRows: 1000, seed: 5 });
// the comparison: larger tables with Zipf-like skew (hot ids 80 % of lookups), so increments hold many rows
const big = makeTrainData({ trainRows: ROWS, evalRows: 1000, seed: 6, coldRows: COLD_ROWS, hotK: 50, hotProb: 0.8 });
const redis = await startRedis();
try {
  const config = resolveTrainConfig(BENCH_RUN);
  // 1. the same run, checkpoints every BENCH_CK.every steps: incremental (rows on disk) vs log (rows in Redis, dense state on disk)
  const variants = [
    { name: `incremental checkpoints every ${BENCH_CK.every}`, log: null as null | { every: number } },
    { name: `log every ${BENCH_CK.every} + dense save every ${BENCH_CK.every}`, log: { every: BENCH_CK.every } },
    { name: `log every ${LOG_EVERY} + dense save every ${BENCH_CK.every}`, log: { every: LOG_EVERY } },
  ];
  console.log(`\nFAE, ${ROWS} training rows, 26 tables (${big.tableSizes.reduce((a, b) => a + b, 0)} rows × dim 8 + Adagrad), batch 128, full base after ${CMP_FULL_EVERY} increments; recovery = restore of the last checkpoint (+ replay), median of ${REPS}`);
  console.log('| variant | disk bytes | log bytes (Redis) | total bytes written | training pause (all checkpoint + log work) | recovery (newest checkpoint [+ replay]) |');
  console.log('|---|---|---|---|---|---|');
  for (const v of variants) {
    const out = join(big.root, `cmp-${v.log?.every ?? 0}`);
    const prefix = `bench-cmp-${v.log?.every ?? 0}`;
    const address = `${redis.address}?prefix=${prefix}`;
    const ck = { ...BENCH_CK, fullEvery: CMP_FULL_EVERY };
    const m = await train({ config, data: big.dataDir, hot: big.hotDir, out, quiet: true, sink: { isTTY: false, write: () => undefined }, checkpoint: { ...ck, ...(v.log ? { log: { address, every: v.log.every } } : {}) } });
    const ls = lines(out);
    const disk = ls.filter((l) => l.msg === 'checkpoint').reduce((s, l) => s + (l.bytes ?? 0), 0);
    const ul = ls.find((l) => l.msg === 'update log');
    const logBytes = ul?.bytes ?? 0;
    const dir = join(out, 'checkpoints');
    const newest = Math.max(...readdirSync(dir).filter((n) => /^v\d+\.json$/.test(n)).map((n) => Number(n.slice(1, 7))));
    const rec: number[] = [];
    for (let k = 0; k < REPS; k++) {
      const state = emptyState(readCheckpointManifest(dir, newest));
      const t0 = performance.now();
      const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: CMP_FULL_EVERY, flat: !v.log });
      if (v.log) {
        const drv = await LogDriver.open({ address, every: v.log.every }, { prefix, state, note: () => undefined });
        await drv.resume(store, state, true);
        await drv.close();
      } else store.restore(state);
      rec.push((performance.now() - t0) / 1000);
    }
    console.log(`| ${v.name} | ${kib(disk)} | ${kib(logBytes)} | ${kib(disk + logBytes)} | ${ms(m.time.checkpointSec)} | ${ms(median(rec))} |`);
  }

  // 2. SIGKILL at random steps, resume, compare with the uninterrupted run bit for bit
  const child = (args: string[]): { status: number | null; signal: NodeJS.Signals | null; stderr: string } => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'update-log-child.ts'), '--data', d.dataDir, '--hot', d.hotDir, ...args], { encoding: 'utf8' });
    return { status: r.status, signal: r.signal, stderr: r.stderr };
  };
  const refParams = join(d.root, 'ref.params');
  const ref = child(['--out', join(d.root, 'kill-ref'), '--log', `${redis.address}?prefix=bench-ref`, '--params', refParams]);
  if (ref.status !== 0) throw new Error(`reference run failed: ${ref.stderr}`);
  const refBytes = readFileSync(refParams);
  const total = (JSON.parse(readFileSync(join(d.root, 'kill-ref', 'metrics.json'), 'utf8')) as { batches: { total: number } }).batches.total;
  const rng = new Rng(SEED);
  let ok = 0;
  console.log(`\nkill test: ${KILLS} runs, each SIGKILLed after a random step of ~${total} (seed ${SEED}), then --resume to the end; log every ${LOG_EVERY}, dense save every ${BENCH_CK.every}`);
  console.log('| # | killed after step | recovered from | final parameters = uninterrupted run |');
  console.log('|---|---|---|---|');
  for (let k = 0; k < KILLS; k++) {
    const at = 1 + rng.int(Math.max(1, total - 2));
    const out = join(d.root, `kill-${k}`);
    const log = `${redis.address}?prefix=bench-kill-${k}`;
    const params = join(d.root, `kill-${k}.params`);
    const a = child(['--out', out, '--log', log, '--kill-at', String(at)]);
    const killed = a.signal === 'SIGKILL';
    const b = child(['--out', out, '--log', log, '--params', params, '--resume']);
    const same = b.status === 0 && readFileSync(params).equals(refBytes);
    if (killed && same) ok++;
    const how = lines(out).map((l) => l.msg ?? '').find((m) => m.startsWith('update log: restored') || m.startsWith('train: --resume: no checkpoint')) ?? '?';
    const note = lines(out).map((l) => l.msg ?? '').filter((m) => /torn|gap|no complete marker/.test(m)).join('; ');
    console.log(`| ${k + 1} | ${at}${killed ? '' : ` (not killed: ${a.status})`} | ${how.replace(/ in [\d.]+s.*$/, '')}${note ? ` — ${note}` : ''} | ${same ? 'yes' : `**NO** (resume exit ${b.status})`} |`);
    if (!same) console.log(`resume stderr of #${k + 1}:\n${b.stderr.split('\n').filter((l) => !/took over the lock|pruned/.test(l)).join('\n')}`);
  }
  console.log(`\n${ok}/${KILLS} recovered to the uninterrupted run's parameters, bit for bit; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end`);
} finally {
  await redis.stop();
  d.cleanup();
  big.cleanup();
}
