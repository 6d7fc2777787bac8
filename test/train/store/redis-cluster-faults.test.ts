/**
 * Faults of a 3-master Cluster mid-run: one master SIGKILLed (bounded retries, a clean stop,
 * the last committed checkpoint intact and the resume command named; after the node is back,
 * empty, the resume equals an uninterrupted run) and one master emptied (its rows lost: detected
 * by the shard sentinels, never trained on).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import { train } from '../../../stages/train/train.js';
import { expectCode } from '../../fixtures/temp.js';
import { REDIS_MISSING, startCluster, type RedisHandle } from '../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';
import { firstDiff, outDir, runTo, TINY } from './helpers.js';

describe.skipIf(REDIS_MISSING !== null)('redis cold store on a Cluster: a master lost mid-run', () => {
  let d: TrainData;
  let c: RedisHandle;
  beforeAll(async () => {
    d = makeTrainData({ trainRows: 2000, evalRows: 400 });
    c = await startCluster(3);
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
    d?.cleanup();
  });
  const config = resolveTrainConfig({ ...TINY, mode: 'fae', train: { ...TINY.train, epochs: 1 } });
  const quick = { connect: { retries: 3, startTries: 1 } };
  const ck = { every: 4, everySec: 0, threshold: 0, fullEvery: 2 };

  it('a master SIGKILLed: a clean stop within bounded retries naming the address and --resume; the checkpoint is intact; after the node is back (empty) the resume equals an uninterrupted run', async () => {
    const ref = await runTo(d, { config, hot: d.hotDir, out: outDir(d, 'ckill-ref'), checkpoint: ck });
    const store = `${c.address}?prefix=t-ckill`;
    const out = outDir(d, 'ckill');
    const kill = { afterStep: (n: number) => { if (n === 10) process.kill(c.nodes[1]!.proc.pid!, 'SIGKILL'); } };
    const t0 = performance.now();
    const e = await expectCode(train({ config, data: d.dataDir, hot: d.hotDir, out, quiet: true, coldStore: store, checkpoint: ck, hooks: kill, storeOptions: quick }), 'unavailable');
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(e.message).toContain(c.address);
    expect(e.message).toMatch(/last committed checkpoint is intact/);
    expect(e.hint).toContain('--resume');
    // the checkpoints committed before the kill are there, none half-written
    const versions = readdirSync(join(out, 'checkpoints')).filter((f) => /^v\d+/.test(f));
    expect(versions.length).toBeGreaterThan(0);
    expect(readdirSync(join(out, 'checkpoints')).some((f) => f.includes('.tmp'))).toBe(false);
    // the node comes back empty, with its slots (no persistence): the store is rebuilt from the checkpoint
    await c.restart(1, true);
    await c.clusterOk();
    const resumed = await runTo(d, { config, hot: d.hotDir, out, coldStore: store, checkpoint: ck, resume: true });
    expect(firstDiff(resumed.p, ref.p)).toBe(-1);
    expect(resumed.m.test).toEqual(ref.m.test);
  }, 120_000);

  it('a master emptied mid-run: its shards\' sentinels are gone, the run stops (mismatch), not trained on', async () => {
    const port = c.nodes[2]!.port;
    const empty = { afterStep: (n: number) => { if (n === 6) spawnSync('redis-cli', ['-p', String(port), 'FLUSHALL'], { encoding: 'utf8' }); } };
    const e = await expectCode(train({ config, data: d.dataDir, hot: d.hotDir, out: outDir(d, 'cflush'), quiet: true, coldStore: `${c.address}?prefix=t-cflush`, hooks: empty, storeOptions: quick }), 'mismatch');
    expect(e.message).toMatch(/lost this run's rows/);
    expect(e.hint).toContain('--resume');
  }, 60_000);
});
