import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/rng.js';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const c = new Rng(8);
    const xa = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextU32())).not.toEqual(xa);
  });

  it('restores its state exactly', () => {
    const a = new Rng(1);
    for (let i = 0; i < 10; i++) a.float();
    const s = a.getState();
    const next = [a.float(), a.float()];
    const b = new Rng(99);
    b.setState(s);
    expect([b.float(), b.float()]).toEqual(next);
  });

  it('gives uniform floats and roughly standard normals', () => {
    const r = new Rng(3);
    let sum = 0;
    let sq = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = r.normal();
      sum += x;
      sq += x * x;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.05);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
    const u = Array.from({ length: 1000 }, () => r.float());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
  });
});
