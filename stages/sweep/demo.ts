/**
 * `hotcold demo`: the whole pipeline on an embedded default — generate a
 * planted synthetic dataset, preprocess, profile, segregate, then the drop
 * sweep (baseline, fae, slipstream at several D) and the report.
 *
 * Two sizes:
 * - default: {@link DEMO_ROWS} rows, D ∈ {0.1 … 0.5}, a small DLRM (13-64-16 / 64-1);
 *   a few minutes on a 2-core machine;
 * - `tiny`: {@link TINY_ROWS} rows, D ∈ {0.2, 0.5}, a smaller model; under a minute (CI).
 */
import { join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../../pipeline/atomic.js';
import { resolveSweepConfig, type SweepConfigInput } from './config.js';
import { runSweep, type SweepOptions, type SweepOutcome } from './index.js';

/** Rows of the default demo dataset. */
export const DEMO_ROWS = 300_000;
/** Rows of the tiny (CI) demo dataset. */
export const TINY_ROWS = 20_000;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** @default 'runs/demo' (or 'runs/demo-tiny' when tiny) */
  out?: string;
  /** rows to generate; @default DEMO_ROWS, TINY_ROWS when tiny */
  rows?: number;
  /** CI-sized preset */
  tiny?: boolean;
  concurrency?: number;
  launch?: SweepOptions['launch'];
  log?: (line: string) => void;
}

/** The embedded train base config of the demo (mode, seed and D come from the grid). */
export function demoTrainConfig(tiny: boolean): Record<string, unknown> {
  return {
    model: tiny ? { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' } : { dim: 16, mlpBot: '13-64-16', mlpTop: '64-1' },
    train: {
      batchSize: tiny ? 256 : 1024,
      epochs: 1,
      // a handful of validation points per run for the time-to-accuracy chart
      evalEvery: tiny ? 20 : 50,
      evalRows: tiny ? 2000 : 10000,
    },
    slipstream: { windowStart: tiny ? 5 : 20 },
  };
}

/** The embedded sweep config of the demo (train.config is written next to the sweep). */
export function demoSweepConfig(opts: { rows: number; tiny: boolean; trainConfig: string }): SweepConfigInput {
  const dim = opts.tiny ? 8 : 16;
  return {
    name: opts.tiny ? 'demo (tiny)' : 'demo: Slipstream drop sweep',
    generate: { rows: opts.rows, seed: 7 },
    preprocess: {},
    // FAE profiles 5 % of 45M rows; on a few 100k rows a larger sample is needed for a
    // hot set that covers most inputs (300k rows: 25 % + 4 MiB → ~60 % of inputs hot)
    profile: { sampleRate: 0.25, seed: 1 },
    segregate: { hotMem: opts.tiny ? '1MiB' : '4MiB', dim },
    train: { config: opts.trainConfig },
    grid: {
      mode: ['baseline', 'fae', 'slipstream'],
      'slipstream.targetDrop': opts.tiny ? [0.2, 0.5] : [0.1, 0.2, 0.3, 0.4, 0.5],
      seed: [1],
    },
  };
}

/**
 * Run the demo into `opts.out` and return the sweep outcome (report paths inside).
 * Re-running reuses every finished stage and run.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<SweepOutcome> {
  const tiny = opts.tiny ?? false;
  const out = resolve(opts.out ?? (tiny ? 'runs/demo-tiny' : 'runs/demo'));
  const rows = opts.rows ?? (tiny ? TINY_ROWS : DEMO_ROWS);
  const trainConfig = join(out, 'train-base.json');
  writeFileAtomicSync(trainConfig, JSON.stringify(demoTrainConfig(tiny), null, 2) + '\n');
  const c = resolveSweepConfig(demoSweepConfig({ rows, tiny, trainConfig }), out, 'demo config');
  return runSweep(c, { out, concurrency: opts.concurrency, launch: opts.launch, log: opts.log });
}
