import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../../../stages/train/config.js';
import type { ParityColdStore } from '../../../../stages/train/store/parity/store.js';
import { REDIS_MISSING, type RedisHandle } from '../../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../../fixtures/train-data.js';
import { firstDiff, outDir, runTo, TINY } from '../helpers.js';
import { paritySpec, startNodes, stopNodes } from './helpers.js';

describe.skipIf(REDIS_MISSING !== null)('parity cold store (ECRec): training through node failures', () => {
  let d: TrainData;
  let hs: RedisHandle[];
  let ref: Awaited<ReturnType<typeof runTo>>;
  const config = resolveTrainConfig({ ...TINY, mode: 'fae' });
  beforeAll(async () => {
    d = makeTrainData({ trainRows: 3000, evalRows: 600 });
    hs = await startNodes(7);
    ref = await runTo(d, { config, hot: d.hotDir, out: outDir(d, 'mem') });
  }, 60_000);
  afterAll(async () => {
    await stopNodes(hs);
    d?.cleanup();
  });

  it('k = 4, r = 1, no failure: bit-identical to the memory backend', async () => {
    const run = await runTo(d, { config, hot: d.hotDir, out: outDir(d, 'p-none'), coldStore: paritySpec(hs, 4, 1, 't-none') });
    expect(firstDiff(run.p, ref.p)).toBe(-1);
    expect(run.m.test).toEqual(ref.m.test);
    expect(run.m.coldStore!.conflicts).toBe(0);
  }, 60_000);

  it('k = 4, r = 1, a data node SIGKILLed mid-epoch: the run finishes degraded, parameters and AUC equal the run without failure', async () => {
    let store: ParityColdStore | null = null;
    const kill = { afterStep: (n: number, tr: { cold: unknown }) => { store = tr.cold as ParityColdStore; if (n === 9) process.kill(hs[1]!.nodes[0]!.proc.pid!, 'SIGKILL'); } };
    const run = await runTo(d, { config, hot: d.hotDir, out: outDir(d, 'p-kill'), coldStore: paritySpec(hs, 4, 1, 't-kill'), hooks: kill });
    expect(firstDiff(run.p, ref.p)).toBe(-1);
    expect(run.m.test).toEqual(ref.m.test);
    expect(run.m.evals.map((e) => e.auc)).toEqual(ref.m.evals.map((e) => e.auc));
    const s = store! as ParityColdStore;
    expect(s.t.nodes[1]!.state).toBe('lost');
    expect(s.t.counters.rowsReconstructed).toBeGreaterThan(0);
    expect(s.t.counters.rowsParityOnly).toBeGreaterThan(0);
    await hs[1]!.restart(0);
  }, 60_000);
});
