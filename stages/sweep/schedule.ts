/**
 * Sweep scheduling for fair comparisons: every configuration runs `repeats` times with
 * derived seeds, and the runs go in a seeded random order, block by block:
 *
 *     block r = one run of every configuration (repeat r), shuffled with Rng.derive(seed, r)
 *     order   = block 0, block 1, …          (each configuration sampled across the sweep)
 *
 * so a slow patch of the machine (another job starting, a thermal step) falls on all
 * configurations alike instead of on whichever ran last. Repeat 0 keeps the grid's seed;
 * repeat r > 0 uses {@link repeatSeed}.
 */
import { Rng } from '../../pipeline/rng.js';
import type { RunSpec } from './grid.js';

/** A run of the sweep: a grid run, its repeat index, and its seed. */
export interface ScheduledRun extends RunSpec {
  /** 0 … repeats−1 */
  repeat: number;
}

/**
 * The seed of repeat `r` of a run whose grid seed is `seed`: `seed` itself for r = 0, else a
 * value in [1, 2³¹) drawn from Rng.derive(seed, r) (independent-looking, reproducible).
 */
export function repeatSeed(seed: number, r: number): number {
  if (r === 0) return seed;
  return 1 + (Rng.derive(seed, 0x5eed, r).nextU32() % 0x7ffffffe);
}

/**
 * Every grid run `repeats` times (ids `<id>-r<k>` for k ≥ 1; params.seed = repeatSeed), in
 * the seeded block order of the module comment. `order: 'grid'` keeps grid order per block.
 */
export function scheduleRuns(runs: RunSpec[], repeats: number, seed: number, order: 'random' | 'grid' = 'random'): ScheduledRun[] {
  const out: ScheduledRun[] = [];
  for (let r = 0; r < repeats; r++) {
    const block: ScheduledRun[] = runs.map((run) => {
      const s = typeof run.params['seed'] === 'number' ? (run.params['seed'] as number) : 1;
      return r === 0
        ? { ...run, repeat: 0 }
        : { id: `${run.id}-r${r}`, mode: run.mode, params: { ...run.params, seed: repeatSeed(s, r) }, repeat: r };
    });
    if (order === 'random') shuffle(block, Rng.derive(seed, 0x0bde, r));
    out.push(...block);
  }
  return out;
}

/** Fisher–Yates in place. */
function shuffle<T>(a: T[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** The runs of a schedule in table order: grid order, the repeats of each grid run together. */
export function tableOrder(scheduled: ScheduledRun[], grid: RunSpec[]): ScheduledRun[] {
  const gi = new Map(grid.map((g, i) => [g.id, i]));
  const base = (r: ScheduledRun): number => gi.get(r.repeat === 0 ? r.id : r.id.slice(0, r.id.lastIndexOf('-r'))) ?? 0;
  return [...scheduled].sort((a, b) => base(a) - base(b) || a.repeat - b.repeat);
}
