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
 *      BENCH_PARITY_BATCHES (0 = one epoch; default 0), BENCH_PARITY_PLAIN (1: run (d); default 1),
 *      BENCH_PARITY_REPS (repeats of (b), (b'), (c), interleaved; default 3), BENCH_PARITY_RATE
 *      (rebuild= blocks/s of a paced variant (b'); default 0: none), BENCH_PARITY_STEPS (1: print every step).
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
/** repeats of the failure runs (interleaved) */
const REPS = Math.max(1, Number(process.env.BENCH_PARITY_REPS ?? 3));
/** the fixed window after the kill that every failure run is also measured over (ms) */
const FIXED_MS = 3000;
/** rebuild= of the paced variant (b'), blocks per second (0: no paced variant) */
const RATE = Number(process.env.BENCH_PARITY_RATE ?? 0);
/** print every step's duration (ms) of the failure runs */
const STEPS = process.env.BENCH_PARITY_STEPS === '1';
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
  if (STEPS) {
    const ev = (store as ParityColdStore | null)?.events ?? [];
    log(`    steps (ms): ${steps.slice(1).map(([t, n], i) => `${n}:${(t - steps[i]![0]).toFixed(0)}`).join(' ')}`);
    log(`    events (ms after the first step): ${ev.map((e) => `${e.what}@${(e.at - steps[0]![0]).toFixed(0)}`).join(' ')}; kill@${(killAt - steps[0]![0]).toFixed(0)}`);
  }
  return { m, steps, store, killAt, cpu, trainerCpu };
}

/** Batches done by time t (ms), linear between step ends (clamped to the run). */
function doneAt(steps: [number, number][], t: number): number {
  if (t <= steps[0]![0]) return steps[0]![1];
  for (let i = 1; i < steps.length; i++) {
    const [ta, na] = steps[i - 1]!;
    const [tb, nb] = steps[i]!;
    if (t <= tb) return na + ((nb - na) * (t - ta)) / (tb - ta);
  }
  return steps[steps.length - 1]![1];
}

/**
 * samples/s over the window [t0, t1) (ms; clamped to the run's steps), batches counted as the
 * fraction done in the window (a window shorter than a step still gets a rate); n = step ends in it.
 */
function rate(steps: [number, number][], t0: number, t1: number, B: number): { sps: number; n: number } {
  const a = Math.max(t0, steps[0]![0]);
  const b = Math.min(t1, steps[steps.length - 1]![0]);
  if (!(b > a)) return { sps: NaN, n: 0 };
  return { sps: ((doneAt(steps, b) - doneAt(steps, a)) * B * 1000) / (b - a), n: steps.filter(([t]) => t >= a && t < b).length };
}

const median = (xs: number[]): number => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

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
    const total = a.m.batches.total;
    const killAfter = Math.max(3, Math.floor(total / 3));
    const bs: Run[] = [];
    const ps: Run[] = [];
    const cs: Run[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      // interleaved, so that the other load of the box moves all variants alike
      bs.push(await run(`kill+spare #${rep + 1}`, data, spec(`pb${rep}`, true), { after: killAfter, pid: hs[1]!.nodes[0]!.proc.pid! }));
      await hs[1]!.restart(0);
      for (const h of hs) cli(h.nodes[0]!.port, 'FLUSHALL');
      if (RATE > 0) {
        ps.push(await run(`kill+spare, rebuild=${RATE} #${rep + 1}`, data, `${spec(`pp${rep}`, true)}&rebuild=${RATE}`, { after: killAfter, pid: hs[1]!.nodes[0]!.proc.pid! }));
        await hs[1]!.restart(0);
        for (const h of hs) cli(h.nodes[0]!.port, 'FLUSHALL');
      }
      cs.push(await run(`kill, degraded #${rep + 1}`, data, spec(`pc${rep}`, false), { after: killAfter, pid: hs[1]!.nodes[0]!.proc.pid! }));
      await hs[1]!.restart(0);
      for (const h of hs) cli(h.nodes[0]!.port, 'FLUSHALL');
    }
    let d: Run | null = null;
    if (PLAIN) d = await run('plain redis (1 node, no parity)', data, `redis://${hp(hs[0]!)}?prefix=pd`);

    log('');
    log(`memory (INFO memory used_memory above an empty server, after the run's store): data ${(dataMem / 2 ** 20).toFixed(1)} MiB on ${K} nodes, parity ${(parMem / 2 ** 20).toFixed(1)} MiB on ${R}; one replica per data node ${(repMem / 2 ** 20).toFixed(1)} MiB`);
    log(`  overhead: parity (k+r)/k = ${((dataMem + parMem) / dataMem).toFixed(3)}× (ideal ${((K + R) / K).toFixed(3)}×) vs replicas ${((dataMem + repMem) / dataMem).toFixed(3)}× (ideal 2×)`);

    const W = 3; // warm-up steps left out
    const from = (r: Run): number => r.steps[Math.min(W, r.steps.length - 1)]![0];
    const normal = rate(a.steps, from(a), Infinity, B).sps;
    const evT = (r: Run, what: string): number => r.store?.events.find((x) => x.what === what)?.at ?? NaN;
    log('');
    log(`throughput, samples/s of the training loop (batch ${B}), from step ${W + 1}; each window against the same run's steps before the kill (the load moves between runs); medians over ${REPS} interleaved repeats`);
    log(`(a) no failure, whole run: ${normal.toFixed(0)} samples/s`);
    const rebuildRows = (name: string, rs: Run[]): void => {
      const rows = rs.map((r) => {
        const before = rate(r.steps, from(r), r.killAt, B).sps;
        const lost = evT(r, 'lost');
        const red = evT(r, 'redundant');
        const during = rate(r.steps, r.killAt, Number.isNaN(red) ? Infinity : red, B).sps;
        const after = rate(r.steps, Number.isNaN(red) ? Infinity : red, Infinity, B).sps;
        const w3 = rate(r.steps, r.killAt, r.killAt + FIXED_MS, B).sps;
        return { before, during, after, rDuring: during / before, rAfter: after / before, rFixed: w3 / before, detect: (lost - r.killAt) / 1000, start: (evT(r, 'rebuild') - lost) / 1000, full: (red - lost) / 1000 };
      });
      for (const [i, x] of rows.entries()) {
        log(`  ${name} #${i + 1}: before ${x.before.toFixed(0)}, kill → full redundancy ${x.during.toFixed(0)} (${x.rDuring.toFixed(2)}×), after ${x.after.toFixed(0)} (${x.rAfter.toFixed(2)}×), first ${FIXED_MS / 1000}s after the kill ${x.rFixed.toFixed(2)}×; loss detected ${x.detect.toFixed(2)}s after the SIGKILL, rebuild started ${x.start.toFixed(2)}s and full redundancy ${x.full.toFixed(2)}s after the loss`);
      }
      log(`  ${name}, median: during the rebuild ${median(rows.map((x) => x.rDuring)).toFixed(2)}× of before, first ${FIXED_MS / 1000}s after the kill ${median(rows.map((x) => x.rFixed)).toFixed(2)}×, after ${median(rows.map((x) => x.rAfter)).toFixed(2)}×, full redundancy ${median(rows.map((x) => x.full)).toFixed(2)}s after the loss (${bs[0]?.store?.t.map.total(1) ?? '?'} blocks of node 1)`);
    };
    rebuildRows('(b) kill + spare, unpaced', bs);
    if (ps.length > 0) rebuildRows(`(b') kill + spare, rebuild=${RATE} blocks/s`, ps);
    const cr = cs.map((r) => rate(r.steps, r.killAt, Infinity, B).sps / rate(r.steps, from(r), r.killAt, B).sps);
    const c3 = cs.map((r) => rate(r.steps, r.killAt, r.killAt + FIXED_MS, B).sps / rate(r.steps, from(r), r.killAt, B).sps);
    log(`  (c) kill, no spare (degraded to the end): ${cr.map((x) => `${x.toFixed(2)}×`).join(', ')} of before; median ${median(cr).toFixed(2)}×; first ${FIXED_MS / 1000}s after the kill: median ${median(c3).toFixed(2)}×`);
    if (d) log(`  (d) plain redis, 1 node, whole run: ${rate(d.steps, from(d), Infinity, B).sps.toFixed(0)} samples/s (${(rate(d.steps, from(d), Infinity, B).sps / normal).toFixed(2)}× of (a))`);
    const sb = bs[0]?.store ?? null;
    log('');
    log(`(b #1) rows reconstructed ${sb?.t.counters.rowsReconstructed ?? 0}, updated on parity only ${sb?.t.counters.rowsParityOnly ?? 0}; (c #1) rows reconstructed ${cs[0]?.store?.t.counters.rowsReconstructed ?? 0}`);
    const aucs = [...bs, ...ps, ...cs].map((r) => r.m.test.auc);
    log(`final test AUC: (a) ${a.m.test.auc.toFixed(6)}; failure runs ${[...new Set(aucs.map((x) => x.toFixed(6)))].join(', ')} (max |Δ| ${Math.max(...aucs.map((x) => Math.abs(x - a.m.test.auc))).toExponential(1)})${d ? `; (d) ${d.m.test.auc.toFixed(6)}` : ''}`);
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
