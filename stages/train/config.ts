/**
 * The train config: one zod schema holding every default, each with a comment.
 * Config flows one way: these defaults → a JSON file (configs/*.json) → `--set key=value`.
 * Unknown keys and wrong types are errors that name the field.
 *
 * DLRM spellings are accepted: `model.mlpBot: "13-512-256-64-16"`, `model.mlpTop: "512-256-1"`
 * (the top MLP's input width is derived), and the top-level DLRM flag names
 * `arch-mlp-bot`, `arch-mlp-top`, `arch-sparse-feature-size`, `mini-batch-size`, `nepochs`,
 * `learning-rate` (both the dense and the sparse rate, as DLRM's flag) and
 * `mlperf-auc-threshold` (train.targetAuc) are mapped onto their fields before validation.
 */
import { z } from 'zod';
import { applyOverrides, parseConfig, readJsonFile } from '../../pipeline/config.js';
import { badConfig } from '../../pipeline/errors.js';
import { parseArch } from './model/arch.js';

/** An MLP written as DLRM does ("13-512-256-64-16") or as a list of widths. */
const arch = z.union([
  z.string().regex(/^\d+(-\d+)*$/, 'expected layer widths joined by "-", e.g. "13-512-256-64-16"'),
  z.array(z.number().int().positive()).min(1).transform((a) => a.join('-')),
]);

const optim = (kind: 'sgd' | 'adagrad', lr: number) =>
  z
    .strictObject({
      /** 'sgd' or 'adagrad' (embeddings: row-wise Adagrad, one accumulator per row) */
      kind: z.enum(['sgd', 'adagrad']).default(kind),
      /** learning rate */
      lr: z.number().positive().default(lr),
      /** Adagrad epsilon added to sqrt(accumulator) */
      eps: z.number().positive().default(1e-8),
      /** Adagrad initial accumulator value */
      initAccum: z.number().min(0).default(0),
    })
    .prefault({});

/** The train config schema (model defaults = the Kaggle reference model, 13-512-256-64-16 / 512-256-1). */
export const trainConfigSchema = z.strictObject({
  /** 'baseline' | 'fae' | 'slipstream' */
  mode: z.enum(['baseline', 'fae', 'slipstream']).default('baseline'),
  /** seed of parameter init, shuffling and the Slipstream sample */
  seed: z.number().int().min(0).default(1),
  model: z
    .strictObject({
      /** embedding dimension (DLRM --arch-sparse-feature-size) */
      dim: z.number().int().positive().default(16),
      /** bottom MLP, DLRM spelling; first width 13, last width = dim */
      mlpBot: arch.default('13-512-256-64-16'),
      /** top MLP, DLRM spelling; input width derived (dim + 351 for 26 tables) unless given */
      mlpTop: arch.default('512-256-1'),
    })
    .prefault({}),
  optim: z
    .strictObject({
      /** optimizer of the dense (MLP) parameters */
      dense: optim('adagrad', 0.003),
      /** optimizer of the embedding rows (sparse, row-wise) */
      sparse: optim('adagrad', 0.05),
    })
    .prefault({}),
  train: z
    .strictObject({
      /** inputs per batch (DLRM --mini-batch-size) */
      batchSize: z.number().int().positive().default(2048),
      /** passes over the training split (DLRM --nepochs) */
      epochs: z.number().int().positive().default(1),
      /** stop after this many batches in total; 0 = no limit */
      maxBatches: z.number().int().min(0).default(0),
      /** shuffle shard order and rows inside each shard, seeded per epoch */
      shuffle: z.boolean().default(true),
      /** evaluate on validation every N batches; 0 = only at the end */
      evalEvery: z.number().int().min(0).default(0),
      /** validation rows used by periodic evaluations (first N rows); 0 = all */
      evalRows: z.number().int().min(0).default(0),
      /** batch size of evaluation forward passes */
      evalBatchSize: z.number().int().positive().default(8192),
      /** stop once validation AUC reaches this; 0 = off (DLRM --mlperf-auc-threshold) */
      targetAuc: z.number().min(0).max(1).default(0),
      /** also evaluate on the test split at every periodic evaluation (evalRows rows) */
      evalTest: z.boolean().default(false),
      /** evaluate at the end of every epoch but the last (the last gets the final evaluation), as DLRM does */
      evalEpochEnd: z.boolean().default(false),
      /** shuffle once and keep that order every epoch (DLRM --data-randomize=total); needs shuffle */
      shuffleOnce: z.boolean().default(false),
      /** write a step line to log.jsonl every N batches */
      logEvery: z.number().int().positive().default(50),
      /** keep the final model in <out>/model/ (for `hotcold export`, `predict`, `evaluate`) */
      saveModel: z.boolean().default(true),
    })
    .prefault({}),
  fae: z
    .strictObject({
      /** 'phases' (all cold, then all hot — per epoch, as the public FAE code) or 'interleave' (the paper's scheduler); hot rows sync lazily (device.ts) */
      schedule: z.enum(['phases', 'interleave']).default('interleave'),
      /** interleave: hot/cold alternations per epoch (each round = its share of cold batches, then of hot ones) */
      rounds: z.number().int().positive().default(16),
    })
    .prefault({}),
  slipstream: z
    .strictObject({
      /** target drop fraction D of the not-yet-trained hot inputs */
      targetDrop: z.number().min(0).max(1).default(0.3),
      /** drop an input when at least this fraction of its lookups are stale (1 = all) */
      alpha: z.number().gt(0).max(1).default(1),
      /** the threshold search accepts |drop − D| ≤ tolerance */
      tolerance: z.number().positive().max(0.5).default(0.02),
      /** hot batch (per epoch) at which the snapshot window starts; clamped to a quarter of the epoch's hot batches */
      windowStart: z.number().int().min(0).default(1000),
      /** window length as a fraction of the epoch's hot batches (at least 1 batch) */
      windowFraction: z.number().gt(0).max(0.5).default(0.03),
      /** not-yet-trained hot inputs sampled for the threshold search */
      sampleSize: z.number().int().positive().default(20000),
      /** bisection steps of the threshold search */
      maxIters: z.number().int().positive().default(60),
      /**
       * what happens to a hot batch once its stale inputs are dropped: 'rebatch' packs the kept
       * inputs into full batches (fewer optimizer steps, each a mean over B inputs; the paper's
       * code), 'shrink' trains each batch with its kept rows (same step count, each kept input's
       * gradient weighted B/B_kept); see stages/train/README.md
       */
      dropMode: z.enum(['rebatch', 'shrink']).default('rebatch'),
      /**
       * accuracy-budgeted Slipstream (modes/budget-run.ts): > 0 = ε, the largest tolerated loss
       * of validation AUC against a no-drop reference; the run moves D online (starting at
       * targetDrop) to the largest drop that stays within it. 0 = the fixed targetDrop
       */
      maxAucLoss: z.number().min(0).max(0.5).default(0),
      /** accuracy-budgeted: re-check windows per epoch (each ends with an AUC check and a new D and T) */
      rechecks: z.number().int().positive().default(4),
      /** accuracy-budgeted: rows of the fixed, seeded validation slice each re-check scores (capped at the split) */
      recheckRows: z.number().int().positive().default(16384),
      /**
       * accuracy-budgeted: share of each re-check window the no-drop reference covers (its first
       * hot batches; the re-check follows them and the new D applies to the rest of the window).
       * 1 = the whole window; smaller costs less, and ε then bounds the loss over that share
       */
      referenceFraction: z.number().gt(0).max(1).default(1),
      /** accuracy-budgeted: the controller's first step in D (halved after each overshoot) */
      budgetStep: z.number().gt(0).max(0.5).default(0.1),
      /** accuracy-budgeted: the largest D the controller may choose */
      budgetMaxDrop: z.number().gt(0).max(0.99).default(0.9),
    })
    .prefault({}),
  parallel: z
    .strictObject({
      /** data-parallel worker threads of one run (1 = the single-threaded trainer, unchanged); see parallel/README.md */
      workers: z.number().int().min(1).max(16).default(1),
      /** dense parameters: 0 = gradients summed every step (synchronous); s > 0 = each worker steps alone, parameters averaged every s steps */
      denseBound: z.number().int().min(0).default(0),
      /** hot-table replicas: 0 = one shared copy updated by the summed gradient every step (exact); s > 0 = private replicas reconciled every s steps */
      hotBound: z.number().int().min(0).default(0),
      /** how a batch's inputs go to workers: 'random' (contiguous slices of the shuffled batch) or 'graph' (by row owner, parallel/partition.ts) */
      partition: z.enum(['random', 'graph']).default('random'),
      /** graph partition: training inputs the partitioner streams over (seeded sample) */
      partitionSample: z.number().int().positive().default(200000),
      /** 'threads': K worker threads of this process (shared memory); 'redis': K processes sharing the Redis cold tier (parallel/remote/, `hotcold worker --join`) */
      transport: z.enum(['threads', 'redis']).default('threads'),
      /** transport redis: seconds the coordinator waits for the other K − 1 processes to join */
      joinTimeoutSec: z.number().positive().default(600),
      /** transport redis: a process whose heartbeat key is older than this is taken as dead (worker_failed) */
      heartbeatSec: z.number().positive().default(10),
    })
    .prefault({}),
});

/** A resolved, validated train config. */
export type TrainConfig = z.output<typeof trainConfigSchema>;

/** DLRM flag name → config path(s): `learning-rate` sets both rates, as DLRM's flag does. */
const DLRM_ALIASES: Record<string, string | string[]> = {
  'arch-mlp-bot': 'model.mlpBot',
  'arch-mlp-top': 'model.mlpTop',
  'arch-sparse-feature-size': 'model.dim',
  'mini-batch-size': 'train.batchSize',
  nepochs: 'train.epochs',
  'learning-rate': ['optim.dense.lr', 'optim.sparse.lr'],
  'mlperf-auc-threshold': 'train.targetAuc',
};

const aliasPaths = (alias: string): string[] => {
  const p = DLRM_ALIASES[alias];
  return p === undefined ? [] : typeof p === 'string' ? [p] : p;
};

/** Move DLRM flag spellings onto their config paths (a clash with the canonical key is an error). */
function mapAliases(raw: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(raw);
  for (const [alias, path] of Object.entries(DLRM_ALIASES).flatMap(([a]) => aliasPaths(a).map((p) => [a, p] as const))) {
    if (!(alias in raw)) continue;
    const value = (raw as Record<string, unknown>)[alias];
    delete out[alias];
    const keys = path.split('.');
    let cur = out;
    for (const k of keys.slice(0, -1)) {
      const next = cur[k];
      if (next === undefined) cur[k] = {};
      else if (typeof next !== 'object' || next === null || Array.isArray(next)) throw badConfig(k, 'must be an object');
      cur = cur[k] as Record<string, unknown>;
    }
    const last = keys[keys.length - 1]!;
    if (last in cur) throw badConfig(alias, `given together with ${path}; use one`);
    cur[last] = value;
  }
  return out;
}

/**
 * Resolve a train config: defaults → `raw` (a parsed JSON file, or {}) → `--set` overrides.
 * @param source name used in error messages (the file path)
 * @throws PipelineError `bad_config` listing every problem, `field` = the first bad path
 */
export function resolveTrainConfig(raw: unknown, overrides: string[] = [], source = 'train config'): TrainConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badConfig('', `${source} must be a JSON object`);
  const sets = overrides.flatMap((o) => {
    const eq = o.indexOf('=');
    const paths = eq > 0 ? aliasPaths(o.slice(0, eq)) : [];
    return paths.length > 0 ? paths.map((p) => `${p}${o.slice(eq)}`) : [o];
  });
  const merged = applyOverrides(mapAliases(raw as Record<string, unknown>), sets);
  const cfg = parseConfig(trainConfigSchema, merged, source, sets);
  parseArch(cfg.model.mlpBot, cfg.model.mlpTop, cfg.model.dim); // what the schema cannot check: widths agree with each other
  return cfg;
}

/** Read a config file (or none) and resolve it. */
export function loadTrainConfig(path: string | undefined, overrides: string[] = []): TrainConfig {
  return resolveTrainConfig(path ? readJsonFile(path) : {}, overrides, path ?? 'train config');
}
