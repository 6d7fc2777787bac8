/**
 * The data worker (stages/train/data/worker-stream.ts): the same batches as the in-thread
 * ShardStream, bit for bit, from any start position and after restarts; shard errors arrive as
 * the same PipelineError; a trained run (baseline, fae, slipstream, resumed mid-epoch) ends with
 * the same parameters with the worker on and off.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPreprocessed } from '../../datasets/preprocessed.js';
import { readShardFile } from '../../datasets/shards.js';
import { PipelineError } from '../../pipeline/errors.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { allocBatch, type Batch } from '../../stages/train/data/batch.js';
import { ShardStream, type StreamOptions } from '../../stages/train/data/shard-stream.js';
import { resolveThreads } from '../../stages/train/data/threads.js';
import { WorkerStream } from '../../stages/train/data/worker-stream.js';
import type { TrainOptions } from '../../stages/train/train.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';
import { trainCapturing } from '../fixtures/trainer-state.js';

let d: TrainData;
let paths: string[];
let rows: number[];
beforeAll(() => {
  d = makeTrainData({ trainRows: 3000, evalRows: 600, rowsPerShard: 700 });
  const m = openPreprocessed(d.dataDir);
  paths = m.splits.train.shards.map((s) => join(d.dataDir, s.file));
  rows = m.splits.train.shards.map((s) => s.rows);
});
afterAll(() => d.cleanup());

/** A digest of the valid rows of each batch, until `n` batches or the epoch's end. */
async function drain(s: ShardStream, out: Batch, n = Infinity): Promise<string[]> {
  const got: string[] = [];
  while (got.length < n && (await s.next(out))) {
    const k = out.size;
    const part = [out.labels.subarray(0, k), out.dense.subarray(0, 13 * k), out.cats.subarray(0, 26 * k)];
    const h = createHash('sha256');
    for (const a of part) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    got.push(`${k}:${h.digest('hex')}`);
  }
  return got;
}

describe('WorkerStream', () => {
  const opts: StreamOptions = { batchSize: 128, shuffle: true, seed: 5, salt: 1 };

  it('delivers the in-thread batches bit for bit: whole epochs, mid-epoch starts, restarts with batches in flight', async () => {
    const ref = new ShardStream(paths, rows, opts);
    const w = new WorkerStream(paths, rows, opts);
    const a = allocBatch(128);
    const b = allocBatch(128);
    try {
      for (const [epoch, from] of [[0, 0], [1, 0], [1, 17], [2, 23], [0, 24]] as const) {
        ref.start(epoch, from);
        w.start(epoch, from);
        const want = await drain(ref, a);
        const got = await drain(w, b);
        expect(got.length).toBe(Math.ceil(3000 / 128) - from);
        expect(got).toEqual(want);
        expect(await w.next(b)).toBe(false); // stays exhausted, as the in-thread stream does
      }
      // restart while the worker has batches ready and one being filled
      w.start(3, 0);
      await drain(w, b, 2);
      w.start(3, 9);
      ref.start(3, 9);
      expect(await drain(w, b)).toEqual(await drain(ref, a));
      // a batch of another capacity gets a copy of the rows instead of the slot's arrays
      w.start(0, 0);
      ref.start(0, 0);
      const small = allocBatch(256);
      expect(await drain(w, small, 3)).toEqual(await drain(ref, allocBatch(256), 3));
    } finally {
      await w.close();
    }
  });

  it('the shuffled stream (row-major gather) delivers exactly the documented order: shard order, then each shard\'s permuted rows', async () => {
    const s = new ShardStream(paths, rows, opts);
    const cols = paths.map((p) => readShardFile(p));
    const out = allocBatch(128);
    for (const epoch of [0, 3]) {
      s.start(epoch, 0);
      // the stream positions in order, from the contract in shard-stream.ts
      const want: [number, number][] = [];
      for (const shard of s.shardOrder(epoch)) for (const r of s.rowPerm(epoch, shard)) want.push([shard, r]);
      let k = 0;
      const bad: string[] = [];
      while (await s.next(out)) {
        for (let i = 0; i < out.size; i++, k++) {
          const [shard, r] = want[k]!;
          const c = cols[shard]!;
          if (!Object.is(out.labels[i], c.label[r]! + 0)) bad.push(`label of position ${k}`);
          for (let j = 0; j < 13; j++) if (!Object.is(out.dense[i * 13 + j], c.dense[j]![r])) bad.push(`I${j + 1} of position ${k}`);
          for (let j = 0; j < 26; j++) if (out.cats[i * 26 + j] !== c.cats[j]![r]) bad.push(`C${j + 1} of position ${k}`);
        }
      }
      expect(bad.slice(0, 5)).toEqual([]);
      expect(k).toBe(3000);
    }
  });

  it('the event loop turns between batches (signals, timers and other I/O are not held up by a full ring)', async () => {
    const w = new WorkerStream(paths, rows, { ...opts, batchSize: 16 });
    const b = allocBatch(16);
    let ticks = 0;
    const iv = setInterval(() => ticks++, 0);
    try {
      w.start(0, 0);
      const seen: number[] = [];
      while (await w.next(b)) {
        seen.push(ticks);
        const t = performance.now();
        while (performance.now() - t < 2); // a 2 ms "step": the 1 ms timer is due at every turn
      }
      expect(seen.length).toBe(Math.ceil(3000 / 16));
      const stalls = seen.filter((x, i) => i >= 4 && x === seen[i - 4]);
      expect(stalls.length).toBe(0); // the timer ran within every 4 consecutive batches
    } finally {
      clearInterval(iv);
      await w.close();
    }
  });

  it('a corrupt shard fails with the same PipelineError (code, message, file) as in the training thread', async () => {
    const bad = [...paths];
    const broken = join(d.root, 'broken.arrow');
    writeFileSync(broken, 'not an arrow file at all');
    bad[2] = broken;
    const noShuffle = { ...opts, shuffle: false };
    const catchIt = async (s: ShardStream): Promise<{ e: unknown; n: number }> => {
      const out = allocBatch(128);
      let n = 0;
      s.start(0, 0);
      try {
        while (await s.next(out)) n++;
      } catch (e) {
        return { e, n };
      }
      return { e: null, n };
    };
    const want = await catchIt(new ShardStream(bad, rows, noShuffle));
    const w = new WorkerStream(bad, rows, noShuffle);
    try {
      const got = await catchIt(w);
      expect(want.e).toBeInstanceOf(PipelineError);
      expect(got.e).toBeInstanceOf(PipelineError);
      const pick = (e: unknown): object => ({ code: (e as PipelineError).code, message: (e as PipelineError).message, file: (e as PipelineError).file });
      expect(pick(got.e)).toEqual(pick(want.e));
      expect((got.e as PipelineError).file).toBe(broken);
      expect(got.n).toBe(want.n); // the batches before the broken shard arrived first
      expect((got.e as Error).stack ?? '').not.toMatch(/data-worker\.(ts|js)/);
      // a missing file likewise
      const gone = [...paths];
      gone[1] = join(d.root, 'nope.arrow');
      const w2 = new WorkerStream(gone, rows, noShuffle);
      const r = await catchIt(w2);
      await w2.close();
      expect((r.e as PipelineError).code).toBe('not_found');
      expect((r.e as PipelineError).file).toBe(gone[1]);
    } finally {
      await w.close();
    }
  });

  it('--threads auto is min(2, cores), shared among workers', () => {
    expect(resolveThreads('auto', 1)).toBe(1);
    expect(resolveThreads('auto', 2)).toBe(2);
    expect(resolveThreads('auto', 16)).toBe(2);
    expect(resolveThreads(3, 16)).toBe(3);
    expect(resolveThreads(undefined, 16)).toBe(1);
    // auto is shared among data-parallel workers: 1 BLAS thread per worker on 2 cores
    expect(resolveThreads('auto', 2, 2)).toBe(1);
    expect(resolveThreads('auto', 16, 4)).toBe(1);
    expect(resolveThreads(2, 2, 2)).toBe(2);
  });
});

const BASE = {
  model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' },
  train: { batchSize: 128, epochs: 2, evalEvery: 20, logEvery: 5 },
  slipstream: { windowStart: 4, windowFraction: 0.1, tolerance: 0.05 },
  fae: { rounds: 4 },
};

const run = (o: Omit<TrainOptions, 'data' | 'quiet'>) => trainCapturing({ ...o, data: d.dataDir });

describe('train with the data worker', () => {
  for (const mode of ['baseline', 'fae', 'slipstream'] as const) {
    it(`${mode}: the same trained parameters and metrics as the in-thread path`, async () => {
      const config = resolveTrainConfig({ ...BASE, mode });
      const hot = mode === 'baseline' ? undefined : d.hotDir;
      const off = await run({ config, hot, out: join(d.root, `${mode}-off`), dataWorker: false });
      const on = await run({ config, hot, out: join(d.root, `${mode}-on`), dataWorker: true });
      expect(on.p.length).toBe(off.p.length);
      for (let i = 0; i < off.p.length; i++) expect(Buffer.compare(on.p[i]!, off.p[i]!)).toBe(0);
      expect(on.m.test).toEqual(off.m.test);
      expect(on.m.evals.map((e) => e.auc)).toEqual(off.m.evals.map((e) => e.auc));
      expect(on.m.work).toEqual(off.m.work);
      expect(on.m.dataLoad).toMatchObject({ worker: true, threads: 1 });
      expect(off.m.dataLoad).toMatchObject({ worker: false, threads: 1 });
      expect(on.m.dataLoad!.waitSec).toBeGreaterThanOrEqual(0);
    });
  }

  it('a run killed mid-epoch and resumed with the data worker ends bit-identical to an uninterrupted in-thread run', async () => {
    const config = resolveTrainConfig({ ...BASE, mode: 'slipstream' });
    const ck = { every: 4, everySec: 0, threshold: 0, fullEvery: 3 };
    const ref = await run({ config, hot: d.hotDir, out: join(d.root, 'res-ref'), checkpoint: ck, dataWorker: false });
    const out = join(d.root, 'res-crash');
    const crash = { afterStep: (n: number) => { if (n === 14) throw new Error('killed'); } };
    await expect(run({ config, hot: d.hotDir, out, checkpoint: ck, hooks: crash, dataWorker: true })).rejects.toThrow('killed');
    const resumed = await run({ config, hot: d.hotDir, out, checkpoint: ck, resume: true, dataWorker: true });
    for (let i = 0; i < ref.p.length; i++) expect(Buffer.compare(resumed.p[i]!, ref.p[i]!)).toBe(0);
    expect(resumed.m.batches).toEqual(ref.m.batches);
    expect(resumed.m.test).toEqual(ref.m.test);
  });
});
