/**
 * `hotcold demo`: the whole pipeline on an embedded default — generate a
 * planted synthetic dataset, preprocess, profile, segregate, then the drop
 * sweep (baseline, fae, slipstream at several D) and the report.
 *
 * Two sizes:
 * - default: `configs/sweep-demo.json` (400k planted rows, the `*-small` train presets, a
 *   256 MiB hot budget, D ∈ {0.3, 0.5}, every configuration twice with derived seeds, a
 *   calibration per repeat block); sized for about 2 minutes on an idle 2-core machine;
 *   the full headline grid is `configs/sweep-drop.json` (`hotcold sweep`);
 * - `tiny`: {@link TINY_ROWS} rows, D ∈ {0.2, 0.5}, a smaller model, one repeat (CI).
 */
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../../pipeline/atomic.js';
import { packagePath } from '../../pipeline/package-root.js';
import { badConfig } from '../../pipeline/errors.js';
import { reachable, startLocalRedis, type LocalRedis } from '../../pipeline/local-redis.js';
import { loadSweepConfig, resolveSweepConfig, type SweepConfig, type SweepConfigInput } from './config.js';
import { claimSweepDir, runSweep, type SweepOptions, type SweepOutcome } from './index.js';

/** The sweep the default demo runs. */
export const DEMO_SWEEP = packagePath('configs', 'sweep-demo.json');
/** Rows of the tiny (CI) demo dataset. */
export const TINY_ROWS = 20_000;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** @default 'runs/demo' (or 'runs/demo-tiny' when tiny) */
  out?: string;
  /** rows to generate; @default the rows of configs/sweep-demo.json, TINY_ROWS when tiny */
  rows?: number;
  /** CI-sized preset */
  tiny?: boolean;
  concurrency?: number;
  /** runs of every configuration; @default the preset's (2; 1 when tiny) */
  repeats?: number;
  launch?: SweepOptions['launch'];
  log?: (line: string) => void;
  /** cold rows: 'memory' (default), 'redis' (start a local redis-server) or a redis address */
  coldStore?: string;
  sink?: SweepOptions['sink'];
}

/** The embedded train base config of the tiny demo (mode, seed and D come from the grid). */
export function tinyTrainConfig(): Record<string, unknown> {
  return {
    model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' },
    // a handful of validation points per run for the time-to-accuracy chart
    train: { batchSize: 256, epochs: 1, evalEvery: 20, evalRows: 2000, saveModel: false }, // a sweep keeps metrics, not models
    slipstream: { windowStart: 5 },
  };
}

/** The embedded sweep config of the tiny demo (train.config is written next to the sweep). */
export function tinySweepConfig(opts: { rows: number; trainConfig: string }): SweepConfigInput {
  return {
    name: 'demo (tiny)',
    generate: { rows: opts.rows, seed: 7 },
    preprocess: {},
    // FAE profiles 5 % of 45M rows; on a few 10k rows a larger sample is needed for a
    // hot set that covers a good share of the inputs
    profile: { sampleRate: 0.25, seed: 1 },
    segregate: { hotMem: '1MiB', dim: 8 },
    train: { config: opts.trainConfig },
    grid: { mode: ['baseline', 'fae', 'slipstream'], 'slipstream.targetDrop': [0.2, 0.5], seed: [1] },
  };
}

/**
 * Run the demo into `opts.out` and return the sweep outcome (report paths inside).
 * Re-running reuses every finished stage and run.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<SweepOutcome> {
  const tiny = opts.tiny ?? false;
  const claim = claimSweepDir(opts.out ?? (tiny ? 'runs/demo-tiny' : 'runs/demo'), []);
  let local: LocalRedis | null = null;
  try {
    const c = demoConfig(claim.dir, tiny, opts);
    // the cold tier: memory (default), a local redis-server started here, or a given address
    const cold = opts.coldStore ?? 'memory';
    if (cold === 'redis') {
      local = await startLocalRedis();
      opts.log?.(`demo: started redis-server on ${local.address.slice('redis://'.length)} (pid ${local.pid}, persistence off) for the cold tier; stopped at the end`);
      c.train = { ...c.train, coldStore: local.address };
    } else if (cold !== 'memory') {
      const m = /^redis(?:-cluster)?:\/\/([^:,/?]+):(\d+)/.exec(cold);
      if (!m) throw badConfig('--cold-store', `'${cold}' is not memory, redis or a redis://host:port address`);
      if (!(await reachable(m[1]!, Number(m[2])))) throw badConfig('--cold-store', `no redis server reachable at ${m[1]}:${m[2]}`);
      c.train = { ...c.train, coldStore: cold };
    }
    return await runSweep(c, { out: claim.dir, claim, concurrency: opts.concurrency, repeats: opts.repeats, launch: opts.launch, log: opts.log, sink: opts.sink });
  } finally {
    await local?.stop();
    claim.release();
  }
}

/** The demo's sweep config (the tiny preset writes its train config into the claimed directory). */
function demoConfig(out: string, tiny: boolean, opts: DemoOptions): SweepConfig {
  let c: SweepConfig;
  if (tiny) {
    const trainConfig = join(out, 'train-base.json');
    writeFileAtomicSync(trainConfig, JSON.stringify(tinyTrainConfig(), null, 2) + '\n');
    c = resolveSweepConfig(tinySweepConfig({ rows: opts.rows ?? TINY_ROWS, trainConfig }), out, 'demo config');
  } else {
    const base = loadSweepConfig(DEMO_SWEEP);
    if (!base.generate) throw new Error(`${DEMO_SWEEP} has no generate block`); // the committed preset has one
    c = { ...base, generate: { ...base.generate, rows: opts.rows ?? base.generate.rows } };
  }
  return c;
}
