import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';
import { Rng } from '../../pipeline/rng.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { encodeRows, headOf } from '../../stages/train/updatelog/codec.js';
import { UpdateLog } from '../../stages/train/updatelog/redis-log.js';
import { type RawEntry, markerOf, replayLog, scanLog } from '../../stages/train/updatelog/scan.js';
import { REDIS_MISSING, startRedis, type RedisHandle } from '../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';
import { firstDiff, outDir, runTo, TINY } from './store/helpers.js';

const SHAPES = [{ dim: 2, rows: 10 }, { dim: 2, rows: 5 }];
const NAMES = ['C1', 'C2'];

/** Raw stream entries of one version in both tables: rows (k = rows) or a marker of `ckpt`. */
function version(v: number, prev: number, rows: Record<number, number[]>, ckpt?: number): RawEntry[] {
  return SHAPES.map((s, t) => {
    const ids = Int32Array.from(rows[t] ?? []);
    const w = new Float32Array(s.rows * s.dim).map((_, i) => v * 100 + i);
    const a = new Float32Array(s.rows).map((_, i) => v + i / 10);
    const d = ckpt === undefined ? encodeRows(ids, ids.length, w, a, s.dim) : Buffer.alloc(0);
    const h = headOf({ k: ckpt === undefined ? 'rows' : 'marker', v, prev, step: v, t, n: ckpt === undefined ? ids.length : 0, dim: s.dim, acc: 1, ...(ckpt === undefined ? {} : { ckpt }) }, d);
    return { id: `${v}-0`, h: Buffer.from(JSON.stringify(h)), d };
  });
}

/** Streams (one per table) from versions. */
function streams(vs: RawEntry[][]): RawEntry[][] {
  return SHAPES.map((_, t) => vs.map((x) => x[t]!));
}

describe('update log: scan and replay (no server)', () => {
  const log = [version(1, 0, {}, 1), version(2, 1, { 0: [1, 3], 1: [0] }), version(3, 2, { 0: [3, 9] }), version(4, 3, {}, 2), version(5, 4, { 1: [4] }), version(6, 5, {}, 3)];

  it('finds every complete marker and replays in order, the newest value winning', () => {
    const scan = scanLog(streams(log), SHAPES, NAMES);
    expect(scan.stop).toBeNull();
    expect(scan.markers.map((m) => [m.v, m.ckpt])).toEqual([[1, 1], [4, 2], [6, 3]]);
    const tables = SHAPES.map((s, i) => ({ name: NAMES[i]!, rows: s.rows, dim: s.dim, weights: new Float32Array(s.rows * s.dim), accum: new Float32Array(s.rows), touched: new Uint8Array(2) }));
    const st = replayLog(scan, markerOf(scan, 1)!.v, markerOf(scan, 2)!.v, tables);
    expect(st).toEqual({ entries: 2, rows: 5, from: 1, to: 4 });
    // row 3 of C1: version 3's value (written after version 2's)
    expect(Array.from(tables[0]!.weights.subarray(6, 8))).toEqual([306, 307]);
    expect(Array.from(tables[0]!.weights.subarray(2, 4))).toEqual([202, 203]);
    expect(tables[1]!.accum![0]).toBeCloseTo(2.0);
    expect(tables[1]!.accum![4]).toBe(0); // version 5 is after marker 2
  });

  it('a torn last version (missing from one stream) stops the walk before it and says so', () => {
    const s = streams(log);
    s[1]!.pop(); // the process died between the XADDs of version 6
    const scan = scanLog(s, SHAPES, NAMES);
    expect(scan.stop).toMatch(/version 6 is torn: 1 of 2 table streams hold it \(C2 does not\)/);
    expect(scan.markers.map((m) => m.ckpt)).toEqual([1, 2]);
    expect(scan.rest).toEqual([['6-0'], []]);
  });

  it('a torn payload (length or CRC) stops the walk there', () => {
    const bad = log.map((x) => x.map((e) => ({ ...e })));
    bad[4]![1]!.d = bad[4]![1]!.d!.subarray(0, 3);
    expect(scanLog(streams(bad), SHAPES, NAMES).stop).toMatch(/C2: entry 5-0 is torn: payload 3 bytes, header says \d+/);
    const flip = log.map((x) => x.map((e) => ({ ...e, d: e.d ? Buffer.from(e.d) : e.d })));
    flip[1]![1]!.d![0]! ^= 1;
    const scan = scanLog(streams(flip), SHAPES, NAMES);
    expect(scan.stop).toMatch(/C2: entry 2-0 fails its CRC-32/);
    expect(scan.markers.map((m) => m.ckpt)).toEqual([1]);
  });

  it('a gap (an entry missing in every stream, or in one) stops the walk', () => {
    const all = streams([log[0]!, log[1]!, log[3]!, log[4]!]);
    expect(scanLog(all, SHAPES, NAMES).stop).toMatch(/gap before version 4: it follows version 3, but the last complete version is 2/);
    const one = streams(log);
    one[0]!.splice(2, 1);
    expect(scanLog(one, SHAPES, NAMES).stop).toMatch(/gap at version 3: the stream of C1 holds version 4 where the others hold 3/);
  });
});

class Crash extends Error {}

describe.skipIf(REDIS_MISSING !== null)('update log on Redis Streams through the trainer', () => {
  let d: TrainData;
  let redis: RedisHandle;
  beforeAll(async () => {
    d = makeTrainData({ trainRows: 3000, evalRows: 600 });
    redis = await startRedis();
  }, 60_000);
  afterAll(async () => {
    await redis?.stop();
    d?.cleanup();
  });
  const config = (): ReturnType<typeof resolveTrainConfig> => resolveTrainConfig({ ...TINY, mode: 'fae' });
  const ck = (prefix: string) => ({ every: 6, everySec: 0, threshold: 0, fullEvery: 2, log: { address: `${redis.address}?prefix=${prefix}`, every: 2 } });
  /** the uninterrupted run with the log, trained once for the tests below */
  let refRun: ReturnType<typeof runTo> | null = null;
  const reference = (): ReturnType<typeof runTo> => (refRun ??= runTo(d, { config: config(), hot: d.hotDir, out: outDir(d, 'ulog-ref'), checkpoint: ck('ulog-ref') }));

  it('a run with the log trains the same parameters as one without; killed at random points, replay recovers them exactly', async () => {
    const cfg = config();
    const plain = await runTo(d, { config: cfg, hot: d.hotDir, out: outDir(d, 'ulog-plain'), checkpoint: { every: 6, everySec: 0, threshold: 0, fullEvery: 2 } });
    const ref = await reference();
    expect(firstDiff(ref.p, plain.p)).toBe(-1);
    const total = ref.m.batches.total;
    const rng = new Rng(13);
    for (let k = 0; k < 2; k++) {
      const at = 7 + rng.int(total - 10);
      const out = outDir(d, `ulog-kill-${k}`);
      const crash = { afterStep: (n: number) => { if (n === at) throw new Crash('killed'); } };
      await expect(runTo(d, { config: cfg, hot: d.hotDir, out, checkpoint: ck(`ulog-k${k}`), hooks: crash })).rejects.toBeInstanceOf(Crash);
      const resumed = await runTo(d, { config: cfg, hot: d.hotDir, out, checkpoint: ck(`ulog-k${k}`), resume: true });
      expect(firstDiff(resumed.p, ref.p), `killed after batch ${at}`).toBe(-1);
      expect(resumed.m.test).toEqual(ref.m.test);
      const lines = readFileSync(join(out, 'log.jsonl'), 'utf8');
      expect(lines).toMatch(/update log: restored checkpoint v\d+ \(dense state; tables from base v\d+\) \+ (replay of log versions|no replay \(a full base\))/);
    }
  }, 120_000);

  it('2 worker threads with the log: the same parameters as without it; killed, replay resumes them exactly', async () => {
    const cfg = resolveTrainConfig({ ...TINY, mode: 'fae', parallel: { workers: 2 } });
    const plain = await runTo(d, { config: cfg, hot: d.hotDir, out: outDir(d, 'ulog-w2-plain'), checkpoint: { every: 6, everySec: 0, threshold: 0, fullEvery: 2 } });
    const ref = await runTo(d, { config: cfg, hot: d.hotDir, out: outDir(d, 'ulog-w2-ref'), checkpoint: ck('ulog-w2-ref') });
    expect(ref.m.parallel?.workers).toBe(2);
    expect(firstDiff(ref.p, plain.p)).toBe(-1); // at bound 0 a log entry (a sync of the workers) changes nothing
    const at = 11;
    const out = outDir(d, 'ulog-w2-kill');
    const crash = { afterStep: (n: number) => { if (n === at) throw new Crash('killed'); } };
    await expect(runTo(d, { config: cfg, hot: d.hotDir, out, checkpoint: ck('ulog-w2-k'), hooks: crash })).rejects.toBeInstanceOf(Crash);
    const resumed = await runTo(d, { config: cfg, hot: d.hotDir, out, checkpoint: ck('ulog-w2-k'), resume: true });
    expect(firstDiff(resumed.p, ref.p), `killed after batch ${at}`).toBe(-1);
    expect(resumed.m.test).toEqual(ref.m.test);
    expect(readFileSync(join(out, 'log.jsonl'), 'utf8')).toMatch(/update log: restored checkpoint v\d+/);
  }, 120_000);

  it('trims the log below the previous base once a newer base commits; a torn newest marker falls back to the one before', async () => {
    const cfg = config();
    const ref = await reference();
    const out = outDir(d, 'ulog-torn');
    const crashAt = 40;
    const crash = { afterStep: (n: number) => { if (n === crashAt) throw new Crash('killed'); } };
    await expect(runTo(d, { config: cfg, hot: d.hotDir, out, checkpoint: ck('ulog-torn'), hooks: crash })).rejects.toBeInstanceOf(Crash);
    const tables = ref.m.batches.total > 0 ? 26 : 0;
    const log = await UpdateLog.open({ address: `${redis.address}?prefix=ulog-torn`, prefix: 'x', tables: Array.from({ length: tables }, (_, i) => ({ name: `C${i + 1}`, rows: d.tableSizes[i]!, dim: 8, accum: true })) });
    try {
      const scan = await log.scan();
      expect(scan.stop).toBeNull();
      // checkpoints at 6, 12, …, 36 with fullEvery 2: bases at 6, 24; trimmed below the marker of 6 once 24 committed → the first entry is that marker
      expect(scan.versions[0]!.entries[0]!.head).toMatchObject({ k: 'marker', ckpt: 1 });
      const newest = scan.markers[scan.markers.length - 1]!;
      expect(newest.ckpt).toBe(6); // the checkpoint at batch 36
      // tear the newest marker: one stream loses it
      expect(await log.raw.xdel(log.key(7), `${newest.v}-0`)).toBe(1);
    } finally {
      await log.close();
    }
    const resumed = await runTo(d, { config: cfg, hot: d.hotDir, out, checkpoint: ck('ulog-torn'), resume: true });
    expect(firstDiff(resumed.p, ref.p)).toBe(-1);
    const lines = readFileSync(join(out, 'log.jsonl'), 'utf8');
    // the stream of C8 lost the marker but holds the later entries: a gap there
    expect(lines).toMatch(/update log: gap at version \d+: the stream of C8 holds version \d+ where the others hold \d+; replay stops at the last complete marker \(checkpoint v5/);
    expect(lines).toMatch(/checkpoint v6 has no complete marker in the log; resuming from v5/);
  }, 120_000);

  it('an unreachable log is a clear error naming the address', async () => {
    const err = await runTo(d, {
      config: config(), hot: d.hotDir, out: outDir(d, 'ulog-down'),
      checkpoint: { every: 6, everySec: 0, threshold: 0, fullEvery: 2, log: { address: 'redis://127.0.0.1:1', every: 2 } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('bad_config');
    expect((err as PipelineError).message).toMatch(/cannot reach the update log at 127\.0\.0\.1:1/);
  }, 30_000);

  it('a resume reads the streams newest first down to the base marker only (pipelined chunks), exactly what the whole read replays; no such marker → the whole log', async () => {
    const log = await UpdateLog.open({ address: `${redis.address}?prefix=ulog-partial`, prefix: 'x', tables: SHAPES.map((x, t) => ({ name: NAMES[t]!, rows: x.rows, dim: x.dim, accum: true })) });
    try {
      await log.reset();
      // 60 versions over several SCAN_CHUNKs: a marker of checkpoint v/6 every 6th, rows entries between
      for (let v = 1; v <= 60; v++) {
        const es = version(v, v - 1, { 0: [v % 10, (v * 3) % 10], 1: [v % 5] }, v % 6 === 0 ? v / 6 : undefined);
        for (const [t, e] of es.entries()) await log.raw.xadd(log.key(t), e.id, 'h', e.h!, 'd', e.d!);
      }
      const whole = await log.scan();
      expect([whole.partial, whole.versions.length, whole.markers.length, whole.stop]).toEqual([false, 60, 10, null]);
      const part = await log.scan(4);
      expect([part.partial, part.versions[0]!.v, part.versions.length, part.markers.map((m) => m.ckpt), part.stop, part.maxSeen]).toEqual([true, 24, 37, [4, 5, 6, 7, 8, 9, 10], null, 60]);
      const fresh = (): ReturnType<typeof tablesOf> => tablesOf();
      const a = fresh();
      const b = fresh();
      expect(replayLog(part, 24, 60, a)).toEqual(replayLog(whole, 24, 60, b));
      expect(a.map((t) => [...t.weights, ...t.accum!])).toEqual(b.map((t) => [...t.weights, ...t.accum!]));
      expect((await log.scan(99)).partial).toBe(false);
      // that marker torn in one stream: the partial walk stops at once (the driver then reads the whole log)
      await log.raw.xdel(log.key(1), '24-0');
      const torn = await log.scan(4);
      expect([torn.markers.length, /gap at version 24/.test(torn.stop ?? '')]).toEqual([0, true]);
    } finally {
      await log.close();
    }
  }, 30_000);
});

/** Empty host tables of SHAPES (replay targets). */
function tablesOf(): { name: string; rows: number; dim: number; weights: Float32Array; accum: Float32Array | null; touched: Uint8Array }[] {
  return SHAPES.map((x, t) => ({ name: NAMES[t]!, rows: x.rows, dim: x.dim, weights: new Float32Array(x.rows * x.dim), accum: new Float32Array(x.rows), touched: new Uint8Array(Math.ceil(x.rows / 8)) }));
}
