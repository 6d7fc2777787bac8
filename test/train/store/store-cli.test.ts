import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../fixtures/cli.js';
import { register as registerStore } from '../../../stages/train/store/cli.js';
import { register as registerTrain } from '../../../stages/train/cli.js';
import { parseStoreAddress } from '../../../stages/train/store/layout.js';
import { REDIS_MISSING, startRedis, type RedisHandle } from '../../fixtures/redis.js';
import { makeTrainData, type TrainData } from '../../fixtures/train-data.js';

const cli = (args: string[]) => runCli([registerTrain, registerStore], args);

describe('--cold-store addresses', () => {
  it('parses memory, standalone, Cluster seeds and a prefix; refuses the rest naming the field', () => {
    expect(parseStoreAddress('memory')).toBeNull();
    expect(parseStoreAddress('redis://10.0.0.1:7000')).toMatchObject({ cluster: false, nodes: [{ host: '10.0.0.1', port: 7000 }] });
    expect(parseStoreAddress('redis://a:1,b:2?prefix=x.y')).toMatchObject({ cluster: true, prefix: 'x.y', nodes: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }] });
    expect(parseStoreAddress('redis-cluster://a:1')).toMatchObject({ cluster: true });
    expect(() => parseStoreAddress('http://a:1')).toThrow(/not memory, redis/);
    expect(() => parseStoreAddress('redis://a:99999')).toThrow(/host:port/);
    expect(() => parseStoreAddress('redis://a:1?prefix={x}')).toThrow(/prefix/);
  });
});

describe.skipIf(REDIS_MISSING !== null)('hotcold train --cold-store and hotcold store', () => {
  let d: TrainData;
  let r: RedisHandle;
  const cfg = ['--set', 'model.dim=8', '--set', 'model.mlpBot=13-16-8', '--set', 'model.mlpTop=16-1', '--set', 'train.batchSize=256', '--engine', 'ts', '--quiet'];
  beforeAll(async () => {
    d = makeTrainData({ trainRows: 1500, evalRows: 300 });
    r = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await r?.stop();
    d?.cleanup();
  });

  it('an unreachable server: exit 2, the address named', async () => {
    const x = await cli(['train', '--data', d.dataDir, '--out', join(d.root, 'unreach'), '--cold-store', 'redis://127.0.0.1:1', ...cfg]);
    expect(x.code).toBe(2);
    expect(x.err).toContain('127.0.0.1:1');
  });

  it('train reports the store traffic; stats, dump and drop see exactly the run\'s keys', async () => {
    const out = join(d.root, 'run');
    const t = await cli(['train', '--data', d.dataDir, '--out', out, '--cold-store', r.address, ...cfg]);
    expect(t.err).toBe('');
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/cold store redis:\/\/.*round trips.*rows read.*% of lookups hot/);
    const s = await cli(['store', 'stats', '--cold-store', r.address, '--out', out, '--json']);
    expect(s.code).toBe(0);
    const stats = JSON.parse(s.out) as { rows: number; nodes: { keys: number }[]; meta: { sizes: number[] } };
    expect(stats.rows).toBe(d.tableSizes.reduce((a, b) => a + b, 0));
    const keys = stats.nodes[0]!.keys;
    expect(keys).toBeGreaterThan(26);
    const dump = await cli(['store', 'dump', '--cold-store', r.address, '--out', out, '--table', '3', '--rows', '0-2']);
    const lines = dump.out.trim().split('\n').map((l) => JSON.parse(l) as { table: number; row: number; weights: number[] });
    expect(lines.map((l) => [l.table, l.row, l.weights.length])).toEqual([[3, 0, 8], [3, 1, 8], [3, 2, 8]]);
    // a key outside the prefix survives the drop
    const { spawnSync } = await import('node:child_process');
    spawnSync('redis-cli', ['-p', String(r.nodes[0]!.port), 'SET', 'someone-else', '1']);
    const drop = await cli(['store', 'drop', '--cold-store', r.address, '--out', out]);
    expect(drop.out).toContain(`${keys} keys`);
    expect(spawnSync('redis-cli', ['-p', String(r.nodes[0]!.port), 'DBSIZE'], { encoding: 'utf8' }).stdout.trim()).toBe('1');
    const after = await cli(['store', 'stats', '--cold-store', r.address, '--out', out]);
    expect(after.out).toMatch(/no tables/);
  }, 60_000);

  it('store init writes the tables a train run then accepts (same fingerprint)', async () => {
    const out = join(d.root, 'init-run');
    const i = await cli(['store', 'init', '--cold-store', `${r.address}?prefix=cli-init`, '--data', d.dataDir, ...cfg.filter((a) => a !== '--engine' && a !== 'ts' && a !== '--quiet')]);
    expect(i.err).toBe('');
    expect(i.out).toMatch(/store init: \d+ rows under prefix 'cli-init'/);
    const t = await cli(['train', '--data', d.dataDir, '--out', out, '--cold-store', `${r.address}?prefix=cli-init`, ...cfg]);
    expect(t.code).toBe(0);
    const other = await cli(['train', '--data', d.dataDir, '--out', join(d.root, 'init-other'), '--cold-store', `${r.address}?prefix=cli-init`, '--seed', '9', ...cfg]);
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/another run's tables/);
  }, 60_000);
});
