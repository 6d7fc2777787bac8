import { describe, expect, it } from 'vitest';
import { reachable, redisServerOnPath, startLocalRedis } from '../../pipeline/local-redis.js';
import { runDemo } from '../../stages/sweep/demo.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';

const tmp = useTempDirs('hotcold-local-redis-');

describe('local redis-server for the demo', () => {
  it.skipIf(!redisServerOnPath())('starts on a free loopback port, answers, and is gone after stop()', async () => {
    const r = await startLocalRedis();
    const port = Number(r.address.split(':').pop());
    expect(await reachable('127.0.0.1', port)).toBe(true);
    await r.stop();
    expect(await reachable('127.0.0.1', port, 500)).toBe(false);
  });

  it('demo --cold-store with no server there stops before any work, naming the address', async () => {
    const e = await expectCode(runDemo({ tiny: true, out: tmp(), coldStore: 'redis://127.0.0.1:1' }), 'bad_config');
    expect(e.message).toContain('127.0.0.1:1');
  });
});
