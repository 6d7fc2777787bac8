/**
 * Multi-process runs over the Redis tier (parallel.transport redis): rank 0 is train() in this
 * process, the other ranks are `hotcold worker --join` child processes (tsx), all on a real
 * redis-server on a free loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineError } from '../../../pipeline/errors.js';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import { REDIS_MISSING, startCluster, startRedis, type RedisHandle } from '../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';
import { outDir, runTo } from '../store/helpers.js';
import { remoteTestHooks } from '../../../stages/train/parallel/remote/rank.js';

const BASE = {
  model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' },
  train: { batchSize: 128, epochs: 1, logEvery: 5, evalEvery: 10 },
  fae: { rounds: 4 },
};
const REMOTE = { transport: 'redis', heartbeatSec: 2, joinTimeoutSec: 60 } as const;

interface Child { proc: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> }

/** `hotcold worker` as a child process (tsx). */
function worker(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bin/hotcold.ts', 'worker', '--engine', 'ts', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }>((res) => proc.once('exit', (code, signal) => res({ code, signal, err })));
  return { proc, done };
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.length; j++) m = Math.max(m, Math.abs(a[i]![j]! - b[i]![j]!));
  return m;
}

describe.skipIf(REDIS_MISSING !== null)('parallel over redis: K processes', () => {
  let d: TrainData;
  let redis: RedisHandle;
  beforeAll(async () => {
    d = makeTrainData({ trainRows: 2400, evalRows: 400 });
    redis = await startRedis();
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
    d?.cleanup();
  });

  for (const mode of ['baseline', 'fae'] as const) {
    it(`${mode}: 2 processes at bound 0 equal one process on the merged batch (float tolerance)`, async () => {
      const hot = mode === 'baseline' ? undefined : d.hotDir;
      const one = await runTo(d, { config: resolveTrainConfig({ ...BASE, mode }), hot, out: outDir(d, `r-${mode}-k1`), engine: 'ts' });
      const out = outDir(d, `r-${mode}-k2`);
      const store = `${redis.address}?prefix=t-par-${mode}`;
      const config = resolveTrainConfig({ ...BASE, mode, parallel: { workers: 2, ...REMOTE } });
      const run = runTo(d, { config, hot, out, coldStore: store, engine: 'ts' });
      const w = worker(['--join', out, '--cold-store', store]);
      const two = await run;
      const wr = await w.done;
      expect(wr.code, wr.err).toBe(0);
      expect(two.m.parallel?.transport).toBe('redis');
      expect(two.m.parallel?.workers).toBe(2);
      expect(two.m.samplesTrained).toBe(one.m.samplesTrained);
      expect(maxDiff(one.p, two.p)).toBeLessThan(1e-4);
      expect(Math.abs(one.m.test.auc - two.m.test.auc)).toBeLessThan(1e-3);
      expect(two.m.parallel!.bytesExchanged).toBeGreaterThan(0);
      expect(two.m.work!.embedding).toEqual(one.m.work!.embedding);
    }, 120_000);
  }

  it('fae on a 3-master Cluster: 2 processes equal one process on the merged batch', async () => {
    const cluster = await startCluster(3);
    try {
      const one = await runTo(d, { config: resolveTrainConfig({ ...BASE, mode: 'fae', train: { ...BASE.train, maxBatches: 10 } }), hot: d.hotDir, out: outDir(d, 'r-cl-k1'), engine: 'ts' });
      const out = outDir(d, 'r-cl-k2');
      const store = `${cluster.address}?prefix=t-par-cl`;
      const run = runTo(d, { config: resolveTrainConfig({ ...BASE, mode: 'fae', train: { ...BASE.train, maxBatches: 10 }, parallel: { workers: 2, ...REMOTE } }), hot: d.hotDir, out, coldStore: store, engine: 'ts' });
      const w = worker(['--join', out, '--cold-store', store]);
      const two = await run;
      const wr = await w.done;
      expect(wr.code, wr.err).toBe(0);
      expect(maxDiff(one.p, two.p)).toBeLessThan(1e-4);
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it('rank 0\'s writes held back 150 ms: still equal (the next reads take the owners\' posted new values, not the store\'s stale rows)', async () => {
    const one = await runTo(d, { config: resolveTrainConfig({ ...BASE, mode: 'baseline', train: { ...BASE.train, maxBatches: 8 } }), out: outDir(d, 'r-delay-k1'), engine: 'ts' });
    const out = outDir(d, 'r-delay-k2');
    const store = `${redis.address}?prefix=t-par-delay`;
    remoteTestHooks.writeDelayMs = 150;
    try {
      const run = runTo(d, { config: resolveTrainConfig({ ...BASE, mode: 'baseline', train: { ...BASE.train, maxBatches: 8 }, parallel: { workers: 2, ...REMOTE } }), out, coldStore: store, engine: 'ts' });
      const w = worker(['--join', out, '--cold-store', store]);
      const two = await run;
      expect((await w.done).code).toBe(0);
      expect(maxDiff(one.p, two.p)).toBeLessThan(1e-4);
    } finally {
      remoteTestHooks.writeDelayMs = 0;
    }
  }, 120_000);

  it('bounded staleness (hotBound 3, denseBound 2, graph partition): 2 processes equal 2 worker threads with the same bounds (float tolerance)', async () => {
    const par = { workers: 2, hotBound: 3, denseBound: 2, partition: 'graph' } as const;
    const threads = await runTo(d, { config: resolveTrainConfig({ ...BASE, mode: 'fae', parallel: par }), hot: d.hotDir, out: outDir(d, 'r-bound-threads'), engine: 'ts' });
    const out = outDir(d, 'r-bound-procs');
    const store = `${redis.address}?prefix=t-par-bound`;
    const run = runTo(d, { config: resolveTrainConfig({ ...BASE, mode: 'fae', parallel: { ...par, ...REMOTE } }), hot: d.hotDir, out, coldStore: store, engine: 'ts' });
    const w = worker(['--join', out, '--cold-store', store]);
    const procs = await run;
    const wr = await w.done;
    expect(wr.code, wr.err).toBe(0);
    expect(maxDiff(threads.p, procs.p)).toBeLessThan(1e-4);
    expect(Math.abs(threads.m.test.auc - procs.m.test.auc)).toBeLessThan(1e-3);
    const pt = threads.m.parallel!;
    const pp = procs.m.parallel!;
    expect(pp.reconciles).toBe(pt.reconciles);
    expect(pp.staleness.max).toBe(pt.staleness.max);
    expect(pp.cut).toEqual(pt.cut);
    expect(pp.hotBytes).toBeGreaterThan(0);
  }, 120_000);

  const SLIP = { mode: 'slipstream' as const, train: { ...BASE.train, epochs: 2, batchSize: 64 }, slipstream: { windowStart: 2, windowFraction: 0.1, targetDrop: 0.3, tolerance: 0.03, sampleSize: 2000 } };

  it('slipstream at bound 0: 2 processes equal one process (the same rows dropped, the filtered batches posted to the other rank)', async () => {
    const one = await runTo(d, { config: resolveTrainConfig({ ...BASE, ...SLIP }), hot: d.hotDir, out: outDir(d, 'r-slip-k1'), engine: 'ts' });
    const out = outDir(d, 'r-slip-k2');
    const store = `${redis.address}?prefix=t-par-slip`;
    const run = runTo(d, { config: resolveTrainConfig({ ...BASE, ...SLIP, parallel: { workers: 2, ...REMOTE } }), hot: d.hotDir, out, coldStore: store, engine: 'ts' });
    const w = worker(['--join', out, '--cold-store', store]);
    const two = await run;
    const wr = await w.done;
    expect(wr.code, wr.err).toBe(0);
    expect(one.m.slipstream!.dropFraction).toBeGreaterThan(0.1);
    expect(two.m.slipstream!.epochs).toEqual(one.m.slipstream!.epochs);
    expect(two.m.samplesTrained).toBe(one.m.samplesTrained);
    expect(maxDiff(one.p, two.p)).toBeLessThan(1e-4);
    expect(Math.abs(one.m.test.auc - two.m.test.auc)).toBeLessThan(1e-3);
  }, 180_000);

  it('slipstream at hotBound 4: per-replica Slipstream over 2 processes equals it over 2 worker threads', async () => {
    const par = { workers: 2, hotBound: 4 } as const;
    const threads = await runTo(d, { config: resolveTrainConfig({ ...BASE, ...SLIP, parallel: par }), hot: d.hotDir, out: outDir(d, 'r-rslip-threads'), engine: 'ts' });
    const out = outDir(d, 'r-rslip-procs');
    const store = `${redis.address}?prefix=t-par-rslip`;
    const run = runTo(d, { config: resolveTrainConfig({ ...BASE, ...SLIP, parallel: { ...par, ...REMOTE } }), hot: d.hotDir, out, coldStore: store, engine: 'ts' });
    const w = worker(['--join', out, '--cold-store', store]);
    const procs = await run;
    const wr = await w.done;
    expect(wr.code, wr.err).toBe(0);
    const st = threads.m.parallel!.slipstream!;
    const sp = procs.m.parallel!.slipstream!;
    expect(st.dropFraction).toBeGreaterThan(0.1);
    expect(sp).toEqual(st);
    expect(procs.m.samplesTrained).toBe(threads.m.samplesTrained);
    expect(maxDiff(threads.p, procs.p)).toBeLessThan(1e-4);
  }, 180_000);

  it('a join with another config or data is refused, naming both fingerprints', async () => {
    const out = outDir(d, 'r-refuse');
    const store = `${redis.address}?prefix=t-par-refuse`;
    const config = resolveTrainConfig({ ...BASE, mode: 'fae', parallel: { workers: 2, ...REMOTE, joinTimeoutSec: 150 } });
    const run = runTo(d, { config, hot: d.hotDir, out, coldStore: store, engine: 'ts' });
    run.catch(() => undefined); // awaited below
    // another config (a different seed), and other data (another generated set: other fingerprints)
    const other = makeTrainData({ trainRows: 1200, evalRows: 200, seed: 7 });
    try {
      const bad = worker(['--join', out, '--cold-store', store, '--set', 'seed=99', '--set', 'mode=fae', '--set', 'parallel.workers=2', '--set', 'parallel.transport=redis']);
      const bd = worker(['--join', out, '--cold-store', store, '--data', other.dataDir, '--hot', other.hotDir]);
      const [br, bdr] = await Promise.all([bad.done, bd.done]);
      expect(br.code).not.toBe(0);
      expect(br.err).toMatch(/trains with config [0-9a-f]{16}; this worker's config is [0-9a-f]{16}/);
      expect(bdr.code).not.toBe(0);
      expect(bdr.err).toMatch(/trains on preprocessed data \S+ .*this worker's --data \S+ is \S+/);
    } finally {
      other.cleanup();
    }
    // a correct join still works afterwards (the refused ones claimed no rank)
    const ok = worker(['--join', out, '--cold-store', store]);
    await run;
    expect((await ok.done).code).toBe(0);
  }, 120_000);

  it('the coordinator SIGKILLed mid-run: the worker stops with worker_failed naming rank 0 (heartbeat expired)', async () => {
    const out = outDir(d, 'r-kill0');
    const store = `${redis.address}?prefix=t-par-kill0`;
    const cfgFile = join(d.root, 'kill0.json');
    writeFileSync(cfgFile, JSON.stringify({ ...BASE, mode: 'fae', train: { ...BASE.train, epochs: 50, evalEvery: 0 }, parallel: { workers: 2, ...REMOTE } }));
    const coord = spawn(process.execPath, ['--import', 'tsx', 'bin/hotcold.ts', 'train', '--config', cfgFile, '--data', d.dataDir, '--hot', d.hotDir, '--out', out, '--cold-store', store, '--engine', 'ts', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let cErr = '';
    coord.stderr!.on('data', (b: Buffer) => { cErr += b.toString(); });
    const gone = new Promise<void>((res) => coord.once('exit', () => res()));
    const w = worker(['--join', out, '--cold-store', store, '--wait-sec', '60']);
    // once the worker trains, kill the coordinator
    let buf = '';
    w.proc.stderr!.on('data', (b: Buffer) => { buf += b.toString(); });
    await new Promise<void>((res, rej) => {
      const t0 = Date.now();
      const t = setInterval(() => {
        if (/joined run/.test(buf)) { clearInterval(t); res(); }
        if (Date.now() - t0 > 60_000) { clearInterval(t); rej(new Error(`the worker did not join: ${buf}\n${cErr}`)); }
      }, 50);
    });
    await new Promise((r) => setTimeout(r, 1500));
    coord.kill('SIGKILL');
    await gone;
    const wr = await w.done;
    expect(wr.code, `${wr.err}\n${cErr}`).toBe(1);
    expect(wr.err).toMatch(/the coordinator rank 0 \(host \S+, pid \d+\) of 2 processes stopped: its heartbeat expired/);
  }, 120_000);

  it('a worker SIGKILLed mid-run: the coordinator stops with worker_failed; --resume with 2 processes continues from the last checkpoint', async () => {
    const mode = 'fae';
    const CK = { every: 4, everySec: 0, threshold: 0, fullEvery: 3 };
    const ref = await runTo(d, { config: resolveTrainConfig({ ...BASE, mode }), hot: d.hotDir, out: outDir(d, 'r-kill-ref'), engine: 'ts' });
    const out = outDir(d, 'r-kill');
    const store = `${redis.address}?prefix=t-par-kill`;
    const config = resolveTrainConfig({ ...BASE, mode, parallel: { workers: 2, ...REMOTE } });
    const w = worker(['--join', out, '--cold-store', store]);
    const kill = { afterStep: (n: number) => { if (n === 10) w.proc.kill('SIGKILL'); } };
    const err = await runTo(d, { config, hot: d.hotDir, out, coldStore: store, engine: 'ts', checkpoint: CK, hooks: kill }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('worker_failed');
    expect((err as PipelineError).message).toMatch(/worker rank 1 \(host \S+, pid \d+\)/);
    expect((await w.done).signal).toBe('SIGKILL');
    const w2 = worker(['--join', out, '--cold-store', store]);
    const resumed = await runTo(d, { config, hot: d.hotDir, out, coldStore: store, engine: 'ts', checkpoint: CK, resume: true });
    expect((await w2.done).code).toBe(0);
    expect(resumed.m.samplesTrained).toBe(ref.m.samplesTrained);
    expect(resumed.m.batches).toEqual(ref.m.batches);
    expect(maxDiff(ref.p, resumed.p)).toBeLessThan(1e-4);
    expect(Math.abs(ref.m.test.auc - resumed.m.test.auc)).toBeLessThan(1e-3);
  }, 180_000);
});
