import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { register as registerStore } from '../../../../stages/train/store/cli.js';
import { register as registerTrain } from '../../../../stages/train/cli.js';
import { REDIS_MISSING, type RedisHandle } from '../../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../../fixtures/train-data.js';
import { startNodes, stopNodes } from './helpers.js';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = new Command().exitOverride();
  registerTrain(program);
  registerStore(program);
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'hotcold', ...args]);
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, out, err };
}

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
});
