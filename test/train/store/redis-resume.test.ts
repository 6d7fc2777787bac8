import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import { REDIS_MISSING, startCluster, startRedis, type RedisHandle } from '../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';
import { firstDiff, outDir, runTo, TINY } from './helpers.js';

class Crash extends Error {}

describe.skipIf(REDIS_MISSING !== null)('redis cold store: checkpoints and resume', () => {
  let d: TrainData;
  let solo: RedisHandle;
  let cluster: RedisHandle;
  beforeAll(async () => {
    d = makeTrainData({ trainRows: 3000, evalRows: 600 });
    [solo, cluster] = await Promise.all([startRedis(), startCluster(3)]);
  }, 60_000);
  afterAll(async () => {
    await solo?.stop();
    await cluster?.stop();
    d?.cleanup();
  });

  for (const [mode, crashAt, where] of [['baseline', 30, 'standalone'], ['fae', 13, 'cluster'], ['slipstream', 9, 'standalone']] as const) {
    it(`${mode} (${where}): killed after batch ${crashAt} and resumed = an uninterrupted memory run, bit for bit`, async () => {
      const config = resolveTrainConfig({ ...TINY, mode });
      const hot = mode === 'baseline' ? undefined : d.hotDir;
      const ck = { every: 4, everySec: 0, threshold: 0, fullEvery: 3 };
      const ref = await runTo(d, { config, hot, out: outDir(d, `${mode}-ref`), checkpoint: ck });
      const store = `${(where === 'cluster' ? cluster : solo).address}?prefix=t-resume-${mode}`;
      const out = outDir(d, `${mode}-crash`);
      const crash = { afterStep: (n: number) => { if (n === crashAt) throw new Crash('killed'); } };
      await expect(runTo(d, { config, hot, out, checkpoint: ck, hooks: crash, coldStore: store })).rejects.toBeInstanceOf(Crash);
      const resumed = await runTo(d, { config, hot, out, checkpoint: ck, resume: true, coldStore: store });
      expect(firstDiff(resumed.p, ref.p)).toBe(-1);
      expect(resumed.m.test).toEqual(ref.m.test);
      expect(resumed.m.evals.map((e) => [e.batch, e.auc])).toEqual(ref.m.evals.map((e) => [e.batch, e.auc]));
      expect(resumed.m.batches).toEqual(ref.m.batches);
    }, 60_000);
  }
});
