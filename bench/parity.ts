/**
 * `npm run bench:parity`: the parity cold store (ECRec on Redis, k = 4 data + r = 1 parity
 * local redis-servers) through a data-node failure, in one invocation:
 *
 *  1. memory overhead: INFO memory `used_memory` of the 5 nodes (minus each empty server's own)
 *     after the seeded init — (data + parity) / data, against one replica per data node (a real
 *     `REPLICAOF` replica of each, synced, measured the same way): (data + replicas) / data;
 *  2. training, small baseline preset (every batch cold, so every step goes through the store),
 *     one epoch on generated data: (a) no failure; (b) a data node SIGKILLed after a third of the
 *     batches with a spare given — rebuilt in the background; (c) the same kill without a spare
 *     (degraded to the end). Throughput (samples/s of the training loop, from per-step times)
 *     before / during / after the failure, time to full redundancy (loss detected → rebuild
 *     done), final test AUC against run (a). Also (d) the plain redis backend on one node, for
 *     what the parity protocol costs. Each run also reports the CPU seconds of the trainer and of
 *     every redis-server (data nodes 0–3, parity, spare) from /proc.
 *
 * Env: BENCH_PARITY_ROWS (default 100000), BENCH_PARITY_DIR (default os.tmpdir()/hotcold-bench-parity),
 *      BENCH_PARITY_BATCHES (0 = one epoch; default 0), BENCH_PARITY_PLAIN (1: run (d); default 1).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunMetrics } from '../pipeline/run-metrics.js';
import { loadTrainConfig } from '../stages/train/config.js';
import type { ParityColdStore } from '../stages/train/store/parity/store.js';
import { train } from '../stages/train/train.js';
import type { Trainer } from '../stages/train/trainer.js';
import { REDIS_MISSING, startRedis, type RedisHandle } from '../test/fixtures/redis.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(process.env.BENCH_PARITY_ROWS ?? 100_000);
const DIR = process.env.BENCH_PARITY_DIR ?? join(tmpdir(), 'hotcold-bench-parity');
const BATCHES = Number(process.env.BENCH_PARITY_BATCHES ?? 0);
const PLAIN = (process.env.BENCH_PARITY_PLAIN ?? '1') === '1';
const K = 4;
const R = 1;
const log = (s: string): void => void process.stdout.write(`${s}\n`);
const uptime = (): string => spawnSync('uptime', [], { encoding: 'utf8' }).stdout.trim();
const cli = (port: number, ...a: string[]): string => spawnSync('redis-cli', ['-p', String(port), ...a], { encoding: 'utf8' }).stdout;
const usedMemory = (port: number): number => Number(/^used_memory:(\d+)/m.exec(cli(port, 'INFO', 'memory'))?.[1] ?? NaN);
const hp = (h: RedisHandle): string => `127.0.0.1:${h.nodes[0]!.port}`;

/** CPU seconds (user + system) of a process so far, from /proc/<pid>/stat. */
function cpuSec(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

interface Run {
  m: RunMetrics;
  /** CPU seconds of each redis-server during the run, and of the trainer process */
  cpu: number[];
  trainerCpu: number;
  /** (ms, batches done) after every step */
  steps: [number, number][];
  store: ParityColdStore | null;
  killAt: number;
}

let servers: RedisHandle[] = [];

async function run(name: string, data: { dataDir: string }, coldStore: string, kill?: { after: number; pid: number }): Promise<Run> {
  const pids = servers.map((h) => h.nodes[0]!.proc.pid!);
  const c0 = pids.map(cpuSec);
  const u0 = process.cpuUsage();
  const config = loadTrainConfig('configs/baseline-small.json', ['train.evalEvery=0', `train.maxBatches=${BATCHES}`]);
  const steps: [number, number][] = [];
  let store: ParityColdStore | null = null;
  let killAt = NaN;
  const m = await train({
    config, data: data.dataDir, out: join(DIR, 'runs', `${name}-${Date.now()}`), quiet: true, coldStore,
    hooks: {
      afterStep: (n: number, tr: Trainer) => {
        const now = performance.now();
        steps.push([now, n]);
        if ((tr.cold as Partial<ParityColdStore>).rebuilder) store = tr.cold as ParityColdStore;
        if (kill && n === kill.after) {
          process.kill(kill.pid, 'SIGKILL');
          killAt = now;
        }
      },
    },
  });
  const cpu = pids.map((p, i) => { try { return cpuSec(p) - c0[i]!; } catch { return NaN; } });
  const u = process.cpuUsage(u0);
  const trainerCpu = (u.user + u.system) / 1e6;
  log(`  ${name}: ${m.batches.total} batches, loop ${m.time.trainSec.toFixed(1)}s (store wait ${(m.coldStore?.waitSec ?? 0).toFixed(1)}s), test AUC ${m.test.auc.toFixed(6)}, load ${loadavg()[0]!.toFixed(1)}; CPU s trainer ${trainerCpu.toFixed(1)}, servers ${cpu.map((x) => x.toFixed(1)).join(' / ')}`);
  return { m, steps, store, killAt, cpu, trainerCpu };
}

/** samples/s over the steps with time in [t0, t1) (ms), batch size B. */
function rate(steps: [number, number][], t0: number, t1: number, B: number): { sps: number; n: number } {
  const w = steps.filter(([t]) => t >= t0 && t < t1);
  if (w.length < 3) return { sps: NaN, n: w.length };
  const sec = (w[w.length - 1]![0] - w[0]![0]) / 1000;
  return { sps: ((w.length - 1) * B) / sec, n: w.length };
}

async function main(): Promise<void> {
  if (REDIS_MISSING) {
    log(REDIS_MISSING);
    process.exitCode = 2;
    return;
  }
  log(`parity bench: ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}; ${uptime()}; ${ROWS} generated rows, k = ${K}, r = ${R}`);
  const data = await prepareBenchData(join(DIR, `data-${ROWS}`), ROWS, 7, 64 << 20, log);
  const hs = await Promise.all(Array.from({ length: K + R + 1 }, () => startRedis()));
  servers = hs;
  const extra: RedisHandle[] = [];
  try {
    const base = hs.map((h) => usedMemory(h.nodes[0]!.port));
    const spec = (prefix: string, spare: boolean): string => `redis-parity://${hs.slice(0, K + R).map(hp).join(',')}?data=${K}&parity=${R}&prefix=${prefix}${spare ? `&spare=${hp(hs[K + R]!)}` : ''}`;
    const B = loadTrainConfig('configs/baseline-small.json', []).train.batchSize;

    log('training runs (small baseline preset: every batch cold):');
    const a = await run('no-failure', data, spec('pa', false));
    // memory: the store of run (a) is still on the nodes
    const mem = hs.slice(0, K + R).map((h, i) => usedMemory(h.nodes[0]!.port) - base[i]!);
    const dataMem = mem.slice(0, K).reduce((x, y) => x + y, 0);
    const parMem = mem.slice(K).reduce((x, y) => x + y, 0);
    for (let i = 0; i < K; i++) {
      const rep = await startRedis();
      extra.push(rep);
      const p0 = usedMemory(rep.nodes[0]!.port);
      cli(rep.nodes[0]!.port, 'REPLICAOF', '127.0.0.1', String(hs[i]!.nodes[0]!.port));
      const t0 = Date.now();
      while (!/master_link_status:up/.test(cli(rep.nodes[0]!.port, 'INFO', 'replication')) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 200));
      (rep as RedisHandle & { mem?: number }).mem = usedMemory(rep.nodes[0]!.port) - p0;
    }
    const repMem = extra.reduce((x, r) => x + ((r as RedisHandle & { mem?: number }).mem ?? NaN), 0);
    for (const r of extra) await r.stop();
    extra.length = 0;

    // clean the stores of run (a) so the next runs start from the same memory
    for (const h of hs) cli(h.nodes[0]!.port, 'FLUSHALL');
    const pid1 = hs[1]!.nodes[0]!.proc.pid!;
    const total = a.m.batches.total;
    const killAfter = Math.max(3, Math.floor(total / 3));
    const b = await run('kill+spare', data, spec('pb', true), { after: killAfter, pid: pid1 });
    await hs[1]!.restart(0);
    for (const h of hs) cli(h.nodes[0]!.port, 'FLUSHALL');
    const c = await run('kill, degraded', data, spec('pc', false), { after: killAfter, pid: hs[1]!.nodes[0]!.proc.pid! });
    await hs[1]!.restart(0);
    let d: Run | null = null;
    if (PLAIN) {
      for (const h of hs) cli(h.nodes[0]!.port, 'FLUSHALL');
      d = await run('plain redis (1 node, no parity)', data, `redis://${hp(hs[0]!)}?prefix=pd`);
    }

    log('');
    log(`memory (INFO memory used_memory above an empty server, after the run's store): data ${(dataMem / 2 ** 20).toFixed(1)} MiB on ${K} nodes, parity ${(parMem / 2 ** 20).toFixed(1)} MiB on ${R}; one replica per data node ${(repMem / 2 ** 20).toFixed(1)} MiB`);
    log(`  overhead: parity (k+r)/k = ${((dataMem + parMem) / dataMem).toFixed(3)}× (ideal ${((K + R) / K).toFixed(3)}×) vs replicas ${((dataMem + repMem) / dataMem).toFixed(3)}× (ideal 2×)`);

    const W = 3; // warm-up steps left out
    const from = (r: Run): number => r.steps[Math.min(W, r.steps.length - 1)]![0];
    const normal = rate(a.steps, from(a), Infinity, B).sps;
    log('');
    log(`throughput, samples/s of the training loop (batch ${B}), from step ${W + 1}; ratios against the same run's steps before the kill (the load moves between runs)`);
    log('run                         window                          steps  samples/s  vs before');
    let ref = normal;
    const line = (r: string, w: string, x: { sps: number; n: number }): void => log(`${r.padEnd(27)} ${w.padEnd(31)} ${String(x.n).padStart(5)} ${x.sps.toFixed(0).padStart(10)} ${(x.sps / ref).toFixed(2).padStart(9)}×`);
    line('(a) no failure', 'whole run', { sps: normal, n: a.steps.length - W });
    const sb = b.store as ParityColdStore | null;
    const ev = sb?.events ?? [];
    const evT = (what: string): number => {
      const e = ev.find((x) => x.what === what);
      return e ? e.at : NaN;
    };
    const lostAt = evT('lost');
    const redundantAt = evT('redundant');
    const bBefore = rate(b.steps, from(b), b.killAt, B);
    ref = bBefore.sps;
    line('(b) kill + spare', 'before the kill', bBefore);
    line('(b) kill + spare', 'kill → full redundancy (rebuild)', rate(b.steps, b.killAt, Number.isNaN(redundantAt) ? Infinity : redundantAt, B));
    line('(b) kill + spare', 'after full redundancy', rate(b.steps, Number.isNaN(redundantAt) ? Infinity : redundantAt, Infinity, B));
    const cBefore = rate(c.steps, from(c), c.killAt, B);
    ref = cBefore.sps;
    line('(c) kill, no spare', 'before the kill', cBefore);
    line('(c) kill, no spare', 'after the kill (degraded)', rate(c.steps, c.killAt, Infinity, B));
    ref = normal;
    if (d) line('(d) plain redis, 1 node (vs a)', 'whole run', rate(d.steps, from(d), Infinity, B));
    log('');
    log(`(b) loss detected ${((lostAt - b.killAt) / 1000).toFixed(2)}s after the SIGKILL; full redundancy ${((redundantAt - lostAt) / 1000).toFixed(2)}s after the loss (rebuild of ${sb ? sb.t.map.total(1) : '?'} blocks onto the spare while training)`);
    log(`(b) rows reconstructed ${sb?.t.counters.rowsReconstructed ?? 0}, updated on parity only ${sb?.t.counters.rowsParityOnly ?? 0}; (c) rows reconstructed ${(c.store as ParityColdStore | null)?.t.counters.rowsReconstructed ?? 0}`);
    log(`final test AUC: (a) ${a.m.test.auc.toFixed(6)}  (b) ${b.m.test.auc.toFixed(6)} (Δ ${(b.m.test.auc - a.m.test.auc).toExponential(1)})  (c) ${c.m.test.auc.toFixed(6)} (Δ ${(c.m.test.auc - a.m.test.auc).toExponential(1)})${d ? `  (d) ${d.m.test.auc.toFixed(6)}` : ''}; logloss (a) ${a.m.test.logloss} (b) ${b.m.test.logloss} (c) ${c.m.test.logloss}`);
    log(`end: ${uptime()}`);
  } finally {
    for (const r of extra) await r.stop();
    for (const h of hs) await h.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
