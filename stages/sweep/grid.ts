/**
 * Grid expansion: a map of train-config keys to value lists becomes the list of
 * train runs. `mode` picks the trainer; every other key is multiplied only for
 * the modes it applies to, so baseline and fae run once per seed, not once per
 * Slipstream drop target.
 *
 *     grid  { mode: [baseline, slipstream], slipstream.targetDrop: [0.1, 0.3], seed: [1, 2] }
 *     runs  baseline-s1  baseline-s2
 *           slipstream-D0.1-s1  slipstream-D0.1-s2  slipstream-D0.3-s1  slipstream-D0.3-s2
 */
import { badConfig } from '../../pipeline/errors.js';
import type { TrainMode } from '../../pipeline/run-metrics.js';
import { MODES } from './config.js';

/** One train run of a sweep. */
export interface RunSpec {
  /** directory name under <sweep>/runs/, stable across re-runs of the same grid */
  id: string;
  mode: TrainMode;
  /** train-config key → value for this run (`mode` included, grid key order) */
  params: Record<string, unknown>;
  /** repeat index (schedule.ts); absent = 0 */
  repeat?: number;
}

/** Short names used in run ids; other keys use their last path segment. */
const SHORT: Record<string, string> = {
  'slipstream.targetDrop': 'D',
  'slipstream.alpha': 'a',
  'slipstream.maxAucLoss': 'eps',
  seed: 's',
};

/**
 * Modes a grid key applies to. An explicit `appliesTo` entry wins; otherwise a
 * key under `slipstream.` applies to slipstream, under `fae.` to fae and
 * slipstream (Slipstream runs on top of FAE), under `baseline.` to baseline, and
 * any other key to every mode.
 */
export function modesForKey(key: string, appliesTo: Record<string, readonly TrainMode[]> = {}): readonly TrainMode[] {
  const explicit = appliesTo[key];
  if (explicit) return explicit;
  const head = key.split('.')[0];
  if (head === 'slipstream') return ['slipstream'];
  if (head === 'fae') return ['fae', 'slipstream'];
  if (head === 'baseline') return ['baseline'];
  return MODES;
}

/** `0.3` → `0.3`, `"a b/c"` → `a_b_c`; safe in a directory name. */
function idValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.replace(/[^A-Za-z0-9.+-]+/g, '_');
}

function runId(mode: string, keys: string[], values: unknown[], names: Map<string, string>): string {
  let id = mode;
  for (let i = 0; i < keys.length; i++) id += `-${names.get(keys[i]!)}${idValue(values[i])}`;
  return id;
}

/** Cartesian product of value lists, the last list varying fastest. */
function product(lists: unknown[][]): unknown[][] {
  let out: unknown[][] = [[]];
  for (const list of lists) {
    const next: unknown[][] = [];
    for (const prefix of out) for (const v of list) next.push([...prefix, v]);
    out = next;
  }
  return out;
}

/**
 * Expand a grid into runs, modes in grid order.
 * @param grid train-config key → values; must hold `mode`
 * @param appliesTo optional key → modes overrides (see {@link modesForKey})
 * @throws PipelineError `bad_config` for a missing/unknown mode or duplicate run ids
 */
export function expandGrid(grid: Record<string, readonly unknown[]>, appliesTo: Record<string, readonly TrainMode[]> = {}): RunSpec[] {
  const modes = grid.mode;
  if (!modes || modes.length === 0) throw badConfig('grid.mode', 'is required (e.g. ["baseline", "fae", "slipstream"])');
  const keys = Object.keys(grid).filter((k) => k !== 'mode');

  // Short names, falling back to full key paths when two keys would share one.
  const names = new Map<string, string>();
  const shortNames = keys.map((k) => SHORT[k] ?? k.split('.').pop()!);
  const clash = new Set(shortNames).size !== shortNames.length;
  keys.forEach((k, i) => names.set(k, clash ? `${k}=` : shortNames[i]!));

  const runs: RunSpec[] = [];
  const seen = new Map<string, string>();
  for (const m of new Set(modes)) {
    if (!MODES.includes(m as TrainMode)) throw badConfig('grid.mode', `'${String(m)}' is not one of ${MODES.join(', ')}`);
    const mode = m as TrainMode;
    const ks = keys.filter((k) => modesForKey(k, appliesTo).includes(mode));
    for (const values of product(ks.map((k) => [...grid[k]!]))) {
      const params: Record<string, unknown> = { mode };
      ks.forEach((k, i) => (params[k] = values[i]));
      const id = runId(mode, ks, values, names);
      const key = JSON.stringify(params);
      const prev = seen.get(id);
      if (prev !== undefined) {
        if (prev === key) continue; // the same value listed twice
        throw badConfig('grid', `two runs would share the id '${id}'`, 'use grid values that differ after replacing characters outside [A-Za-z0-9.+-]');
      }
      seen.set(id, key);
      runs.push({ id, mode, params });
    }
  }
  return runs;
}

/**
 * The parameters of a run that also apply to baseline: the baseline run with
 * these values is the run's reference for speedup and ΔAUC.
 */
export function baselineKey(run: RunSpec, appliesTo: Record<string, readonly TrainMode[]> = {}): string {
  const shared: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(run.params)) {
    if (k !== 'mode' && modesForKey(k, appliesTo).includes('baseline')) shared[k] = v;
  }
  return JSON.stringify(shared);
}
