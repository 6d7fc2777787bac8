import { describe, expect, it } from 'vitest';
import { DropController } from '../../stages/train/modes/budget.js';

describe('accuracy-budgeted drop controller', () => {
  it('raises D while the loss has room, backs off (with a finer step) when it overshoots, holds near the budget', () => {
    const c = new DropController({ maxAucLoss: 0.001, start: 0.2 });
    // scripted re-checks: (run AUC, no-drop reference AUC)
    const script: [number, number][] = [
      [0.7900, 0.7902], // loss 0.0002 ≤ ε/2 → raise 0.2 → 0.3
      [0.7905, 0.7909], // 0.0004 ≤ ε/2 → raise → 0.4
      [0.7900, 0.7915], // 0.0015 > ε → lower → 0.3, step 0.05
      [0.7910, 0.7918], // 0.0008: within (ε/2, ε] → hold 0.3
      [0.7912, 0.7915], // 0.0003 → raise by 0.05 → 0.35
      [0.7900, 0.7930], // 0.003 → lower → 0.3, step 0.025
    ];
    const out = script.map(([run, ref]) => c.observe(run, ref));
    expect(out.map((s) => s.decision)).toEqual(['raise', 'raise', 'lower', 'hold', 'raise', 'lower']);
    expect(out.map((s) => s.next)).toEqual([0.3, 0.4, 0.3, 0.3, 0.35, 0.3]);
    expect(out.map((s) => s.drop)).toEqual([0.2, 0.3, 0.4, 0.3, 0.3, 0.35]);
    expect(out[2]!.loss).toBeCloseTo(0.0015, 10);
    expect(c.trajectory).toHaveLength(6);
  });

  it('stays inside [dMin, dMax], ignores a failed measurement, and round-trips its state', () => {
    const c = new DropController({ maxAucLoss: 0.001, start: 0.85, dMax: 0.9 });
    expect(c.observe(0.8, 0.8).next).toBe(0.9);
    expect(c.observe(0.8, 0.8).decision).toBe('hold'); // already at dMax
    expect(c.observe(Number.NaN, 0.8).decision).toBe('hold');
    const low = new DropController({ maxAucLoss: 0.001, start: 0.05 });
    expect(low.observe(0.7, 0.8).next).toBe(0);
    const copy = new DropController({ maxAucLoss: 0.001, start: 0.5 });
    copy.restore(c.save());
    expect(copy.drop).toBe(c.drop);
    expect(copy.trajectory).toEqual(c.trajectory);
    expect(() => new DropController({ maxAucLoss: 0, start: 0.3 })).toThrow(/maxAucLoss/);
  });
});

describe('budgeted runs in the trainer', () => {
  it('stop with not_implemented instead of silently training a fixed D', async () => {
    const { resolveTrainConfig } = await import('../../stages/train/config.js');
    const { train } = await import('../../stages/train/train.js');
    const cfg = resolveTrainConfig({ mode: 'slipstream', slipstream: { maxAucLoss: 0.001 } });
    await expect(train({ config: cfg, data: '/nonexistent', hot: '/nonexistent', out: '/tmp/never', quiet: true })).rejects.toMatchObject({ code: 'not_implemented' });
  });
});
