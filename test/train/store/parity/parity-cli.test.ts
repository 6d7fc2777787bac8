import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../fixtures/cli.js';
import { register as registerStore } from '../../../../stages/train/store/cli.js';
import { register as registerTrain } from '../../../../stages/train/cli.js';
import type { RunMetrics } from '../../../../pipeline/run-metrics.js';
import { REDIS_MISSING, startRedis, type RedisHandle } from '../../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../../fixtures/train-data.js';
import { startNodes, stopNodes } from './helpers.js';

const cli = (args: string[]) => runCli([registerTrain, registerStore], args);

describe.skipIf(REDIS_MISSING !== null)('hotcold train --cold-store redis-parity:// and hotcold store scrub|rebuild', () => {
  let d: TrainData;
  let hs: RedisHandle[];
  const cfg = ['--set', 'model.dim=8', '--set', 'model.mlpBot=13-16-8', '--set', 'model.mlpTop=16-1', '--set', 'train.batchSize=256', '--engine', 'ts', '--quiet'];
  beforeAll(async () => {
    d = makeTrainData({ trainRows: 1500, evalRows: 300, coldRows: 300 });
    hs = await startNodes(4);
  }, 30_000);
  afterAll(async () => {
    await stopNodes(hs);
    d?.cleanup();
  });

  it('train, scrub clean; a corrupted row → exit 1 naming it, --repair; a node restarted empty → store rebuild → scrub clean', async () => {
    const spec = `redis-parity://${hs.map((h) => `127.0.0.1:${h.nodes[0]!.port}`).join(',')}?data=3&parity=1`;
    const out = join(d.root, 'run');
    const t = await cli(['train', '--data', d.dataDir, '--out', out, '--cold-store', spec, ...cfg]);
    expect(t.code).toBe(0);
    const s0 = await cli(['store', 'scrub', '--cold-store', spec, '--out', out, '--json']);
    expect(s0.code).toBe(0);
    const r0 = JSON.parse(s0.out) as { stripes: number; unchecked: number; mismatches: unknown[]; intents: unknown[] };
    expect(r0.stripes).toBeGreaterThan(26);
    expect([r0.unchecked, r0.mismatches.length, r0.intents.length]).toEqual([0, 0, 0]);
    // corrupt row 40 of table C2 (block 1 → data node 1, offset 8)
    const keys = spawnSync('redis-cli', ['-p', String(hs[1]!.nodes[0]!.port), '--scan', '--pattern', '*:d:1:1'], { encoding: 'utf8' }).stdout.trim();
    expect(keys).toMatch(/:d:1:1$/);
    spawnSync('redis-cli', ['-p', String(hs[1]!.nodes[0]!.port), 'SETRANGE', keys, String(8 * 9 * 4), 'garbage']);
    const s1 = await cli(['store', 'scrub', '--cold-store', spec, '--out', out]);
    expect(s1.code).toBe(1);
    expect(s1.out).toContain('C2 stripe 0 offset 8, parity node 0: one of rows 8, 40, 72');
    expect((await cli(['store', 'scrub', '--cold-store', spec, '--out', out, '--repair'])).code).toBe(0);
    expect((await cli(['store', 'scrub', '--cold-store', spec, '--out', out])).out).toMatch(/0 parity rows disagree/);
    await hs[2]!.kill(0);
    await hs[2]!.restart(0);
    const down = await cli(['store', 'scrub', '--cold-store', spec, '--out', out]);
    expect(down.out).toMatch(/not checked \(a node down: data node 2/);
    const rb = await cli(['store', 'rebuild', '--cold-store', spec, '--out', out, '--node', `127.0.0.1:${hs[2]!.nodes[0]!.port}`]);
    expect(rb.code).toBe(0);
    expect(rb.out).toMatch(/data node 2 .* rebuilt on 127\.0\.0\.1:\d+: \d+ blocks/);
    const s2 = await cli(['store', 'scrub', '--cold-store', spec, '--out', out]);
    expect([s2.code, /0 not checked/.test(s2.out), /0 parity rows disagree/.test(s2.out)]).toEqual([0, true, true]);
    const bad = await cli(['store', 'rebuild', '--cold-store', spec, '--out', out, '--node', '9']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--node 9: not one of/);
  }, 60_000);

  it('store rebuild while a trainer process runs on the store: handed to the trainer, which moves a live data node onto --to in the background; scrub --repair is refused meanwhile', async () => {
    const BIN = resolve(import.meta.dirname, '..', '..', '..', '..', 'bin', 'hotcold.js');
    const hp = (h: RedisHandle): string => `127.0.0.1:${h.nodes[0]!.port}`;
    const spare = await startRedis();
    try {
      const spec = `redis-parity://${hs.map(hp).join(',')}?data=3&parity=1`;
      const out = join(d.root, 'run-live');
      const long = [...cfg.map((x) => (x === 'train.batchSize=256' ? 'train.batchSize=64' : x)), '--set', 'train.epochs=20'];
      const child = spawn(process.execPath, [BIN, 'train', '--data', d.dataDir, '--out', out, '--cold-store', spec, ...long], { stdio: ['ignore', 'pipe', 'pipe'] });
      let childErr = '';
      child.stderr!.on('data', (b: Buffer) => void (childErr += b.toString()));
      child.stdout!.resume();
      const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
      // the trainer holds its lease once it has opened the store
      const t0 = Date.now();
      while (!spawnSync('redis-cli', ['-p', String(hs[0]!.nodes[0]!.port), '--scan', '--pattern', '*:trainer'], { encoding: 'utf8' }).stdout.trim()) {
        if (Date.now() - t0 > 30_000 || child.exitCode !== null) throw new Error(`the trainer did not take its lease: ${childErr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const rep = await cli(['store', 'scrub', '--cold-store', spec, '--out', out, '--repair']);
      expect(rep.code).toBe(1); // 'locked'
      expect(rep.err).toMatch(new RegExp(`a trainer is running on this store \\(pid ${child.pid} on host`));
      const rb = await cli(['store', 'rebuild', '--cold-store', spec, '--out', out, '--node', '1', '--to', hp(spare)]);
      expect([rb.code, rb.err]).toEqual([0, expect.stringContaining(`a trainer is running on this store (pid ${child.pid}`)]);
      expect(rb.out).toMatch(new RegExp(`data node 1 \\(.*\\) rebuilt on ${hp(spare)} by the running trainer: \\d+ blocks`));
      expect(child.exitCode).toBe(null); // still training
      expect(await exited).toBe(0);
      const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
      expect(m.coldStore!.parity).toMatchObject({ nodeLosses: 1, rebuildsStarted: 1, rebuildsCompleted: 1, notRedundant: [] });
      // the store with the replacement in node 1's place is whole: every stripe checked, parity = code of the data
      const moved = spec.replace(hp(hs[1]!), hp(spare));
      const s = await cli(['store', 'scrub', '--cold-store', moved, '--out', out]);
      expect([s.code, /0 not checked/.test(s.out), /0 parity rows disagree/.test(s.out), /, 0 intents/.test(s.out)]).toEqual([0, true, true, true]);
      // the lease is gone with the trainer: an offline rebuild works again
      const off = await cli(['store', 'rebuild', '--cold-store', moved, '--out', out, '--node', '1']);
      expect([off.code, /rebuilt on .*: \d+ blocks/.test(off.out), /by the running trainer/.test(off.out)]).toEqual([0, true, false]);
    } finally {
      await spare.stop();
    }
  }, 90_000);
});
