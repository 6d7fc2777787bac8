/**
 * Sweep configuration: where the data comes from, the options of every
 * pipeline stage, the train base configs per mode, and the grid of train-config
 * values to sweep. Every field is documented here and nowhere else.
 *
 * Relative paths in a config *file* (`input`, `train.config`, `train.configs.*`,
 * `out`) are resolved against the directory of that file, so a sweep config
 * works from any working directory.
 *
 * Example (configs/sweep-drop.json):
 *
 *     {
 *       "out": "../runs/sweep-drop",
 *       "generate": { "rows": 2000000, "seed": 7 },
 *       "train": { "configs": { "baseline": "baseline-small.json", ... } },
 *       "grid": { "mode": ["baseline", "fae", "slipstream"],
 *                 "slipstream.targetDrop": [0.1, 0.2, 0.3, 0.4, 0.5], "seed": [1] }
 *     }
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { parseConfig, readJsonFile } from '../../pipeline/config.js';
import type { TrainMode } from '../../pipeline/run-metrics.js';

/** The three training modes, in the order reports list them. */
export const MODES: readonly TrainMode[] = ['baseline', 'fae', 'slipstream'];

const modeSchema = z.enum(['baseline', 'fae', 'slipstream']);

/** A JSON value a train-config key may take in the grid or in `train.set`. */
const jsonValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown()), z.record(z.string(), z.unknown())]);

const generateSchema = z
  .object({
    rows: z.number().int().positive().describe('rows of synthetic data to generate (`hotcold generate --rows`)'),
    seed: z.number().int().default(1).describe('generator seed (`--seed`)'),
    scale: z.number().positive().optional().describe('cardinality scale (`--scale`); generator default when absent'),
    days: z.number().int().positive().optional().describe('pseudo-days (`--days`); generator default when absent'),
    drift: z.number().min(0).optional().describe('popularity drift between days (`--drift`); generator default when absent'),
  })
  .strict();

const preprocessSchema = z
  .object({
    split: z.enum(['kaggle', 'days', 'random']).optional().describe('`--split`; preprocess default (kaggle) when absent'),
    ratios: z.tuple([z.number(), z.number(), z.number()]).optional().describe('`--ratios` for the random split'),
    seed: z.number().int().optional().describe('`--seed` for the random split'),
    freqThreshold: z.number().int().min(0).optional().describe('`--freq-threshold`'),
    maxIndRange: z.number().int().min(0).optional().describe('`--max-ind-range` (0 = no hashing)'),
    onBadLine: z.enum(['error', 'skip']).optional().describe('`--on-bad-line`'),
    rowsPerShard: z.number().int().positive().optional().describe('`--rows-per-shard`'),
  })
  .strict();

const profileSchema = z
  .object({
    sampleRate: z.number().gt(0).max(1).default(0.05).describe('share of training inputs profiled (FAE: 5 %)'),
    seed: z.number().int().default(1).describe('seed of the profiling sample'),
  })
  .strict();

const segregateSchema = z
  .object({
    hotMem: z.union([z.string(), z.number().int().positive()]).optional().describe('hot-table memory budget, e.g. "256MiB" (`--hot-mem`)'),
    hotMinCount: z.number().int().positive().optional().describe('hot iff sampled count ≥ N (`--hot-min-count`); excludes hotMem'),
    dim: z.number().int().positive().default(16).describe('embedding dim used to size the hot table (`--dim`)'),
  })
  .strict()
  .refine((s) => !(s.hotMem !== undefined && s.hotMinCount !== undefined), {
    message: 'give hotMem or hotMinCount, not both',
  });

const trainSchema = z
  .object({
    config: z.string().optional().describe('train base config used for every mode without an entry in `configs`'),
    configs: z.partialRecord(modeSchema, z.string()).default({}).describe('train base config per mode, e.g. {"fae": "fae-small.json"}'),
    set: z.record(z.string(), jsonValue).default({}).describe('`--set key=value` overrides applied to every run before the grid values'),
    engine: z.enum(['auto', 'ts', 'blas']).optional().describe('`--engine` for every run'),
    coldStore: z.string().optional().describe('`--cold-store` for every run: memory, redis://host:port or redis-cluster://h:p,… (each run gets its own key prefix)'),
    extraArgs: z.array(z.string()).default([]).describe('extra `hotcold train` arguments appended verbatim'),
    checkpointEverySec: z
      .number()
      .min(0)
      .default(0)
      .describe('> 0: runs checkpoint every S seconds into <run>/ckpt and an interrupted run resumes from it (adds checkpoint time to the run)'),
  })
  .strict();

/** The speedups a sweep measures; the goal verdict uses one of them. */
export const SPEEDUP_BASES = ['modelled', 'work', 'cpu', 'wall'] as const;
export type SpeedupBasis = (typeof SPEEDUP_BASES)[number];

const goalSchema = z
  .object({
    speedup: z.number().positive().default(1.3).describe('Slipstream goal: at least this speedup over baseline'),
    deltaAuc: z.number().default(-0.001).describe('… at a test-AUC change vs baseline of at least this'),
    basis: z
      .enum(SPEEDUP_BASES)
      .default('modelled')
      .describe("speedup the verdict uses: 'modelled' (counted work × this sweep's calibrated unit costs; falls back to 'work' without a calibration), 'work' (counted work × the frozen reference costs, identical on every repeat), 'cpu' (training CPU seconds) or 'wall' (training wall seconds)"),
  })
  .strict();

const scheduleSchema = z
  .object({
    repeats: z.number().int().positive().default(1).describe('runs of every configuration (repeat r > 0 with a seed derived from the grid seed); `--repeats` overrides'),
    seed: z.number().int().min(0).default(1).describe('seed of the run order'),
    order: z.enum(['random', 'grid']).default('random').describe("'random': each block of repeats shuffled (seeded); 'grid': grid order"),
    calibrate: z.boolean().default(true).describe('run `hotcold calibrate` once per block of repeats, so each run also gets a modelled time'),
  })
  .strict();

/** The sweep config file, as validated (relative paths not yet resolved). */
export const sweepConfigSchema = z
  .object({
    name: z.string().default('sweep').describe('title used in the report'),
    out: z.string().optional().describe('sweep directory (runs/, results, plots, report); `--out` overrides'),
    generate: generateSchema.optional().describe('make the data with `hotcold generate` into <out>/data/synthetic.tsv'),
    input: z.array(z.string()).min(1).optional().describe('raw Criteo files to preprocess instead of generating'),
    preprocess: preprocessSchema.default({}).describe('options of `hotcold preprocess`; absent = stage defaults'),
    profile: profileSchema.default({ sampleRate: 0.05, seed: 1 }),
    segregate: segregateSchema.default({ dim: 16 }),
    train: trainSchema,
    grid: z
      .record(z.string(), z.array(jsonValue).min(1))
      .default({ mode: ['baseline', 'fae', 'slipstream'], seed: [1] })
      .describe('train-config key → values; `mode` is required; keys that do not apply to a mode are not multiplied for it'),
    appliesTo: z
      .record(z.string(), z.array(modeSchema).min(1))
      .default({})
      .describe('grid key → modes it applies to; default: "slipstream.*" → slipstream, "fae.*" → fae+slipstream, "baseline.*" → baseline, else all'),
    concurrency: z.number().int().positive().optional().describe('train jobs at once; default = number of cores (each job single-threaded)'),
    goal: goalSchema.default({ speedup: 1.3, deltaAuc: -0.001, basis: 'modelled' }),
    schedule: scheduleSchema.default({ repeats: 1, seed: 1, order: 'random', calibrate: true }),
  })
  .strict()
  .refine((c) => (c.generate === undefined) !== (c.input === undefined), {
    message: 'give exactly one data source: "generate" or "input"',
  })
  .refine((c) => Array.isArray(c.grid.mode) && c.grid.mode.length > 0, {
    message: 'grid.mode is required (e.g. ["baseline", "fae", "slipstream"])',
    path: ['grid', 'mode'],
  })
  .refine((c) => (c.grid.mode ?? []).every((m) => modeSchema.safeParse(m).success), {
    message: 'grid.mode values must be baseline, fae or slipstream',
    path: ['grid', 'mode'],
  })
  .refine((c) => (c.grid.mode ?? []).every((m) => c.train.config !== undefined || c.train.configs[m as TrainMode] !== undefined), {
    message: 'every mode in grid.mode needs a train base config (train.config or train.configs.<mode>)',
    path: ['train'],
  });

export type SweepConfigInput = z.input<typeof sweepConfigSchema>;
export type SweepConfig = z.output<typeof sweepConfigSchema>;

/**
 * Validate a sweep config object and resolve its relative paths against `baseDir`.
 * @throws PipelineError `bad_config` listing every problem.
 */
export function resolveSweepConfig(value: unknown, baseDir: string, source = 'sweep config'): SweepConfig {
  const c = parseConfig(sweepConfigSchema, value, source);
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const configs: SweepConfig['train']['configs'] = {};
  for (const m of MODES) {
    const p = c.train.configs[m];
    if (p !== undefined) configs[m] = abs(p);
  }
  return {
    ...c,
    out: c.out === undefined ? undefined : abs(c.out),
    input: c.input?.map(abs),
    train: { ...c.train, config: c.train.config === undefined ? undefined : abs(c.train.config), configs },
  };
}

/** Read, validate and resolve a sweep config file. */
export function loadSweepConfig(path: string): SweepConfig {
  return resolveSweepConfig(readJsonFile(path), dirname(resolve(path)), path);
}

/** The train base config path for a mode (per-mode entry, else the shared one). */
export function baseConfigFor(c: SweepConfig, mode: TrainMode): string {
  const p = c.train.configs[mode] ?? c.train.config;
  if (p === undefined) throw new Error(`no train base config for mode ${mode}`); // excluded by the schema
  return p;
}
