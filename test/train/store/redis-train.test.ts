import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../../stages/train/config.js';
import { REDIS_MISSING, startCluster, startRedis, type RedisHandle } from '../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';
import { firstDiff, outDir, runTo, TINY } from './helpers.js';
import { loadModel } from '../../../stages/train/saved/model.js';

if (REDIS_MISSING) console.warn(REDIS_MISSING);

describe.skipIf(REDIS_MISSING !== null)('redis cold store: same parameters as the memory backend', () => {
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

  for (const mode of ['baseline', 'fae', 'slipstream'] as const) {
    for (const where of ['standalone', 'cluster'] as const) {
      if (where === 'cluster' && mode === 'slipstream') continue; // one Cluster run per mode is enough
      it(`${mode}, ${where}: bit-identical parameters, evaluations and test metrics after 2 epochs`, async () => {
        const config = resolveTrainConfig({ ...TINY, mode });
        const hot = mode === 'baseline' ? undefined : d.hotDir;
        const mem = await runTo(d, { config, hot, out: outDir(d, `${mode}-${where}-mem`) });
        const server = where === 'standalone' ? solo : cluster;
        // fae standalone: every update computed by the Function itself (no unchanged-row shortcut)
        const fastPath = !(mode === 'fae' && where === 'standalone');
        const red = await runTo(d, { config, hot, out: outDir(d, `${mode}-${where}-redis`), coldStore: `${server.address}?prefix=t-${mode}-${where}`, storeOptions: { fastPath } });
        expect(firstDiff(red.p, mem.p)).toBe(-1);
        // the saved final model (hotcold export / predict read it) holds the cold rows from the server too
        const [sm, sr] = [loadModel({ run: outDir(d, `${mode}-${where}-mem`) }), loadModel({ run: outDir(d, `${mode}-${where}-redis`) })];
        expect(sr.model.params).toEqual(sm.model.params);
        for (let t = 0; t < sm.tables.length; t++) expect(sr.tables[t]!.weights).toEqual(sm.tables[t]!.weights);
        expect(red.m.test).toEqual(mem.m.test);
        expect(red.m.evals.map((e) => e.auc)).toEqual(mem.m.evals.map((e) => e.auc));
        // rows gathered to the device are the same; hot rows never sync host↔device with redis (the device's copy is the only one)
        expect([red.m.hostDeviceBytes.gatherIn, red.m.hostDeviceBytes.gradOut]).toEqual([mem.m.hostDeviceBytes.gatherIn, mem.m.hostDeviceBytes.gradOut]);
        // counted work: the same rows gathered and distinct rows updated as the memory backend counts
        expect(red.m.work!.embedding).toEqual(mem.m.work!.embedding);
        const cs = red.m.coldStore!;
        expect(cs.kind).toBe('redis');
        expect(cs.roundTrips).toBeGreaterThan(0);
        expect(cs.rowsRead).toBeGreaterThan(0);
        expect(mem.m.coldStore).toBeUndefined();
        // one writer: the server always holds the rows as this writer read them (the shortcut never misses)
        if (fastPath) expect(cs.conflicts).toBe(0);
        else expect(cs.conflicts).toBeGreaterThan(1000);
        if (mode !== 'baseline') expect(cs.hotShare).toBeGreaterThan(0.5);
        else expect(cs.hotShare).toBe(0);
      }, 60_000);
    }
  }
});
