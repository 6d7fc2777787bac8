/**
 * Sweep results: one row per planned run, read from the runs' `metrics.json`
 * (pipeline/run-metrics.ts), with speedup and ΔAUC against the baseline run
 * that shares the run's seed and other baseline parameters.
 *
 *     <sweep>/sweep.json     the plan (SweepPlan): config, runs, data, Bayes reference
 *     <sweep>/results.json   SweepResults (rows + time-to-accuracy curves)
 *     <sweep>/results.csv    the rows, one line per run
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../pipeline/atomic.js';
import { badManifest, notFound } from '../../pipeline/errors.js';
import { toCsv, type Datum } from '../../pipeline/plots.js';
import { modelledSec, REFERENCE_COSTS, UNIT_NAMES, type UnitCosts } from '../../pipeline/cost-model.js';
import type { BudgetWindow, RunMetrics, TrainMode } from '../../pipeline/run-metrics.js';
import type { SweepConfig } from './config.js';
import type { BayesRef } from './data.js';
import { baselineKey, type RunSpec } from './grid.js';
import { METRICS_FILE, readFailed, readJsonOrNull } from './runner.js';

export const PLAN_FILE = 'sweep.json';
export const RESULTS_JSON = 'results.json';
export const RESULTS_CSV = 'results.csv';
export const RESULTS_MAGIC = 'hotcold.sweep.results';
export const PLAN_MAGIC = 'hotcold.sweep.plan';

/** What a sweep set out to do, written before the first run starts. */
export interface SweepPlan {
  magic: typeof PLAN_MAGIC;
  formatVersion: 1;
  name: string;
  config: SweepConfig;
  /** in table order (grid order, repeats of a run together) */
  runs: RunSpec[];
  /** run ids in the order they were launched (seeded, stages/sweep/schedule.ts) */
  order?: string[];
  bayes: BayesRef | null;
  data: { preprocessed: string; segregated: string | null };
  /** where timings were taken: they only compare within one sweep on one machine */
  machine?: MachineInfo;
}

/** The machine a sweep ran on (cores, jobs at once, 1-minute load average at the start). */
export interface MachineInfo {
  cpus: number;
  concurrency: number;
  loadAvgStart: number;
  node: string;
  /** CPU model name (os.cpus()) */
  cpuModel?: string;
  /** BLAS threads per job */
  threads?: number;
}

/** 1-minute load average sampled every few seconds while the runs trained (`<sweep>/load.json`). */
export interface LoadInfo {
  samples: number;
  mean: number;
  max: number;
  min: number;
}

/** The unit costs a sweep's modelled times use: the median of its calibrations. */
export interface SweepCalibration {
  costs: UnitCosts;
  /** calibrations found (one per block of repeats) */
  runs: number;
  engine: string;
  threads: number;
  cpuModel: string;
}

export const LOAD_FILE = 'load.json';
export const CALIBRATION_DIR = 'calibration';
export const CALIBRATION_FILE = 'calibration.json';

/** One row of results.csv / results.json. Times in seconds; fractions in [0, 1]. */
export interface ResultRow {
  runId: string;
  /** repeat index of the run (0 … repeats−1) */
  repeat: number;
  /** finished | failed (last attempt) | pending (not run yet) */
  status: 'ok' | 'failed' | 'pending';
  mode: TrainMode;
  seed: number | null;
  /** Slipstream target drop fraction D */
  targetDrop: number | null;
  /** Slipstream stale fraction α */
  alpha: number | null;
  /** swept values of this run (grid keys) */
  params: Record<string, unknown>;
  /** dropped / hot inputs achieved */
  achievedDrop: number | null;
  /** staleness threshold T chosen (last epoch) */
  threshold: number | null;
  testAuc: number | null;
  testLogloss: number | null;
  testAccuracy: number | null;
  valAuc: number | null;
  /**
   * training wall time with Slipstream's own work (snapshots, threshold search,
   * classification) included and evaluation excluded: RunMetrics
   * `time.trainSec + time.slipstreamSec`
   */
  trainSec: number | null;
  /** process CPU seconds of the training steps (RunMetrics time.trainCpuSec) */
  trainCpuSec: number | null;
  /** Slipstream overhead inside trainSec */
  slipstreamSec: number | null;
  /** whole run wall time */
  totalSec: number | null;
  samplesTrained: number | null;
  samplesPerSec: number | null;
  hostDeviceBytes: number | null;
  /** id of the baseline run this row is compared with */
  baselineRun: string | null;
  /** baseline trainSec / this trainSec */
  speedup: number | null;
  /** baseline trainCpuSec / this trainCpuSec: the speedup least disturbed by other load */
  speedupCpu: number | null;
  /** baseline totalSec / this totalSec (end to end) */
  speedupTotal: number | null;
  /** testAuc − baseline testAuc */
  deltaAuc: number | null;
  /** counted work (RunMetrics.work) */
  optimizerSteps: number | null;
  denseFlops: number | null;
  rowsGathered: number | null;
  /** counted work priced at the frozen reference costs (identical on every repeat) */
  workSec: number | null;
  /** counted work priced at this sweep's calibrated unit costs */
  modelledSec: number | null;
  /** modelledSec / trainCpuSec: how well the cost model explains the measured CPU time */
  modelFit: number | null;
  /** median process-CPU seconds per trained sample over the steps */
  medianCpuPerSample: number | null;
  /** baseline workSec / this workSec */
  speedupWork: number | null;
  /** baseline modelledSec / this modelledSec */
  speedupModelled: number | null;
  /** accuracy-budgeted Slipstream: ε (null for a fixed D; targetDrop is then the starting D) */
  maxAucLoss: number | null;
  /** accuracy-budgeted: D the controller ended with */
  finalDrop: number | null;
  /** accuracy-budgeted: seconds of the no-drop reference and re-checks (inside trainSec) */
  referenceSec: number | null;
  /** workSec / modelledSec without the reference and re-checks (what the run would cost if they were free) */
  workSecNoRef: number | null;
  modelledSecNoRef: number | null;
  /** baseline workSec / this workSecNoRef, and the modelled one */
  speedupWorkNoRef: number | null;
  speedupModelledNoRef: number | null;
  /** accuracy-budgeted: the D trajectory, one entry per re-check window (results.json only) */
  budget?: BudgetWindow[] | null;
  error: string | null;
}

/** One time-to-accuracy curve: validation AUC against training seconds. */
export interface Curve {
  runId: string;
  mode: TrainMode;
  points: { trainSec: number; auc: number; samples: number }[];
}

/** results.json */
export interface SweepResults {
  magic: typeof RESULTS_MAGIC;
  formatVersion: 1;
  name: string;
  createdAt: string;
  goal: { speedup: number; deltaAuc: number; basis?: SpeedupBasisName };
  bayes: BayesRef | null;
  machine?: MachineInfo;
  load?: LoadInfo | null;
  calibration?: SweepCalibration | null;
  /** dense engine(s) the runs reported */
  engines?: string[];
  repeats?: number;
  rows: ResultRow[];
  curves: Curve[];
}

/** The speedups a row carries, by the name the goal's `basis` uses. */
export type SpeedupBasisName = 'modelled' | 'work' | 'cpu' | 'wall';

/** The speedup of a row on a basis. */
export function speedupOn(x: ResultRow, basis: SpeedupBasisName): number | null {
  return basis === 'modelled' ? x.speedupModelled : basis === 'work' ? x.speedupWork : basis === 'cpu' ? x.speedupCpu : x.speedup;
}

/** Columns of results.csv, in order. */
export const CSV_COLUMNS = [
  'runId', 'status', 'mode', 'seed', 'targetDrop', 'alpha', 'achievedDrop', 'threshold',
  'testAuc', 'testLogloss', 'testAccuracy', 'valAuc', 'trainSec', 'trainCpuSec', 'slipstreamSec', 'totalSec', 'samplesTrained',
  'samplesPerSec', 'hostDeviceBytes', 'optimizerSteps', 'denseFlops', 'rowsGathered', 'workSec', 'modelledSec', 'modelFit',
  'medianCpuPerSample', 'speedup', 'speedupCpu', 'speedupTotal', 'speedupWork', 'speedupModelled', 'deltaAuc', 'baselineRun', 'repeat', 'params',
  'maxAucLoss', 'finalDrop', 'referenceSec', 'workSecNoRef', 'modelledSecNoRef', 'speedupWorkNoRef', 'speedupModelledNoRef', 'error',
] as const;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Read a run's metrics.json, or null when absent or unreadable. */
export function readRunMetrics(dir: string): RunMetrics | null {
  const m = readJsonOrNull<RunMetrics>(join(dir, METRICS_FILE));
  return m?.magic === 'hotcold.train.metrics' ? m : null;
}

/** Build a row (references not yet filled) from a run's spec and metrics. */
export function rowFromMetrics(run: RunSpec, m: RunMetrics | null, error: string | null = null, costs: UnitCosts | null = null): ResultRow {
  const s = m?.slipstream ?? null;
  const w = m?.work ?? null;
  const hotSync = m?.hostDeviceBytes.hotSync ?? 0;
  const modelled = w && costs ? modelledSec(w, costs, hotSync) : null;
  const b = s?.budget ?? null;
  const noRef = { reference: false };
  const cpu = num(m?.time.trainCpuSec);
  return {
    runId: run.id,
    repeat: run.repeat ?? 0,
    status: m ? 'ok' : error !== null ? 'failed' : 'pending',
    mode: m?.mode ?? run.mode,
    seed: num(m?.seed) ?? num(run.params['seed']),
    targetDrop: num(s?.targetDrop) ?? num(run.params['slipstream.targetDrop']),
    alpha: num(s?.alpha) ?? num(run.params['slipstream.alpha']),
    params: run.params,
    achievedDrop: num(s?.dropFraction),
    threshold: num(s?.threshold),
    testAuc: num(m?.test.auc),
    testLogloss: num(m?.test.logloss),
    testAccuracy: num(m?.test.accuracy),
    valAuc: num(m?.val?.auc),
    trainSec: m ? num(m.time.trainSec + (m.time.slipstreamSec ?? 0)) : null,
    trainCpuSec: num(m?.time.trainCpuSec),
    slipstreamSec: num(m?.time.slipstreamSec),
    totalSec: num(m?.time.totalSec),
    samplesTrained: num(m?.samplesTrained),
    samplesPerSec: num(m?.samplesPerSec),
    hostDeviceBytes: num(m?.hostDeviceBytes.total),
    baselineRun: null,
    speedup: null,
    speedupCpu: null,
    speedupTotal: null,
    deltaAuc: null,
    optimizerSteps: num(w?.optimizerSteps.total),
    denseFlops: num(w?.denseFlops.total),
    rowsGathered: num(w?.embedding.rowsGathered),
    workSec: w ? modelledSec(w, REFERENCE_COSTS, hotSync) : null,
    modelledSec: modelled,
    modelFit: modelled !== null && cpu !== null && cpu > 0 ? modelled / cpu : null,
    medianCpuPerSample: num(m?.steps?.medianCpuPerSample),
    speedupWork: null,
    speedupModelled: null,
    maxAucLoss: b ? b.maxAucLoss : null,
    finalDrop: b ? b.finalDrop : null,
    referenceSec: num(m?.time.referenceSec),
    workSecNoRef: w ? modelledSec(w, REFERENCE_COSTS, hotSync, noRef) : null,
    modelledSecNoRef: w && costs ? modelledSec(w, costs, hotSync, noRef) : null,
    speedupWorkNoRef: null,
    speedupModelledNoRef: null,
    budget: b ? b.windows : null,
    error: m ? null : error,
  };
}

/** Validation AUC against training seconds from the run's periodic evaluations. */
export function curveFromMetrics(runId: string, m: RunMetrics): Curve {
  // the periodic evaluations share one validation sample; the final one reads the whole
  // split, so it is left out to keep the curve's points comparable
  const evals = m.evals.filter((e) => e.split === 'val');
  const periodic = evals.length > 1 ? evals.filter((e) => e.rows === evals[0]!.rows) : evals;
  const use = periodic.length > 0 ? periodic : m.evals;
  return {
    runId,
    mode: m.mode,
    points: use.map((e) => ({ trainSec: e.trainSec, auc: e.auc, samples: e.samples })).sort((a, b) => a.trainSec - b.trainSec),
  };
}

/**
 * Fill speedup and ΔAUC: each row is compared with the finished baseline run
 * whose shared parameters (seed and every non-mode-specific key) are equal.
 */
export function addReferences(rows: ResultRow[], runs: RunSpec[], appliesTo: Record<string, readonly TrainMode[]> = {}): void {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const baselines = new Map<string, ResultRow>();
  for (const row of rows) {
    const run = byId.get(row.runId);
    if (run && row.mode === 'baseline' && row.status === 'ok') baselines.set(baselineKey(run, appliesTo), row);
  }
  for (const row of rows) {
    const run = byId.get(row.runId);
    const b = run ? baselines.get(baselineKey(run, appliesTo)) : undefined;
    if (!b) continue;
    row.baselineRun = b.runId;
    if (row.status !== 'ok') continue;
    if (b.trainSec !== null && row.trainSec !== null && row.trainSec > 0) row.speedup = b.trainSec / row.trainSec;
    if (b.trainCpuSec !== null && row.trainCpuSec !== null && row.trainCpuSec > 0) row.speedupCpu = b.trainCpuSec / row.trainCpuSec;
    if (b.totalSec !== null && row.totalSec !== null && row.totalSec > 0) row.speedupTotal = b.totalSec / row.totalSec;
    if (b.workSec !== null && row.workSec !== null && row.workSec > 0) row.speedupWork = b.workSec / row.workSec;
    if (b.modelledSec !== null && row.modelledSec !== null && row.modelledSec > 0) row.speedupModelled = b.modelledSec / row.modelledSec;
    if (b.workSec !== null && row.workSecNoRef !== null && row.workSecNoRef > 0) row.speedupWorkNoRef = b.workSec / row.workSecNoRef;
    if (b.modelledSec !== null && row.modelledSecNoRef !== null && row.modelledSecNoRef > 0) row.speedupModelledNoRef = b.modelledSec / row.modelledSecNoRef;
    if (b.testAuc !== null && row.testAuc !== null) row.deltaAuc = row.testAuc - b.testAuc;
  }
}

/** Collect results for a plan from the run directories under `<sweep>/runs/`. */
export function collectResults(plan: SweepPlan, sweepDir: string): SweepResults {
  const rows: ResultRow[] = [];
  const curves: Curve[] = [];
  const calibration = readCalibrations(sweepDir);
  const engines = new Set<string>();
  for (const run of plan.runs) {
    const dir = join(sweepDir, 'runs', run.id);
    const m = readRunMetrics(dir);
    const failed = m ? null : readFailed(dir);
    rows.push(rowFromMetrics(run, m, failed?.error ?? null, calibration?.costs ?? null));
    if (m) {
      curves.push(curveFromMetrics(run.id, m));
      engines.add(m.engine);
    }
  }
  addReferences(rows, plan.runs, plan.config.appliesTo);
  return {
    magic: RESULTS_MAGIC,
    formatVersion: 1,
    name: plan.name,
    createdAt: new Date().toISOString(),
    goal: { speedup: plan.config.goal.speedup, deltaAuc: plan.config.goal.deltaAuc, basis: plan.config.goal.basis ?? 'modelled' },
    bayes: plan.bayes,
    machine: plan.machine,
    load: readJsonOrNull<LoadInfo>(join(sweepDir, LOAD_FILE)),
    calibration,
    engines: [...engines].sort(),
    repeats: plan.config.schedule?.repeats ?? 1,
    rows,
    curves,
  };
}

/** The rows as CSV (params as JSON text; error on one line; empty cell = not available). */
export function resultsCsv(rows: ResultRow[]): string {
  const data: Datum[] = rows.map((r) => {
    const d: Datum = {};
    for (const c of CSV_COLUMNS) {
      const v = r[c];
      if (c === 'params') d[c] = JSON.stringify(v);
      else if (c === 'error') d[c] = r.error === null ? null : r.error.split('\n').filter((l) => l.trim()).join(' / ');
      else d[c] = v as number | string | null;
    }
    return d;
  });
  return toCsv(data, [...CSV_COLUMNS]);
}

/** Write results.json and results.csv atomically. */
export function writeResults(dir: string, results: SweepResults): void {
  writeFileAtomicSync(join(dir, RESULTS_JSON), JSON.stringify(results, null, 2) + '\n');
  writeFileAtomicSync(join(dir, RESULTS_CSV), resultsCsv(results.rows));
}

/** Read results.json, checking its magic. */
export function readResults(dir: string): SweepResults {
  const p = join(dir, RESULTS_JSON);
  if (!existsSync(p)) throw notFound('sweep results', p, 'run `hotcold sweep` first');
  const r = JSON.parse(readFileSync(p, 'utf8')) as SweepResults;
  if (r.magic !== RESULTS_MAGIC) throw badManifest(p, `not sweep results (magic '${String(r.magic)}')`, 'run `hotcold sweep` again');
  return r;
}

/** Read the sweep plan, or null when the directory has none. */
export function readPlan(dir: string): SweepPlan | null {
  const p = join(dir, PLAN_FILE);
  if (!existsSync(p)) return null;
  const plan = JSON.parse(readFileSync(p, 'utf8')) as SweepPlan;
  if (plan.magic !== PLAN_MAGIC) throw badManifest(p, `not a sweep plan (magic '${String(plan.magic)}')`, 'run `hotcold sweep` again');
  return plan;
}

/** Element-wise median of the unit costs in `<sweep>/calibration/<block>/calibration.json`; null when none. */
export function readCalibrations(sweepDir: string): SweepCalibration | null {
  const root = join(sweepDir, CALIBRATION_DIR);
  if (!existsSync(root)) return null;
  const found: { costs: UnitCosts; engine: string; threads: number; cpuModel: string }[] = [];
  for (const d of readdirSync(root).sort()) {
    const c = readJsonOrNull<{ magic?: string; costs: UnitCosts; engine: string; threads: number; cpuModel: string }>(join(root, d, CALIBRATION_FILE));
    if (c?.magic === 'hotcold.calibration' && UNIT_NAMES.every((k) => typeof c.costs[k] === 'number')) found.push(c);
  }
  if (found.length === 0) return null;
  const med = (xs: number[]): number => {
    const v = [...xs].sort((a, b) => a - b);
    const m = v.length >> 1;
    return v.length % 2 === 1 ? v[m]! : 0.5 * (v[m - 1]! + v[m]!);
  };
  const costs = {} as UnitCosts;
  for (const k of UNIT_NAMES) costs[k] = med(found.map((f) => f.costs[k]));
  const f0 = found[0]!;
  return { costs, runs: found.length, engine: f0.engine, threads: f0.threads, cpuModel: f0.cpuModel };
}
