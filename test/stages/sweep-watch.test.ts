import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../pipeline/run-status.js';
import { JobWatch } from '../../stages/sweep/watch.js';

function setup(isTTY: boolean, env: NodeJS.ProcessEnv = {}) {
  let t = 0;
  const out: string[] = [];
  const status = new Map<string, RunStatus>();
  const w = new JobWatch({ sink: { isTTY, write: (s) => void out.push(s) }, env, now: () => t, read: (p) => status.get(p) ?? null });
  return { w, out, status, advance: (ms: number) => (t += ms) };
}

describe('JobWatch', () => {
  it('not a TTY: one line per running job every 10 s, so a long run never looks silent', () => {
    const { w, out, status, advance } = setup(false);
    w.add('baseline-s1', 'a.json');
    w.add('fae-s1', 'b.json');
    status.set('a.json', { batches: 120, total: 700, samples: 245760, samplesPerSec: 41000, etaSec: 14.1, at: 0 });
    advance(5000);
    w.tick();
    expect(out).toEqual([]);
    advance(5000);
    w.tick();
    expect(out).toEqual([
      'sweep: running baseline-s1: 120/700 batches (17%), 41.0k samples/s, ETA 14.1s\n',
      'sweep: running fae-s1: starting (10.0s)\n',
    ]);
    w.remove('fae-s1');
    w.log('sweep: [1/2] fae-s1 done');
    expect(out[out.length - 1]).toBe('sweep: [1/2] fae-s1 done\n');
    expect(out.join('')).not.toMatch(/\x1b/);
  });

  it('TTY: redraws the block in place and prints other lines above it; NO_COLOR drops the colour', () => {
    const { w, out, status } = setup(true);
    status.set('a.json', { batches: 1, total: 2, samples: 10, samplesPerSec: 10, etaSec: 1, at: 0 });
    w.add('baseline-s1', 'a.json');
    w.tick();
    const drawn = out.join('');
    expect(drawn).toMatch(/\x1b\[1F\x1b\[J/); // cursor up over the last block, clear
    expect(drawn).toMatch(/\x1b\[2mbaseline-s1\x1b\[22m: 1\/2 batches/);
    w.log('a line');
    expect(out.slice(-3).join('')).toMatch(/\x1b\[1F\x1b\[Ja line\n {2}.*baseline-s1/);
    const plain = setup(true, { NO_COLOR: '1' });
    plain.w.add('x', 'none');
    expect(plain.out.join('')).not.toMatch(/\x1b\[2m/);
  });
});
