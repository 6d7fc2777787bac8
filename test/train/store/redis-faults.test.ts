import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import { train } from '../../../stages/train/train.js';
import { expectCode } from '../../fixtures/temp.js';
import { REDIS_MISSING, startRedis, type RedisHandle } from '../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';
import { firstDiff, outDir, runTo, TINY } from './helpers.js';

const cli = (port: number, ...args: string[]): string => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout;

describe.skipIf(REDIS_MISSING !== null)('redis cold store: faults and bad input', () => {
  let d: TrainData;
  let r: RedisHandle;
  beforeAll(async () => {
    d = makeTrainData({ trainRows: 2000, evalRows: 400 });
    r = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await r?.stop();
    d?.cleanup();
  });
  const config = resolveTrainConfig({ ...TINY, mode: 'fae', train: { ...TINY.train, epochs: 1 } });
  const quick = { connect: { retries: 2, startTries: 1 } };

  it('a server that is not there: bad_config (exit 2) naming the address', async () => {
    const e = await expectCode(train({ config, data: d.dataDir, hot: d.hotDir, out: outDir(d, 'unreach'), quiet: true, coldStore: 'redis://127.0.0.1:1', storeOptions: quick }), 'bad_config');
    expect(e.message).toContain('127.0.0.1:1');
    expect(e.field).toBe('--cold-store');
  });

  it('a store holding another run, another dim or other table sizes is refused before anything is written', async () => {
    const store = `${r.address}?prefix=t-other`;
    await runTo(d, { config, hot: d.hotDir, out: outDir(d, 'other-a'), coldStore: store });
    const keys = cli(r.nodes[0]!.port, 'DBSIZE');
    const seed2 = resolveTrainConfig({ ...TINY, mode: 'fae', seed: 2, train: { ...TINY.train, epochs: 1 } });
    const e1 = await expectCode(train({ config: seed2, data: d.dataDir, hot: d.hotDir, out: outDir(d, 'other-b'), quiet: true, coldStore: store }), 'mismatch');
    expect(e1.message).toMatch(/another run's tables/);
    expect(e1.hint).toContain('store drop');
    const dim4 = resolveTrainConfig({ ...TINY, model: { dim: 4, mlpBot: '13-32-4', mlpTop: '32-1' }, train: { ...TINY.train, epochs: 1 } });
    const e2 = await expectCode(train({ config: dim4, data: d.dataDir, out: outDir(d, 'other-c'), quiet: true, coldStore: store }), 'mismatch');
    expect(e2.message).toMatch(/dim 8.*model\.dim 4/);
    expect(cli(r.nodes[0]!.port, 'DBSIZE')).toBe(keys);
  }, 30_000);

  for (const how of ['FLUSHALL + FUNCTION FLUSH', 'FLUSHALL (functions kept)'] as const) {
    it(`a node emptied mid-run (${how}) is detected, not trained on`, async () => {
      const port = r.nodes[0]!.port;
      const empty = { afterStep: (n: number) => { if (n === 5) { cli(port, 'FLUSHALL'); if (how.includes('FUNCTION')) cli(port, 'FUNCTION', 'FLUSH'); } } };
      const e = await expectCode(train({ config, data: d.dataDir, hot: d.hotDir, out: outDir(d, `flush-${how.length}`), quiet: true, coldStore: `${r.address}?prefix=t-flush`, hooks: empty }), 'mismatch');
      expect(e.message).toMatch(/lost this run's rows/);
      expect(e.hint).toContain('--resume');
    }, 30_000);
  }

  it('connection lost mid-run: bounded retries, a clean stop naming the address; resume from the last checkpoint on a server restarted empty equals an uninterrupted run', async () => {
    const ck = { every: 4, everySec: 0, threshold: 0, fullEvery: 2 };
    const ref = await runTo(d, { config, hot: d.hotDir, out: outDir(d, 'lost-ref'), checkpoint: ck });
    const store = `${r.address}?prefix=t-lost`;
    const out = outDir(d, 'lost');
    const kill = { afterStep: (n: number) => { if (n === 10) process.kill(r.nodes[0]!.proc.pid!, 'SIGKILL'); } };
    const t0 = performance.now();
    const e = await expectCode(train({ config, data: d.dataDir, hot: d.hotDir, out, quiet: true, coldStore: store, checkpoint: ck, hooks: kill, storeOptions: quick }), 'unavailable');
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(e.message).toContain(r.address);
    expect(e.hint).toContain('--resume');
    await r.restart(0);
    const resumed = await runTo(d, { config, hot: d.hotDir, out, coldStore: store, checkpoint: ck, resume: true });
    expect(firstDiff(resumed.p, ref.p)).toBe(-1);
    expect(resumed.m.test).toEqual(ref.m.test);
  }, 60_000);
});
